"""`revops territory | quota | comp`: territory design, quotas and capacity, compensation."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated

import typer

from revops.access import require
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
    with_names,
    working,
)
from revops.errors import RevOpsError
from revops.people import user_names

if TYPE_CHECKING:
    from revops.cli.output import Kind
    from revops.warehouse import Warehouse

territory_app = typer.Typer(help="Balanced territory design.", no_args_is_help=True)
quota_app = typer.Typer(help="Quotas, attainment and capacity planning.", no_args_is_help=True)
comp_app = typer.Typer(help="Compensation: payouts, adjustments, locks.", no_args_is_help=True)

AsOfOpt = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="Score history up to this day (YYYY-MM-DD); default the latest data date.",
    ),
]
PeriodOpt = Annotated[
    str, typer.Option("--period", help="YYYY-MM (comp); quotas: YYYY-Qn or YYYY.")
]


def _as_of(text: str | None, wh: Warehouse) -> date:
    """The date given, or the warehouse's latest deal-history date (said on the console)."""
    given = parse_day(text, "--as-of")
    if given is not None:
        return given
    from revops.pipeline.forecast.data import latest_data_date

    day = latest_data_date(wh)
    console.print(f"[dim]--as-of {day}: the warehouse's latest data date[/]")
    return day


def _finite(value: float) -> float | None:
    """max/min is infinite when a rep holds nothing: no ratio to show (n/a), never ∞ in csv."""
    return None if value == float("inf") else value


