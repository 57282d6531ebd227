"""`revops quality dedupe`: likely duplicates of persons or accounts, with the evidence."""

from __future__ import annotations

import json
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
from revops.cli.quality import quality_app


def _evidence_text(evidence: str) -> str:
    doc = json.loads(evidence)
    return ", ".join(f"{f}: {v['level']} ({v['weight']:+.1f})" for f, v in sorted(doc.items()))


@quality_app.command("dedupe")
@formatted
def dedupe(
    table: Annotated[
        str, typer.Option("--table", "-t", help="persons or accounts.", show_default=False)
    ],
    top: Annotated[int, typer.Option("--top", "-n", help="Clusters to show.")] = 20,
    fmt: FormatOpt = Format.table,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Find duplicates (Fellegi-Sunter with EM), store pairs and clusters, show the largest."""
    from revops.identity import stored_fit
    from revops.identity.dedupe import find_duplicates
    from revops.identity.dedupe_store import save_result
    from revops.warehouse.clock import utc_now

    if table not in ("persons", "accounts"):
        console.print("[bold red]error:[/] --table must be persons or accounts", highlight=False)
        raise typer.Exit(1)
    name: Literal["persons", "accounts"] = "persons" if table == "persons" else "accounts"
    with open_revops(config, warehouse) as ro:
        require(ro.warehouse, "identity.merge")
        with working(f"finding duplicate {name}") as step:
            step("scoring candidate pairs")
            result = find_duplicates(ro.warehouse, ro.model, name)
            step("storing pairs and clusters")
            save_result(ro.warehouse, name, result)
            # the fit over every record is the model duplicate rules at entry reuse from now on
            stored_fit.save(
                ro.warehouse,
                name,
                result.params,
                ro.model.dedupe.settings(name),
                records=ro.warehouse.count(name),
                reason="quality dedupe",
                now=utc_now(),
            )
    clusters = result.clusters.to_pylist()
    pairs = result.pairs.to_pylist()
    n_clusters = len({c["cluster_id"] for c in clusters})
    console.print(
        f"{result.candidate_pairs:,} candidate pairs scored; "
        f"{result.auto_merge_pairs().num_rows:,} auto-merge, "
        f"{result.review_pairs().num_rows:,} to review; {n_clusters:,} "
        f"clusters (λ={result.params.lambda_:.2e}, EM {result.params.iterations} iterations, "
        f"{'converged' if result.params.converged else 'NOT converged'}). "
        "Stored in dedupe_pairs and dedupe_clusters."
    )
    by_cluster: dict[str, list[str]] = {}
    for c in clusters:
        by_cluster.setdefault(c["cluster_id"], []).append(c["record_id"])
    weakest = {c["cluster_id"]: c["min_pair_probability"] for c in clusters}
    shown = sorted(by_cluster, key=lambda k: (-len(by_cluster[k]), weakest[k], k))[:top]
    rows = [
        {
            "cluster_id": cid,
            "records": len(by_cluster[cid]),
            "left_id": pair["left_id"],
            "right_id": pair["right_id"],
            "match_probability": pair["match_probability"],
            "evidence": _evidence_text(pair["evidence"]),
        }
        for cid in shown
        for pair in pairs
        if pair["left_id"] in by_cluster[cid] and pair["right_id"] in by_cluster[cid]
    ]
    print_frame(
        rows,
        f"Duplicate clusters in {name}",
        name="clusters",
        kinds={"cluster_id": "text", "left_id": "text", "right_id": "text", "records": "count"},
        keep=("cluster_id", "left_id", "right_id", "match_probability"),
    )


@quality_app.command("model")
@formatted
def model_cmd(
    refit: Annotated[
        bool,
        typer.Option(
            "--refit",
            help="Fit the model on the stored records now, for every table "
            "with duplicate rules (or --table), and use it from the next load on.",
        ),
    ] = False,
    table: Annotated[
        str | None, typer.Option("--table", "-t", help="persons or accounts (default: both).")
    ] = None,
    fmt: FormatOpt = Format.table,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """The Fellegi-Sunter fits duplicate rules at entry use: when, on how many records, why."""
    from revops.identity import stored_fit
    from revops.identity.duplicate_rules import refit as refit_table
    from revops.warehouse.clock import utc_now

    if table not in (None, "persons", "accounts"):
        console.print("[bold red]error:[/] --table must be persons or accounts", highlight=False)
        raise typer.Exit(1)
    names: list[Literal["persons", "accounts"]] = [
        n for n in ("persons", "accounts") if table in (None, n)
    ]
    with open_revops(config, warehouse) as ro:
        if refit:
            require(ro.warehouse, "identity.merge")
            ruled = {r.table for r in ro.model.dedupe.rules}
            for name in names:
                if table is None and name not in ruled:
                    continue
                with working(f"fitting the {name} model"):
                    fit = refit_table(ro.warehouse, ro.model, name, now=utc_now())
                if fit is None:
                    console.print(
                        f"{name}: no fit ({ro.warehouse.count(name):,} records, no two sampled "
                        "ones share a blocking key)"
                    )
                else:
                    console.print(
                        f"[green]✓[/] {name}: fitted on {fit.records:,} records, "
                        f"λ={fit.params.lambda_:.2e}"
                    )
        fits = stored_fit.history(ro.warehouse).to_pylist()
        status = {}
        for name in names:
            current = stored_fit.latest(ro.warehouse, name)
            if current is not None:
                why = stored_fit.stale(
                    current, ro.model.dedupe.settings(name), ro.warehouse.count(name)
                )
                status[name, current.fitted_at] = f"stale: {why}" if why else "in use"
    rows = [
        {
            "table": f["target_table"],
            "fitted_at": f["fitted_at"],
            "records": f["records"],
            "reason": f["reason"],
            "lambda": f"{f['prior']:.2e}",  # 3e-7 and 5e-9 both round to 0 as a number
            "em_iterations": f["iterations"],
            "converged": f["converged"],
            "repaired": f["repaired"],  # fields pooled because their weights fell
            "status": status.get((f["target_table"], f["fitted_at"]), "superseded"),
        }
        for f in fits
        if f["target_table"] in names
    ]
    if not rows:
        console.print("No model fitted yet: the first load with duplicate rules fits one.")
        return
    print_frame(
        rows,
        "Duplicate-rule models (newest first)",
        name="models",
        kinds={
            "table": "text",
            "records": "count",
            "reason": "text",
            "lambda": "text",
            "repaired": "text",
            "status": "text",
        },
        keep=("table", "fitted_at", "records", "status"),
    )
