"""The pipeline report: the pipeline as it stood every week, how deals move through it, and how
clean it is, as one offline HTML page.

Every number is point-in-time: the weekly chart is 104 snapshots rebuilt from stage history, and
the tiles, tables and hygiene are as of one date (default: the newest stage change), using only
what was known that day. `pipeline_report_data` gathers the numbers (reusable elsewhere);
`write_pipeline_report` renders them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape

from revops.context import RevOps
from revops.pipeline.engine import Hygiene, PipelineEngine, PipelineMetrics
from revops.pipeline.hygiene import RULE_LABELS
from revops.reports import charts
from revops.reports.formatting import format_value

WEEKS = 104


@dataclass(frozen=True)
class PipelineReportData:
    as_of: dt.date
    metrics: PipelineMetrics
    hygiene: Hygiene
    weekly: pd.DataFrame  # as_of, key (stage), deals, value
    created: pd.DataFrame  # period, created, created_value
    by_segment: PipelineMetrics


def pipeline_report_data(ro: RevOps, as_of: dt.date | None = None) -> PipelineReportData:
    engine = PipelineEngine(ro.warehouse, ro.model.pipeline)
    day = as_of or engine.latest_day()
    start = day - dt.timedelta(weeks=WEEKS - 1)
    return PipelineReportData(
        as_of=day,
        # Coverage of the period that still has selling days: the next day's quota period.
        metrics=engine.metrics(day, quota_day=day + dt.timedelta(days=1)),
        hygiene=engine.hygiene(day),
        weekly=engine.over_time(start, day),
        created=engine.created(day, grain="month", since=day - dt.timedelta(days=730)),
        by_segment=engine.metrics(day, by=("segment",)),
    )


def stacked_area(
    x: Sequence[str], series: dict[str, list[float]], title: str, kind: str = "currency"
) -> str:
    """Stacked areas over time (open pipeline by stage, week by week)."""
    with plt.rc_context(charts._STYLE):
        fig, ax = plt.subplots(figsize=(14, 3.2))
        colors = [charts.PALETTE[i % len(charts.PALETTE)] for i in range(len(series))]
        ax.stackplot(
            range(len(x)), *series.values(), labels=list(series), colors=colors, alpha=0.85
        )
        ax.yaxis.set_major_formatter(charts._formatter(kind))
        ax.legend(frameon=False, fontsize=8, ncols=len(series), loc="upper left")
        ax.set_title(title, loc="left")
        ax.grid(axis="y", color="#e5e7eb")
        ax.set_xlim(0, max(len(x) - 1, 1))
        charts._thin_ticks(ax, list(x), most=16)
        return charts._svg(fig)


def _weekly_svg(data: PipelineReportData, stage_order: list[str]) -> str:
    wide = data.weekly.pivot_table(index="as_of", columns="key", values="value", aggfunc="sum")
    wide = wide.reindex(columns=[s for s in stage_order if s in wide.columns]).fillna(0.0)
    x = [pd.Timestamp(d).strftime("%Y-%m-%d") for d in wide.index]
    series = {c: wide[c].tolist() for c in wide.columns}
    return stacked_area(x, series, f"Open pipeline by stage, every week for {WEEKS} weeks")


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows for the template, with NaN/NaT as None so filters can print a dash."""
    return [
        {str(k): (None if _missing(v) else v) for k, v in r.items()} for r in df.to_dict("records")
    ]


def _missing(v: Any) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _first(df: pd.DataFrame, col: str) -> float | None:
    if df.empty or _missing(df[col].iloc[0]):
        return None
    return float(df[col].iloc[0])


