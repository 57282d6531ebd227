"""API authentication and authorization: a key per caller, a role per key, `authorize` per route.

Keys arrive as `Authorization: Bearer <key>` or `X-API-Key: <key>`. argon2 is slow on purpose
(tens of milliseconds), so a verified key is remembered for `ttl_seconds` under a SHA-256 of
the token: a key revoked by another process stops working within that time, one revoked
through `DELETE /keys/{key_id}` at once. Failed checks are remembered too, and counted per key
id and client address: past five in a minute the pair gets 429 with Retry-After, without
another argon2 check (`FailureLimiter`). The key's row is read by the applier (the one holder
of the warehouse) and the argon2 check runs on a thread, so verifying a new key never stalls
the writes of leads already in flight; a key in use is checked again in the background
halfway through its time, so its requests never wait for that read.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import HTTPException, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from revops.access import InvalidKey, PermissionDenied, Principal, authorize
from revops.access.keys import PREFIX, FailureLimiter
from revops.warehouse import Warehouse

bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer rvk_…`.")
api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="The same API key, as a header."
)
_hasher = PasswordHasher()

RunDb = Callable[..., Awaitable[Any]]


def _key_row(wh: Warehouse, key_id: str) -> tuple[Any, ...] | None:
    rows = wh.sql(
        f"SELECT name, role, key_hash, revoked_at FROM \"api_keys\" WHERE key_id = '{key_id}'"
    )
    return rows[0] if rows else None


class TooManyFailures(Exception):
    """Too many failed authentications for this key id from this address (429)."""

    def __init__(self, retry_after: float) -> None:
        super().__init__("too many failed authentications for this key; retry later")
        self.retry_after = retry_after


@dataclass
class Authenticator:
    wh: Warehouse
    run_db: RunDb
    ttl_seconds: float = 30.0
    limiter: FailureLimiter = field(default_factory=FailureLimiter)
    _seen: dict[str, tuple[Principal, float]] = field(default_factory=dict)
    _failed: dict[str, float] = field(default_factory=dict)  # token digest -> until
    _checking: dict[str, asyncio.Future[Principal]] = field(default_factory=dict)

    async def principal(self, token: str, client: str = "") -> Principal:
        """The key's principal; concurrent first uses of one key share a single argon2 check.

        A token that failed is remembered as failed for `ttl_seconds` (no second argon2 check
        for it), and failures are counted per key id and client address (`FailureLimiter`):
        past the limit the pair gets `TooManyFailures` before any work is done.
        """
        digest = hashlib.sha256(token.encode()).hexdigest()
        now = time.monotonic()
        hit = self._seen.get(digest)
        if hit is not None and hit[1] > now:
            if hit[1] - now < self.ttl_seconds / 2 and digest not in self._checking:
                self._refresh(token, digest)
            return hit[0]
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != PREFIX or not parts[1].isalnum():
            raise InvalidKey("malformed API key")
        key_id = parts[1][:64]
        wait = self.limiter.retry_after(key_id, client, now)
        if wait is not None:
            raise TooManyFailures(wait)
        if self._failed.get(digest, 0.0) > now:
            self.limiter.failed(key_id, client, now)
            raise InvalidKey("unknown or revoked API key")
        running = self._checking.get(digest)
        if running is None:
            running = asyncio.ensure_future(self._check(token, digest))
            self._checking[digest] = running
            running.add_done_callback(lambda _: self._checking.pop(digest, None))
        try:
            return await asyncio.shield(running)
        except InvalidKey:
            now = time.monotonic()
            if len(self._failed) > 100_000:
                self._failed = {d: t for d, t in self._failed.items() if t > now}
            self._failed[digest] = now + self.ttl_seconds
            self.limiter.failed(key_id, client, now)
            raise

    def _refresh(self, token: str, digest: str) -> None:
        """Check a remembered key again in the background, halfway through its time: a steady
        client never waits for the key's row, which is read by the applier after the leads
        it is writing. A key found revoked (or not checked) is forgotten."""
        running = asyncio.ensure_future(self._check(token, digest))
        self._checking[digest] = running

        def done(future: asyncio.Future[Principal]) -> None:
            self._checking.pop(digest, None)
            if future.cancelled() or future.exception() is not None:
                self._seen.pop(digest, None)

        running.add_done_callback(done)

    async def _check(self, token: str, digest: str) -> Principal:
        key_id = token.split("_", 2)[1]
        row = await self.run_db(_key_row, self.wh, key_id)
        if row is None or row[3] is not None:
            raise InvalidKey("unknown or revoked API key")
        name, role, key_hash, _ = row
        try:
            await asyncio.to_thread(_hasher.verify, str(key_hash), token)
        except (VerificationError, InvalidHashError):
            raise InvalidKey("unknown or revoked API key") from None
        principal = Principal(str(name), role, key_id)
        self._seen[digest] = (principal, time.monotonic() + self.ttl_seconds)
        return principal

    def forget(self, key_id: str | None = None) -> None:
        """Drop remembered keys: all, or those of `key_id` (revoked in this process)."""
        if key_id is None:
            self._seen.clear()
            return
        self._seen = {d: v for d, v in self._seen.items() if v[0].key_id != key_id}


def requires(action: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency that authenticates the caller (401) and authorizes `action` (403)."""

    async def dependency(
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Security(bearer),
        x_api_key: str | None = Security(api_key_header),
    ) -> Principal:
        token = credentials.credentials if credentials is not None else x_api_key
        return await authenticate(request, token, action)

    return dependency


async def authenticate(request: Request, token: str | None, action: str) -> Principal:
    """The caller of `token` if it may do `action`, else the HTTPException to answer (401, 429
    or 403): what `requires` does once FastAPI has read the key from the headers, shared with
    `POST /leads`'s direct path (`api.leads.IntakeRoute`), which reads it itself."""
    challenge = {"WWW-Authenticate": "Bearer"}
    if not token:
        raise HTTPException(
            401,
            "missing API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
            headers=challenge,
        )
    auth: Authenticator = request.app.state.service.auth
    client = request.client.host if request.client is not None else ""
    try:
        principal = await auth.principal(token, client)
    except InvalidKey as exc:
        raise HTTPException(401, str(exc), headers=challenge) from None
    except TooManyFailures as exc:
        wait = str(max(1, math.ceil(exc.retry_after)))
        raise HTTPException(429, str(exc), headers={"Retry-After": wait}) from None
    try:
        authorize(principal, action)
    except PermissionDenied as exc:
        raise HTTPException(403, str(exc)) from None
    return principal
