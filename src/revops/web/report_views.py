"""The static reports' charts and tables on the area pages, from the reports' own functions.

An area page shows its metrics for the chosen month (views.py); below them it shows what the
area's report (`revops report …`) shows, computed by the same functions the report calls
(`funnel_summary` and `funnel_charts`, `pipeline_report_data` and `pipeline_charts`, the
quality `report_context`), so each figure is one number wherever it is read. Those
sections keep the report's own period (the last full month or quarter of the data, as of its
last stage change); the page's filters do not cut them, and the section says so. Every
table has its CSV like any other grid.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pandas as pd
from markupsafe import Markup

from revops.context import RevOps
from revops.errors import RevOpsError
from revops.metrics import formula
from revops.reports.formatting import format_value
from revops.revenue.at_risk import SHOWN
from revops.web.grid import Cell, Grid, text_cell

# columns read as money, as percentages and as days wherever a report table holds them
MONEY = frozenset(
    {"value", "amount", "avg_deal_size", "bookings", "sales_velocity", "open_value",
     "weighted_value", "value_at_risk", "quota", "quota_pipeline", "booked", "gap",
     "created_value", "pipeline", "remaining_quota", "remaining", "open_pipeline"}
)  # fmt: skip
PERCENT = frozenset(
    {"win_rate", "win_rate_by_value", "conversion", "rate", "share", "skip_rate",
     "regression_rate", "attainment", "nrr", "grr", "resolved_conversion"}
)  # fmt: skip
DAYS = frozenset({"sales_cycle_days", "median_days", "p90_days", "mean_days", "avg_days"})


@dataclass
class Section:
    """One report's part of an area page: its charts (SVG) and tables."""

    title: str
    note: str = ""
    charts: list[Markup] = field(default_factory=list)
    grids: list[Grid] = field(default_factory=list)
    error: str = ""
    period: str = ""  # the forecast report's quarter (2026Q4)


# a record's id in a report table opens its page (deal, person, account, with its history)
RECORD_LINKS = {"opportunity_id": "opportunities", "person_id": "persons", "account_id": "accounts"}


def frame_grid(
    key: str, title: str, frame: pd.DataFrame, currency: str, kinds: Mapping[str, str] = {}
) -> Grid:
    """A report's table as a grid: raw values for the CSV, the reports' number style on the
    page (money, %, days by column name, or as `kinds` says), missing as n/a, never 0; a
    deal's, person's or account's id links to its record."""
    grid = Grid(key, title, [str(c) for c in frame.columns])
    for row in frame.to_dict("records"):
        cells = []
        for c, v in row.items():
            kind = kinds.get(str(c)) or _kind(str(c))
            cell = _cell(v, kind, currency)
            record = RECORD_LINKS.get(str(c))
            if record and isinstance(v, str) and v:
                cell = Cell(v, cell.text, f"/records/{record}/{quote(v, safe='')}")
            cells.append(cell)
        grid.rows.append(cells)
    if {"name", "user_id"} <= set(grid.header):  # people by name; the id stays in the CSV
        grid.hidden = frozenset({"user_id"})
    return grid


def _kind(column: str) -> str:
    if column in MONEY:
        return "currency"
    if column in PERCENT or column.endswith("_rate"):
        return "percent"
    if column in DAYS or column.endswith("_days"):
        return "days"
    return "multiple" if column == "coverage" else ""


def _cell(v: Any, kind: str, currency: str) -> Cell:
    if v is pd.NaT:  # a datetime too: missing
        return Cell(None, "")
    if isinstance(v, pd.Timestamp | dt.date):
        v = v.to_pydatetime() if isinstance(v, pd.Timestamp) else v
        return Cell(v, f"{v:%Y-%m}" if kind == "month" else f"{v:%Y-%m-%d}")
    if isinstance(v, bool) or not isinstance(v, int | float):
        return text_cell(v)
    if isinstance(v, float) and math.isnan(v):
        return Cell(None, "n/a", numeric=True)
    x = float(v)
    if kind == "currency":
        return Cell(v, format_value(x, "currency", currency), numeric=True)
    if kind == "percent":
        return Cell(v, format_value(x, "percent"), numeric=True)
    if kind == "days" or kind == "tenths":  # days; conversions credited (fractions of one)
        return Cell(v, f"{x:,.1f}", numeric=True)
    if kind == "multiple":  # pipeline coverage, as the CLI writes it
        return Cell(v, f"{x:,.1f}×", numeric=True)
    if kind == "whole":
        return Cell(v, f"{x:,.0f}", numeric=True)
    return Cell(v, f"{x:,.0f}" if x.is_integer() or abs(x) >= 100 else f"{x:,.2f}", numeric=True)


