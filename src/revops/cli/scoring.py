"""`revops score`: train the lead model, write lead_scores, show the validation report.

The report is what sales validates before trusting a score: AUC on a later period the model
never saw, conversion and lift by decile, and how the current MQL threshold splits conversion.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
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
)

score_app = typer.Typer(
    help="Lead scoring: rule scores, the predictive model and its report.", no_args_is_help=True
)

OutOpt = Annotated[Path, typer.Option("--out", help="Folder for the model and its report.")]


@score_app.command("train")
def score_train(
    config: ConfigOpt = None, warehouse: WarehouseOpt = None, out: OutOpt = Path("out/scoring")
) -> None:
    """Train the lead model on history (time split) and print its validation report."""
    from revops.scoring.run import check_stages, load_history, report_dict, train_and_save

    with open_revops(config, warehouse) as ro:
        require(ro.warehouse, "scoring.write")
        cfg = ro.model.scoring
        check_stages(cfg, {s.name for s in ro.model.lifecycle.stages})
        with console.status("training the lead model"):
            models = train_and_save(load_history(ro.warehouse, cfg), cfg, out)
    print_report(report_dict(models, cfg.model.use_withheld))
    console.print(f"model: [bold]{out}[/]")


@score_app.command("apply")
@formatted
def score_apply(
    fmt: FormatOpt = Format.table,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
    out: OutOpt = Path("out/scoring"),
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Score as of (ISO time); default: data end.")
    ] = None,
    rules_only: Annotated[
        bool, typer.Option("--rules-only", help="Write rule scores without a trained model.")
    ] = False,
) -> None:
    """Score every person into lead_scores (rule scores and the model's probability)."""
    from revops.errors import RevOpsError
    from revops.scoring.run import load_models, score_all

    with open_revops(config, warehouse) as ro:
        require(ro.warehouse, "scoring.write")
        try:
            at = datetime.fromisoformat(as_of) if as_of else None
        except ValueError:
            raise RevOpsError(f"--as-of {as_of!r} is not an ISO date or time") from None
        models = None if rules_only else load_models(out)
        done = score_all(ro.warehouse, ro.model.scoring, models, at, ro.model.lifecycle)
    df = done.table.to_pandas()
    summary = pd.DataFrame(
        {
            "persons": [len(df)],
            "mql_ready": [int(df["is_mql_ready"].sum())],
            "avg_fit": [df["fit"].mean()],
            "avg_engagement": [df["engagement"].mean()],
            "avg_probability": [df["predicted_sql_probability"].mean()],
        }
    )
    print_frame(
        summary,
        f"lead_scores written ({df['model_version'].iloc[0] or 'rules only'})",
        name="scores",
        kinds={
            "persons": "count",
            "mql_ready": "count",
            "avg_fit": "number",
            "avg_engagement": "number",
            "avg_probability": "ratio",
        },
    )
    if done.source is not None:
        style = "yellow" if "WITHHELD" in done.source else "dim"
        console.print(f"[{style}]predicted_sql_probability: {done.source}[/]")
    moves = done.moves
    if moves is not None:
        stages = ro.model.scoring.stages
        console.print(
            f"lifecycle: {moves.events.num_rows:,} stage changes asked; "
            f"{moves.accepted(stages.mql):,} became {stages.mql}, "
            f"{moves.accepted(stages.recycle_to):,} {stages.recycle_to}, "
            f"{moves.refused:,} refused by the lifecycle (see lifecycle_rejections)"
        )


@score_app.command("report")
@formatted
def score_report(out: OutOpt = Path("out/scoring"), fmt: FormatOpt = Format.table) -> None:
    """Print the stored validation report of the trained model."""
    import json

    from revops.cli._common import user_errors
    from revops.scoring.run import REPORT_FILE

    with user_errors():
        path = out / REPORT_FILE
        if not path.exists():
            raise FileNotFoundError(f"no report at {path}; run `revops score train` first")
        print_report(json.loads(path.read_text()))


def print_report(report: dict[str, Any]) -> None:
    """AUC, the split, deciles and the threshold cut per target."""
    console.print(f"model [bold]{report['version']}[/]")
    for name, t in report["targets"].items():
        s = t["split"]
        console.print(
            f"[bold]{name}[/]: AUC {t['auc']:.3f} (rule score {t['rule_auc']:.3f}) on "
            f"{t['n_test']:,} leads cut from {s['test_from']} (trained on {t['n_train']:,}, "
            f"label windows closed by {s['train_window_end']}); base rate {t['base_rate']:.1%}"
        )
        deciles = pd.DataFrame(t["deciles"])[
            ["decile", "leads", "converted", "conversion_rate", "lift", "min_score", "max_score"]
        ]
        print_frame(
            deciles,
            name,
            name=f"deciles_{name}",
            kinds={
                "decile": "text",
                "leads": "count",
                "converted": "count",
                "lift": "multiple",
                "min_score": "number",
                "max_score": "number",
            },
        )
        th = t["threshold"]
        console.print(
            f"MQL threshold {th['mql_threshold']:g}: {th['conversion_above']:.1%} of "
            f"{th['leads_above']:,.0f} leads above convert vs {th['conversion_below']:.1%} of "
            f"{th['leads_below']:,.0f} below"
        )
        cal = t.get("calibration")
        if cal is None:
            console.print("calibration: not measured (model stored before it was; retrain)")
        else:
            console.print(f"calibration: {cal['summary']}")
            print_frame(pd.DataFrame(cal["table"]), f"{name} reliability (raw)")
            if cal["recalibrated"]:
                print_frame(pd.DataFrame(cal["table_after"]), f"{name} reliability (recalibrated)")
        verdict = t.get("verdict")
        if verdict is None:
            console.print("against the rule score: not judged (stored before it was; retrain)")
        else:
            style = "bold yellow" if verdict["withheld"] else "green"
            console.print(f"[{style}]{verdict['summary']}[/]")
    for name, why in report.get("skipped", {}).items():
        console.print(f"[yellow]{name} skipped:[/] {why}")