# -- territories ------------------------------------------------------------------------------
@territory_app.command("design")
@formatted
def territory_design(
    as_of: AsOfOpt = None,
    time_limit: Annotated[
        float | None, typer.Option("--time-limit", help="Solver seconds (default: config).")
    ] = None,
    band: Annotated[
        float | None,
        typer.Option(
            "--band", min=0, max=1, help="Potential band, 0.05 for ±5 % (default: config)."
        ),
    ] = None,
    max_moves: Annotated[
        float | None,
        typer.Option(
            "--max-moves", min=0, max=1, help="Share of accounts that may move (default: config)."
        ),
    ] = None,
    fmt: FormatOpt = Format.table,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Propose a balanced assignment of accounts to reps and store it (accounts unchanged)."""
    from revops.planning.run import run_design

    with open_revops(config, warehouse) as ro:
        require(ro.warehouse, "territory.write")
        day = _as_of(as_of, ro.warehouse)
        with working("designing territories") as step:
            step("solving the assignment")
            design_id, design = run_design(
                ro.warehouse, ro.model, day, time_limit, band=band, max_moves=max_moves
            )
    spread = [
        {
            "design": label,
            "potential_max_min": _finite(s.max_min),
            "potential_cv": s.cv,
            "workload_max_min": _finite(s.workload_max_min),
            "workload_cv": s.workload_cv,
        }
        for label, s in (("before", design.before), ("after", design.after))
    ]
    print_frame(
        spread,
        f"Territory design {design_id} (max/min n/a: a rep with none)",
        name="spread",
        kinds={
            "potential_max_min": "multiple",
            "workload_max_min": "multiple",
            "potential_cv": "number",
            "workload_cv": "number",
        },
    )
    by_region = design.by_rep.groupby("region").agg(
        reps=("user_id", "size"),
        potential_min=("potential_after", "min"),
        potential_max=("potential_after", "max"),
    )
    by_region["max_min_in_region"] = by_region["potential_max"] / by_region["potential_min"]
    print_frame(
        by_region.reset_index(),
        "After, by region (the regional constraint bounds the global spread)",
        name="by_region",
        kinds={"reps": "count", "max_min_in_region": "multiple"},
    )
    groups = "\n".join(f"  {g}" for g in design.solver_status.split("; "))
    console.print(
        f"{design.moved:,} of {len(design.assignments):,} accounts move; solved in "
        f"{design.solve_seconds:.1f} s; per group (gap: CP-SAT's proven distance from the "
        f"fewest moves):\n{groups}\n"
        f"Apply with: revops territory apply {design_id}; "
        f"compare with: revops territory compare {design_id} <other design>",
        highlight=False,
    )
    if design.fallback_note is not None:
        console.print(f"[bold yellow]{design.fallback_note}[/]", highlight=False)


@territory_app.command("compare")
@formatted
def territory_compare(
    first: Annotated[str, typer.Argument(help="territory_designs.design_id")],
    second: Annotated[str, typer.Argument(help="territory_designs.design_id")],
    fmt: FormatOpt = Format.table,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Two stored designs side by side: balance, moves and disruption per rep."""
    from revops.planning.scenarios import compare_by_rep, compare_summary
    from revops.planning.store import load_assignments, load_reps, load_status
    from revops.planning.territories import fallback_note, method_summary

    with open_revops(config, warehouse) as ro:
        designs = {"A": load_assignments(ro.warehouse, first)}
        designs["B"] = load_assignments(ro.warehouse, second)
        statuses = [load_status(ro.warehouse, first), load_status(ro.warehouse, second)]
        reps = load_reps(ro.warehouse, ro.model.planning.territories.roles)
        names = user_names(ro.warehouse)
    summary = compare_summary(designs, reps)
    summary.insert(1, "design_id", [first, second])
    summary.insert(2, "method", [method_summary(s) for s in statuses])
    ratios = [str(c) for c in summary.columns if "max_min" in str(c)]
    for col in ratios:
        summary[col] = summary[col].map(_finite)
    kinds: dict[str, Kind] = dict.fromkeys(ratios, "multiple")
    kinds.update({"potential_cv_after": "number", "workload_cv_after": "number"})
    print_frame(
        summary, "Designs side by side (max/min n/a: a rep with none)", name="designs", kinds=kinds
    )
    print_frame(
        with_names(compare_by_rep(designs, reps), names, user_id="rep"),
        f"Per rep, A = {first}, B = {second}: accounts kept, lost, gained "
        "(changed = lost + gained) and potential after",
        name="by_rep",
    )
    for label, status in zip("AB", statuses, strict=True):
        note = fallback_note(status)
        if note is not None:
            console.print(f"[bold yellow]{label}: {note}[/]", highlight=False)


@territory_app.command("apply")
def territory_apply(
    design_id: Annotated[str, typer.Argument(help="territory_designs.design_id")],
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Write a design's owners to accounts.owner_id (audited)."""
    from revops.planning.store import apply_design, load_status
    from revops.planning.territories import fallback_note

    with open_revops(config, warehouse) as ro:
        who = require(ro.warehouse, "territory.write")
        moved = apply_design(ro.warehouse, design_id, who.actor)
        note = fallback_note(load_status(ro.warehouse, design_id))
    console.print(f"applied {design_id}: {moved:,} accounts changed owner")
    if note is not None:
        console.print(f"[bold yellow]{note}[/]", highlight=False)


# -- quotas -----------------------------------------------------------------------------------
@quota_app.command("set")
@formatted
def quota_set(
    period: PeriodOpt,
    target: Annotated[
        float | None, typer.Option("--target", help="Company bookings target for the period.")
    ] = None,
    method: Annotated[str, typer.Option("--method", help="top_down or bottom_up.")] = "top_down",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show, do not write.")] = False,
    as_of: AsOfOpt = None,
    fmt: FormatOpt = Format.table,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Set quotas top-down (target by capacity and ramp) or bottom-up (potential × capture)."""
    from revops.planning.run import plan_quotas, write_quotas

    with open_revops(config, warehouse) as ro:
        who = None if dry_run else require(ro.warehouse, "quota.write")
        plan = plan_quotas(
            ro.warehouse, ro.model, period, method, target, _as_of(as_of, ro.warehouse)
        )
        names = user_names(ro.warehouse)
        if plan.reconciliation is not None:
            print_frame(
                with_names(plan.reconciliation, names, user_id="rep"),
                f"Top-down vs bottom-up, {period}",
                name="reconciliation",
            )
        else:
            print_frame(
                with_names(plan.quotas, names, user_id="rep"),
                f"Quotas ({method}), {period}",
                name="quotas",
            )
        console.print(f"capture rate: {plan.capture_rate:.2%} of annual potential")
        if who is not None:
            n, replaced = write_quotas(ro.warehouse, plan, period, method, who.actor)
            console.print(
                f"wrote {n} quotas ({method}) for {period} ({plan.start} – {plan.end}); "
                f"replaced {replaced} overlapping",
                highlight=False,
            )


@quota_app.command("attainment")
@formatted
def quota_attainment(
    period: PeriodOpt,
    fmt: FormatOpt = Format.table,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Split-credited bookings ÷ quota per rep."""
    from revops.planning.run import attainment_table

    with open_revops(config, warehouse) as ro:
        table = attainment_table(ro.warehouse, ro.model, period)
        names = user_names(ro.warehouse)
    print_frame(
        with_names(table.sort_values("attainment", ascending=False), names, user_id="rep"),
        f"Quota attainment, {period}",
        name="attainment",
        keep=("rep", "bookings", "quota", "attainment"),
    )


@quota_app.command("capacity")
@formatted
def quota_capacity(
    start: Annotated[str, typer.Option("--from", help="First month, YYYY-MM.")],
    months: Annotated[int, typer.Option("--months", help="Horizon in months.")] = 12,
    target: Annotated[
        float | None, typer.Option("--target", help="Bookings target over the horizon.")
    ] = None,
    as_of: AsOfOpt = None,
    fmt: FormatOpt = Format.table,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Productive capacity by month (ramp, attrition) and the hires a target needs."""
    from revops.planning.periods import parse_period
    from revops.planning.run import capacity_table

    if months < 1:
        raise RevOpsError("--months must be at least 1")
    with open_revops(config, warehouse) as ro:
        first, _ = parse_period(start)
        result = capacity_table(
            ro.warehouse, ro.model, first, months, target, _as_of(as_of, ro.warehouse)
        )
    print_frame(
        result.plan,
        f"Capacity from {start} ({result.productivity:,.0f} per ramped rep-month)",
        name="capacity",
        kinds={"month": "month", "headcount": "number", "ramped_reps": "number"},
    )
    total = float(result.plan["capacity"].sum())
    console.print(f"capacity over the horizon: {total:,.0f}")
    if result.hires is not None:
        console.print(f"hires needed from {start} to reach {target:,.0f}: {result.hires}")


# -- compensation -----------------------------------------------------------------------------
@comp_app.command("run")
@formatted
def comp_run(
    period: PeriodOpt,
    fmt: FormatOpt = Format.table,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Process (or reprocess) an open period into payout lines."""
    from revops.planning.comp import run_period
    from revops.planning.comp.engine import idle_plans

    with open_revops(config, warehouse) as ro:
        who = require(ro.warehouse, "comp.write")
        with working(f"computing payouts for {period}"):
            lines = run_period(ro.warehouse, ro.model, period, who.actor)
        names = user_names(ro.warehouse)
        users = ro.warehouse.execute(ro.warehouse.table("users").select("user_id", "role"))
        idle = idle_plans(users, ro.model.compensation)
    for sentence in idle:
        console.print(f"note: {sentence}", highlight=False)
    if lines.empty:
        console.print(f"{period}: no one is on a compensation plan")
        return
    summary = lines.pivot_table(index="user_id", columns="kind", values="amount", aggfunc="sum")
    summary = summary.fillna(0.0)
    summary["total"] = summary.sum(axis=1)
    summary.columns.name = None
    print_frame(
        with_names(summary.reset_index(), names, user_id="rep"),
        f"Payouts {period} (open until `revops comp lock`)",
        name="payouts",
        kinds=dict.fromkeys(summary.columns, "money"),
        keep=("rep", "total"),
    )
    for cap in lines[lines["kind"] == "cap"].to_dict("records"):
        deal = f" on {cap['opportunity_id']}" if isinstance(cap["opportunity_id"], str) else ""
        console.print(
            f"[yellow]warning:[/] {cap['user_id']}{deal} exceeded a cap; cut "
            f"{-float(cap['amount']):,.2f} ({cap['note']})"
        )


@comp_app.command("adjust")
def comp_adjust(
    user_id: Annotated[str, typer.Argument(help="Rep: user id, email or unique name.")],
    amount: Annotated[float, typer.Argument(help="Signed amount.")],
    period: PeriodOpt,
    note: Annotated[str, typer.Option("--note", help="Why (required).")],
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Add a manual adjustment to an open period (audited)."""
    from revops.people import resolve_user
    from revops.planning.comp import adjust

    with open_revops(config, warehouse) as ro:
        who = require(ro.warehouse, "comp.write")
        user_id = resolve_user(ro.warehouse, user_id)
        adj_id = adjust(ro.warehouse, period, user_id, amount, note, who.actor)
    console.print(f"adjustment {adj_id}: {amount:+,.2f} for {user_id} in {period}")


@comp_app.command("lock")
def comp_lock(period: PeriodOpt, config: ConfigOpt = None, warehouse: WarehouseOpt = None) -> None:
    """Lock a period: it can never be reprocessed or adjusted again."""
    from revops.planning.comp import lock

    with open_revops(config, warehouse) as ro:
        who = require(ro.warehouse, "comp.lock")
        lock(ro.warehouse, period, who.actor)
    console.print(f"{period} locked")


@comp_app.command("approve")
def comp_approve(
    user_id: Annotated[str, typer.Argument(help="Rep: user id, email or unique name.")],
    period: PeriodOpt,
    note: Annotated[str, typer.Option("--note", help="Optional remark.")] = "",
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Approve a rep's statement for payment (revops_admin, finance); settles a dispute."""
    from revops.people import resolve_user
    from revops.planning.comp.approval import record

    with open_revops(config, warehouse) as ro:
        who = require(ro.warehouse, "comp.approve")
        user_id = resolve_user(ro.warehouse, user_id)
        total = record(ro.warehouse, period, user_id, "approved", note, who.actor)
    console.print(f"{user_id} {period}: approved at {total:,.2f}")


@comp_app.command("dispute")
def comp_dispute(
    user_id: Annotated[str, typer.Argument(help="Rep: user id, email or unique name.")],
    period: PeriodOpt,
    note: Annotated[str, typer.Option("--note", help="What is wrong (required).")],
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Dispute a statement you may read (your own, your team's); the period cannot lock."""
    from revops.access.records import statement_visibility, users_frame
    from revops.people import resolve_user
    from revops.planning.comp.approval import record

    with open_revops(config, warehouse) as ro:
        who = require(ro.warehouse, "comp.dispute")
        user_id = resolve_user(ro.warehouse, user_id)
        vis = statement_visibility(who, users_frame(ro.warehouse))
        if not vis.allows(user_id):
            raise RevOpsError(f"{who.actor} may not dispute {user_id}'s statement: {vis.why}")
        total = record(ro.warehouse, period, user_id, "disputed", note, who.actor)
    console.print(
        f"{user_id} {period}: disputed at {total:,.2f}; the period cannot lock until settled"
    )


@comp_app.command("statement")
@formatted
def comp_statement(
    user_id: Annotated[str, typer.Argument(help="Rep: user id, email or unique name.")],
    period: PeriodOpt,
    fmt: FormatOpt = Format.table,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Every line of a rep's period with its source deal, totals and the bookings check.

    A rep reads their own statements, a manager their team's, revops_admin and finance all;
    every read is audited.
    """
    from revops.access import cli_principal
    from revops.access.records import check_statement_read
    from revops.people import resolve_user
    from revops.planning.comp import statement
    from revops.planning.comp.engine import LINE_COLUMNS

    with open_revops(config, warehouse) as ro:
        user_id = resolve_user(ro.warehouse, user_id)
        who = cli_principal(ro.warehouse, bootstrap=False)
        check_statement_read(ro.warehouse, who, period, user_id)
        st = statement(ro.warehouse, ro.model, period, user_id)
        from revops.planning.comp.approval import states

        state = states(ro.warehouse, period)
        mine = state[state["user_id"] == user_id]
        rep_name = user_names(ro.warehouse).get(user_id, user_id)
    shown = "not yet approved" if mine.empty else str(mine["state"].iloc[0])
    # Every line column except the keys the heading already names (id, period, rep, plan).
    cols = LINE_COLUMNS[LINE_COLUMNS.index("kind") :]
    lines = st.lines[cols].astype(object)
    print_frame(
        lines.where(lines.notna(), None),
        f"Statement {rep_name} ({user_id}), {period} ({st.status}, {shown})",
        name="lines",
        kinds={"amount": "money", "rate": "ratio", "credit_pct": "number"},
        keep=("kind", "opportunity_id", "amount"),
    )
    if not st.adjustments.empty:
        print_frame(
            st.adjustments[["adjustment_id", "amount", "note", "actor"]],
            "Adjustments",
            name="adjustments",
            kinds={"amount": "money"},
        )
    print_frame(
        [{"kind": kind, "amount": amount} for kind, amount in st.totals.items()],
        "Totals",
        name="totals",
        kinds={"amount": "money"},
    )
    print_frame(
        st.reconciliation,
        "Reconciliation: credited bookings = deal amount × split share",
        name="reconciliation",
        kinds={"expected": "money", "credited": "money", "amount": "money"},
    )
    ok = "[green]reconciles[/]" if st.reconciles else "[bold red]does NOT reconcile[/]"
    expected = float(st.reconciliation["expected"].sum())
    credited = float(st.reconciliation["credited"].sum())
    console.print(
        f"bookings × split shares {expected:,.2f}; credited on lines {credited:,.2f}: {ok}"
    )