def funnel_section(ro: RevOps) -> Section:
    """The funnel report's charts and its lifecycle tables."""
    from revops.reports.funnel import funnel_charts, funnel_summary

    summary = funnel_summary(ro)
    svgs, small = funnel_charts(ro, summary)
    out = Section(
        "From the funnel report",
        "All time and by month, as `revops report funnel` shows them; the area page's "
        "filters do not cut it.",
        charts=[Markup(s) for s in [*svgs.values(), *small]],  # noqa: S704 - our own SVG
    )
    currency = ro.model.company.currency
    stages = pd.DataFrame(
        {"metric": [s.name for s in summary.stages], "stage": [s.label for s in summary.stages],
         "persons": [s.value for s in summary.stages]}
    )  # fmt: skip
    out.grids.append(frame_grid("funnel_stages", "Lifecycle funnel, all time", stages, currency))
    titles = {
        "funnel": "Lifecycle conversion",
        "time_in_stage": "Time in stage",
        "rejections": "Rejected lifecycle events",
    }
    for key, frame in ro.lifecycle_analytics().items():
        out.grids.append(frame_grid(f"lifecycle_{key}", titles.get(key, key), frame, currency))
    return out


def pipeline_section(ro: RevOps) -> Section:
    """The pipeline report's charts and tables, as of the newest stage change."""
    from revops.reports.pipeline import pipeline_charts, pipeline_report_data

    try:
        data = pipeline_report_data(ro)
    except RevOpsError as exc:  # no stage history: the report cannot be made either
        return Section("From the pipeline report", error=str(exc))
    m = data.metrics
    currency = ro.model.company.currency
    out = Section(
        "From the pipeline report",
        f"As `revops report pipeline` shows it: point-in-time as of {data.as_of}, flows over "
        f"{data.period.label}; the area page's filters do not cut it.",
        charts=[Markup(s) for s in pipeline_charts(ro, data).values()],  # noqa: S704
    )
    flags = data.hygiene.flags.sort_values("amount", ascending=False, na_position="first")
    tables: list[tuple[str, str, pd.DataFrame]] = [
        ("by_type", f"By opportunity type, {data.period.label}", data.by_type),
        ("by_segment", f"By segment, {data.period.label}", data.by_segment),
        ("velocity", "Sales velocity by segment (open deals now, all closed deals' rates)",
         data.velocity_by_segment),
        ("conversion", f"Stage conversion, as of {data.as_of}", m.conversion),
        ("time_in_stage", "Days in stage (completed stays)", m.time_in_stage),
        ("skips", "Stage skips and regressions", m.skips),
        ("coverage", "Pipeline coverage per rep", m.coverage),
        ("coverage_total", "Pipeline coverage, company", m.coverage_total),
        ("hygiene", f"Pipeline hygiene by owner, as of {data.as_of}", data.hygiene.scorecard),
        ("flags", "Flagged open deals", flags),
        ("weekly", "Open pipeline by stage, every week", data.weekly),
        ("created", "Pipeline created per month", data.created),
    ]  # fmt: skip
    for key, title, frame in tables:
        grid = frame_grid(key, title, frame.drop(columns=["rank", "in_total"], errors="ignore"),
                          currency)  # fmt: skip
        grid.limit = 50
        if len(frame) > 50:
            grid.note = f"first 50 of {len(frame)} rows shown; the CSV has them all"
        out.grids.append(grid)
    return out


