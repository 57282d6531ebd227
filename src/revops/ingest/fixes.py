"""Keeping `quality fix` results across reloads.

A fix (a phone rewritten to E.164, a country name to its code) changes the warehouse, not the
CRM, so the next export still carries the old value. Loading it as is would silently undo the
fix, and make every reload count those rows as updated. So where an incoming value equals the
value a fix replaced, on the same record and field, the fixed value is loaded instead; any
other incoming value is a real change in the source and wins.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from revops.warehouse import Warehouse
from revops.warehouse.schema import Table


def active_fixes(wh: Warehouse, t: Table) -> pa.Table:
    """The latest fix not undone per (record, field) of table `t`: record_id, field, before,
    after."""
    q = wh.table("quality_changes")
    q = q.filter((q.table_name == t.name) & q.undone_at.isnull())
    rows = wh.to_arrow(q.select("record_id", "field", "before", "after", "changed_at", "change_id"))
    if rows.num_rows == 0:
        return rows
    rows = rows.sort_by([("changed_at", "descending"), ("change_id", "descending")])
    marked = rows.append_column("__pos", pa.array(range(rows.num_rows), pa.int64()))
    first = marked.group_by(["record_id", "field"], use_threads=False).aggregate([("__pos", "min")])
    return rows.take(first.column("__pos_min"))


def keep_fixes(wh: Warehouse, t: Table, good: pa.Table, fixes: pa.Table | None = None) -> pa.Table:
    """`good` with each value a stored fix replaced put back to the fixed value. `fixes` is
    `active_fixes(wh, t)` when the caller read it already (a load done a slice at a time)."""
    if good.num_rows == 0 or len(t.primary_key) != 1:
        return good
    fixes = active_fixes(wh, t) if fixes is None else fixes
    if fixes.num_rows == 0:
        return good
    ids = pc.cast(good.column(t.primary_key[0]), pa.string())
    for field in set(fixes.column("field").to_pylist()) & set(good.column_names):
        mine = fixes.filter(pc.equal(fixes.column("field"), field))
        at = pc.index_in(ids, value_set=mine.column("record_id"))
        before = pc.take(mine.column("before"), at)
        after = pc.take(mine.column("after"), at)
        column = good.column(field)
        text = pc.fill_null(pc.cast(column, pa.string()), "")
        undone = pc.and_(pc.is_valid(at), pc.equal(text, pc.fill_null(before, "")))
        if not pc.any(undone).as_py():
            continue
        fixed = pc.cast(pc.if_else(pc.equal(after, ""), None, after), column.type)
        i = good.schema.get_field_index(field)
        good = good.set_column(i, field, pc.if_else(undone, fixed, column))
    return good
