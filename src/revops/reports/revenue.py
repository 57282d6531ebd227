"""The revenue report: ARR waterfall, NRR/GRR trend, cohort heatmaps and the at-risk list.

One offline HTML page (inline SVG charts, the cohort heatmaps as colored tables) built from the
revenue engine's tables, with the headline numbers taken from the metric dictionary and their
formulas printed beside them, and the churn model's AUC on months it never saw next to the
health score's.
`revenue_report_data` gathers the numbers and `revenue_charts` draws them (the web
workspace's revenue report page shows both); `write_revenue_report` renders them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape

from revops.context import RevOps
from revops.metrics import Period, compute
from revops.reports import charts
from revops.reports.formatting import format_value
from revops.reports.periods import figure, report_period
from revops.revenue.cohorts import cohort_counts, cohort_table
from revops.revenue.customers import RiskRun, assess_risk, score_customers
from revops.revenue.run import fetch
from revops.revenue.waterfall import MOVEMENTS, waterfall

TILES = ("arr", "nrr", "grr", "logo_churn_rate", "ltv", "cac_payback_months", "ltv_to_cac")
COLORS = {"new": "#2563eb", "expansion": "#16a34a", "reactivation": "#0891b2",
          "contraction": "#f97316", "churn": "#dc2626"}  # fmt: skip


@dataclass(frozen=True)
class Tile:
    name: str
    label: str
    text: str
    note: str  # the previous period and the change, or why there is no value
    formula: str


def _bridge(wf: pd.DataFrame, title: str) -> str:
    """The classic waterfall: opening ARR, each movement as a floating bar, closing ARR."""
    import matplotlib.pyplot as plt

    order = ["new", "expansion", "reactivation", "contraction", "churn"]
    steps = [float(wf[m].sum()) for m in order]
    opening, closing = float(wf["opening_arr"].iloc[0]), float(wf["closing_arr"].iloc[-1])
    with charts.drawing():
        fig, ax = plt.subplots(figsize=(7, 3.8))
        ax.bar(0, opening, color="#6b7280")
        level = opening
        for i, (name, step) in enumerate(zip(order, steps, strict=True), start=1):
            ax.bar(i, step, bottom=level, color=COLORS[name])
            ax.text(
                i,
                level + max(step, 0),
                charts._formatter("currency")(step),
                ha="center",
                va="bottom",
                fontsize=8,
            )
            level += step
        ax.bar(len(order) + 1, closing, color="#111827")
        ax.set_xticks(
            range(len(order) + 2), ["opening", *order, "closing"], rotation=30, ha="right"
        )
        ax.yaxis.set_major_formatter(charts._formatter("currency"))
        ax.margins(y=0.12)
        ax.set_title(title, loc="left", pad=14)
        return charts._svg(fig)


def _movements_chart(wf: pd.DataFrame, title: str) -> str:
    """Monthly movements stacked up (gains) and down (losses)."""
    import matplotlib.pyplot as plt

    x = [f"{m:%Y-%m}" for m in wf["month"]]
    with charts.drawing():
        fig, ax = plt.subplots(figsize=(14, 3.2))
        up = np.zeros(len(wf))
        down = np.zeros(len(wf))
        for name in ("new", "expansion", "reactivation", "contraction", "churn"):
            values = wf[name].to_numpy(float)
            base = np.where(values >= 0, up, down)
            ax.bar(range(len(x)), values, bottom=base, color=COLORS[name], label=name)
            up += np.maximum(values, 0)
            down += np.minimum(values, 0)
        ax.plot(
            range(len(x)), up + down, color="#111827", marker="o", ms=3, lw=1, label="net new ARR"
        )
        ax.axhline(0, color="#9ca3af", lw=0.8)
        charts._thin_ticks(ax, x, 24)
        ax.yaxis.set_major_formatter(charts._formatter("currency"))
        ax.legend(ncols=6, fontsize=8, frameon=False, loc="lower left", bbox_to_anchor=(0, 1.0))
        ax.set_title(title, loc="left", pad=22)
        return charts._svg(fig)


def _heat_table(
    grid: pd.DataFrame, title: str, size_label: str, ages: int = 24, cohorts: int = 24
) -> str:
    """The last `cohorts` cohorts of a retention triangle as an HTML table whose cells are
    colored as a heatmap (RdYlGn from 50% to 110% of month 0); blank where a cohort has not
    reached the age yet.

    A table, not a drawing: its up to 600 figures are text to read, select and copy, and it
    costs milliseconds where matplotlib took 0.8 s per grid to lay out and draw each figure's
    glyphs as paths (twice, for the tight bounding box), and half the page's bytes."""
    from markupsafe import escape
    from matplotlib import colormaps
    from matplotlib.colors import Normalize, to_hex

    cols = [str(a) for a in range(ages + 1) if str(a) in grid.columns]
    data = grid[cols].iloc[-cohorts:]
    sizes = grid["size"].iloc[-cohorts:]
    cmap, scale = colormaps["RdYlGn"], Normalize(vmin=0.5, vmax=1.1, clip=True)

    def cell(v: float) -> str:
        if v != v:  # not reached yet: missing, not 0%
            return "<td></td>"
        r, g, b, _ = cmap(scale(v))
        ink = "#fff" if 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.45 else "#111"
        return f'<td class="num" style="background:{to_hex((r, g, b))};color:{ink}">{v:.0%}</td>'

    rows = "".join(
        f"<tr><th>{escape(f'{c:%Y-%m} ({size_label.format(n)})')}</th>"
        + "".join(cell(v) for v in values)
        + "</tr>"
        for c, n, values in zip(data.index, sizes, data.to_numpy(float), strict=True)
    )
    head = "".join(f'<th class="num">{c}</th>' for c in cols)
    return (
        f"<h2>{escape(title)}</h2>"
        '<p class="note">Share of month 0 by months since the first month with MRR: red at 50% '
        "or less, yellow near 80%, green at 110% or more; blank where the cohort is younger.</p>"
        '<div style="overflow-x:auto"><table class="heat">'
        f"<thead><tr><th>Cohort</th>{head}</tr></thead><tbody>{rows}</tbody></table></div>"
    )


