"""The funnel: the numbers leadership asks for first, each one traceable to its formula.

`funnel_summary` gathers the dictionary's funnel metrics (pure data, reused by the CLI table);
`write_funnel_report` renders them as one offline HTML page with inline SVG charts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape

from revops.context import RevOps
from revops.metrics import Period
from revops.reports import charts
from revops.reports.formatting import format_value
from revops.reports.periods import Figure, dictionary_figures, report_period

FUNNEL_STAGES: tuple[tuple[str, str], ...] = (
    ("lead_persons", "Lead"),
    ("mqls", "MQL"),
    ("sals", "SAL"),
    ("sqls", "SQL"),
    ("opportunity_persons", "Opportunity"),
    ("customer_persons", "Customer"),
)
TREND_MONTHS = 24
# the monthly series the report charts: volumes, then pipeline against bookings
VOLUMES = ["lead_persons", "mqls", "sqls"]
PIPELINE = ["pipeline_created", "bookings"]
HEADLINE = (
    "pipeline_created",
    "bookings",
    "win_rate",
    "avg_deal_size",
    "sales_cycle_days",
    "arr",
    "mql_to_sql",
    "sql_to_won",
)


@dataclass(frozen=True)
class FunnelSummary:
    """The funnel stages over all time (persons reaching each stage: flows, so they add up),
    the headline and the whole dictionary for one stated period beside the period before."""

    period: Period
    stages: list[Figure]
    headline: list[Figure]
    dictionary: list[Figure]
    monthly: pd.DataFrame  # metric, period, value: the charted series (VOLUMES, PIPELINE)


def funnel_summary(ro: RevOps) -> FunnelSummary:
    """The stage counts, the period's figures and the monthly series, formulas attached."""
    period = report_period(ro)
    # only the metrics shown, each batch compiled and run once: the whole dictionary is
    # `dictionary_figures`' (over the period and the one before)
    totals = ro.all_metrics(grain=None, only=[name for name, _ in FUNNEL_STAGES])
    by_name = dict(zip(totals["metric"], totals["value"], strict=True))
    stages = []
    for name, label in FUNNEL_STAGES:
        raw = by_name.get(name)
        value = None if raw is None or pd.isna(raw) else float(raw)
        text = format_value(value, "number")
        stages.append(Figure(name, label, value, None, text, "", "", ro.formula(name), None))
    dictionary = dictionary_figures(ro, period)
    lookup = {f.name: f for f in dictionary}
    headline = [lookup[name] for name in HEADLINE if name in lookup]
    monthly = ro.all_metrics(grain="month", only=VOLUMES + PIPELINE)
    return FunnelSummary(period, stages, headline, dictionary, monthly)


def _series(monthly: pd.DataFrame, names: list[str]) -> tuple[list[str], dict[str, list[float]]]:
    wide = monthly[monthly["metric"].isin(names)].pivot_table(
        index="period", columns="metric", values="value", aggfunc="sum"
    )
    wide = wide.sort_index().fillna(0.0).iloc[-TREND_MONTHS:]
    x = [pd.Timestamp(p).strftime("%Y-%m") for p in wide.index]
    return x, {n: wide[n].tolist() for n in names if n in wide.columns}


def _cut(ro: RevOps, metric: str, dim: str) -> tuple[list[str], list[float]]:
    df = ro.metric(metric, by=[dim], grain=None).dropna(subset=["value"])
    df = df.sort_values("value", ascending=False)
    return [str(v) for v in df[dim].fillna("(none)")], df["value"].astype(float).tolist()


def funnel_charts(ro: RevOps, summary: FunnelSummary) -> tuple[dict[str, str], list[str]]:
    """The report's charts as SVG: the funnel, volumes and pipeline by month, and the small
    cuts (the web workspace's funnel page shows the same)."""
    svgs: dict[str, str] = {
        "funnel": charts.funnel_chart(
            [s.label for s in summary.stages],
            [s.value or 0.0 for s in summary.stages],  # a stage nobody reached: 0 persons
            "Lifecycle funnel, all time (persons)",
        )
    }
    x, series = _series(summary.monthly, VOLUMES)
    svgs["volume"] = charts.line_chart(x, series, "Leads, MQLs and SQLs entering per month")
    x, series = _series(summary.monthly, PIPELINE)
    svgs["pipeline"] = charts.grouped_bars(
        x, series, "Pipeline created vs bookings per month", "currency"
    )
    cuts = [
        ("mql_to_sql", "channel", "MQL→SQL conversion by channel, all time", "percent"),
        ("win_rate", "region", "Win rate by region, all time", "percent"),
        ("avg_deal_size", "segment", "Average deal size by segment, all time", "currency"),
        ("sales_cycle_days", "segment", "Sales cycle (days) by segment, all time", "number"),
    ]
    small = []
    for metric, dim, title, kind in cuts:
        lab, vals = _cut(ro, metric, dim)
        small.append(charts.bar_chart(lab, vals, title, kind))
    return svgs, small


def write_funnel_report(ro: RevOps, path: Path, summary: FunnelSummary | None = None) -> Path:
    """Render the funnel report to `path` (one self-contained HTML file); from `summary` when
    the caller has it already (the demo prints it too: computing it is most of the cost)."""
    summary = summary or funnel_summary(ro)
    svgs, small = funnel_charts(ro, summary)
    lifecycle = {k: df.to_dict("records") for k, df in ro.lifecycle_analytics().items()}

    env = Environment(
        loader=PackageLoader("revops.reports", "templates"),
        autoescape=select_autoescape(["html"]),
    )
    html = env.get_template("funnel.html").render(
        company=ro.model.company.name,
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        config_digest=ro.config.digest,
        config_path=str(ro.config.path),
        summary=summary,
        svgs=svgs,
        small=small,
        metrics={m.name: m for m in ro.model.metrics},
        lifecycle=lifecycle,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path
