"""`revops revenue`: recurring revenue, retention, cohorts, customer health and churn risk."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from revops.access import require
from revops.cli._common import (
    ConfigOpt,
    Format,
    FormatOpt,
    Kind,
    WarehouseOpt,
    console,
    formatted,
    open_revops,
    parse_day,
    print_frame,
    working,
)
from revops.errors import RevOpsError

if TYPE_CHECKING:
    import ibis

    from revops.context import RevOps

revenue_app = typer.Typer(
    help="Revenue and retention: MRR, waterfall, NRR/GRR, health, risk.", no_args_is_help=True
)

AsOfOpt = Annotated[
    str | None,
    typer.Option("--as-of", help="Last month to compute (YYYY-MM-DD); default: data end."),
]
ByOpt = Annotated[str | None, typer.Option("--by", help="Cut by an accounts column, e.g. segment.")]
MonthsOpt = Annotated[int, typer.Option("--months", help="How many recent months to show.")]


@revenue_app.command("run")
def revenue_run(
    config: ConfigOpt = None, warehouse: WarehouseOpt = None, as_of: AsOfOpt = None
) -> None:
    """Rebuild mrr_monthly, arr_movements, unit_economics and the health history."""
    from revops.revenue import build_revenue
    from revops.revenue.customers import build_health

    with open_revops(config, warehouse) as ro:
        require(ro.warehouse, "revenue.run")
        with working("revenue") as step:
            step("MRR, ARR movements and retention")
            run = build_revenue(ro.warehouse, ro.model, parse_day(as_of, "--as-of"))
            step("health scores")
            health = build_health(ro.warehouse, ro.model)
    console.print(
        f"revenue: {run.first_month:%Y-%m} to {run.last_month:%Y-%m}: "
        f"{run.mrr_rows:,} account-months, {run.movement_rows:,} ARR movements; "
        f"{len(health.rows):,} health scores"
    )


def _with_accounts(ro: RevOps, by: str | None) -> tuple[ibis.Table, tuple[str, ...]]:
    """`mrr_monthly`, joined to one accounts column when the output is cut `--by` it."""
    m = ro.warehouse.table("mrr_monthly")
    if by is None:
        return m, ()
    acc = ro.warehouse.table("accounts")
    if by not in acc.columns:
        raise RevOpsError(f"--by {by!r}: accounts has no such column")
    acc = acc.select(a_id="account_id", **{by: acc[by].cast("string").fill_null("(none)")})
    return m.join(acc, m.account_id == acc.a_id).drop("a_id"), (by,)


RELIABILITY_KINDS: dict[str, Kind] = {
    "bin": "text",
    "rows": "count",
    "predicted": "ratio",
    "observed": "ratio",
    "gap": "ratio",
}
"""A reliability table's columns: probabilities read as percentages."""


@revenue_app.command("waterfall")
@formatted
def revenue_waterfall(
    fmt: FormatOpt = Format.table,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
    months: MonthsOpt = 12,
    by: ByOpt = None,
) -> None:
    """Opening ARR, new, expansion, contraction, churn, reactivation and closing ARR per month."""
    from revops.revenue.run import fetch
    from revops.revenue.waterfall import waterfall

    with open_revops(config, warehouse) as ro:
        table, keys = _with_accounts(ro, by)
        frame = fetch(ro.warehouse, waterfall(table, keys))
    recent = sorted(set(frame["month"]))[-months:]
    money = [c for c in frame.columns if c not in ("month", *keys, "customers")]
    print_frame(
        frame[frame["month"].isin(recent)],
        "ARR waterfall (signed ARR movements)",
        name="waterfall",
        kinds={**dict.fromkeys(money, "money"), "customers": "count", "month": "month"},
        keep=("month", *keys, "opening_arr", "closing_arr"),
    )


@revenue_app.command("retention")
@formatted
def revenue_retention(
    fmt: FormatOpt = Format.table,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
    months: MonthsOpt = 12,
    by: ByOpt = None,
) -> None:
    """12-month NRR and GRR, monthly logo and revenue churn."""
    from revops.revenue.retention import retention
    from revops.revenue.run import fetch

    with open_revops(config, warehouse) as ro:
        table, keys = _with_accounts(ro, by)
        frame = fetch(ro.warehouse, retention(table, keys))
    recent = sorted(set(frame["month"]))[-months:]
    cols = ["month", *keys, "nrr", "grr", "logo_churn_rate", "revenue_churn_rate", "opening_logos"]
    print_frame(
        frame[frame["month"].isin(recent)][cols],
        "Retention",
        name="retention",
        kinds={"month": "month", "nrr": "ratio", "grr": "ratio", "opening_logos": "count"},
    )


@revenue_app.command("cohorts")
@formatted
def revenue_cohorts(
    fmt: FormatOpt = Format.table,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
    kind: Annotated[str, typer.Option(help="logo or revenue")] = "logo",
    segment: Annotated[str | None, typer.Option(help="Only this segment.")] = None,
    ages: Annotated[int, typer.Option(help="Months of age to show.")] = 12,
) -> None:
    """Cohort retention by first month with MRR: share of month 0 still retained at each age."""
    from revops.revenue.cohorts import cohort_counts, cohort_table
    from revops.revenue.run import fetch

    if kind not in ("logo", "revenue"):
        raise typer.BadParameter("kind must be logo or revenue")
    chosen: Literal["logo", "revenue"] = "logo" if kind == "logo" else "revenue"
    with open_revops(config, warehouse) as ro:
        counts = fetch(
            ro.warehouse,
            cohort_counts(ro.warehouse.table("mrr_monthly"), ro.warehouse.table("accounts")),
        )
        if segment is not None and segment not in set(counts["segment"]):
            raise RevOpsError(
                f"no segment {segment!r}; segments: {', '.join(sorted(set(counts['segment'])))}"
            )
    grid = cohort_table(counts, chosen, segment)
    keep = ["size", *[str(a) for a in range(ages + 1) if str(a) in grid.columns]]
    grid = grid[keep].reset_index()
    print_frame(
        grid,
        f"{chosen.capitalize()} retention by start-month cohort"
        + (f" ({segment})" if segment else ""),
        name="cohorts",
        kinds={
            grid.columns[0]: "month",
            "size": "count",
            **dict.fromkeys(grid.columns[2:], "ratio"),
        },
    )


