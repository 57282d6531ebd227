"""Normalising and hashing emails and phones, the same way for tombstones and pseudonyms.

Two spellings of one mailbox (`Zoe@Example.com `, `zoe+news@example.com`) must give one hash,
or an erased person comes back through a re-import with a capital letter. Phones keep their last
ten digits, as identity resolution compares them, so a country prefix does not hide a match.
"""

from __future__ import annotations

import hashlib
import hmac
import re

_TAG = re.compile(r"\+[^@]*@")
_NON_DIGIT = re.compile(r"\D+")


def normalize_email(email: str | None) -> str | None:
    if email is None:
        return None
    text = _TAG.sub("@", email.strip().lower())
    return text or None


def normalize_phone(phone: str | None) -> str | None:
    if phone is None:
        return None
    digits = _NON_DIGIT.sub("", phone)
    return digits[-10:] if len(digits) >= 7 else None


def salted_hash(salt: bytes, value: str | None) -> str | None:
    """SHA-256 of salt and value: what a tombstone keeps instead of the email or phone."""
    if value is None:
        return None
    return hashlib.sha256(salt + b"\x00" + value.encode()).hexdigest()


def keyed_hash(key: bytes, value: str | None) -> str | None:
    """HMAC-SHA256: a stable pseudonym that only the key holder can recompute."""
    if value is None:
        return None
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()
