"""`revops route`: route unassigned leads and explain any stored decision."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from revops.access import require
from revops.audit import audited, rows_of
from revops.cli._common import (
    ConfigOpt,
    Format,
    FormatOpt,
    WarehouseOpt,
    console,
    formatted,
    open_revops,
    parse_day,
    print_frame,
    working,
)
from revops.errors import RevOpsError
from revops.lifecycle import EventOutcome
from revops.people import resolve_user, user_names
from revops.routing.reps import Operation, operation
from revops.routing.reps import record as record_operation
from revops.routing.round_robin import unavailable
from revops.routing.sla_store import accept, detect_breaches, overdue, reject
from revops.routing.store import latest_decisions, route_new, routing_state
from revops.warehouse import Batch

routing_app = typer.Typer(help="Lead routing.", no_args_is_help=True)

AtOpt = Annotated[
    str | None,
    typer.Option("--at", help="As of this instant (ISO, UTC if naive); default now."),
]


def _parse_at(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise RevOpsError(f"--at {text!r} is not a timestamp; use YYYY-MM-DDTHH:MM") from None


@routing_app.command("run")
@formatted
def route_run(
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Route persons who became routable on or after this day (YYYY-MM-DD), "
            "instead of since the last run.",
        ),
    ] = None,
    at: Annotated[
        str | None,
        typer.Option("--at", help="Route as of this instant (ISO, UTC if naive); default now."),
    ] = None,
    fmt: FormatOpt = Format.table,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Route persons who became routable (routing.routable_stages) since the last run."""
    day = parse_day(since, "--since")
    start = datetime.combine(day, datetime.min.time()) if day is not None else None
    with open_revops(config, warehouse) as ro:
        actor = require(ro.warehouse, "routing.run").actor

        def described(batches: Sequence[Batch]) -> tuple[str, dict[str, Any]]:
            n = len(rows_of(batches, "routing_decisions"))
            return f"{n} leads", {"since": since, "at": at, "leads": n}

        with (
            working("routing") as step,
            audited(ro.warehouse, actor, "routing.routed", described),
        ):
            step("deciding owners")
            run = route_new(ro.warehouse, ro.model.routing, _parse_at(at), start)
        names = user_names(ro.warehouse)
    stages = ", ".join(ro.model.routing.routable_stages)
    console.print(
        f"routed {len(run.routed):,} persons who became {stages} after {run.since:%Y-%m-%d %H:%M}"
        f" up to {run.until:%Y-%m-%d %H:%M} UTC (the next run starts there)",
        highlight=False,
    )
    counts = Counter((r.decision.owner_id, r.decision.queue) for r in run.routed)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], names.get(kv[0][0] or "", kv[0][1])))
    rows = [
        {
            "owner_or_queue": names.get(owner, owner) if owner else f"queue:{queue}",
            "owner_id": owner,
            "queue": None if owner else queue,
            "leads": n,
        }
        for (owner, queue), n in ranked
    ]
    print_frame(
        rows,
        "Assignments",
        name="assignments",
        kinds={"leads": "count"},
        hidden=("owner_id", "queue"),
    )


