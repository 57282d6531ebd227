"""`revops plan | apply | history | rollback` and `revops audit verify | log`: change control.

A change to the operating model is planned (what changes, and what it would do to the data),
applied with an approver and a reason (revops_admin only), listed and rolled back; the audit
log that records it all can be verified and read by anyone.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

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
)

if TYPE_CHECKING:
    from revops.config.loader import LoadedConfig
    from revops.config.models import OperatingModel
    from revops.context import RevOps
    from revops.governance import Impact, ModelDiff

audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)

NewFile = Annotated[Path, typer.Argument(help="The proposed operating model (revops.yaml).")]


# -- plan ---------------------------------------------------------------------------------------
@formatted
def plan(
    new: NewFile,
    days: Annotated[int, typer.Option(help="Re-route the leads of the last N days.")] = 30,
    months: Annotated[int, typer.Option(help="Metric values over the last N months.")] = 6,
    sample: Annotated[int, typer.Option(help="Re-routed leads (and records) to list.")] = 20,
    at: Annotated[
        str | None,
        typer.Option("--at", help="Evaluate automations as of this instant (ISO, UTC); now."),
    ] = None,
    fmt: FormatOpt = Format.table,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Compare NEW with the active model and show its impact on the data in the warehouse."""
    from revops.config import load_config
    from revops.governance import diff_models, impact

    with open_revops(config, warehouse) as ro:
        proposed = load_config(new)
        _known_users(ro, proposed)
        diff = diff_models(ro.model, proposed.model)
        source = escape(str(ro.config.path))
        console.print(f"plan: [bold]{escape(str(new))}[/] against the active model ({source})")
        if diff.empty:
            console.print("no changes")
            return
        when = _plan_at(at)
        effect = impact(
            ro.warehouse, ro.model, proposed.model, diff, days=days, months=months, at=when
        )
    print_changes(diff)
    print_impact(effect, sample, proposed.model)


def _known_users(ro: RevOps, proposed: LoadedConfig) -> None:
    """A model naming users the warehouse does not know is refused, each with its line."""
    from revops.config.users import check_users
    from revops.people import user_names

    check_users(proposed, user_names(ro.warehouse))


def _plan_at(text: str | None) -> datetime | None:
    from revops.errors import RevOpsError
    from revops.warehouse.clock import naive_utc

    if text is None:
        return None
    try:
        return naive_utc(datetime.fromisoformat(text))
    except ValueError:
        raise RevOpsError(f"--at {text!r} is not a timestamp; use YYYY-MM-DDTHH:MM") from None


def print_changes(diff: ModelDiff) -> None:
    rows = [
        {"area": area, "change": c.text()}
        for area, changes in diff.by_area().items()
        for c in changes
    ]
    print_frame(rows, f"Changes ({len(diff.changes)})", name="changes", keep=("area", "change"))


def print_impact(effect: Impact, sample: int, model: OperatingModel) -> None:
    if effect.stages is not None:
        s = effect.stages
        console.print(
            f"lifecycle: [bold]{s.changed_count:,}[/] of {s.persons:,} persons would change stage"
        )
        if s.moves:
            moves = [{"current_stage": a, "new_stage": b, "persons": n} for a, b, n in s.moves]
            print_frame(
                moves, "Persons changing stage", name="stage_moves", kinds={"persons": "count"}
            )
    if effect.routing is not None:
        _print_routing(effect, sample)
    for auto in effect.automations:
        what = ", ".join(f"{kind} {status} {n:,}" for kind, status, n in auto.actions) or "nothing"
        console.print(
            f"automation [bold]{escape(auto.name)}[/]: would fire on {len(auto.events):,} records "
            f"as of {auto.at:%Y-%m-%d %H:%M} ({what})"
        )
        for e in auto.events[:sample]:
            console.print(
                f"  {e['record_table']} {e['record_id']}  owner {e['owner_id'] or '–'}  "
                f"at {e['occurred_at']}",
                highlight=False,
            )
        if len(auto.events) > sample:
            console.print(f"  … {len(auto.events) - sample:,} more")
    for m in effect.metrics:
        from revops.cli.metrics import metric_kind

        names = {x.name: x for x in model.metrics}
        kind = metric_kind(names[m.name]) if m.name in names else "number"
        values = [
            {"month": period, "old": old, "new": new, "change": change}
            for period, old, new, change in m.values.itertuples(index=False, name=None)
        ]
        print_frame(
            values,
            f"Metric {m.name}",
            name=f"metric_{m.name}",
            kinds={"month": "month", "old": kind, "new": kind, "change": kind},
        )
        if m.old_formula == m.new_formula:
            shown = escape(m.new_formula)
            console.print(f"  formula (unchanged, built on a changed metric): {shown}")
        else:
            before = escape(m.old_formula or "(new metric)")
            console.print(f"  old formula: {before}", highlight=False)
            console.print(f"  new formula: {escape(m.new_formula)}", highlight=False)


