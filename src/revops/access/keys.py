"""API keys: shown once, stored only as an argon2 hash, each scoped to one role.

A key reads `rvk_<key id>_<secret>`. The key id is stored in clear so a request finds its row
without scanning; the secret is only ever compared through argon2. argon2 is deliberately slow
(tens of milliseconds), so `KeyVerifier` remembers a key it has verified for a short while,
under a SHA-256 of the token (never the token itself): the intake API can then answer in
milliseconds while a revoked key stops working within `ttl_seconds`.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass, field

import pyarrow as pa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from revops.access.principal import Principal
from revops.access.roles import ROLES, Role
from revops.audit import audit_batch
from revops.errors import RevOpsError
from revops.warehouse import Batch, Warehouse
from revops.warehouse.clock import utc_now

PREFIX = "rvk"
_hasher = PasswordHasher()


class InvalidKey(RevOpsError):
    """Missing, malformed, unknown, revoked or wrong API key (HTTP 401 in the API)."""


@dataclass(frozen=True)
class NewKey:
    key_id: str
    token: str
    principal: Principal


def create_key(wh: Warehouse, name: str, role: Role, created_by: str) -> NewKey:
    """Create a key for `name` with `role`; the token is returned once and never stored."""
    if role not in ROLES:
        raise RevOpsError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    key_id = secrets.token_hex(4)
    token = f"{PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    row = {
        "key_id": [key_id],
        "name": [name],
        "role": [role],
        "key_hash": [_hasher.hash(token)],
        "created_at": [utc_now()],
        "created_by": [created_by],
        "revoked_at": [None],
    }
    wh.write_many(
        [
            Batch("api_keys", pa.table(row), "append"),
            audit_batch(wh, created_by, "access.key_created", key_id, {"name": name, "role": role}),
        ]
    )
    return NewKey(key_id, token, Principal(name, role, key_id))


def revoke_key(wh: Warehouse, key_id: str, revoked_by: str) -> None:
    rows = wh.sql(f"SELECT key_id FROM \"api_keys\" WHERE key_id = '{_safe_id(key_id)}'")
    if not rows:
        raise RevOpsError(f"no API key with id {key_id!r}")
    change = pa.table({"key_id": [key_id], "revoked_at": [utc_now()]})
    wh.write_many(
        [
            Batch("api_keys", change, "upsert"),
            audit_batch(wh, revoked_by, "access.key_revoked", key_id),
        ]
    )


def _safe_id(key_id: str) -> str:
    if not key_id.isalnum():
        raise InvalidKey("malformed API key")
    return key_id


def verify_key(wh: Warehouse, token: str) -> Principal:
    """The principal behind `token`, or `InvalidKey` without saying which part was wrong."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX:
        raise InvalidKey("malformed API key")
    key_id = _safe_id(parts[1])
    rows = wh.sql(
        f"SELECT name, role, key_hash, revoked_at FROM \"api_keys\" WHERE key_id = '{key_id}'"
    )
    if not rows or rows[0][3] is not None:
        raise InvalidKey("unknown or revoked API key")
    name, role, key_hash, _ = rows[0]
    try:
        _hasher.verify(str(key_hash), token)
    except (VerificationError, InvalidHashError):
        raise InvalidKey("unknown or revoked API key") from None
    return Principal(str(name), role, key_id)


@dataclass
class KeyVerifier:
    """`verify_key` with a short memory, keyed by a SHA-256 of the token."""

    wh: Warehouse
    ttl_seconds: float = 30.0
    _seen: dict[str, tuple[Principal, float]] = field(default_factory=dict)

    def verify(self, token: str) -> Principal:
        digest = hashlib.sha256(token.encode()).hexdigest()
        hit = self._seen.get(digest)
        now = time.monotonic()
        if hit is not None and hit[1] > now:
            return hit[0]
        principal = verify_key(self.wh, token)
        self._seen[digest] = (principal, now + self.ttl_seconds)
        return principal

    def forget(self) -> None:
        """Drop every remembered key (after a revocation in this process)."""
        self._seen.clear()


@dataclass
class FailureLimiter:
    """Failed authentications per (key id, client address), in a sliding window.

    An argon2 check costs tens of milliseconds of CPU on purpose; a caller sending a known key
    id with wrong secrets could otherwise buy that much server time per request. After `limit`
    failures within `window_seconds` the pair is refused (429) until the oldest failure ages
    out, without reading the key or running argon2. A right secret is never refused for the
    failures of others: its successful check is cached by token and answered before this.
    """

    limit: int = 5
    window_seconds: float = 60.0
    max_pairs: int = 100_000  # memory bound: the oldest pairs are dropped first
    _fails: dict[tuple[str, str], list[float]] = field(default_factory=dict)

    def retry_after(self, key_id: str, client: str, now: float) -> float | None:
        """Seconds until the pair may try again, or None if it may now."""
        times = self._fails.get((key_id, client))
        if not times:
            return None
        times[:] = [t for t in times if t > now - self.window_seconds]
        if len(times) < self.limit:
            return None
        return max(times[0] + self.window_seconds - now, 0.001)

    def failed(self, key_id: str, client: str, now: float) -> None:
        if len(self._fails) >= self.max_pairs:
            for old in list(self._fails)[: self.max_pairs // 10]:
                del self._fails[old]
        self._fails.setdefault((key_id, client), []).append(now)
