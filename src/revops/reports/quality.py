"""The data quality report: the scorecard's trend, a heat table per field, violations and UTM.

One offline HTML page (inline SVG, no external assets) built from the stored snapshots, a
fresh `quality check` and the UTM audit. Sample keys are shown, never sample values: the file
travels further than a terminal, and values may be emails or phone numbers.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape

from revops.context import RevOps
from revops.metrics import compute
from revops.quality import scorecard
from revops.quality.check import CheckReport, check
from revops.quality.utm import audit
from revops.reports import charts
from revops.reports.formatting import format_value

RATES = (
    ("completeness", "Completeness", "dq_completeness"),
    ("validity", "Validity", "dq_validity"),
    ("uniqueness", "Uniqueness", "dq_uniqueness"),
    ("match_rate", "Match rate", "dq_match_rate"),
)


def heat(value: float | None) -> str:
    """A background colour from red (0) through amber to green (1); grey when undefined."""
    if value is None or math.isnan(value):
        return "#f3f4f6"
    hue = round(max(0.0, min(1.0, value)) ** 2 * 120)
    return f"hsl({hue}, 70%, 85%)"


def trend_chart(dates: Sequence[str], series: dict[str, list[float]]) -> str:
    """Rates per snapshot date; markers so a single snapshot still shows."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import PercentFormatter

    with charts.drawing({"svg.fonttype": "path", "font.size": 9}):
        fig, ax = plt.subplots(figsize=(12, 3.2))
        x = list(range(len(dates)))
        for i, (name, values) in enumerate(series.items()):
            color = charts.PALETTE[i % len(charts.PALETTE)]
            ax.plot(x, values, marker="o", ms=4, lw=1.8, label=name, color=color)
        lowest = min((v for vs in series.values() for v in vs if v == v), default=0.0)
        ax.set_ylim(max(0.0, math.floor((lowest - 0.05) * 10) / 10), 1.01)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=None))
        step = max(1, -(-len(dates) // 12))
        ax.set_xticks(x[::step], list(dates)[::step], rotation=45, ha="right")
        ax.set_xlim(-0.5, max(len(dates) - 0.5, 0.5))
        ax.grid(axis="y", color="#e5e7eb")
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        ax.legend(frameon=False, ncols=4, fontsize=8, loc="lower left")
        ax.set_title("Data quality over time (all scored fields)", loc="left", fontweight="bold")
        return charts._svg(fig)


def _cells(row: dict[Any, Any]) -> list[dict[str, str]]:
    out = []
    for key, _label, _metric in RATES:
        value = row[key]
        v = None if pd.isna(value) else float(value)
        out.append({"text": format_value(v, "percent"), "bg": heat(v)})
    return out


def report_context(ro: RevOps, checked: CheckReport | None = None) -> dict[str, Any]:
    """Everything the template shows, as plain data; `checked`: the rules' results if the
    caller has them (`scorecard.measure_and_check`), else the rules are checked here."""
    wh, model = ro.warehouse, ro.model
    history = scorecard.trend(wh, model)
    latest = scorecard.latest(wh)
    if latest.empty:
        latest = scorecard.measure(wh, model)
    tiles = []
    for _key, label, metric in RATES:
        # the dictionary's figure (a stock: the latest snapshot's), as `metrics show` prints it
        frame = compute(wh, model, metric, grain=None)
        raw = float(frame["value"].iloc[0]) if len(frame) else math.nan
        value = None if math.isnan(raw) else raw
        tiles.append(
            {
                "metric": metric,
                "label": label,
                "text": format_value(value, "percent"),
                "formula": ro.formula(metric),
            }
        )
    dates = [pd.Timestamp(d).strftime("%Y-%m-%d") for d in history["snapshot_date"]]
    series = {label: history[key].astype(float).tolist() for key, label, _ in RATES}
    fields = [
        {
            "table": r["table_name"],
            "field": r["field_name"],
            "rows": f"{int(r['rows']):,}",
            "cells": _cells(r),
        }
        for r in latest.to_dict("records")
    ]
    report = check(wh, model) if checked is None else checked
    violations = [
        {
            "table": v.table,
            "field": v.field,
            "rule": v.rule,
            "count": f"{v.violations:,}",
            "share": f"{v.share:.1%}",
            "fixable": v.fixable,
            "sample": ", ".join(v.sample_keys),
        }
        for v in sorted(report.failing, key=lambda v: -v.violations)
    ]
    utm = audit(wh, model.quality.utm) if model.quality.utm is not None else None
    return {
        "company": model.company.name,
        "generated": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "config_path": str(ro.config.path),
        "config_digest": ro.config.digest,
        "tiles": tiles,
        "trend_svg": trend_chart(dates, series) if dates else "",
        "snapshots": len(dates),
        "rates": [label for _, label, _ in RATES],
        "fields": fields,
        "violations": violations,
        "rules_checked": len(report.results),
        "utm": None
        if utm is None
        else {
            "values": utm.values.head(20).to_dict("records"),
            "campaigns": utm.by_campaign[
                utm.by_campaign[["missing", "case", "unknown"]].sum(axis=1) > 0
            ]
            .head(20)
            .to_dict("records"),
            "no_spend": utm.campaigns_without_spend.to_dict("records"),
            "orphan_spend": utm.spend_without_campaign.to_dict("records"),
        },
    }


def write_quality_report(ro: RevOps, path: Path, checked: CheckReport | None = None) -> Path:
    """Render the data quality report to `path` (one self-contained HTML file); `checked` as
    `report_context` takes it."""
    env = Environment(
        loader=PackageLoader("revops.reports", "templates"),
        autoescape=select_autoescape(["html"]),
    )
    html = env.get_template("quality.html").render(**report_context(ro, checked))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path
