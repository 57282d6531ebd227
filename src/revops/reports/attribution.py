"""The attribution report: every model side by side, sourced vs influenced, spend vs return.

One offline HTML page. The scope (models, conversions, lookback, level) is printed at the top and
under every chart. The W-shaped credits for opportunities and closed-won deals are stored in
`attribution_credits` first, so the dictionary metrics on the page (attributed pipeline, ROAS,
ROI) are the same numbers `revops metrics compute` gives afterwards.
`attribution_report_data` gathers the numbers and `attribution_charts` draws them (the web
workspace's attribution report page shows both); `write_attribution_report` renders them.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape

from revops.attribution.journeys import load_inputs
from revops.attribution.markov import MarkovResult
from revops.attribution.performance import performance_table
from revops.attribution.placed import sourced_influenced
from revops.attribution.run import Journeys, Placed, journeys_for, place, store_placed
from revops.attribution.scope import Scope
from revops.attribution.shapley import ShapleyResult
from revops.config.attribution import ConversionType
from revops.context import RevOps
from revops.reports import charts
from revops.warehouse import Warehouse

CHART_MODELS = ("first_touch", "last_touch", "linear", "w_shaped", "markov", "shapley")
DICTIONARY_MODEL = "w_shaped"  # the model of attributed_pipeline / attributed_revenue


def comparison_frame(
    wh: Warehouse, results: Mapping[str, Placed], by: str = "channel"
) -> pd.DataFrame:
    """Rows: channels (or campaigns); columns: conversions credited by each model, summed in the
    warehouse (`Placed.by`): the report, the workspace and `revops attribution compare` show
    these very numbers."""
    key = by if by == "channel" else "campaign_id"
    cols = {m: r.by(wh, by).set_index(key)["conversions"] for m, r in results.items()}
    out = pd.DataFrame(cols).fillna(0.0)
    first = next(iter(cols))
    out = out.sort_values(first, ascending=False)
    out.index.name = by
    return out.reset_index()


def spend_scatter(perf: pd.DataFrame, title: str) -> str:
    """Spend (x) against attributed pipeline (y), one labelled point per channel."""
    with charts.drawing({"svg.fonttype": "path", "font.size": 9, "axes.titlesize": 10}):
        fig, ax = plt.subplots(figsize=(7, 3.6))
        x, y = perf["marketing_spend"].to_numpy(), perf["attributed_pipeline"].to_numpy()
        ax.scatter(x, y, color=charts.PALETTE[0], s=36)
        for label, xi, yi in zip(perf["channel"], x, y, strict=True):
            ax.annotate(str(label), (xi, yi), textcoords="offset points", xytext=(5, 4), fontsize=8)
        money = charts._formatter("currency")
        ax.xaxis.set_major_formatter(money)
        ax.yaxis.set_major_formatter(money)
        ax.set_xlabel("campaign spend")
        ax.set_ylabel("attributed pipeline (W-shaped)")
        ax.set_title(title, loc="left", fontweight="bold")
        ax.grid(color="#e5e7eb")
        ax.spines[["top", "right"]].set_visible(False)
        return charts._svg(fig)


def _records(df: pd.DataFrame) -> list[dict[str, object]]:
    return [{str(k): v for k, v in row.items()} for row in df.to_dict("records")]


def _fits(results: Mapping[str, ModelFigures]) -> pd.DataFrame:
    rows: dict[str, dict[str, float]] = {}
    for r in results.values():
        f = r.fitted
        if isinstance(f, MarkovResult):
            for c, re_, conv in zip(f.channels, f.removal_effects, f.conversions, strict=True):
                rows.setdefault(c, {}).update({"removal_effect": re_, "markov": conv})
        elif isinstance(f, ShapleyResult):
            for c, v, se in zip(f.channels, f.conversions, f.std_error, strict=True):
                rows.setdefault(c, {}).update({"shapley": v, "shapley_se": se})
    df = pd.DataFrame.from_dict(rows, orient="index").fillna(0.0)
    df.index.name = "channel"
    return df.sort_values(df.columns[0], ascending=False).reset_index()


@dataclass(frozen=True)
class ModelFigures:
    """One model's run as the page shows it: its per-touch credits are placed and summed per
    channel and per campaign in the warehouse (placed.py; `AttributionReportData.by_channel`,
    `by_campaign`), so the page holds sums, never a model's credits per touch, nor the
    warehouse table they are placed in."""

    scope: Scope
    journeys: int  # converting journeys attributed
    non_converting: int  # journeys in the null state (used by Markov)
    fitted: MarkovResult | ShapleyResult | None


@dataclass(frozen=True)
class AttributionReportData:
    """What the attribution report shows, computed once for the page and the web workspace."""

    scope: Scope  # every model's, for the chosen conversion
    stored_scope: list[str]  # the W-shaped credits' scope, for opportunity and closed_won
    results: dict[str, ModelFigures]  # model -> its run for the chosen conversion
    by_channel: pd.DataFrame  # channel, conversions credited by each model
    by_campaign: pd.DataFrame  # the top 20 campaigns (by name), the same
    fits: pd.DataFrame  # channel, Markov removal effect and credits, Shapley value and error
    perf: pd.DataFrame  # performance_table by channel (a channel without spend: n/a, not 0)
    pipeline: pd.DataFrame  # sourced vs influenced opportunities per channel
    revenue: pd.DataFrame  # the same for closed-won deals


def attribution_report_data(
    ro: RevOps, conversion: ConversionType | None = None, *, store: bool = True
) -> AttributionReportData:
    """The report's numbers. With `store`, the W-shaped credits for opportunities and closed-won
    deals are written to `attribution_credits` first, so the dictionary's attributed pipeline,
    ROAS and ROI read this run's credits; without it (a page being read), those metrics read
    the credits stored last, as `revops attribution performance` does."""
    cfg = ro.model.attribution
    conv = conversion or cfg.default_conversion
    inputs = load_inputs(ro.warehouse)
    built: dict[ConversionType, Journeys] = {}

    def journeys(c: ConversionType) -> Journeys:
        """Each conversion's journeys built once: the page reads them up to three times."""
        if c not in built:
            built[c] = journeys_for(inputs, c, cfg)
        return built[c]

    wh = ro.warehouse
    placed = place(wh, journeys(conv), cfg)  # summed in the warehouse: no credits per touch
    by_channel = comparison_frame(wh, placed, "channel")
    by_campaign = comparison_frame(wh, placed, "campaign").head(20)
    results = {
        m: ModelFigures(r.scope, r.journeys, r.non_converting, r.fitted) for m, r in placed.items()
    }
    del placed
    stored_kinds: tuple[ConversionType, ...] = ("opportunity", "closed_won")
    if conv not in stored_kinds:
        del built[conv]
    stored = []
    shown = {}
    for c in stored_kinds:
        if store:  # its credits are computed from its touches' cached table when stored
            stored.append(place(wh, journeys(c), cfg, [DICTIONARY_MODEL])[DICTIONARY_MODEL])
        shown[c] = sourced_influenced(wh, journeys(c).table)
        del built[c]
    if store:
        store_placed(wh, stored, cfg)
    del stored
    pipeline, revenue = shown["opportunity"], shown["closed_won"]
    names = ro.warehouse.to_arrow(ro.warehouse.table("campaigns").select("campaign_id", "name"))
    lookup = dict(zip(names["campaign_id"].to_pylist(), names["name"].to_pylist(), strict=True))
    by_campaign["campaign"] = by_campaign["campaign"].map(lambda c: lookup.get(c, c))
    perf = performance_table(ro.warehouse, ro.model, "channel")
    perf = perf[perf["channel"].notna()].sort_values("marketing_spend", ascending=False)
    return AttributionReportData(
        scope=Scope.of(cfg, conv, tuple(results)),
        stored_scope=[Scope.of(cfg, c, (DICTIONARY_MODEL,)).text for c in stored_kinds],
        results=results,
        by_channel=by_channel,
        by_campaign=by_campaign,
        fits=_fits(results),
        perf=perf.reset_index(drop=True),
        pipeline=pipeline,
        revenue=revenue,
    )


