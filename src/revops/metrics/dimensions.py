"""Dimensions: which ones a metric supports, and the joins that attach them to its rows.

A table's `dimensions` map gives each dimension a column or a dotted path through relations
(`person.account.segment`). Joins are left joins, one per relation hop and only for dimensions
actually requested, so rows whose related record is missing keep a NULL dimension instead of
vanishing from the metric.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import ibis
import ibis.expr.types as ir

from revops.warehouse import schema

Tables = Callable[[str], ir.Table]


def resolvable(table_name: str) -> dict[str, str]:
    """Dimension name → path for every dimension `table_name` can resolve."""
    return dict(schema.table(table_name).dimensions)


def attach(
    table_name: str,
    rows: ir.Table,
    keep: Mapping[str, ir.Value],
    dims: Mapping[str, str],
    tables: Tables,
    depth: int = 0,
) -> ir.Table:
    """`rows` projected to `keep` plus one column per dimension in `dims` (name → path).

    Direct columns are selected as they are; each relation hop becomes one left join against a
    lookup (primary key + the dimensions reached through it), built recursively, so two
    dimensions behind the same relation (segment and region via person.account) share a join.
    """
    table = schema.table(table_name)
    direct = {d: p for d, p in dims.items() if "." not in p}
    hops: dict[str, dict[str, str]] = {}
    for d, p in dims.items():
        if "." in p:
            rel, rest = p.split(".", 1)
            hops.setdefault(rel, {})[d] = rest
    fks = {rel: f"_fk{depth}_{rel}" for rel in hops}
    if not keep and not dims:
        keep = {"_row": ibis.literal(1)}  # a count over all time needs no column, SQL one
    out = rows.select(
        **keep,
        **{d: rows[c] for d, c in direct.items()},
        **{fks[rel]: rows[table.relation(rel).column] for rel in hops},
    )
    for rel_name, sub in hops.items():
        relation = table.relation(rel_name)
        target = tables(relation.table)
        key = f"_k{depth + 1}"
        pk = schema.table(relation.table).primary_key[0]
        lookup = attach(relation.table, target, {key: target[pk]}, sub, tables, depth + 1)
        joined = out.left_join(lookup, out[fks[rel_name]] == lookup[key])
        out = joined.drop(fks[rel_name], key)
    return out
