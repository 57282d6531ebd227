"""Webhook signatures: HMAC-SHA256 over the timestamp and the body.

The sender puts the Unix time in `X-Revops-Timestamp` and `sha256=<hex>` of
HMAC(secret, "<timestamp>.<body>") in `X-Revops-Signature` (the scheme Stripe and Slack use).
A receiver recomputes it, compares in constant time, and refuses a timestamp older than its
tolerance, so a captured request cannot be replayed later; the idempotency key
(`X-Revops-Idempotency-Key`) lets it drop a retry it has already processed.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE = "X-Revops-Signature"
TIMESTAMP = "X-Revops-Timestamp"
IDEMPOTENCY = "X-Revops-Idempotency-Key"


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(
    secret: bytes,
    timestamp: str,
    body: bytes,
    signature: str,
    now: float,
    tolerance_seconds: float = 300,
) -> bool:
    """True when `signature` signs `body` at `timestamp` and the timestamp is fresh."""
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    if abs(now - ts) > tolerance_seconds:
        return False
    return hmac.compare_digest(sign(secret, ts, body), signature)
