"""Dimensions: what a metric can be cut and filtered by, and the joins that attach them.

Any column can cut a metric, found in this order from the metric's table:
1. a named dimension of the data model (the table's `dimensions` map: `segment` is
   `account.segment` on opportunities), so `--by segment` means the same on every table;
2. a column of the table itself, canonical or custom (read from the live warehouse table, so a
   custom field added by a source mapping is usable with no registration);
3. a dotted path through the data model's relations (`account.industry`, `owner.team`);
4. a column one relation away, when exactly one relation has it (`industry` on opportunities
   is `account.industry`); two candidates are an error naming both.
Joins are left joins, one per relation hop and only for dimensions actually requested, so rows
whose related record is missing keep a NULL dimension instead of vanishing from the metric.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import ibis
import ibis.expr.types as ir

from revops.warehouse import schema

Tables = Callable[[str], ir.Table]


Columns = Callable[[str], Sequence[str]]


def resolvable(table_name: str) -> dict[str, str]:
    """Named dimension → path for every named dimension `table_name` declares."""
    return dict(schema.table(table_name).dimensions)


def available(table_name: str, columns: Columns) -> list[str]:
    """Every name `resolve` accepts from `table_name` (dotted paths one relation deep)."""
    t = schema.table(table_name)
    out = list(t.dimensions)
    out += [c for c in columns(table_name) if c not in out]
    for rel in t.relations:
        out += [f"{rel.name}.{c}" for c in columns(rel.table)]
    return out


def resolve(table_name: str, name: str, columns: Columns) -> str:
    """The path (`column` or `relation.….column`) that `name` means on `table_name`.

    Raises KeyError with a one-line message listing what is available when nothing matches.
    """
    t = schema.table(table_name)
    if name in t.dimensions:
        return t.dimensions[name]
    if "." in name:
        *hops, column = name.split(".")
        current = t
        for hop in hops:
            try:
                current = schema.table(current.relation(hop).table)
            except KeyError:
                current = None  # type: ignore[assignment]
                break
        if current is not None and column in columns(current.name):
            return name
    elif name in columns(table_name):
        return name
    else:
        hits = [f"{r.name}.{name}" for r in t.relations if name in columns(r.table)]
        if len(hits) == 1:
            return hits[0]
        if hits:
            raise KeyError(f"{name!r} is ambiguous on {table_name}: say {' or '.join(hits)}")
    listed = ", ".join(available(table_name, columns))
    raise KeyError(f"{table_name} has no column {name!r}; available: {listed}")


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
