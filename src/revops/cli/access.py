"""`revops keys` and `revops access`: API keys and CLI grants, managed by revops_admins.

A key's token is printed once, at creation, and only its argon2 hash is stored; listing shows
ids, names, roles and dates, never a secret. Every change is recorded in the audit log by the
access module in the same transaction.
"""

from __future__ import annotations

from typing import Annotated

import typer

from revops.access import ROLES, create_key, grant, grants, require, revoke_key
from revops.access.roles import Role
from revops.cli._common import (
    ConfigOpt,
    Format,
    FormatOpt,
    WarehouseOpt,
    console,
    formatted,
    open_revops,
    print_frame,
)
from revops.errors import RevOpsError

keys_app = typer.Typer(help="API keys for the intake API (revops_admin).", no_args_is_help=True)
access_app = typer.Typer(help="Roles of CLI users (revops_admin).", no_args_is_help=True)

RoleArg = Annotated[str, typer.Option("--role", "-r", help=f"One of: {', '.join(ROLES)}.")]


def _role(text: str) -> Role:
    for role in ROLES:
        if role == text:
            return role
    raise RevOpsError(f"unknown role {text!r}; roles: {', '.join(ROLES)}")


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Argument(help="Who or what uses the key, e.g. 'webform'.")],
    role: RoleArg,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Create an API key; the token is shown this once and cannot be recovered."""
    with open_revops(config, warehouse) as ro:
        who = require(ro.warehouse, "access.manage")
        key = create_key(ro.warehouse, name, _role(role), who.actor)
    console.print(f"key {key.key_id} for {name} ({role}); store this token now, it is not kept:")
    typer.echo(key.token)


@keys_app.command("list")
@formatted
def keys_list(
    fmt: FormatOpt = Format.table, config: ConfigOpt = None, warehouse: WarehouseOpt = None
) -> None:
    """Every key: id, name, role, who created it and when, and whether it is revoked."""
    with open_revops(config, warehouse) as ro:
        require(ro.warehouse, "access.manage")
        rows = ro.warehouse.sql(
            'SELECT key_id, name, role, created_by, created_at, revoked_at FROM "api_keys" '
            "ORDER BY created_at, key_id"
        )
    fields = ("key_id", "name", "role", "created_by", "created_utc", "revoked_utc")
    print_frame(
        [dict(zip(fields, row, strict=True)) for row in rows],
        "API keys",
        name="keys",
        kinds={"created_utc": "date", "revoked_utc": "date", "key_id": "text"},
        keep=("key_id", "name", "role"),
    )


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key id from `revops keys list`.")],
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Revoke a key. A server on PostgreSQL stops accepting it within its 30-second key cache;
    a DuckDB file is locked by a running server: revoke there with `DELETE /keys/{key_id}`."""
    with open_revops(config, warehouse) as ro:
        who = require(ro.warehouse, "access.manage")
        revoke_key(ro.warehouse, key_id, who.actor)
    console.print(f"revoked key {key_id}")


@access_app.command("grant")
def access_grant(
    user: Annotated[str, typer.Argument(help="Operating-system user name.")],
    role: Annotated[str, typer.Argument(help=f"One of: {', '.join(ROLES)}.")],
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Give a CLI user a role (replacing any earlier one)."""
    with open_revops(config, warehouse) as ro:
        who = require(ro.warehouse, "access.manage")
        grant(ro.warehouse, who, user, _role(role))
    console.print(f"{user} is now {role}")


@access_app.command("list")
@formatted
def access_list(
    fmt: FormatOpt = Format.table, config: ConfigOpt = None, warehouse: WarehouseOpt = None
) -> None:
    """CLI users and their roles (anyone without a grant is a viewer)."""
    with open_revops(config, warehouse) as ro:
        require(ro.warehouse, "read")
        known = grants(ro.warehouse)
    rows = [{"user": user, "role": role} for user, role in known.items()]
    print_frame(rows, "CLI grants", name="grants", kinds={"user": "text", "role": "text"})
