"""Storing a dedupe run: pairs and clusters of one table replace those of its previous run."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc

from revops.identity.dedupe import DedupeResult
from revops.warehouse import Batch, Warehouse
from revops.warehouse import table as table_def
from revops.warehouse.warehouse import arrow_schema


def _others(wh: Warehouse, name: str, table: str) -> pa.Table:
    """Rows another table's dedupe left, kept through the replace."""
    expr = wh.table(name)
    data = wh.to_arrow(expr.filter(expr.target_table != table))
    return data.cast(arrow_schema(table_def(name)))


def _stamp(data: pa.Table, table: str, now: datetime, name: str) -> pa.Table:
    n = data.num_rows
    data = data.append_column("target_table", pa.array([table] * n, pa.string()))
    data = data.append_column("found_at", pa.array([now] * n, pa.timestamp("us")))
    return data.select(list(arrow_schema(table_def(name)).names)).cast(
        arrow_schema(table_def(name))
    )


def save_result(wh: Warehouse, table: str, result: DedupeResult) -> None:
    """Write the run's pairs (with auto_merge / review status) and clusters in one transaction."""
    now = datetime.now(UTC).replace(tzinfo=None)
    pairs = result.pairs
    auto = pc.greater_equal(pairs.column("match_probability"), result.auto_merge_threshold)
    status = pc.if_else(auto, "auto_merge", "review")
    pairs = pairs.append_column("status", status)
    batches = [
        Batch(
            "dedupe_pairs",
            pa.concat_tables(
                [_others(wh, "dedupe_pairs", table), _stamp(pairs, table, now, "dedupe_pairs")]
            ),
            "replace",
        ),
        Batch(
            "dedupe_clusters",
            pa.concat_tables(
                [
                    _others(wh, "dedupe_clusters", table),
                    _stamp(result.clusters, table, now, "dedupe_clusters"),
                ]
            ),
            "replace",
        ),
    ]
    wh.write_many(batches)