def quality_section(ro: RevOps) -> Section:
    """The quality report's trend chart, field scorecard, rule violations and UTM audit, from
    the functions the report reads (the stored scorecard, `quality check`, the UTM audit)."""
    from revops.quality import scorecard
    from revops.quality.check import check
    from revops.quality.utm import audit
    from revops.reports.quality import RATES, trend_chart

    wh, model = ro.warehouse, ro.model
    currency = model.company.currency
    history = scorecard.trend(wh, model)
    dates = [pd.Timestamp(d).strftime("%Y-%m-%d") for d in history["snapshot_date"]]
    series = {label: history[key].astype(float).tolist() for key, label, _ in RATES}
    out = Section(
        "From the quality report",
        "The latest quality snapshot and a fresh check, as `revops report quality` shows them; "
        "the area page's filters do not cut it.",
        charts=[Markup(trend_chart(dates, series))] if dates else [],  # noqa: S704
    )
    latest = scorecard.latest(wh)
    if latest.empty:
        latest = scorecard.measure(wh, model)
    rates = {key: "percent" for key, _, _ in RATES}
    fields = frame_grid("fields", "Fields: completeness, validity, uniqueness, match", latest,
                        currency, rates)  # fmt: skip
    shown = {"table_name", "field_name", "rows", *rates}  # the rest is in the CSV
    fields.hidden = frozenset(c for c in fields.header if c not in shown)
    out.grids.append(fields)
    report = check(wh, model)
    failing = pd.DataFrame(
        [{"table": v.table, "field": v.field, "rule": v.rule, "violations": v.violations,
          "share": v.share, "fixable": v.fixable, "sample_keys": ", ".join(v.sample_keys)}
         for v in sorted(report.failing, key=lambda v: -v.violations)]
    )  # fmt: skip
    title = f"Rule violations ({len(report.results)} rules checked)"
    out.grids.append(frame_grid("violations", title, failing, currency))
    if model.quality.utm is not None:
        utm = audit(wh, model.quality.utm)
        issues = utm.by_campaign[utm.by_campaign[["missing", "case", "unknown"]].sum(axis=1) > 0]
        for key, title, frame in (
            ("utm_values", "UTM values", utm.values),
            ("utm_campaigns", "Campaigns with UTM issues", issues),
            ("utm_no_spend", "Campaigns without spend", utm.campaigns_without_spend),
            ("utm_orphan_spend", "Spend without a campaign", utm.spend_without_campaign),
        ):
            out.grids.append(frame_grid(key, title, frame, currency))
    return out


def revenue_section(ro: RevOps) -> Section:
    """The revenue report's charts (bridge, movements, retention, cohort heatmaps) and tables
    (waterfall, retention, cohorts, at-risk accounts), from `revenue_report_data`."""
    from revops.reports.revenue import revenue_charts, revenue_report_data
    from revops.revenue import RevenueError

    try:
        data = revenue_report_data(ro)
    except RevenueError as exc:
        return Section("From the revenue report", error=str(exc))
    currency = ro.model.company.currency
    risk = data.risk
    used = ro.model.revenue.use_withheld
    out = Section(
        "From the revenue report",
        f"As `revops revenue report` shows it: every month through "
        f"{data.waterfall['month'].iloc[-1]:%Y-%m}; the area page's filters do not cut it. "
        f"Churn model AUC {risk.churn.auc:.3f} on {risk.churn.n_test:,} account-months it never "
        f"saw (health score alone {risk.churn.baseline_auc:.3f}); "
        f"{risk.churn.source('churn' in used)}.",
        charts=[Markup(s) for s in revenue_charts(data).values()],  # noqa: S704
    )
    wf = data.waterfall.drop(columns=["check"]).iloc[-12:]
    kinds = {"month": "month", "customers": "count"}
    out.grids.append(
        frame_grid(
            "waterfall",
            "ARR waterfall, last 12 months (signed ARR movements)",
            wf,
            currency,
            {**dict.fromkeys(wf.columns, "currency"), **kinds},
        )
    )
    out.grids.append(
        frame_grid(
            "retention",
            "12-month NRR and GRR per month (the dictionary's)",
            data.retention,
            currency,
            {"month": "month"},
        )
    )
    for key, title, grid in (
        ("logo_cohorts", "Logo retention by start-month cohort", data.logo_cohorts),
        (
            "revenue_cohorts",
            "Revenue retention by start-month cohort (MRR vs month 0)",
            data.revenue_cohorts,
        ),
    ):
        frame = grid.rename_axis("cohort").reset_index()
        ages = [c for c in frame.columns if c not in ("cohort", "size")]
        size = "currency" if key == "revenue_cohorts" else "count"
        cohort_grid = frame_grid(
            key,
            title,
            frame,
            currency,
            {"cohort": "month", "size": size, **dict.fromkeys(ages, "percent")},
        )
        cohort_grid.hidden = frozenset(a for a in ages if not a.isdigit() or int(a) > 12)
        cohort_grid.note = "ages 0 to 12 months shown; the CSV has every age"
        out.grids.append(cohort_grid)
    at_risk = risk.at_risk
    shown = [c for c in ("account_id", *SHOWN) if c in at_risk]
    total = format_value(float(at_risk["arr_at_risk"].sum()), "currency", currency)
    risky = frame_grid(
        "at_risk",
        f"At-risk accounts: {len(at_risk):,}, {total} ARR at risk",
        at_risk[shown],
        currency,
        {
            "arr": "currency",
            "arr_at_risk": "currency",
            "churn_probability": "percent",
            "score": "whole",
        },
    )
    risky.note = ro.model.elsewhere("arr_at_risk").formula
    _limit(risky, 40)
    out.grids.append(risky)
    return out


