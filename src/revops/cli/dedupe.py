"""`revops quality dedupe`: likely duplicates of persons or accounts, with the evidence."""

from __future__ import annotations

import json
from typing import Annotated, Literal

import typer
from rich.table import Table

from revops.access import require
from revops.cli._common import ConfigOpt, WarehouseOpt, console, open_revops
from revops.cli.quality import quality_app


def _evidence_text(evidence: str) -> str:
    doc = json.loads(evidence)
    return ", ".join(f"{f}: {v['level']} ({v['weight']:+.1f})" for f, v in sorted(doc.items()))


@quality_app.command("dedupe")
def dedupe(
    table: Annotated[
        str, typer.Option("--table", "-t", help="persons or accounts.", show_default=False)
    ],
    top: Annotated[int, typer.Option("--top", "-n", help="Clusters to show.")] = 20,
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
        result = find_duplicates(ro.warehouse, ro.model, name)
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
    out = Table(title=f"Duplicate clusters in {name}", title_justify="left", show_lines=True)
    for col in ("cluster", "records", "pair", "p", "evidence"):
        out.add_column(col, overflow="fold")
    for cid in shown:
        members = set(by_cluster[cid])
        for pair in pairs:
            if pair["left_id"] in members and pair["right_id"] in members:
                out.add_row(
                    cid,
                    str(len(members)),
                    f"{pair['left_id']} ~ {pair['right_id']}",
                    f"{pair['match_probability']:.3f}",
                    _evidence_text(pair["evidence"]),
                )
    console.print(out)
