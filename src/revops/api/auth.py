"""API authentication and authorization: a key per caller, a role per key, `authorize` per route.

Keys arrive as `Authorization: Bearer <key>` or `X-API-Key: <key>`. argon2 is slow on purpose
(tens of milliseconds), so a verified key is remembered for `ttl_seconds` under a SHA-256 of
the token: a revoked key stops working within that time. The key's row is read on the warehouse
thread (the one connection is not shared between threads) and the argon2 check runs on another
thread, so verifying a new key never stalls the writes of leads already in flight.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import HTTPException, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from revops.access import InvalidKey, PermissionDenied, Principal, authorize
from revops.access.keys import PREFIX
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


@dataclass
class Authenticator:
    wh: Warehouse
    run_db: RunDb
    ttl_seconds: float = 30.0
    _seen: dict[str, tuple[Principal, float]] = field(default_factory=dict)
    _checking: dict[str, asyncio.Future[Principal]] = field(default_factory=dict)

    async def principal(self, token: str) -> Principal:
        """The key's principal; concurrent first uses of one key share a single argon2 check."""
        digest = hashlib.sha256(token.encode()).hexdigest()
        hit = self._seen.get(digest)
        if hit is not None and hit[1] > time.monotonic():
            return hit[0]
        running = self._checking.get(digest)
        if running is None:
            running = asyncio.ensure_future(self._check(token, digest))
            self._checking[digest] = running
            running.add_done_callback(lambda _: self._checking.pop(digest, None))
        return await asyncio.shield(running)

    async def _check(self, token: str, digest: str) -> Principal:
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != PREFIX or not parts[1].isalnum():
            raise InvalidKey("malformed API key")
        row = await self.run_db(_key_row, self.wh, parts[1])
        if row is None or row[3] is not None:
            raise InvalidKey("unknown or revoked API key")
        name, role, key_hash, _ = row
        try:
            await asyncio.to_thread(_hasher.verify, str(key_hash), token)
        except (VerificationError, InvalidHashError):
            raise InvalidKey("unknown or revoked API key") from None
        principal = Principal(str(name), role, parts[1])
        self._seen[digest] = (principal, time.monotonic() + self.ttl_seconds)
        return principal

    def forget(self) -> None:
        self._seen.clear()


def requires(action: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency that authenticates the caller (401) and authorizes `action` (403)."""

    async def dependency(
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Security(bearer),
        x_api_key: str | None = Security(api_key_header),
    ) -> Principal:
        token = credentials.credentials if credentials is not None else x_api_key
        challenge = {"WWW-Authenticate": "Bearer"}
        if not token:
            raise HTTPException(
                401,
                "missing API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
                headers=challenge,
            )
        auth: Authenticator = request.app.state.service.auth
        try:
            principal = await auth.principal(token)
        except InvalidKey as exc:
            raise HTTPException(401, str(exc), headers=challenge) from None
        try:
            authorize(principal, action)
        except PermissionDenied as exc:
            raise HTTPException(403, str(exc)) from None
        return principal

    return dependency
