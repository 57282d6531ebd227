"""`quality undo RUN_ID`: put back exactly the values a fix run replaced.

A value is restored only where the field still holds what the fix wrote: if someone (or a new
load) changed it since, the newer value wins and the change is counted as a conflict (and left
not undone) instead of being silently overwritten. Restored values and the `undone_at` marks
land in one transaction.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow as pa

from revops.errors import RevOpsError
from revops.quality.fix import Change, UndoResult, field_batches
from revops.warehouse import Batch, Warehouse, schema


class UndoError(RevOpsError):
    """The fix run does not exist or was already undone."""


def undo(wh: Warehouse, run_id: str, *, now: dt.datetime | None = None) -> UndoResult:
    log = wh.table("quality_changes")
    rows = wh.execute(log.filter(log.fix_run_id == run_id))
    if rows.empty:
        raise UndoError(f"no quality fix run {run_id!r} (see the run id `quality fix` printed)")
    pending = rows[rows["undone_at"].isna()]
    if pending.empty:
        raise UndoError(f"quality fix run {run_id!r} was already undone")
    restore: list[Change] = []
    restored_ids: list[str] = []
    conflicts = 0
    for (table, field), group in pending.groupby(["table_name", "field"]):
        key = schema.table(str(table)).primary_key[0]
        t = wh.table(str(table))
        current = wh.execute(t.select(key, field)).set_index(key)[field]
        now_values = group["record_id"].map(current)
        for rec in group.assign(current=now_values.to_numpy()).itertuples(index=False):
            if rec.current is not None and not pd.isna(rec.current) and rec.current == rec.after:
                before = None if rec.before is None or pd.isna(rec.before) else str(rec.before)
                restore.append(
                    Change(str(table), str(rec.record_id), str(field), before, rec.after, rec.rule)
                )
                restored_ids.append(str(rec.change_id))
            else:
                conflicts += 1
    at = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    marks = pa.table(
        {
            "change_id": pa.array(restored_ids, pa.string()),
            "undone_at": pa.array([at] * len(restored_ids), pa.timestamp("us")),
        }
    )
    batches = field_batches(restore, lambda c: c.before)
    wh.write_many([*batches, Batch("quality_changes", marks, "upsert")])
    return UndoResult(run_id, len(restore), conflicts)
