"""Server-side sessions of people signed in to the web workspace.

The browser holds only a random session id (256 bits) in an HttpOnly cookie; the warehouse
holds its SHA-256, so a copy of the table signs nobody in. Each session has its own CSRF token,
which every POST form carries and the server compares in constant time. The role is read from
the grants at every request, not frozen at sign-in, so a changed grant applies at once.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyarrow as pa

from revops.access.passwords import grant_of
from revops.access.principal import Principal
from revops.audit import audit_batch
from revops.warehouse import Batch, Warehouse
from revops.warehouse.clock import utc_now

LIFETIME = timedelta(hours=12)


@dataclass(frozen=True)
class Session:
    """A live session: who, and the token its forms must send back."""

    principal: Principal
    csrf_token: str
    granted: bool = True  # False: a viewer for want of any grant, which the page says


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def open_session(wh: Warehouse, principal: Principal) -> tuple[str, Session]:
    """A new session for `principal`: (the id for the cookie, the session); audited."""
    session_id = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    now = utc_now()
    row = {
        "session_hash": [_digest(session_id)],
        "login": [principal.name],
        "csrf_token": [csrf],
        "created_at": [now],
        "expires_at": [now + LIFETIME],
        "ended_at": [None],
    }
    wh.write_many(
        [
            *_purge(wh, now),
            Batch("web_sessions", pa.table(row, schema=_SCHEMA), "append"),
            audit_batch(wh, principal.actor, "access.signed_in", principal.name),
        ]
    )
    return session_id, Session(principal, csrf)


def _purge(wh: Warehouse, now: datetime) -> list[Batch]:
    """The sessions that have expired or ended, as a delete batch (none: no batch)."""
    stamp = now.isoformat(sep=" ")
    rows = wh.sql(
        'SELECT session_hash FROM "web_sessions" '
        f"WHERE ended_at IS NOT NULL OR expires_at <= TIMESTAMP '{stamp}'"
    )
    if not rows:
        return []
    gone = pa.table({"session_hash": [str(r[0]) for r in rows]})
    return [Batch("web_sessions", gone, "delete")]


_SCHEMA = pa.schema(
    [
        ("session_hash", pa.string()),
        ("login", pa.string()),
        ("csrf_token", pa.string()),
        ("created_at", pa.timestamp("us")),
        ("expires_at", pa.timestamp("us")),
        ("ended_at", pa.timestamp("us")),
    ]
)


def find_session(wh: Warehouse, session_id: str) -> Session | None:
    """The open, unexpired session with this id, or None."""
    if not session_id or len(session_id) > 100:
        return None
    rows = wh.sql(
        'SELECT login, csrf_token, expires_at, ended_at FROM "web_sessions" '
        f"WHERE session_hash = '{_digest(session_id)}'"
    )
    if not rows:
        return None
    login, csrf, expires, ended = rows[0]
    if ended is not None or expires <= utc_now():
        return None
    role = grant_of(wh, str(login))
    return Session(Principal(str(login), role or "viewer"), str(csrf), role is not None)


def end_session(wh: Warehouse, session_id: str) -> None:
    """Sign out: the session stops working now; audited."""
    found = find_session(wh, session_id)
    if found is None:
        return
    change = pa.table({"session_hash": [_digest(session_id)], "ended_at": [utc_now()]})
    wh.write_many(
        [
            Batch("web_sessions", change, "upsert"),
            audit_batch(wh, found.principal.actor, "access.signed_out", found.principal.name),
        ]
    )


def csrf_ok(session: Session, sent: str | None) -> bool:
    """Whether a form's token is this session's (constant-time comparison)."""
    return bool(sent) and secrets.compare_digest(session.csrf_token, sent or "")


# -- failed sign-ins ---------------------------------------------------------------------------
FAILURE_LIMIT = 5
FAILURE_WINDOW = timedelta(minutes=1)


def _pair(login: str, client: str) -> str:
    return hashlib.sha256(f"{login}\n{client}".encode()).hexdigest()


def retry_after(
    wh: Warehouse, login: str, client: str, now: datetime | None = None
) -> float | None:
    """Seconds until (login, client) may try again after `FAILURE_LIMIT` failures within
    `FAILURE_WINDOW`, or None if it may now (then argon2 runs)."""
    at = now or utc_now()
    since = (at - FAILURE_WINDOW).isoformat(sep=" ")
    rows = wh.sql(
        'SELECT failed_at FROM "signin_failures" '
        f"WHERE pair = '{_pair(login, client)}' AND failed_at > TIMESTAMP '{since}' "
        "ORDER BY failed_at"
    )
    if len(rows) < FAILURE_LIMIT:
        return None
    oldest: datetime = rows[-FAILURE_LIMIT][0]
    return max((oldest + FAILURE_WINDOW - at).total_seconds(), 0.001)


def record_failure(wh: Warehouse, login: str, client: str, now: datetime | None = None) -> None:
    """Count one failed sign-in, and delete the failures that have left the window."""
    at = now or utc_now()
    since = (at - FAILURE_WINDOW).isoformat(sep=" ")
    old = wh.sql(
        f"SELECT failure_id FROM \"signin_failures\" WHERE failed_at <= TIMESTAMP '{since}'"
    )
    row = {"failure_id": [uuid.uuid4().hex], "pair": [_pair(login, client)], "failed_at": [at]}
    batches = [Batch("signin_failures", pa.table(row, schema=_FAILURE), "append")]
    if old:
        gone = pa.table({"failure_id": [str(r[0]) for r in old]})
        batches.insert(0, Batch("signin_failures", gone, "delete"))
    wh.write_many(batches)


_FAILURE = pa.schema(
    [("failure_id", pa.string()), ("pair", pa.string()), ("failed_at", pa.timestamp("us"))]
)