@revenue_app.command("health")
@formatted
def revenue_health(
    fmt: FormatOpt = Format.table,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
    account: Annotated[
        str | None, typer.Option(help="Explain this account's score and history.")
    ] = None,
) -> None:
    """Health score distribution at the latest month, or one account's explanation and trend."""
    import pandas as pd

    from revops.revenue.health import explain
    from revops.revenue.run import fetch

    with open_revops(config, warehouse) as ro:
        wh = ro.warehouse
        scores = fetch(wh, wh.table("health_scores"))
        if scores.empty:
            raise RevOpsError("no health scores yet: run `revops revenue run`")
        if account is None:
            latest = scores[scores["month"] == scores["month"].max()]
            band = (latest["score"] // 20 * 20).clip(upper=80).astype(int)
            counts = band.value_counts().sort_index()
            table = pd.DataFrame(
                {
                    "score band": [f"{b}-{b + 20}" for b in counts.index],
                    "accounts": counts.to_numpy(),
                }
            )
            print_frame(
                table,
                f"Health at {latest['month'].max():%Y-%m}",
                name="health",
                kinds={"accounts": "count"},
            )
            return
        mine = scores[scores["account_id"] == account].sort_values("month")
        if mine.empty:
            raise RevOpsError(f"no health score for account {account!r}")
        parts = fetch(wh, wh.table("health_components").filter(lambda t: t.account_id == account))
    console.print(
        f"[bold]{account}[/]: score {mine['score'].iloc[-1]:.0f} at {mine['month'].iloc[-1]:%Y-%m}"
    )
    for line in explain(parts, account):
        console.print(f"  • {line}")
    print_frame(
        mine[["month", "score", "trend_3m"]].tail(12),
        "History (last 12 months)",
        name="history",
        kinds={"month": "month", "score": "number", "trend_3m": "number"},
    )


@revenue_app.command("at-risk")
@formatted
def revenue_at_risk(
    fmt: FormatOpt = Format.table,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
    limit: Annotated[int, typer.Option(help="Rows to show.")] = 25,
    csv: Annotated[Path | None, typer.Option(help="Also write the full list to this CSV.")] = None,
) -> None:
    """Accounts at risk now, with reasons, owners and ARR at risk (fits the churn model)."""
    from revops.revenue.customers import assess_risk, score_customers

    with open_revops(config, warehouse) as ro, working("fitting the churn and expansion models"):
        risk = assess_risk(ro.warehouse, ro.model, score_customers(ro.warehouse, ro.model))
        currency = ro.model.company.currency
    for m in (risk.churn, risk.expansion):
        console.print(
            f"{m.label} model: AUC {m.auc:.3f} on {m.n_test:,} later snapshots it never saw "
            f"(health score alone: {m.baseline_auc:.3f})"
        )
        if m.calibration is not None:
            console.print(f"  {m.calibration.summary()}")
            if m.calibration.recalibrated:
                print_frame(
                    m.calibration.table_after,
                    f"{m.label}: reliability after",
                    name=f"{m.label}_reliability",
                    kinds=RELIABILITY_KINDS,
                )
        if m.verdict is not None:
            style = "bold yellow" if m.withheld else "green"
            used = m.label in ro.model.revenue.use_withheld
            console.print(f"  [{style}]{m.verdict.summary(used)}[/]")
    console.print(
        f"churn_probability: {risk.churn.source('churn' in ro.model.revenue.use_withheld)}"
    )
    from revops.reports.formatting import format_value
    from revops.revenue.at_risk import SHOWN

    total = format_value(float(risk.at_risk["arr_at_risk"].sum()), "currency", currency)
    shown = risk.at_risk[[c for c in ("account_id", *SHOWN, "owner_id") if c in risk.at_risk]]
    print_frame(
        shown.head(limit),
        f"At risk: {len(risk.at_risk):,} accounts, {total} ARR at risk (probability × ARR)",
        name="at_risk",
        kinds={"score": "number", "arr": "money", "arr_at_risk": "money"},
        hidden=("account_id", "owner_id"),
        keep=("account", "arr", "churn_probability", "arr_at_risk"),
    )
    if csv is not None:
        risk.at_risk.to_csv(csv, index=False)
        console.print(f"[green]✓[/] wrote {csv}")


@revenue_app.command("report")
def revenue_report(
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
    out: Annotated[Path, typer.Option(help="HTML file to write.")] = Path(
        "out/reports/revenue.html"
    ),
) -> None:
    """One offline HTML page: waterfall, NRR/GRR trend, cohort heatmap, at-risk list."""
    from revops.reports.revenue import write_revenue_report

    with open_revops(config, warehouse) as ro:
        path = write_revenue_report(ro, out)
    console.print(f"[green]✓[/] wrote {path}")
