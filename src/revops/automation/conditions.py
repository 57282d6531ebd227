"""Conditions: the metric dictionary's expression grammar over a record and its relations.

`when: "account.segment == 'Enterprise' and country in ['DE', 'FR']"` is parsed and compiled
by `revops.metrics.expressions` (the same whitelist as every filter in revops.yaml) into an
Ibis predicate, so it runs in the database and is never pasted into SQL. Dotted names follow
the data model's relations with left joins; a condition on a missing value is not met.
"""

from __future__ import annotations

from collections.abc import Iterable

import ibis
import pyarrow as pa

from revops.automation.sources import Tables
from revops.metrics import dimensions
from revops.metrics.expressions import compile_predicate, names
from revops.warehouse import Warehouse
from revops.warehouse.schema import table


def matching(
    wh: Warehouse, tables: Tables, record_table: str, when: str, ids: Iterable[str], label: str
) -> set[str]:
    """The ids among `ids` whose record satisfies `when`."""
    wanted_ids = sorted(set(ids))
    if not wanted_ids:
        return set()
    pk = table(record_table).primary_key[0]
    rec = tables(record_table)
    chosen = ibis.memtable(pa.table({"_id": pa.array(wanted_ids, pa.string())}))
    rows = rec.filter(rec[pk].isin(chosen._id))
    wanted = names(when, metric=label, paths=True)

    def columns(name: str) -> tuple[str, ...]:
        return tuple(tables(name).columns)

    paths = {f"_w{i}": dimensions.resolve(record_table, n, columns) for i, n in enumerate(wanted)}
    frame = dimensions.attach(record_table, rows, {"_id": rows[pk]}, paths, tables)
    values = {n: frame[f"_w{i}"] for i, n in enumerate(wanted)}
    hit = frame.filter(compile_predicate(when, values, metric=label)).select("_id")
    return {str(v) for v in wh.to_arrow(hit).column("_id").to_pylist()}
