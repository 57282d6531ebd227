"""`revops attribution`: run one model, compare them all, marketing performance, the report.

Every command prints the attribution scope (model, conversions, lookback, level) above its
numbers, so an attributed figure never travels without the question it answers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from revops.access import require
from revops.cli._common import (
    ConfigOpt,
    Format,
    FormatOpt,
    WarehouseOpt,
    console,
    formatted,
    open_revops,
    print_frame,
    working,
)

attribution_app = typer.Typer(help="Multi-touch attribution and marketing performance.")

Conversion = Literal["mql", "sql", "opportunity", "closed_won"]
By = Literal["channel", "campaign"]
ConversionOpt = Annotated[
    Conversion | None,
    typer.Option("--conversion", help="mql, sql, opportunity or closed_won (default: config)."),
]
ByOpt = Annotated[By, typer.Option("--by", help="channel or campaign.")]


def _scope(text: str) -> None:
    console.print(f"[dim]{text}[/]", highlight=False)


@attribution_app.command("run")
@formatted
def run(
    model: Annotated[str | None, typer.Option("--model", help="Model (default: config).")] = None,
    conversion: ConversionOpt = None,
    by: ByOpt = "channel",
    write: Annotated[bool, typer.Option(help="Store credits in attribution_credits.")] = True,
    order: Annotated[
        int | None, typer.Option("--order", min=1, max=4, help="Markov order (default: config).")
    ] = None,
    fmt: FormatOpt = Format.table,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Attribute one conversion type with one model and store the credits."""
    from revops.attribution import MarkovResult, ShapleyResult
    from revops.attribution.journeys import load_inputs
    from revops.attribution.run import check_models, journeys_for, place, store_placed

    with open_revops(config, warehouse) as ro:
        if write:
            require(ro.warehouse, "attribution.run")
        wh, cfg = ro.warehouse, ro.model.attribution
        if order is not None:
            cfg = cfg.model_copy(update={"markov_order": order})
        chosen = model or cfg.default_model
        check_models([chosen])
        with working("attributing conversions"):
            j = journeys_for(load_inputs(wh), conversion or cfg.default_conversion, cfg)
            res = place(wh, j, cfg, [chosen])[chosen]
            sums = res.by(wh, by)
        _scope(res.scope.text)
        console.print(
            f"{res.journeys:,} converting journeys, {res.non_converting:,} non-converting",
            highlight=False,
        )
        print_frame(sums, f"Credits per {by}", name="credits")
        fitted = res.fitted
        if isinstance(fitted, MarkovResult):
            import pandas as pd

            chain = pd.DataFrame(
                {
                    "channel": fitted.channels,
                    "removal_effect": fitted.removal_effects,
                    "conversions": fitted.conversions,
                    "value": fitted.value,
                }
            ).sort_values("conversions", ascending=False)
            title = (
                f"Markov chain, order {fitted.order}, {fitted.n_states:,} states, exact; "
                f"P(conversion) = {fitted.conversion_probability:.4f}"
            )
            print_frame(
                chain,
                title,
                name="markov",
                kinds={"removal_effect": "ratio", "conversions": "number", "value": "money"},
            )
        elif isinstance(fitted, ShapleyResult):
            how = "exact" if fitted.exact else f"sampled, {fitted.samples} permutations"
            console.print(f"Shapley values {how}", highlight=False)
        if isinstance(fitted, MarkovResult | ShapleyResult):
            from revops.attribution.credit import unplaced

            per_channel = sums if by == "channel" else res.by(wh, "channel")
            credited = dict(zip(per_channel["channel"], per_channel["conversions"], strict=True))
            for channel, amount in unplaced(credited, fitted).items():
                console.print(
                    f"[yellow]{channel}: {amount:,.2f} conversions credited by the model, "
                    "but no converting journey has a touch of it to carry them[/]",
                    highlight=False,
                )
        if write:
            rows = store_placed(wh, [res], cfg)
            console.print(f"stored {rows:,} credit rows in attribution_credits", highlight=False)


@attribution_app.command("compare")
@formatted
def compare_models(
    by: ByOpt = "channel",
    conversion: ConversionOpt = None,
    fmt: FormatOpt = Format.table,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Every model side by side: conversions credited per channel or campaign."""
    from revops.attribution.journeys import load_inputs
    from revops.attribution.run import journeys_for, place
    from revops.attribution.scope import Scope
    from revops.reports.attribution import comparison_frame

    with open_revops(config, warehouse) as ro:
        wh, cfg = ro.warehouse, ro.model.attribution
        conv = conversion or cfg.default_conversion
        with working("comparing attribution models"):
            results = place(wh, journeys_for(load_inputs(wh), conv, cfg), cfg)
            frame = comparison_frame(wh, results, by)
        _scope(Scope.of(cfg, conv, tuple(results)).text)
        models = list(results)
        for i in range(0, len(models), 5):  # five models per table keeps it readable
            part = models[i : i + 5]
            print_frame(frame[[by, *part]], f"Conversions credited per {by}: {', '.join(part)}")


@attribution_app.command("performance")
@formatted
def performance(
    by: ByOpt = "channel",
    fmt: FormatOpt = Format.table,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Sourced vs influenced pipeline and revenue; spend, cost per lead/MQL/SQL/opportunity,
    attributed pipeline, ROAS and ROI."""
    from revops.attribution.journeys import load_inputs
    from revops.attribution.performance import performance_table
    from revops.attribution.placed import sourced_influenced
    from revops.attribution.run import journeys_for
    from revops.attribution.scope import Scope

    with open_revops(config, warehouse) as ro:
        cfg = ro.model.attribution
        inputs = load_inputs(ro.warehouse)
        pairs: tuple[tuple[Conversion, str], ...] = (
            ("opportunity", "pipeline"),
            ("closed_won", "revenue"),
        )
        for conv, what in pairs:
            _scope(Scope.of(cfg, conv, ("first touch = sourced, any touch = influenced",)).text)
            table = sourced_influenced(ro.warehouse, journeys_for(inputs, conv, cfg).table, by)
            print_frame(table, f"Sourced vs influenced {what} by {by}")
        _scope(
            "Attribution scope: attributed_pipeline / attributed_revenue use the W-shaped model "
            "over stored credits (run `revops attribution run --model w_shaped` for opportunity "
            "and closed_won first); cost ratios use sourced counts."
        )
        print_frame(performance_table(ro.warehouse, ro.model, by), f"Marketing performance by {by}")


@attribution_app.command("report")
def report(
    out: Annotated[Path, typer.Option(help="Where to write the HTML.")] = Path(
        "out/reports/attribution.html"
    ),
    conversion: ConversionOpt = None,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Write the attribution report (offline HTML with charts)."""
    from revops.reports.attribution import write_attribution_report

    with open_revops(config, warehouse) as ro:
        path = write_attribution_report(ro, out, conversion)
    console.print(f"wrote [bold]{path}[/]")