def attribution_section(ro: RevOps) -> Section:
    """The attribution report's model comparison, sourced vs influenced counts and marketing
    performance, from `attribution_report_data`; a page being read stores no credits, so the
    dictionary's attributed figures are those stored last (as `attribution performance`)."""
    from revops.reports.attribution import attribution_charts, attribution_report_data

    try:
        data = attribution_report_data(ro, store=False)
    except RevOpsError as exc:  # no journeys to attribute: the report cannot be made either
        return Section("From the attribution report", error=str(exc))
    first = next(iter(data.results.values()))
    currency = ro.model.company.currency
    out = Section(
        "From the attribution report",
        f"As `revops attribution report` shows it, all time: {first.journeys:,} converting and "
        f"{first.non_converting:,} non-converting journeys. {data.scope.text} The area "
        "page's filters do not cut it.",
        charts=[Markup(s) for s in attribution_charts(data).values()],  # noqa: S704
    )
    models = list(data.results)
    counts = dict.fromkeys(models, "tenths")
    out.grids.append(
        frame_grid(
            "models",
            "Conversions credited per channel, by model",
            data.by_channel,
            currency,
            counts,
        )
    )
    campaigns = frame_grid(
        "campaigns",
        "Top 20 campaigns, conversions credited by model",
        data.by_campaign,
        currency,
        counts,
    )
    shown = ("first_touch", "w_shaped", "markov", "shapley")  # as the report; the CSV has all
    campaigns.hidden = frozenset(m for m in models if m not in shown)
    campaigns.note = f"{', '.join(m for m in shown if m in models)} shown; the CSV has every model"
    out.grids.append(campaigns)
    out.grids.append(
        frame_grid(
            "fits",
            "Data-driven models: Markov removal effects, Shapley values",
            data.fits,
            currency,
            {
                "removal_effect": "percent",
                "markov": "tenths",
                "shapley": "tenths",
                "shapley_se": "number",
            },
        )
    )
    for key, what, frame, scope in (
        ("sourced_pipeline", "pipeline", data.pipeline, data.stored_scope[0]),
        ("sourced_revenue", "revenue", data.revenue, data.stored_scope[1]),
    ):
        grid = frame_grid(
            key,
            f"Sourced vs influenced {what} (first touch = sourced, any touch = influenced)",
            frame,
            currency,
            {
                "sourced": "number",
                "influenced": "number",
                "sourced_amount": "currency",
                "influenced_amount": "currency",
            },
        )
        grid.note = scope
        out.grids.append(grid)
    perf = frame_grid(
        "performance",
        "Marketing performance by channel (metric dictionary, all time)",
        data.perf,
        currency,
        {
            "marketing_spend": "currency",
            "leads": "number",
            "attributed_pipeline": "currency",
            "attributed_revenue": "currency",
            "roas": "number",
            "roi": "percent",
            **{c: "currency" for c in data.perf.columns if c.startswith("cost_per")},
        },
    )
    perf.note = (
        "Attributed pipeline and revenue, ROAS and ROI read the W-shaped credits stored "
        "in attribution_credits by the last `revops attribution report` or `attribution "
        "run`: " + " ".join(data.stored_scope)
    )
    out.grids.append(perf)
    return out


