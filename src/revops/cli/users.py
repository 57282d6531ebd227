"""`revops users passwd EMAIL`: a person's password for the web workspace (revops_admin).

The password is read from a hidden prompt (typed twice), or from standard input when that is
not a terminal (one line), and never from an option, which would leave it in the shell's
history and the process list.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from revops.cli._common import ConfigOpt, WarehouseOpt, console, open_revops
from revops.errors import RevOpsError

users_app = typer.Typer(help="People who sign in to the web workspace.", no_args_is_help=True)


def _read_password() -> str:
    if sys.stdin.isatty():
        text: str = typer.prompt("password", hide_input=True, confirmation_prompt=True)
        return text
    line = sys.stdin.readline()
    if not line:
        raise RevOpsError("no password on standard input")
    return line.rstrip("\r\n")


@users_app.command("passwd")
def passwd(
    email: Annotated[str, typer.Argument(help="The person's email: what they sign in with.")],
    role: Annotated[
        str | None,
        typer.Option(
            "--role",
            help="Grant this role under the email too (viewer, marketing_ops, sales_ops, "
            "revops_admin, finance); without it the person keeps their grant, or is a viewer.",
        ),
    ] = None,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Set a person's password (prompted, or one line on standard input)."""
    from revops.access import require
    from revops.access.passwords import grant_of, normal_login, set_password

    login = normal_login(email)
    with open_revops(config, warehouse) as ro:
        who = require(ro.warehouse, "access.manage")
        set_password(ro.warehouse, who, login, _read_password(), role)  # type: ignore[arg-type]
        granted = grant_of(ro.warehouse, login)
    if granted is None:
        console.print(
            f"password set for {login}; no grant under this email, so they sign in as a "
            f"viewer (add --role ROLE, or `revops access grant {login} ROLE`)"
        )
    else:
        console.print(f"password set for {login} (role {granted})")
