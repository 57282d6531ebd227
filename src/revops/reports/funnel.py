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
from revops.reports import charts
from revops.reports.formatting import format_value

FUNNEL_STAGES: tuple[tuple[str, str], ...] = (
    ("leads", "Lead"),
    ("mqls", "MQL"),
    ("sals", "SAL"),
    ("sqls", "SQL"),
    ("opportunity_persons", "Opportunity"),
    ("customer_persons", "Customer"),
)
TREND_MONTHS = 24
HEADLINE = (
    "pipeline_created",
    "bookings",
    "win_rate",
    "avg_deal_size",
    "sales_cycle_days",
    "sales_velocity",
    "mql_to_sql",
    "sql_to_won",
)


@dataclass(frozen=True)
class MetricValue:
    name: str
    label: str
    value: float | None
    text: str
    formula: str
    owner: str
    description: str
    type: str


@dataclass(frozen=True)
class FunnelSummary:
    stages: list[MetricValue]
    headline: list[MetricValue]
    dictionary: list[MetricValue]
    monthly: pd.DataFrame  # metric, period, value


def funnel_summary(ro: RevOps) -> FunnelSummary:
    """All-time values of every metric plus the monthly series, with formulas attached."""
    totals = ro.all_metrics(grain=None)
    by_name = dict(zip(totals["metric"], totals["value"], strict=True))
    currency = ro.model.company.currency
    values = []
    for m in ro.model.metrics:
        raw = by_name.get(m.name)
        value = None if raw is None or pd.isna(raw) else float(raw)
        values.append(
            MetricValue(
                m.name,
                m.title,
                value,
                format_value(value, m.format, currency),
                ro.formula(m.name),
                m.owner,
                m.description,
                m.type,
            )
        )
    lookup = {v.name: v for v in values}
    stages = [lookup[name] for name, _ in FUNNEL_STAGES if name in lookup]
    headline = [lookup[name] for name in HEADLINE if name in lookup]
    monthly = ro.all_metrics(grain="month")
    return FunnelSummary(stages, headline, values, monthly)


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


def write_funnel_report(ro: RevOps, path: Path) -> Path:
    """Render the funnel report to `path` (one self-contained HTML file)."""
    summary = funnel_summary(ro)
    labels = dict(FUNNEL_STAGES)
    svgs: dict[str, str] = {
        "funnel": charts.funnel_chart(
            [labels[s.name] for s in summary.stages],
            [s.value or 0.0 for s in summary.stages],
            "Lifecycle funnel, all time (persons)",
        )
    }
    x, series = _series(summary.monthly, ["leads", "mqls", "sqls"])
    svgs["volume"] = charts.line_chart(x, series, "Leads, MQLs and SQLs per month")
    x, series = _series(summary.monthly, ["pipeline_created", "bookings"])
    svgs["pipeline"] = charts.grouped_bars(
        x, series, "Pipeline created vs bookings per month", "currency"
    )
    cuts = [
        ("mql_to_sql", "channel", "MQL→SQL conversion by channel", "percent"),
        ("win_rate", "region", "Win rate by region", "percent"),
        ("avg_deal_size", "segment", "Average deal size by segment", "currency"),
        ("sales_cycle_days", "segment", "Sales cycle (days) by segment", "number"),
    ]
    small = []
    for metric, dim, title, kind in cuts:
        lab, vals = _cut(ro, metric, dim)
        small.append(charts.bar_chart(lab, vals, title, kind))

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
        lifecycle=lifecycle,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path
