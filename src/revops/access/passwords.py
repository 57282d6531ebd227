"""Passwords of people: set by a revops_admin, stored only as an argon2id hash.

People sign in to the web workspace with their email and a password; machines keep API keys.
A person's role is their grant (`access_grants`) under their email or their `users.user_id`,
and a viewer without one: the grant the first writer of a warehouse gets is under their
operating-system user, not an email, so an admin who signs in needs a grant under their email
too (`revops users passwd EMAIL --role revops_admin` sets both at once). A wrong email and a
wrong password fail alike, and an unknown email still costs one argon2 check, so the answer
time does not tell which emails have passwords.
"""

from __future__ import annotations

import pyarrow as pa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from revops.access.grants import grant_batch, grants
from revops.access.principal import Principal, authorize
from revops.access.roles import ROLES, Role
from revops.audit import AuditNote, chain_batch, head
from revops.errors import RevOpsError
from revops.warehouse import Batch, Warehouse
from revops.warehouse.clock import utc_now
from revops.warehouse.sql import literal

MIN_LENGTH = 12
_hasher = PasswordHasher()
_DUMMY = _hasher.hash("revops: no such login, compared to keep the timing flat")


def normal_login(login: str) -> str:
    """Logins are emails, compared without case or surrounding space."""
    return login.strip().lower()


def set_password(
    wh: Warehouse, by: Principal, login: str, password: str, role: Role | None = None
) -> None:
    """Set `login`'s password (revops_admin only), and its role when given, in one write;
    audited, without the password."""
    authorize(by, "access.manage")
    who = normal_login(login)
    if "@" not in who:
        raise RevOpsError(f"login {login!r} is not an email address")
    if len(password) < MIN_LENGTH:
        raise RevOpsError(f"password too short: at least {MIN_LENGTH} characters")
    if role is not None and role not in ROLES:
        raise RevOpsError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    row = {
        "login": [who],
        "password_hash": [_hasher.hash(password)],
        "set_at": [utc_now()],
        "set_by": [by.actor],
    }
    now = utc_now()
    notes = [AuditNote(by.actor, "access.password_set", who, None, now)]
    batches = [Batch("user_passwords", pa.table(row), "upsert")]
    if role is not None:
        notes.append(AuditNote(by.actor, "access.granted", who, {"role": role}, now))
        batches.append(grant_batch(who, role, by.name))
    audit, _ = chain_batch(head(wh), notes)  # one chain: both entries follow the stored head
    wh.write_many([*batches, audit])


def grant_of(wh: Warehouse, login: str) -> Role | None:
    """The person's grant under their email or their user id, or None without one."""
    who = normal_login(login)
    known = {name.lower(): role for name, role in grants(wh).items()}
    if who in known:
        return known[who]
    rows = wh.sql('SELECT user_id, email FROM "users" WHERE email IS NOT NULL')
    for uid, email in rows:
        if str(email).lower() == who and str(uid).lower() in known:
            return known[str(uid).lower()]
    return None


def role_of(wh: Warehouse, login: str) -> Role:
    """The person's grant; viewer without one."""
    return grant_of(wh, login) or "viewer"


def stored_hash(wh: Warehouse, login: str) -> str | None:
    """The login's argon2 hash, or None without a password."""
    who = literal(normal_login(login))
    rows = wh.sql(f'SELECT password_hash FROM "user_passwords" WHERE login = {who}')
    return str(rows[0][0]) if rows else None


def matches(stored: str | None, password: str) -> bool:
    """Whether `password` is the one behind `stored`; without a hash a dummy one is checked,
    so an unknown login costs the same argon2 time as a wrong password."""
    try:
        _hasher.verify(stored or _DUMMY, password)
    except (VerificationError, InvalidHashError):
        return False
    return stored is not None


def check_password(wh: Warehouse, login: str, password: str) -> Principal | None:
    """The principal `login` signs in as, or None for a wrong email or password."""
    if not matches(stored_hash(wh, login), password):
        return None
    who = normal_login(login)
    return Principal(who, role_of(wh, who))
