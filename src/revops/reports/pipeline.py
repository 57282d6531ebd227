"""The pipeline report: the pipeline as it stood every week, how deals move through it, and how
clean it is, as one offline HTML page.

The flows (win rates, deal size, sales cycle, by type and segment) are the metric dictionary's
over a stated period, the last full fiscal quarter before the as-of date, beside the quarter
before it, so `revops metrics show` prints the same numbers; coverage is the dictionary's for
the next quarter and velocity the dictionary's over all closed deals. What the dictionary
cannot compute (the weekly chart rebuilt from stage history, stage conversion, hygiene, the
per-rep coverage table) is point-in-time as of one date (default: the newest stage change) and
declared under `computed_elsewhere` in the operating model, whose formula is printed with it.
`pipeline_report_data` gathers the numbers (reusable elsewhere); `write_pipeline_report`
renders them.
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
from revops.metrics import Period, compute, formula, last_full_period, settled
from revops.metrics.compiler import lookup, zero_when_empty
from revops.pipeline.engine import Hygiene, PipelineEngine, PipelineMetrics
from revops.pipeline.hygiene import RULE_LABELS
from revops.reports import charts
from revops.reports.formatting import format_value
from revops.reports.periods import Figure, data_end, figure

WEEKS = 104
# The quarter's flows, each the dictionary's; tiles show the first four.
FLOWS = (
    "new_business_win_rate",
    "win_rate",
    "avg_deal_size",
    "sales_cycle_days",
    "bookings",
    "win_rate_by_value",
)
BY_TYPE = ("closed_deals", "won_deals", "win_rate", "win_rate_by_value", "avg_deal_size",
           "sales_cycle_days", "bookings")  # fmt: skip
VELOCITY = ("open_opportunities", "win_rate", "avg_deal_size", "sales_cycle_days",
            "sales_velocity")  # fmt: skip


@dataclass(frozen=True)
class PipelineReportData:
    as_of: dt.date
    period: Period  # the last full fiscal quarter before the day after `as_of`
    flows: dict[str, Figure]  # FLOWS over `period`, beside the quarter before
    coverage: Figure  # the dictionary's pipeline_coverage for the quarter after `period`
    velocity: Figure  # the dictionary's sales_velocity over every closed deal
    by_type: pd.DataFrame  # opportunity_type, BY_TYPE over `period`
    by_segment: pd.DataFrame  # segment, win_rate and avg_deal_size over `period`
    velocity_by_segment: pd.DataFrame  # segment, VELOCITY over every closed deal
    metrics: PipelineMetrics
    hygiene: Hygiene
    weekly: pd.DataFrame  # as_of, key (stage), deals, value
    created: pd.DataFrame  # period, created, created_value


def _cut(ro: RevOps, names: Sequence[str], by: str, period: Period | None) -> pd.DataFrame:
    """Dictionary metrics `names` cut by `by` over `period` (all time when None), one column
    each. A value of `by` a count or sum has no row for is 0 there (no won deal: 0 won), as
    `period_value` settles it; anything else without a value stays NaN (n/a)."""
    start, end = (period.start, period.end) if period else (None, None)
    series = {}
    for name in names:
        df = compute(ro.warehouse, ro.model, name, by=[by], grain=None, start=start, end=end)
        series[name] = df.set_index(by)["value"]
    keys = pd.Index(sorted({k for s in series.values() for k in s.index}, key=str), name=by)
    wide = pd.DataFrame(
        {
            name: s.reindex(keys, fill_value=0.0)
            if zero_when_empty(lookup(ro.model, name))
            else s.reindex(keys)
            for name, s in series.items()
        },
        index=keys,
    )
    return wide.reset_index()


def pipeline_report_data(ro: RevOps, as_of: dt.date | None = None) -> PipelineReportData:
    engine = PipelineEngine(ro.warehouse, ro.model.pipeline)
    day = as_of or engine.latest_day()
    start = day - dt.timedelta(weeks=WEEKS - 1)
    fy = ro.model.company.fiscal_year_start_month
    # The quarter ends where the data ends (its newest event of any kind, as the other reports'
    # periods), or where the asked as-of date does: a last stage change a day before the data's
    # end must not slide the report back a whole quarter.
    end = day if as_of is not None else max(day, data_end(ro) or day)
    period = last_full_period(end + dt.timedelta(days=1), "quarter", fy)
    coming = _next_quarter(period)
    return PipelineReportData(
        as_of=day,
        period=period,
        flows={name: figure(ro, name, period) for name in FLOWS},
        coverage=figure(ro, "pipeline_coverage", coming),
        velocity=_all_time(ro, "sales_velocity"),
        by_type=_cut(ro, BY_TYPE, "opportunity_type", period),
        by_segment=_cut(ro, ("win_rate", "avg_deal_size"), "segment", period),
        velocity_by_segment=_cut(ro, VELOCITY, "segment", None),
        # Coverage per rep of the quarter still to sell in, the one the coverage tile shows.
        metrics=engine.metrics(day, quota_day=max(coming.start, day + dt.timedelta(days=1))),
        hygiene=engine.hygiene(day),
        weekly=engine.over_time(start, day),
        created=engine.created(day, grain="month", since=day - dt.timedelta(days=730)),
    )


def _next_quarter(period: Period) -> Period:
    """The quarter after `period`: the one still to sell in on the as-of evening."""
    month = period.end.year * 12 + period.end.month - 1 + 3
    return Period(period.end, dt.date(month // 12, month % 12 + 1, 1), "quarter")


def _all_time(ro: RevOps, name: str) -> Figure:
    """Metric `name` over every row (no period, so no previous one), as `revops metrics show
    NAME --grain all` prints it."""
    df = compute(ro.warehouse, ro.model, name, grain=None)
    raw = float(df["value"].iloc[0]) if len(df) else float("nan")
    rows = None if df.empty or pd.isna(df["rows"].iloc[0]) else int(df["rows"].iloc[0])
    value = settled(ro.model, name, raw, rows)
    m = ro.model.metric(name)
    text = format_value(value, m.format, ro.model.company.currency)
    reason = None if value is not None else f"{name}: no value over all closed deals"
    return Figure(name, m.title, value, None, text, "", "", formula(ro.model, name), reason)


def stacked_area(
    x: Sequence[str], series: dict[str, list[float]], title: str, kind: str = "currency"
) -> str:
    """Stacked areas over time (open pipeline by stage, week by week)."""
    with charts.drawing():
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


def _tiles(ro: RevOps, data: PipelineReportData) -> list[dict[str, str]]:
    """Headline tiles: label, value, a note (the quarter before and the change, or why there is
    no value) and the formula, from the dictionary or its `computed_elsewhere` declaration."""
    currency = ro.model.company.currency

    def money(x: float | None) -> str:
        return format_value(x, "currency", currency)

    def elsewhere(name: str) -> str:
        return ro.model.elsewhere(name).formula

    v = data.metrics.velocity
    open_deals = int(_first(v, "open_deals") or 0)
    tiles = [
        {
            "metric": "open_pipeline",
            "label": f"Open pipeline (end of {data.as_of})",
            "text": money(_first(v, "open_value")),
            "note": f"{open_deals:,} open deals",
            "formula": elsewhere("open_pipeline_as_of"),
        }
    ]
    for name in FLOWS[:4]:
        f = data.flows[name]
        note = f.reason or f"{data.period.previous().label}: {f.previous_text} · {f.change_text}"
        label = f"{f.label} ({data.period.label})"
        tiles.append(
            {"metric": name, "label": label, "text": f.text, "note": note, "formula": f.formula}
        )
    cov = data.coverage
    tiles.append(
        {
            "metric": "pipeline_coverage",
            "label": f"Pipeline coverage ({_next_quarter(data.period).label})",
            "text": "n/a" if cov.value is None else f"{cov.value:.2f}×",
            "note": cov.reason or "the quarter still to sell in",
            "formula": cov.formula,
        }
    )
    vel = data.velocity
    tiles.append(
        {
            "metric": "sales_velocity",
            "label": "Sales velocity (open deals now, rates of all closed deals)",
            "text": vel.text + ("/day" if vel.value is not None else ""),
            "note": vel.reason or "",
            "formula": vel.formula,
        }
    )
    card = data.hygiene.scorecard
    total = int(card["open_deals"].sum()) if len(card) else 0
    clean = 1 - float(card["flagged_deals"].sum()) / total if total else None
    at_risk = float(card["value_at_risk"].sum()) if len(card) else None
    tiles.append(
        {
            "metric": "clean_pipeline_share",
            "label": f"Clean pipeline (end of {data.as_of})",
            "text": format_value(clean, "percent"),
            "note": f"{money(at_risk)} of open pipeline flagged",
            "formula": elsewhere("clean_pipeline_share"),
        }
    )
    return tiles


def pipeline_charts(ro: RevOps, data: PipelineReportData) -> dict[str, str]:
    """The report's charts as SVG (the web workspace's pipeline page shows the same)."""
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
    seg = data.by_segment.dropna(subset=["win_rate"])  # a segment with no close: no bar
    svgs["win_segment"] = charts.bar_chart(
        list(seg["segment"].fillna("(none)")),
        seg["win_rate"].tolist(),
        f"Win rate by segment, {data.period.label}",
        "percent",
    )
    seg = data.by_segment.dropna(subset=["avg_deal_size"])
    svgs["deal_segment"] = charts.bar_chart(
        list(seg["segment"].fillna("(none)")),
        seg["avg_deal_size"].tolist(),
        f"Average deal size by segment, {data.period.label}",
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
    rule_totals = {RULE_LABELS[r]: float(card[r].sum()) for r in rules}
    svgs["rules"] = charts.bar_chart(
        list(rule_totals), list(rule_totals.values()), "Open deals flagged, by rule", "number"
    )
    return svgs


def write_pipeline_report(ro: RevOps, path: Path, *, as_of: dt.date | None = None) -> Path:
    """Render the pipeline report to `path` (one self-contained HTML file)."""
    data = pipeline_report_data(ro, as_of)
    currency = ro.model.company.currency
    m = data.metrics
    svgs = pipeline_charts(ro, data)
    card = data.hygiene.scorecard
    rules = [r for r in ro.model.pipeline.hygiene.enabled if r in card.columns]
    flags = data.hygiene.flags.sort_values("amount", ascending=False, na_position="first")

    env = Environment(
        loader=PackageLoader("revops.reports", "templates"),
        autoescape=select_autoescape(["html"]),
    )
    env.filters["money"] = lambda v: format_value(v, "currency", currency)
    env.filters["pct"] = lambda v: format_value(v, "percent")
    env.filters["days"] = lambda v: "–" if v is None else f"{v:,.1f}"
    env.filters["count"] = lambda v: "n/a" if v is None else f"{v:,.0f}"
    env.filters["cycle"] = lambda v: "n/a" if v is None else f"{v:,.1f}"  # a dictionary figure
    html = env.get_template("pipeline.html").render(
        company=ro.model.company.name,
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        config_digest=ro.config.digest,
        config_path=str(ro.config.path),
        as_of=data.as_of,
        period=data.period,
        weeks=WEEKS,
        tiles=_tiles(ro, data),
        svgs=svgs,
        by_type=_records(data.by_type),
        figure_formula=lambda name: formula(ro.model, name),
        declared=lambda name: ro.model.elsewhere(name).formula,
        conversion=_records(m.conversion),
        time_in_stage=_records(m.time_in_stage),
        skips=_records(m.skips),
        velocity=_records(data.velocity_by_segment),
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