def _print_routing(effect: Impact, sample: int, top: int = 15) -> None:
    r = effect.routing
    assert r is not None
    if r.since is None or r.until is None:
        console.print("routing: no leads in the warehouse to re-route")
        return
    console.print(
        f"routing: [bold]{len(r.rerouted):,}[/] of {r.leads:,} leads created "
        f"{r.since:%Y-%m-%d %H:%M} – {r.until:%Y-%m-%d %H:%M} would route to a different owner"
    )
    if not r.rerouted:
        return
    rotation = sum(1 for x in r.rerouted if x.cause == "rotation")
    console.print(
        f"  {len(r.rerouted) - rotation:,} decided by a different rule; {rotation:,} by the same "
        "rule but a different pool member (the round-robin turn moves with the leads before)"
    )
    print_frame(
        [{"old_rule": a, "new_rule": b, "leads": n} for a, b, n in r.by_rule()],
        "Re-routed leads by rule: old → new",
        name="rerouted_by_rule",
        kinds={"leads": "count"},
    )
    pairs = r.flows()
    flows: list[dict[str, Any]] = [
        {"from_old_rules": a, "to_new_rules": b, "leads": n} for a, b, n in pairs[:top]
    ]
    if len(pairs) > top:
        rest = sum(n for _, _, n in pairs[top:])
        flows.append(
            {
                "from_old_rules": f"… {len(pairs) - top} other pairs",
                "to_new_rules": None,
                "leads": rest,
            }
        )
    print_frame(flows, "Re-routed leads: from → to", name="flows", kinds={"leads": "count"})
    shown = r.rerouted[:sample]
    print_frame(
        [
            {
                "person_id": x.person_id,
                "created": x.created_at,
                "old_owner": f"{x.old_owner} ({x.old_rule or 'fallback'})",
                "new_owner": f"{x.new_owner} ({x.new_rule or 'fallback'})",
            }
            for x in shown
        ],
        f"Re-routed leads ({len(shown)} of {len(r.rerouted):,})",
        name="rerouted",
        kinds={"person_id": "text", "created": "date"},
        keep=("person_id", "old_owner", "new_owner"),
    )