@routing_app.command("explain")
@formatted
def route_explain(
    person_id: Annotated[str, typer.Argument(help="persons.person_id")],
    fmt: FormatOpt = Format.table,
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
    rows = [
        {"rule": t["rule"], "matched": "yes" if t["matched"] else "no", "why": t["reason"]}
        for t in json.loads(found["evaluated"])
    ]
    print_frame(rows, "Rules evaluated", name="rules", keep=("rule", "matched", "why"))


def raise_missing(person_id: str) -> NoReturn:
    raise RevOpsError(f"no routing decision for person {person_id!r}; run `revops route run`")


@routing_app.command("accept")
def route_accept(
    person_id: Annotated[str, typer.Argument(help="persons.person_id")],
    at: AtOpt = None,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Accept an assigned lead (SAL): close its SLA clock and move it to SAL."""
    with open_revops(config, warehouse) as ro:
        require(ro.warehouse, "leads.respond")
        done = accept(ro.warehouse, ro.model, person_id, _parse_at(at))
    _print_response(person_id, "accepted", done.met, done.lifecycle)


@routing_app.command("reject")
def route_reject(
    person_id: Annotated[str, typer.Argument(help="persons.person_id")],
    reason: Annotated[str, typer.Option("--reason", help="One of sla.rejection_reasons.")],
    at: AtOpt = None,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Reject an assigned lead with a listed reason; it re-enters at the reason's stage."""
    with open_revops(config, warehouse) as ro:
        require(ro.warehouse, "leads.respond")
        done = reject(ro.warehouse, ro.model, person_id, reason, _parse_at(at))
    _print_response(person_id, f"rejected ({reason})", done.met, done.lifecycle)


def _print_response(person_id: str, what: str, met: bool, lifecycle: EventOutcome | None) -> None:
    console.print(f"{person_id} {what}, {'within' if met else 'after'} the SLA")
    if lifecycle is None:
        console.print("no lifecycle change for this reason")
    else:
        console.print(f"lifecycle stage: {lifecycle.stage} ({lifecycle.status})")


@routing_app.command("breaches")
@formatted
def route_breaches(
    escalate: Annotated[
        bool,
        typer.Option(
            "--escalate",
            help="Record the breaches and take each lead's next escalation step "
            "(routing.sla.escalation: remind the owner, the manager, then re-route).",
        ),
    ] = False,
    page: Annotated[int, typer.Option("--page", min=1, help="Page of the list to show.")] = 1,
    page_size: Annotated[int, typer.Option("--page-size", min=1, help="Rows per page.")] = 50,
    at: AtOpt = None,
    fmt: FormatOpt = Format.table,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """List running SLA clocks past due, most overdue first, a page at a time, with the total;
    with --escalate, record them and escalate."""
    when = _parse_at(at)
    with open_revops(config, warehouse) as ro:
        esc = require(ro.warehouse, "sla.escalate") if escalate else None
        late = overdue(ro.warehouse, when)
        names = user_names(ro.warehouse)
        report = detect_breaches(ro.warehouse, ro.model, when, esc.actor) if esc else None
    pages = max(1, -(-len(late) // page_size))
    shown = late[(page - 1) * page_size : page * page_size]
    rows = [
        {
            "person_id": c["person_id"],
            "owner_id": c["owner_id"],
            "owner": names.get(c["owner_id"], c["owner_id"]),
            "priority": c["priority"],
            "due_utc": c["due_at"],
            "breaches_before": c["breach_count"],
        }
        for c in shown
    ]
    print_frame(
        rows,
        f"Overdue SLA clocks at {naive_text(when)} UTC: {len(late):,} "
        f"(page {page} of {pages}, {page_size} a page)",
        name="overdue",
        kinds={"breaches_before": "count", "due_utc": "date", "priority": "text"},
        keep=("person_id", "owner", "due_utc"),
    )
    console.print(f"total overdue: {len(late):,}")
    if report is not None:
        console.print(
            f"breached {len(report.breached)}, re-armed {len(report.rearmed)}, "
            f"reminded {len(report.reminded)}, escalated {len(report.escalated)}"
        )
        for r in report.escalated[:page_size]:
            who = r.decision.owner_id or f"queue {r.decision.queue}"
            console.print(f"{r.person_id} re-routed to {names.get(who, who)}")


def naive_text(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


# -- rep operations: audited, outside operating-model versions ---------------------------------
UserArg = Annotated[str, typer.Argument(help="The rep: user id, email or unique name.")]
ReasonOpt = Annotated[str | None, typer.Option("--reason", help="Why (kept in the audit log).")]


def _rep_operation(
    config: Path | None,
    warehouse: str | None,
    user: str,
    op: Operation,
    at: str | None,
    **fields: Any,
) -> None:
    with open_revops(config, warehouse) as ro:
        actor = require(ro.warehouse, "reps.manage").actor
        user_id = resolve_user(ro.warehouse, user)
        row = operation(user_id, op, actor, _parse_at(at), **fields)
        record_operation(ro.warehouse, row, actor)
        name = user_names(ro.warehouse).get(user_id, user_id)
    console.print(f"{name} ({user_id}): {op} recorded; routing applies it from now on")


@routing_app.command("pause")
def route_pause(
    user: UserArg,
    reason: ReasonOpt = None,
    at: AtOpt = None,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Stop routing new leads to a rep (no new operating-model version needed)."""
    _rep_operation(config, warehouse, user, "pause", at, reason=reason)


@routing_app.command("unpause")
def route_unpause(
    user: UserArg,
    reason: ReasonOpt = None,
    at: AtOpt = None,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Route new leads to a paused rep again (also one paused in the operating model)."""
    _rep_operation(config, warehouse, user, "unpause", at, reason=reason)


@routing_app.command("ooo")
def route_ooo(
    user: UserArg,
    start: Annotated[str, typer.Option("--from", help="Out from (ISO, UTC if naive).")],
    end: Annotated[str, typer.Option("--until", help="Back at (ISO, exclusive).")],
    reason: ReasonOpt = None,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Record a rep's out-of-office range: routing skips them inside it."""
    starts, ends = _parse_at(start), _parse_at(end)
    _rep_operation(
        config, warehouse, user, "ooo", None, starts_at=starts, ends_at=ends, reason=reason
    )


@routing_app.command("capacity")
def route_capacity(
    user: UserArg,
    daily: Annotated[int | None, typer.Option("--daily", min=0, help="Leads a day.")] = None,
    weekly: Annotated[int | None, typer.Option("--weekly", min=0, help="Leads a week.")] = None,
    reason: ReasonOpt = None,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Set a rep's caps, replacing their pools' caps for them."""
    _rep_operation(
        config, warehouse, user, "capacity", None, daily_cap=daily, weekly_cap=weekly, reason=reason
    )


@routing_app.command("reps")
@formatted
def route_reps(
    fmt: FormatOpt = Format.table, config: ConfigOpt = None, warehouse: WarehouseOpt = None
) -> None:
    """Every pool member: paused, out of office now, caps in force."""
    with open_revops(config, warehouse) as ro:
        state = routing_state(ro.warehouse, ro.model.routing)
        names = user_names(ro.warehouse)
    now = datetime.now(UTC)
    rows = []
    for pool in ro.model.routing.pools:
        for m in pool.members:
            why = unavailable(state, m.user_id, now) or "available"
            daily, weekly = state.caps.get(
                m.user_id,
                (
                    m.daily_cap if m.daily_cap is not None else pool.daily_cap,
                    m.weekly_cap if m.weekly_cap is not None else pool.weekly_cap,
                ),
            )
            rows.append(
                {
                    "rep_id": m.user_id,
                    "rep": names.get(m.user_id, m.user_id),
                    "pool": pool.name,
                    "status": why.removeprefix(f"{m.user_id}: "),
                    "daily_cap": daily,
                    "weekly_cap": weekly,
                }
            )
    print_frame(
        rows,
        "Reps in routing pools",
        name="reps",
        kinds={"daily_cap": "count", "weekly_cap": "count"},
        keep=("rep", "pool", "status"),
    )
