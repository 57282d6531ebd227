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
    from revops.identity.dedupe import find_duplicates
    from revops.identity.dedupe_store import save_result

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
