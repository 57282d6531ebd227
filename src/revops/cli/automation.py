"""`revops automate run | watch | list | history | retry | dry-run | export-list` and
`revops tasks list | done`: automations from the operating model, their outbox and tasks."""

from __future__ import annotations

import csv
import io
import signal
import time
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer

from revops.access import require
from revops.audit import record
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
from revops.people import user_names

automate_app = typer.Typer(
    help="Automations: triggers → actions, delivered once.", no_args_is_help=True
)
tasks_app = typer.Typer(help="Tasks automations created for owners.", no_args_is_help=True)

AtOpt = Annotated[
    str | None, typer.Option("--at", help="As of this instant (ISO, UTC if naive); default now.")
]


def _at(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise RevOpsError(f"--at {text!r} is not a timestamp; use YYYY-MM-DDTHH:MM") from None


def _needs_rules(rules: tuple[Any, ...]) -> None:
    if not rules:
        raise RevOpsError("the operating model has no automations (an `automations:` section)")


def _print_pass(report: Any) -> None:
    if not report.leased:
        console.print("[yellow]another dispatcher holds the lease[/]; nothing sent")
        return
    console.print(
        f"events {report.queued_events}, delivered {report.delivered}, "
        f"retrying {report.retrying}, dead {report.dead}"
    )


@automate_app.command("run")
def automate_run(config: ConfigOpt = None, warehouse: WarehouseOpt = None) -> None:
    """One pass (cron-friendly): record new events, then send every due action once."""
    from revops.automation import holder_id, run_pass
    from revops.automation.dispatcher import release

    with open_revops(config, warehouse) as ro:
        require(ro.warehouse, "automation.run")
        _needs_rules(ro.model.automations.rules)
        holder = holder_id()
        try:
            report = run_pass(ro.warehouse, ro.model, holder)
        finally:
            release(ro.warehouse, holder)
    _print_pass(report)


@automate_app.command("watch")
def automate_watch(
    interval: Annotated[
        float | None, typer.Option(help="Seconds between passes (default dispatch.poll_seconds).")
    ] = None,
    passes: Annotated[int | None, typer.Option(help="Stop after N passes.")] = None,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Pass after pass until stopped (Ctrl-C or SIGTERM), holding the dispatcher lease."""
    from revops.automation import holder_id, run_pass
    from revops.automation.dispatcher import release

    stop = [False]

    def on_term(signum: int, frame: FrameType | None) -> None:
        stop[0] = True

    signal.signal(signal.SIGTERM, on_term)
    with open_revops(config, warehouse) as ro:
        require(ro.warehouse, "automation.run")
        _needs_rules(ro.model.automations.rules)
        wait = interval if interval is not None else ro.model.automations.dispatch.poll_seconds
        holder = holder_id()
        console.print(f"dispatcher {holder} watching (every {wait:g} s)")
        done = 0
        try:
            while not stop[0] and (passes is None or done < passes):
                report = run_pass(ro.warehouse, ro.model, holder)
                done += 1
                if report.queued_events or report.delivered or report.dead or not report.leased:
                    _print_pass(report)
                if passes is None or done < passes:
                    time.sleep(wait)
        except KeyboardInterrupt:
            pass
        finally:
            release(ro.warehouse, holder)
    console.print(f"stopped after {done} passes")


@automate_app.command("list")
@formatted
def automate_list(
    fmt: FormatOpt = Format.table, config: ConfigOpt = None, warehouse: WarehouseOpt = None
) -> None:
    """The automations of the operating model, and the outbox by status."""
    from revops.automation.outbox import count_by_status

    with open_revops(config, warehouse) as ro:
        rules = ro.model.automations.rules
        counts = count_by_status(ro.warehouse)
        fired = dict(
            ro.warehouse.sql(
                'SELECT automation, count(*) FROM "automation_events" GROUP BY automation'
            )
        )
    rows = [
        {
            "name": r.name,
            "enabled": "yes" if r.enabled else "no",
            "trigger": r.trigger.type,
            "when": r.when,
            "actions": ", ".join(a.type for a in r.actions),
            "events": int(fired.get(r.name, 0)),
        }
        for r in rules
    ]
    print_frame(rows, f"Automations ({len(rules)})", name="automations", kinds={"events": "count"})
    summary = ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items())) or "empty"
    console.print(f"outbox: {summary}")


@automate_app.command("history")
@formatted
def automate_history(
    status: Annotated[
        str | None,
        typer.Option(help="pending, delivered, dead (the dead-letter list), blocked or skipped."),
    ] = None,
    automation: Annotated[str | None, typer.Option(help="Only this automation.")] = None,
    limit: Annotated[int, typer.Option(help="Rows to show.")] = 50,
    fmt: FormatOpt = Format.table,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Outbox actions, newest first: status, attempts, last error."""
    from revops.automation import inbox

    with open_revops(config, warehouse) as ro:
        rows = inbox.actions(ro.warehouse, status=status, automation=automation, limit=limit)
    shown = [
        {
            "action_id": r["action_id"],
            "automation": r["automation"],
            "kind": r["kind"],
            "target": r["target"],
            "status": r["status"],
            "tries": r["attempts"],
            "delivered_at": r["delivered_at"],
            "last_error": r["last_error"],
        }
        for r in rows
    ]
    print_frame(
        shown,
        f"Actions ({len(rows)})",
        name="actions",
        kinds={"tries": "count", "delivered_at": "date"},
        keep=("action_id", "status"),
    )


@automate_app.command("retry")
def automate_retry(
    action_ids: Annotated[
        list[str] | None, typer.Argument(help="Actions to retry; none: the whole dead-letter list.")
    ] = None,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Put dead actions back in the outbox with a fresh attempt budget (same idempotency key)."""
    from revops.automation import inbox

    with open_revops(config, warehouse) as ro:
        actor = require(ro.warehouse, "automation.run").actor
        ids = inbox.retry(ro.warehouse, actor, list(action_ids or []), datetime.now(UTC))
    console.print(f"{len(ids)} actions back in the outbox")


@automate_app.command("dry-run")
@formatted
def automate_dry_run(
    at: AtOpt = None,
    sample: Annotated[int, typer.Option(help="Events to list per automation.")] = 10,
    fmt: FormatOpt = Format.table,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Which stored records each automation would fire on now, and what it would do; writes
    nothing."""
    from revops.automation.outbox import enabled, evaluate
    from revops.automation.sources import stored
    from revops.warehouse.clock import naive_utc

    with open_revops(config, warehouse) as ro:
        _needs_rules(ro.model.automations.rules)
        when = naive_utc(_at(at))
        queued = evaluate(ro.warehouse, ro.model, stored(ro.warehouse), enabled(ro.model), when)
        names = user_names(ro.warehouse)
    print_queued(queued, sample, names)


def print_queued(queued: Any, sample: int, names: dict[str, str]) -> None:
    by_rule: dict[str, list[dict[str, Any]]] = {}
    for e in queued.events:
        by_rule.setdefault(e["automation"], []).append(e)
    statuses: dict[tuple[str, str], int] = {}
    events = {e["event_id"]: e["automation"] for e in queued.events}
    for a in queued.planned.actions:
        key = (events[a["event_id"]], f"{a['kind']} {a['status']}")
        statuses[key] = statuses.get(key, 0) + 1
    if not by_rule:
        console.print("no automation would fire")
    for name, evs in by_rule.items():
        what = ", ".join(f"{k[1]} {n}" for k, n in sorted(statuses.items()) if k[0] == name)
        rows = [
            {
                "record_table": e["record_table"],
                "record_id": e["record_id"],
                "owner_id": e["owner_id"],
                "owner": names.get(e["owner_id"], e["owner_id"]) if e["owner_id"] else None,
                "occurred_at": e["occurred_at"],
            }
            for e in evs[:sample]
        ]
        more = f"; first {sample}" if len(evs) > sample else ""
        print_frame(
            rows,
            f"{name}: {len(evs):,} records ({what}){more}",
            name=name,
            kinds={"record_id": "text", "occurred_at": "date"},
            keep=("record_table", "record_id", "owner"),
        )


@automate_app.command("export-list")
def automate_export_list(
    program: Annotated[str, typer.Argument(help="Nurture program (list) name.")],
    out: Annotated[Path, typer.Option(help="CSV to write (mode 0600).")],
    purpose: Annotated[str, typer.Option(help="Consent purpose re-checked now.")] = "marketing",
    channel: Annotated[str, typer.Option(help="Consent channel re-checked now.")] = "email",
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Write a nurture program's members for the marketing-automation system to import; anyone
    who withdrew consent since enrolment is left out."""
    from revops.privacy.consent import audience
    from revops.privacy.crypto import write_owner_only
    from revops.privacy.export import csv_cell

    with open_revops(config, warehouse) as ro:
        actor = require(ro.warehouse, "audience.export").actor
        wh = ro.warehouse
        m = wh.table("nurture_memberships")
        p = wh.table("persons")
        members = m.filter(m.program == program)
        joined = members.join(p, "person_id").select(
            "person_id", "email", "first_name", "last_name", "enrolled_at"
        )
        chosen = audience(wh, purpose, channel, joined, config=ro.model.privacy)
        assert not isinstance(chosen, list)
        rows = wh.to_arrow(chosen.order_by("person_id")).to_pylist()
        buf = io.StringIO()
        cols = ["program", "person_id", "email", "first_name", "last_name", "enrolled_at"]
        writer = csv.DictWriter(buf, fieldnames=cols)
        writer.writeheader()
        writer.writerows(
            {"program": program, **{k: csv_cell(v) for k, v in r.items()}} for r in rows
        )
        write_owner_only(out, buf.getvalue().encode("utf-8"))
        details = {"program": program, "rows": len(rows), "file": str(out)}
        record(wh, actor, "automation.list_exported", program, details)
    console.print(f"[green]✓[/] {len(rows):,} members of {program} written to {out}")


@tasks_app.command("list")
@formatted
def tasks_list(
    assignee: Annotated[
        str | None, typer.Option(help="Only this user's tasks: user id, email or unique name.")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Done tasks too.")] = False,
    fmt: FormatOpt = Format.table,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Open tasks, soonest due first."""
    from revops.automation import inbox

    with open_revops(config, warehouse) as ro:
        if assignee is not None:
            from revops.people import resolve_user

            assignee = resolve_user(ro.warehouse, assignee)
        rows = inbox.tasks(ro.warehouse, assignee=assignee, open_only=not all_)
        names = user_names(ro.warehouse)
    shown = [
        {
            "task_id": r["task_id"],
            "assignee_id": r["assignee_id"],
            "assignee": names.get(r["assignee_id"], r["assignee_id"]),
            "kind": r["kind"],
            "due_utc": r["due_at"],
            "record": f"{r['record_table']} {r['record_id']}",
            "title": r["title"],
            "done_at": r["done_at"],
        }
        for r in rows
    ]
    print_frame(
        shown,
        f"Tasks ({len(rows)})",
        name="tasks",
        kinds={"due_utc": "date", "done_at": "date"},
        keep=("task_id", "assignee", "due_utc", "title"),
    )


@tasks_app.command("done")
def tasks_done(
    task_id: Annotated[str, typer.Argument(help="Task id (from `revops tasks list`).")],
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Mark a task done (audited)."""
    from revops.automation import inbox

    with open_revops(config, warehouse) as ro:
        actor = require(ro.warehouse, "tasks.update").actor
        row = inbox.done(ro.warehouse, actor, task_id, datetime.now(UTC))
    console.print(f"[green]✓[/] {row['title']} — done")