# -- apply, history, rollback -------------------------------------------------------------------
def apply(
    new: NewFile,
    approved_by: Annotated[str, typer.Option("--approved-by", help="Who approved it.")] = "",
    reason: Annotated[str, typer.Option("--reason", help="Why the model changes.")] = "",
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Activate NEW as the next operating-model version (revops_admin; approver and reason)."""
    from revops.access import require
    from revops.config import load_config
    from revops.governance import versions

    with open_revops(config, warehouse) as ro:
        who = require(ro.warehouse, "config.apply")
        proposed = load_config(new)
        _known_users(ro, proposed)
        done = versions.apply(
            ro.warehouse,
            proposed,
            actor=who.actor,
            approved_by=approved_by,
            reason=reason,
            baseline=ro.config,
        )
    console.print(
        f"[green]✓[/] version {done.version} active ({done.sha256[:12]}), "
        f"approved by {done.approved_by}"
    )


@formatted
def history(
    fmt: FormatOpt = Format.table, config: ConfigOpt = None, warehouse: WarehouseOpt = None
) -> None:
    """List operating-model versions, newest last; the newest is active."""
    import pandas as pd

    from revops.governance import versions

    with open_revops(config, warehouse) as ro:
        rows = versions.history(ro.warehouse)
    if not rows:
        console.print("no config versions yet: `revops apply FILE` records the first")
    shown = []
    for v in rows:
        note = "active" if v is rows[-1] else ""
        if v.restores is not None:
            note = ", ".join(x for x in (note, f"rollback to {v.restores}") if x)
        shown.append(
            {
                "version": v.version,
                "applied_utc": v.applied_at,
                "by": v.applied_by,
                "approved_by": v.approved_by,
                "reason": v.reason,
                "sha256": v.sha256,
                "note": note,
            }
        )
    columns = ("version", "applied_utc", "by", "approved_by", "reason", "sha256", "note")
    print_frame(
        shown or pd.DataFrame(columns=list(columns)),
        "Operating-model versions",
        name="versions",
        kinds={"version": "text", "applied_utc": "date", "sha256": "text"},
        keep=("version", "applied_utc", "by", "reason", "note"),
    )


def rollback(
    version: Annotated[int, typer.Argument(help="The version to re-activate.")],
    reason: Annotated[str, typer.Option("--reason", help="Why it is rolled back.")] = "",
    approved_by: Annotated[
        str | None, typer.Option("--approved-by", help="Who approved it (default: you).")
    ] = None,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Re-activate an earlier version as a new version (revops_admin; reason required)."""
    from revops.access import require
    from revops.governance import versions

    with open_revops(config, warehouse) as ro:
        who = require(ro.warehouse, "config.apply")
        done = versions.rollback(
            ro.warehouse, version, actor=who.actor, reason=reason, approved_by=approved_by
        )
    console.print(f"[green]✓[/] version {done.version} active: the text of version {version}")


# -- audit --------------------------------------------------------------------------------------
@audit_app.command("verify")
def audit_verify(
    expect_head: Annotated[
        str | None,
        typer.Option("--expect-head", help="A head hash kept elsewhere; fails if it is gone."),
    ] = None,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Recompute the hash chain; exit 1 naming every edited, deleted or cut entry."""
    from revops.audit import verify

    with open_revops(config, warehouse) as ro:
        result = verify(ro.warehouse, expect_head)
    if result.ok:
        anchored = "" if result.anchored is None else f", anchored head {result.anchored} found"
        console.print(
            f"[green]✓[/] audit log intact: {result.entries:,} entries, head {result.head_hash}"
            f"{anchored}"
        )
        return
    console.print(f"[bold red]audit log broken[/] ({result.entries:,} entries):")
    for p in result.problems:
        console.print(f"  {escape(p)}", highlight=False)
    raise typer.Exit(1)


@audit_app.command("log")
@formatted
def audit_log(
    action: Annotated[
        str | None, typer.Option("--action", help="Only this action, or a prefix ending in '.'.")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only entries on or after (YYYY-MM-DD).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="Newest N entries.")] = 50,
    fmt: FormatOpt = Format.table,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """List audit entries, oldest of the newest N first."""
    from revops.audit import entries

    start = parse_day(since, "--since")
    with open_revops(config, warehouse) as ro:
        log = entries(ro.warehouse)
    if action is not None:
        log = [
            e
            for e in log
            if e.action == action or (action.endswith(".") and e.action.startswith(action))
        ]
    if start is not None:
        log = [e for e in log if e.at >= datetime.combine(start, datetime.min.time())]
    log = log[-limit:] if limit > 0 else log
    rows = []
    for e in log:
        details = json.loads(e.details) if e.details else {}
        rows.append(
            {
                "seq": e.seq,
                "at_utc": e.at,
                "actor": e.actor,
                "action": e.action,
                "subject": e.subject,
                "details": ", ".join(f"{k}={v}" for k, v in details.items()),
            }
        )
    print_frame(
        rows,
        f"Audit log ({len(log)} entries)",
        name="audit",
        kinds={"seq": "text", "at_utc": "date"},
        keep=("seq", "at_utc", "actor", "action", "subject"),
    )
