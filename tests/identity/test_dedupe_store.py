"""Stored dedupe runs, on DuckDB and PostgreSQL: a table's new run replaces only its own rows."""

from __future__ import annotations

import pyarrow as pa

from revops.config.dedupe import BlockingRule, Comparison, DedupeSettings
from revops.identity.dedupe import dedupe_frame
from revops.identity.dedupe_store import save_result
from revops.warehouse import Warehouse

SETTINGS = DedupeSettings(
    comparisons=(Comparison(field="name", kind="name"), Comparison(field="city", kind="exact")),
    blocking=(BlockingRule(name="city", keys=("city",)),),
    auto_merge_threshold=0.9,
    review_threshold=0.5,
)


def _records(prefix: str) -> pa.Table:
    """Six distinct people in six cities, and the first two entered twice."""
    names = ["anna", "boris", "clara", "dmitri", "elena", "fyodor", "anna", "boris"]
    cities = ["oslo", "rome", "lima", "kyiv", "nice", "graz", "oslo", "rome"]
    return pa.table({"id": [f"{prefix}{i}" for i in range(8)], "name": names, "city": cities})


def test_save_result_replaces_only_the_rows_of_its_table(warehouse: Warehouse) -> None:
    persons = dedupe_frame(_records("p"), SETTINGS)
    accounts = dedupe_frame(_records("a"), SETTINGS)
    save_result(warehouse, "persons", persons)
    save_result(warehouse, "accounts", accounts)
    save_result(warehouse, "persons", persons)  # a re-run must not duplicate or drop rows
    stored = warehouse.sql("SELECT target_table, count(*) FROM dedupe_pairs GROUP BY 1 ORDER BY 1")
    assert stored == [("accounts", persons.pairs.num_rows), ("persons", persons.pairs.num_rows)]
    clusters = warehouse.sql(
        "SELECT target_table, cluster_id, record_id, cluster_size FROM dedupe_clusters "
        "ORDER BY 1, 3"
    )
    expected = [
        (t, f"{p}{c}", f"{p}{r}", 2)
        for t, p in (("accounts", "a"), ("persons", "p"))
        for c, r in ((0, 0), (1, 1), (0, 6), (1, 7))
    ]
    assert sorted(clusters) == sorted(expected)
    statuses = warehouse.sql("SELECT DISTINCT status FROM dedupe_pairs")
    assert {s for (s,) in statuses} <= {"auto_merge", "review"}
