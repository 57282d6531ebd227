"""The tables triggers read: the stored ones, or the stored ones with a pending write laid over.

A trigger evaluated inside a write (the transactional outbox, `revops.automation.outbox`) must
see the rows about to be committed, or an event about a lead created in that very write could
not read the lead. `overlaid` answers each table as the stored rows whose keys the write does
not touch plus the write's rows, so the same trigger and condition code serves both modes.
Columns a partial upsert leaves out read as missing in the overlay (not as the stored value).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from revops.warehouse import Batch, Warehouse
from revops.warehouse.schema import table
from revops.warehouse.warehouse import ARROW_TYPES, arrow_schema

Tables = Callable[[str], ir.Table]


def stored(wh: Warehouse) -> Tables:
    return wh.table


def canonical(name: str, data: pa.Table) -> pa.Table:
    """`data` with exactly the canonical columns and types of table `name` (missing: null)."""
    t = table(name)
    arrays = [
        data.column(c.name).cast(ARROW_TYPES[c.type])
        if c.name in data.column_names
        else pa.nulls(data.num_rows, ARROW_TYPES[c.type])
        for c in t.columns
    ]
    return pa.Table.from_arrays(arrays, schema=arrow_schema(t))


def overlaid(wh: Warehouse, batches: Sequence[Batch]) -> Tables:
    """Each table as it will read once `batches` commit (last batch of a key wins; a `delete`
    batch removes its keys and adds no row)."""
    pending: dict[str, list[Batch]] = {}
    for b in batches:
        pending.setdefault(b.table, []).append(b)
    cache: dict[str, ir.Table] = {}

    def lookup(name: str) -> ir.Table:
        if name not in pending:
            return wh.table(name)
        if name in cache:
            return cache[name]
        t = table(name)
        if any(b.stage is not None for b in pending[name]):
            cache[name] = _staged(wh, name, pending[name])
            return cache[name]
        replaced = any(b.mode == "replace" for b in pending[name])
        every = pa.concat_tables([canonical(name, b.data) for b in pending[name]])
        written = [canonical(name, b.data) for b in pending[name] if b.mode != "delete"]
        new = ibis.memtable(pa.concat_tables(written) if written else every.slice(0, 0))
        if replaced:
            cache[name] = new
            return new
        base = wh.table(name).select(*t.column_names)
        touched = ibis.memtable(every.select(list(t.primary_key)))
        keys = touched.distinct().mutate(_hit=ibis.literal(1))
        joined = base.left_join(keys, list(t.primary_key))
        kept = joined.filter(joined._hit.isnull()).select(*(base[c] for c in t.column_names))
        # the stored types as the backend reports them: Spark's timestamps carry no precision
        # where Arrow's say microseconds, and a union needs equal schemas
        cache[name] = kept.union(new.cast(kept.schema()))
        return cache[name]

    return lookup


def _staged(wh: Warehouse, name: str, pending: Sequence[Batch]) -> ir.Table:
    """Table `name` as a staged batch (`Batch.stage`, the write's only batch of it) leaves it,
    read through `Warehouse.staged_table` rather than from `Batch.data` (empty): a
    `replace` is the staged rows; a `merge` sets the columns it brings on the stored rows of
    its keys (the others keep their stored values, as the write keeps them) and adds its new
    keys, the columns it does not bring empty (as the write inserts them)."""
    if len(pending) != 1 or pending[0].mode not in ("replace", "merge"):
        raise ValueError(f"{name}: a staged batch is read alone, as a replace or a merge")
    batch, t = pending[0], table(name)
    assert batch.stage is not None
    rows = wh.staged_table(batch.stage)
    base = wh.table(name).select(*t.column_names)
    types = base.schema()
    if batch.mode == "replace":
        missing = {c: ibis.null().cast(types[c]) for c in t.column_names if c not in rows.columns}
        return rows.mutate(**missing).select(*t.column_names)
    keys = list(t.primary_key)
    brought = {c: f"_staged_{c}" for c in rows.columns}
    staged = rows.rename({new: old for old, new in brought.items()}).mutate(_hit=ibis.literal(1))
    joined = base.left_join(staged, [base[k] == staged[brought[k]] for k in keys])
    hit = joined._hit.notnull()
    kept = joined.select(
        **{
            c: ibis.ifelse(hit, joined[brought[c]], joined[c]) if c in brought else joined[c]
            for c in t.column_names
        }
    )
    stored = base.select(*keys).mutate(_stored=ibis.literal(1))
    fresh = rows.left_join(stored, keys)
    fresh = fresh.filter(fresh._stored.isnull())
    new = fresh.select(
        **{c: fresh[c] if c in rows.columns else ibis.null().cast(types[c]) for c in t.column_names}
    )
    return kept.union(new.cast(kept.schema()))