def _tiles(ro: RevOps, period: Period) -> list[Tile]:
    """The headline metrics for the report's stated period, beside the one before."""
    tiles = []
    for name in TILES:
        f = figure(ro, name, period)
        text, before = f.text, f.previous_text
        if name == "cac_payback_months":
            text, before = _suffix(f.value, " months"), _suffix(f.previous, " months")
        if name == "ltv_to_cac":
            text, before = _suffix(f.value, "×"), _suffix(f.previous, "×")
        note = f.reason or f"{period.previous().label}: {before} · change {f.change_text}"
        tiles.append(Tile(name, f"{f.label} ({period.label})", text, note, f.formula))
    return tiles


def _suffix(value: float | None, unit: str) -> str:
    return "n/a" if value is None else f"{value:.1f}{unit}"


@dataclass(frozen=True)
class RevenueReportData:
    """What the revenue report shows, computed once for the page and the web workspace."""

    waterfall: pd.DataFrame  # every month: opening, movements, closing ARR, customers, check
    retention: pd.DataFrame  # month, the dictionary's nrr and grr: the last 24 months with NRR
    logo_cohorts: pd.DataFrame  # cohort_table(…, "logo"): start month → size and ages
    revenue_cohorts: pd.DataFrame  # the same for MRR against month 0
    risk: RiskRun


def revenue_report_data(ro: RevOps, risk: RiskRun | None = None) -> RevenueReportData:
    """The report's numbers; fits the risk models unless `risk` is given."""
    wh = ro.warehouse
    wf = fetch(wh, waterfall(wh.table("mrr_monthly")))
    if wf.empty:
        from revops.revenue import RevenueError

        raise RevenueError("no revenue tables yet: run `revops revenue run` first")
    wf["check"] = wf["opening_arr"] + wf[list(MOVEMENTS)].sum(axis=1) - wf["closing_arr"]
    # the dictionary's nrr and grr per month (the tiles' figures), not a second computation
    ret = pd.DataFrame(
        {
            name: compute(wh, ro.model, name, grain="month").set_index("period")["value"]
            for name in ("nrr", "grr")
        }
    )
    ret = ret.dropna(subset=["nrr"]).iloc[-24:].rename_axis("month").reset_index()
    counts = fetch(wh, cohort_counts(wh.table("mrr_monthly"), wh.table("accounts")))
    return RevenueReportData(
        waterfall=wf,
        retention=ret,
        logo_cohorts=cohort_table(counts, "logo"),
        revenue_cohorts=cohort_table(counts, "revenue"),
        risk=risk or assess_risk(wh, ro.model, score_customers(wh, ro.model)),
    )


def revenue_charts(data: RevenueReportData) -> dict[str, str]:
    """The report's charts as SVG, and its cohort grids as colored HTML tables (the web
    workspace's revenue report page shows the same)."""
    wf, ret = data.waterfall, data.retention
    last12 = wf.iloc[-12:]
    latest = wf["month"].iloc[-1]
    return {
        "bridge": _bridge(last12, f"ARR bridge, {last12['month'].iloc[0]:%b %Y} to {latest:%b %Y}"),
        "movements": _movements_chart(wf.iloc[-24:], "ARR movements per month"),
        "retention": charts.line_chart(
            [f"{m:%Y-%m}" for m in ret["month"]],
            {"NRR": ret["nrr"].tolist(), "GRR": ret["grr"].tolist()},
            "12-month net and gross revenue retention",
            "percent",
        ),
        "logo_heat": _heat_table(
            data.logo_cohorts, "Logo retention by start-month cohort", "{:,.0f} accounts"
        ),
        "revenue_heat": _heat_table(
            data.revenue_cohorts,
            "Revenue retention by start-month cohort (MRR vs month 0)",
            "${:,.0f} MRR",
        ),
    }


def write_revenue_report(ro: RevOps, path: Path, risk: RiskRun | None = None) -> Path:
    """Render the revenue report to `path`; fits the risk models unless `risk` is given."""
    data = revenue_report_data(ro, risk)
    wf, risk = data.waterfall, data.risk
    svgs = revenue_charts(data)
    env = Environment(
        loader=PackageLoader("revops.reports", "templates"), autoescape=select_autoescape(["html"])
    )
    html = env.get_template("revenue.html").render(
        company=ro.model.company.name,
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        config_path=str(ro.config.path),
        config_digest=ro.config.digest,
        tiles=_tiles(ro, report_period(ro)),
        svgs=svgs,
        waterfall=wf.iloc[-12:].to_dict("records"),
        movements=MOVEMENTS,
        max_gap=float(wf["check"].abs().max()),
        months=len(wf),
        risk=risk,
        used_withheld=ro.model.revenue.use_withheld,
        at_risk=risk.at_risk.head(40).to_dict("records"),
        at_risk_count=len(risk.at_risk),
        at_risk_arr=float(risk.at_risk["arr_at_risk"].sum()),
        at_risk_formula=ro.model.elsewhere("arr_at_risk").formula,
        money=lambda v: format_value(float(v), "currency", ro.model.company.currency),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path