def forecast_section(ro: RevOps, period_text: str = "") -> Section:
    """The forecast report for a fiscal quarter (default: the one after the data's last day,
    as the demo's) as of the last stage change (`forecast report`'s default --as-of), from
    `forecast_report_data`: the recommended call, each method's number, the roll-up, the
    backtest and the win model's evaluation."""
    from revops.pipeline.forecast import parse
    from revops.pipeline.forecast.data import latest_data_date
    from revops.pipeline.forecast.periods import quarter_of
    from revops.reports.forecast import METHOD_LABELS, forecast_charts, forecast_report_data
    from revops.reports.periods import data_end

    wh, model = ro.warehouse, ro.model
    day = latest_data_date(wh)
    fy, naming = model.company.fiscal_year_start_month, model.forecast.fiscal_year_named_by
    try:
        period = (
            parse(model, period_text)
            if period_text
            else quarter_of(max(day, data_end(ro) or day) + dt.timedelta(days=1), fy, naming)
        )
        data = forecast_report_data(ro, period, day)
    except RevOpsError as exc:
        return Section("From the forecast report", error=str(exc))
    currency = model.company.currency
    m = data.methods
    out = Section(
        f"From the forecast report: {period.label} ({period.start} – {period.end}) as of {day}",
        f"As `revops forecast report --period {period.label} --as-of {day}` shows it; the "
        "area page's filters do not cut it. Learned parts trained on quarters through "
        f"{m.trained_through or 'n/a'}.",
        charts=[Markup(s) for s in forecast_charts(data).values()],  # noqa: S704
        period=period.label,
    )
    if m.call is not None:
        c = m.call
        call = pd.DataFrame(
            [
                {
                    "forecast": c.forecast,
                    "low": c.low,
                    "high": c.high,
                    "method": c.method,
                    "reason": c.reason,
                }
            ]
        )
        grid = frame_grid(
            "call",
            "Recommended call",
            call,
            currency,
            dict.fromkeys(("forecast", "low", "high"), "currency"),
        )
        grid.note = f"Caveat: {c.caveat}." if c.caveat else ""
    else:
        grid = Grid("call", "Recommended call", ["forecast"], note=f"No call: {m.call_note}")
    out.grids.append(grid)
    totals = m.methods[m.methods["opportunity_type"] == "all"].drop(columns=["opportunity_type"])
    totals.insert(1, "label", totals["method"].map(lambda k: METHOD_LABELS.get(k, k)))
    money = dict.fromkeys(c for c in totals.columns if c not in ("method", "label"))
    methods = frame_grid(
        "methods",
        "Each method's forecast (all opportunity types)",
        totals,
        currency,
        dict.fromkeys(money, "currency"),
    )
    methods.note = " ".join(f"{k} left out: {why}." for k, why in m.skipped.items())
    out.grids.append(methods)
    out.grids.append(
        frame_grid(
            "creation",
            "Not yet created: expected from new deals",
            m.creation,
            currency,
            {
                "quarters": "number",
                "created_per_quarter": "number",
                "in_period_win_rate": "percent",
                "avg_won_size": "currency",
                "expected": "currency",
            },
        )
    )
    roll = data.rollup
    kinds = {c: "currency" for c in roll.columns if roll[c].dtype.kind == "f"}
    rollup = frame_grid(
        "rollup", f"Roll-up by region and company, {period.label}", roll, currency, kinds
    )
    rollup.hidden = frozenset({"subject_id"})
    out.grids.append(rollup)
    accuracy = format_value(data.accuracy, "percent")
    backtest = frame_grid(
        "backtest",
        f"Backtest: MAPE and bias per quarter and method (forecast accuracy {accuracy})",
        data.summary,
        currency,
        {"weeks": "number", "actual": "currency", "mape": "percent", "bias": "percent"},
    )
    backtest.note = formula(model, "forecast_accuracy")
    out.grids.append(backtest)
    ev = data.evaluation
    if ev is None:
        out.grids.append(
            Grid("calibration", "Win model", ["decile"], note=f"Not trained: {data.win_error}")
        )
    else:
        cal = frame_grid(
            "calibration",
            f"Win model on later deals: AUC {ev.auc:.3f} (stage "
            f"probability alone {ev.stage_auc:.3f}), Brier {ev.brier:.4f}",
            ev.calibration,
            currency,
            {"rows": "number", "predicted": "percent", "observed": "percent", "wins": "number"},
        )
        cal.note = (
            f"Trained on {ev.model.n_rows:,} snapshot rows of {ev.model.n_deals:,} deals; "
            f"tested on {ev.n_test_rows:,} rows of {ev.n_test_deals:,} deals created from "
            f"{ev.test_from}."
        )
        out.grids.append(cal)
    return out


def _limit(grid: Grid, rows: int) -> None:
    grid.limit = rows
    if len(grid.rows) > rows:
        shown = f"first {rows} of {len(grid.rows)} rows shown; the CSV has them all"
        grid.note = f"{grid.note} ({shown})" if grid.note else shown


SECTIONS: dict[str, Callable[[RevOps], Section]] = {
    "funnel": funnel_section,
    "pipeline": pipeline_section,
    "quality": quality_section,
    "revenue": revenue_section,
    "attribution": attribution_section,
}


def report_sections(ro: RevOps, area: str, period: str = "") -> list[Section]:
    """What the area's report shows beside the dictionary's tiles (none without a report);
    `period` is the forecast report's fiscal quarter (2026Q4), its default when empty."""
    if area == "forecast":
        return [forecast_section(ro, period)]
    build = SECTIONS.get(area)
    return [build(ro)] if build else []
