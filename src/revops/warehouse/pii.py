"""Field-level encryption of PII columns at rest, as Salesforce Shield does it.

Columns flagged `pii=True` in the data model (a person's email, names and phone, and the JSON and
text columns that keep copies of them: quarantined raw rows, merge before-images, quality-fix
before/after values) are stored as `enc1:<base64>` ciphertext when `REVOPS_PII_KEY` is set. The
warehouse encrypts them in Python before a batch is staged, so plaintext never reaches the
database, not even a temporary table, and `Warehouse.table` decrypts them inside the query with a
vectorized Arrow UDF, so every engine keeps seeing plaintext without a change.

Why AES-SIV (RFC 5297), deterministic: equal plaintexts give equal ciphertexts, so primary and
upsert keys, exact lookups and GROUP BY keep working on the stored values. The associated data is
`table.column`, so a ciphertext copied into another column does not decrypt there. The price,
the standard trade-off of deterministic field encryption, is that someone holding the file can
see which rows share a value (how many persons have the same last name) without learning the
value; lengths leak too (padding would not hide an email's length class).

The key is any secret string from the environment, never from code, never written to SQL text,
logs or the database: HKDF-SHA256 derives the 64-byte AES-SIV key and, under another label, a key
whose HMAC of a fixed label is stored (`pii_keys.key_check`) so that a missing or wrong key is
refused with a clear message instead of producing garbage.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Callable
from typing import TypeAlias

import pyarrow as pa
import pyarrow.compute as pc
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from revops.errors import RevOpsError

PII_KEY_ENV = "REVOPS_PII_KEY"
PREFIX = "enc1:"
_MIN_KEY = 16
_SIV_INFO = b"revops pii columns aes-siv v1"
_CHECK_INFO = b"revops pii key check v1"
_CHECK_LABEL = b"revops pii key check"

ArrowStrings: TypeAlias = pa.Array | pa.ChunkedArray


class PiiKeyError(RevOpsError):
    """The PII key is missing, too short, wrong, or a ciphertext does not decrypt."""


def _derive(secret: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(secret)


class PiiCipher:
    """Deterministic AES-SIV over Arrow strings; holds derived keys only and never prints them."""

    __slots__ = ("_check", "_siv")

    def __init__(self, secret: str) -> None:
        if len(secret) < _MIN_KEY:
            raise PiiKeyError(
                f"{PII_KEY_ENV} must be at least {_MIN_KEY} characters (e.g. "
                "`python -c 'import secrets; print(secrets.token_hex(32))'`)"
            )
        raw = secret.encode()
        self._siv = AESSIV(_derive(raw, _SIV_INFO, 64))
        self._check = _derive(raw, _CHECK_INFO, 32)

    def __repr__(self) -> str:
        return "PiiCipher(<key redacted>)"

    @property
    def key_check(self) -> str:
        """An HMAC of a fixed label: identifies the key without revealing it."""
        return hmac.new(self._check, _CHECK_LABEL, hashlib.sha256).hexdigest()

    def encrypt_value(self, value: str, column: str) -> str:
        token = self._siv.encrypt(value.encode(), [column.encode()])
        return PREFIX + base64.b64encode(token).decode("ascii")

    def decrypt_value(self, value: str, column: str) -> str:
        """Plaintext of one stored value; values without the prefix are returned unchanged
        (written by raw SQL outside revops), so a read never fails on a legacy value."""
        if not value.startswith(PREFIX):
            return value
        try:
            token = base64.b64decode(value[len(PREFIX) :], validate=True)
            return self._siv.decrypt(token, [column.encode()]).decode()
        except (InvalidTag, binascii.Error, ValueError):
            raise PiiKeyError(
                f"a value of {column} does not decrypt with {PII_KEY_ENV}: "
                "wrong key, or the ciphertext was altered or copied from another column"
            ) from None

    def encrypt_column(self, values: ArrowStrings, column: str) -> pa.Array:
        return _map_unique(values, lambda v: self.encrypt_value(v, column))

    def decrypt_column(self, values: ArrowStrings, column: str) -> pa.Array:
        return _map_unique(values, lambda v: self.decrypt_value(v, column))


def _map_unique(values: ArrowStrings, fn: Callable[[str], str]) -> pa.Array:
    """Apply `fn` once per distinct non-null value and scatter the results back.

    Names, companies' switchboards and placeholder emails repeat a lot, and the cipher is
    deterministic, so this is exact and saves most of the per-value Python calls.
    """
    arr = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    arr = arr.cast(pa.string())
    if len(arr) == 0 or arr.null_count == len(arr):
        return arr
    uniq = pc.unique(arr.drop_null())
    mapped = pa.array([fn(v) for v in uniq.to_pylist()], pa.string())
    return mapped.take(pc.index_in(arr, value_set=uniq))


def column_label(table: str, column: str) -> str:
    """The associated data binding a ciphertext to its column."""
    return f"{table}.{column}"


def encrypt_column(values: ArrowStrings, column_name: str, cipher: PiiCipher) -> pa.Array:
    """Encrypt an Arrow string array for `column_name` (`table.column`); nulls stay null."""
    return cipher.encrypt_column(values, column_name)


def decrypt_column(values: ArrowStrings, column_name: str, cipher: PiiCipher) -> pa.Array:
    """Decrypt what `encrypt_column` wrote for `column_name`; nulls stay null."""
    return cipher.decrypt_column(values, column_name)


def cipher_from_env() -> PiiCipher | None:
    """The cipher for `REVOPS_PII_KEY`, or None when PII encryption is not configured."""
    secret = os.environ.get(PII_KEY_ENV)
    return PiiCipher(secret) if secret else None