def attribution_charts(data: AttributionReportData) -> dict[str, str]:
    """The report's charts as SVG (the web workspace's attribution report page shows the
    same); a channel without spend has no point on the scatter and no ROAS bar."""
    by_channel, perf = data.by_channel, data.perf
    chosen = [m for m in CHART_MODELS if m in data.results]
    roas = perf.dropna(subset=["roas"]).sort_values("roas", ascending=False)
    return {
        "models": charts.grouped_bars(
            by_channel["channel"].astype(str).tolist(),
            {m: by_channel[m].tolist() for m in chosen},
            f"Conversions ({data.scope.conversion}) credited per channel, by model",
        ),
        "spend": spend_scatter(
            perf.dropna(subset=["marketing_spend", "attributed_pipeline"]),
            "Spend vs attributed pipeline per channel",
        ),
        "roas": charts.bar_chart(
            roas["channel"].astype(str).tolist(),
            roas["roas"].tolist(),
            "ROAS per channel (attributed revenue / spend)",
            "number",
        ),
    }


def _num(value: object, spec: str) -> str:
    """A report cell: `spec`'s format, or n/a for a missing value (never 0)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return spec.format(value)


def write_attribution_report(
    ro: RevOps, path: Path, conversion: ConversionType | None = None
) -> Path:
    """Render the attribution report to `path` (one self-contained HTML file)."""
    data = attribution_report_data(ro, conversion)
    env = Environment(
        loader=PackageLoader("revops.reports", "templates"),
        autoescape=select_autoescape(["html"]),
    )
    html = env.get_template("attribution.html").render(
        company=ro.model.company.name,
        currency=ro.model.company.currency,
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        config_digest=ro.config.digest,
        config_path=str(ro.config.path),
        scope=data.scope.text,
        stored_scope=data.stored_scope,
        journeys=next(iter(data.results.values())),
        models=list(data.results),
        svgs=attribution_charts(data),
        by_channel=_records(data.by_channel),
        channels=data.by_channel["channel"].astype(str).tolist(),
        by_campaign=_records(data.by_campaign),
        fits=_records(data.fits),
        pipeline=_records(data.pipeline),
        revenue=_records(data.revenue),
        perf=_records(data.perf),
        num=_num,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path
