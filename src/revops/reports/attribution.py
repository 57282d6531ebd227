"""The attribution report: every model side by side, sourced vs influenced, spend vs return.

One offline HTML page. The scope (models, conversions, lookback, level) is printed at the top and
under every chart. The W-shaped credits for opportunities and closed-won deals are stored in
`attribution_credits` first, so the dictionary metrics on the page (attributed pipeline, ROAS,
ROI) are the same numbers `revops metrics compute` gives afterwards.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape

from revops.attribution.journeys import load_inputs
from revops.attribution.markov import MarkovResult
from revops.attribution.performance import performance_table, sourced_influenced
from revops.attribution.run import Attribution, compare_journeys, journeys_for, write_credits
from revops.attribution.scope import Scope
from revops.attribution.shapley import ShapleyResult
from revops.config.attribution import ConversionType
from revops.context import RevOps
from revops.reports import charts

CHART_MODELS = ("first_touch", "last_touch", "linear", "w_shaped", "markov", "shapley")
DICTIONARY_MODEL = "w_shaped"  # the model of attributed_pipeline / attributed_revenue


def comparison_frame(results: Mapping[str, Attribution], by: str = "channel") -> pd.DataFrame:
    """Rows: channels (or campaigns); columns: conversions credited by each model."""
    cols = {
        m: r.by(by).set_index(by if by == "channel" else "campaign_id")["conversions"]
        for m, r in results.items()
    }
    out = pd.DataFrame(cols).fillna(0.0)
    first = next(iter(cols))
    out = out.sort_values(first, ascending=False)
    out.index.name = by
    return out.reset_index()


def spend_scatter(perf: pd.DataFrame, title: str) -> str:
    """Spend (x) against attributed pipeline (y), one labelled point per channel."""
    with plt.rc_context({"svg.fonttype": "path", "font.size": 9, "axes.titlesize": 10}):
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


def _fits(results: Mapping[str, Attribution]) -> pd.DataFrame:
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


def write_attribution_report(
    ro: RevOps, path: Path, conversion: ConversionType | None = None
) -> Path:
    """Render the attribution report to `path` (one self-contained HTML file)."""
    cfg = ro.model.attribution
    conv = conversion or cfg.default_conversion
    inputs = load_inputs(ro.warehouse)
    built: dict[ConversionType, pd.DataFrame] = {}

    def journeys(c: ConversionType) -> pd.DataFrame:
        """Each conversion's journeys built once: the page reads them up to three times."""
        if c not in built:
            built[c] = journeys_for(inputs, c, cfg)
        return built[c]

    results = compare_journeys(journeys(conv), conv, cfg)
    scope = Scope.of(cfg, conv, tuple(results))
    stored = [
        compare_journeys(journeys(c), c, cfg, [DICTIONARY_MODEL])[DICTIONARY_MODEL]
        for c in ("opportunity", "closed_won")
    ]
    write_credits(ro.warehouse, stored, cfg)
    by_channel = comparison_frame(results, "channel")
    by_campaign = comparison_frame(results, "campaign").head(20)
    names = ro.warehouse.to_arrow(ro.warehouse.table("campaigns").select("campaign_id", "name"))
    lookup = dict(zip(names["campaign_id"].to_pylist(), names["name"].to_pylist(), strict=True))
    by_campaign["campaign"] = by_campaign["campaign"].map(lambda c: lookup.get(c, c))
    chosen = [m for m in CHART_MODELS if m in results]
    svgs = {
        "models": charts.grouped_bars(
            by_channel["channel"].astype(str).tolist(),
            {m: by_channel[m].tolist() for m in chosen},
            f"Conversions ({conv}) credited per channel, by model",
        )
    }
    perf = performance_table(ro.warehouse, ro.model, "channel")
    perf = perf[perf["channel"].notna()].fillna(0.0)
    perf = perf.sort_values("marketing_spend", ascending=False)
    svgs["spend"] = spend_scatter(perf, "Spend vs attributed pipeline per channel")
    svgs["roas"] = charts.bar_chart(
        perf.sort_values("roas", ascending=False)["channel"].astype(str).tolist(),
        perf.sort_values("roas", ascending=False)["roas"].tolist(),
        "ROAS per channel (attributed revenue / spend)",
        "number",
    )
    pipeline = sourced_influenced(journeys("opportunity"))
    revenue = sourced_influenced(journeys("closed_won"))
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
        scope=scope.text,
        stored_scope=[r.scope.text for r in stored],
        journeys=next(iter(results.values())),
        models=list(results),
        svgs=svgs,
        by_channel=_records(by_channel),
        channels=by_channel["channel"].astype(str).tolist(),
        by_campaign=_records(by_campaign),
        fits=_records(_fits(results)),
        pipeline=_records(pipeline),
        revenue=_records(revenue),
        perf=_records(perf),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path
