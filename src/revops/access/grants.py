"""Who the CLI user is: an API key from the environment, or the operating-system user's grant.

Grants live in the warehouse (`access_grants`), managed by revops_admins and audited. The first
user to write to a warehouse with no grants becomes its revops_admin, as the user who runs
`initdb` owns a new PostgreSQL cluster; anyone without a grant is a viewer. Automation sets
`REVOPS_API_KEY` and acts with that key's role.
"""

from __future__ import annotations

import getpass
import os
from datetime import UTC, datetime

import pyarrow as pa

from revops.access.keys import verify_key
from revops.access.principal import Principal, authorize
from revops.access.roles import ROLES, Role
from revops.audit import audit_batch
from revops.errors import RevOpsError
from revops.warehouse import Batch, Warehouse

KEY_ENV = "REVOPS_API_KEY"


def os_user() -> str:
    return os.environ.get("REVOPS_USER") or getpass.getuser()


def grant_batch(user: str, role: Role, granted_by: str) -> Batch:
    row = {
        "user_name": [user],
        "role": [role],
        "granted_by": [granted_by],
        "granted_at": [datetime.now(UTC).replace(tzinfo=None)],
    }
    return Batch("access_grants", pa.table(row), "upsert")


def grants(wh: Warehouse) -> dict[str, Role]:
    rows = wh.sql('SELECT user_name, role FROM "access_grants" ORDER BY user_name')
    return {str(u): r for u, r in rows}


def cli_principal(wh: Warehouse, *, bootstrap: bool = True) -> Principal:
    """The principal for this CLI invocation (bootstrapping the first admin if asked)."""
    token = os.environ.get(KEY_ENV)
    if token:
        return verify_key(wh, token)
    user = os_user()
    known = grants(wh)
    if not known and bootstrap:
        wh.write_many(
            [
                grant_batch(user, "revops_admin", user),
                audit_batch(wh, user, "access.bootstrap", user, {"role": "revops_admin"}),
            ]
        )
        return Principal(user, "revops_admin")
    return Principal(user, known.get(user, "viewer"))


def grant(wh: Warehouse, by: Principal, user: str, role: Role) -> None:
    """Give `user` a role (revops_admin only), recorded in the audit log."""
    authorize(by, "access.manage")
    if role not in ROLES:
        raise RevOpsError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    wh.write_many(
        [
            grant_batch(user, role, by.name),
            audit_batch(wh, by.actor, "access.granted", user, {"role": role}),
        ]
    )


def require(wh: Warehouse, action: str) -> Principal:
    """Resolve the CLI principal and authorize `action`; returns who acted, for the audit log."""
    principal = cli_principal(wh)
    authorize(principal, action)
    return principal
