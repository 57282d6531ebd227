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

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from markupsafe import Markup

from revops.context import RevOps
from revops.errors import RevOpsError
from revops.reports.formatting import format_value
from revops.web.grid import Cell, Grid, text_cell

# columns read as money, as percentages and as days wherever a report table holds them
MONEY = frozenset(
    {"value", "amount", "avg_deal_size", "bookings", "sales_velocity", "open_value",
     "weighted_value", "value_at_risk", "quota", "quota_pipeline", "booked", "gap",
     "created_value", "pipeline", "remaining_quota"}
)  # fmt: skip
PERCENT = frozenset(
    {"win_rate", "win_rate_by_value", "conversion", "rate", "share", "skip_rate",
     "regression_rate", "attainment"}
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


def frame_grid(
    key: str, title: str, frame: pd.DataFrame, currency: str, kinds: Mapping[str, str] = {}
) -> Grid:
    """A report's table as a grid: raw values for the CSV, the reports' number style on the
    page (money, %, days by column name, or as `kinds` says), missing as n/a, never 0."""
    grid = Grid(key, title, [str(c) for c in frame.columns])
    for row in frame.to_dict("records"):
        cells = []
        for c, v in row.items():
            kind = kinds.get(str(c)) or _kind(str(c))
            cells.append(_cell(v, kind, currency))
        grid.rows.append(cells)
    return grid


def _kind(column: str) -> str:
    if column in MONEY:
        return "currency"
    if column in PERCENT or column.endswith("_rate"):
        return "percent"
    if column in DAYS or column.endswith("_days"):
        return "days"
    return ""


def _cell(v: Any, kind: str, currency: str) -> Cell:
    if isinstance(v, pd.Timestamp):
        v = v.to_pydatetime()
        return Cell(v, f"{v:%Y-%m-%d}")
    if isinstance(v, bool) or not isinstance(v, int | float):
        return text_cell(v)
    if isinstance(v, float) and math.isnan(v):
        return Cell(None, "n/a", numeric=True)
    x = float(v)
    if kind == "currency":
        return Cell(v, format_value(x, "currency", currency), numeric=True)
    if kind == "percent":
        return Cell(v, format_value(x, "percent"), numeric=True)
    if kind == "days":
        return Cell(v, f"{x:,.1f}", numeric=True)
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


SECTIONS = {"funnel": funnel_section, "pipeline": pipeline_section, "quality": quality_section}


def report_sections(ro: RevOps, area: str) -> list[Section]:
    """What the area's report shows beside the dictionary's tiles (none without a report)."""
    build = SECTIONS.get(area)
    return [build(ro)] if build else []