def _tiles(data: PipelineReportData, currency: str) -> list[dict[str, str]]:
    """Headline tiles: value, then the definition or scope printed under it."""
    m = data.metrics
    w, v = m.win_rates, m.velocity

    def money(x: float | None) -> str:
        return format_value(x, "currency", currency)

    open_deals = int(_first(v, "open_deals") or 0)
    velocity = _first(v, "velocity_per_day")
    tiles = [
        ("Open pipeline", money(_first(v, "open_value")), f"{open_deals:,} open deals"),
        ("Win rate", format_value(_first(w, "win_rate"), "percent"), "won / closed deals"),
        (
            "Win rate (value)",
            format_value(_first(w, "win_rate_value"), "percent"),
            "won amount / closed amount",
        ),
        ("Average deal size", money(_first(w, "avg_deal_size")), "won amount / won deals"),
        (
            "Sales cycle",
            format_value(_first(w, "cycle_days_mean"), "days"),
            "created → won, mean of won deals",
        ),
        (
            "Sales velocity",
            money(velocity) + ("/day" if velocity is not None else ""),
            "open deals × win rate × deal size ÷ cycle",
        ),
    ]
    coverage = _first(m.coverage_total, "coverage") if len(m.coverage) else None
    if coverage is None:
        tiles.append(("Pipeline coverage", "–", "no quota for the days after the as-of date"))
    else:
        tiles.append(
            ("Pipeline coverage", f"{coverage:.2f}×", "open pipeline due ÷ quota still to book")
        )
    card = data.hygiene.scorecard
    total = int(card["open_deals"].sum()) if len(card) else 0
    clean = 1 - float(card["flagged_deals"].sum()) / total if total else None
    at_risk = float(card["value_at_risk"].sum()) if len(card) else 0.0
    tiles.append(
        (
            "Clean pipeline",
            format_value(clean, "percent"),
            f"open deals with no hygiene flag; {money(at_risk)} at risk",
        )
    )
    return [{"label": a, "text": b, "formula": c} for a, b, c in tiles]


def write_pipeline_report(ro: RevOps, path: Path, *, as_of: dt.date | None = None) -> Path:
    """Render the pipeline report to `path` (one self-contained HTML file)."""
    data = pipeline_report_data(ro, as_of)
    currency = ro.model.company.currency
    stage_order = [s.name for s in ro.model.pipeline.stages]
    m = data.metrics
    svgs = {"weekly": _weekly_svg(data, stage_order)}
    conv = m.conversion
    svgs["conversion"] = charts.bar_chart(
        [f"{s} → next" for s in conv["stage"]],
        conv["conversion"].fillna(0.0).tolist(),
        "Stage conversion (entered → reached a later stage)",
        "percent",
    )
    tis = m.time_in_stage
    svgs["time"] = charts.grouped_bars(
        list(tis["stage"]),
        {
            "median": tis["median_days"].fillna(0.0).tolist(),
            "p90": tis["p90_days"].fillna(0.0).tolist(),
        },
        "Days in stage (completed stays)",
        width_inches=5.5,
    )
    seg = data.by_segment.win_rates.sort_values("segment")
    svgs["win_segment"] = charts.bar_chart(
        list(seg["segment"].fillna("(none)")),
        seg["win_rate"].fillna(0.0).tolist(),
        "Win rate by segment",
        "percent",
    )
    svgs["deal_segment"] = charts.bar_chart(
        list(seg["segment"].fillna("(none)")),
        seg["avg_deal_size"].fillna(0.0).tolist(),
        "Average deal size by segment",
        "currency",
    )
    created = data.created
    svgs["created"] = charts.grouped_bars(
        [pd.Timestamp(p).strftime("%Y-%m") for p in created["period"]],
        {"pipeline created": created["created_value"].tolist()},
        "Pipeline created per month (amount when first entered)",
        "currency",
    )
    card = data.hygiene.scorecard
    rules = [r for r in ro.model.pipeline.hygiene.enabled if r in card.columns]
    flags = data.hygiene.flags.sort_values("amount", ascending=False, na_position="first")
    rule_totals = {RULE_LABELS[r]: float(card[r].sum()) for r in rules}
    svgs["rules"] = charts.bar_chart(
        list(rule_totals), list(rule_totals.values()), "Open deals flagged, by rule", "number"
    )

    env = Environment(
        loader=PackageLoader("revops.reports", "templates"),
        autoescape=select_autoescape(["html"]),
    )
    env.filters["money"] = lambda v: format_value(v, "currency", currency)
    env.filters["pct"] = lambda v: format_value(v, "percent")
    env.filters["days"] = lambda v: "–" if v is None else f"{v:,.1f}"
    html = env.get_template("pipeline.html").render(
        company=ro.model.company.name,
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        config_digest=ro.config.digest,
        config_path=str(ro.config.path),
        as_of=data.as_of,
        since=m.since,
        weeks=WEEKS,
        tiles=_tiles(data, currency),
        svgs=svgs,
        conversion=_records(m.conversion),
        time_in_stage=_records(m.time_in_stage),
        skips=_records(m.skips),
        velocity=_records(data.by_segment.velocity.sort_values("segment")),
        coverage=_records(m.coverage),
        coverage_total=_records(m.coverage_total),
        scorecard=_records(card),
        rules=rules,
        rule_labels=RULE_LABELS,
        flags=_records(flags.head(25)),
        flag_count=len(flags),
        flagged_deals=int(flags["opportunity_id"].nunique()) if len(flags) else 0,
        hygiene=ro.model.pipeline.hygiene,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path
