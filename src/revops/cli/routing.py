"""`revops route`: route unassigned leads and explain any stored decision."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from typing import Annotated, NoReturn

import typer
from rich.table import Table

from revops.cli._common import ConfigOpt, WarehouseOpt, console, open_revops, parse_day
from revops.errors import RevOpsError
from revops.routing import route_unassigned
from revops.routing.store import latest_decisions

routing_app = typer.Typer(help="Lead routing.", no_args_is_help=True)


def _parse_at(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise RevOpsError(f"--at {text!r} is not a timestamp; use YYYY-MM-DDTHH:MM") from None


@routing_app.command("run")
def route_run(
    since: Annotated[
        str | None, typer.Option("--since", help="Only persons created on or after (YYYY-MM-DD).")
    ] = None,
    at: Annotated[
        str | None,
        typer.Option("--at", help="Route as of this instant (ISO, UTC if naive); default now."),
    ] = None,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Route every person without an owner and store each decision with its reasons."""
    with open_revops(config, warehouse) as ro:
        routed = route_unassigned(
            ro.warehouse, ro.model.routing, _parse_at(at), parse_day(since, "--since")
        )
    counts = Counter(r.decision.owner_id or f"queue:{r.decision.queue}" for r in routed)
    console.print(f"routed {len(routed):,} persons")
    out = Table(title="Assignments", title_justify="left")
    out.add_column("owner or queue")
    out.add_column("leads", justify="right")
    for who, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        out.add_row(who, f"{n:,}")
    console.print(out)


@routing_app.command("explain")
def route_explain(
    person_id: Annotated[str, typer.Argument(help="persons.person_id")],
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Show the latest routing decision of a person: every rule evaluated and why."""
    with open_revops(config, warehouse) as ro:
        found = latest_decisions(ro.warehouse, [person_id]).get(person_id)
        if found is None:
            raise_missing(person_id)
    who = found["owner_id"] or f"queue {found['queue']}"
    console.print(f"{person_id} → [bold]{who}[/] by rule {found['rule'] or '(fallback)'}")
    console.print(f"decided at {found['decided_at']}: {found['reason']}", highlight=False)
    out = Table(title="Rules evaluated", title_justify="left")
    out.add_column("rule")
    out.add_column("matched")
    out.add_column("why")
    for t in json.loads(found["evaluated"]):
        out.add_row(t["rule"], "yes" if t["matched"] else "no", t["reason"])
    console.print(out)


def raise_missing(person_id: str) -> NoReturn:
    raise RevOpsError(f"no routing decision for person {person_id!r}; run `revops route run`")
