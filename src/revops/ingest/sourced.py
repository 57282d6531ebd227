"""What a source mapping adds to a load's write besides its rows: deletions and lifecycle events.

Both join the load's one transaction, so a load either lands with its deletions, tombstones,
audit entry and events, or not at all.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from revops.ingest.coerce import coerce
from revops.ingest.mapping import Mapped
from revops.warehouse import Batch, Table, Warehouse


def _stored(wh: Warehouse, t: Table, ids: tuple[str, ...]) -> list[str]:
    """The ids among `ids` that the table holds (single-column keys only)."""
    if not ids or len(t.primary_key) != 1 or wh.count(t.name) == 0:
        return []
    key = t.primary_key[0]
    table = wh.table(t.name)
    found = wh.to_arrow(table.filter(table[key].isin(list(set(ids)))).select(key))
    return sorted(str(v) for v in found.column(0).to_pylist())


def deletion_batches(
    wh: Warehouse, t: Table, ids: tuple[str, ...], source: str, *, load_id: str, now: datetime
) -> list[Batch]:
    """Remove stored records the export flags deleted, each with a tombstone and one audit
    entry for the lot; ids never stored need nothing (the row was just not loaded)."""
    gone = _stored(wh, t, ids)
    if not gone:
        return []
    from revops.audit.log import audit_batch

    n = len(gone)
    keys = pa.table({t.primary_key[0]: pa.array(gone, pa.string())})
    tombstones = pa.table(
        {
            "target_table": pa.array([t.name] * n, pa.string()),
            "record_id": pa.array(gone, pa.string()),
            "source": pa.array([source] * n, pa.string()),
            "load_id": pa.array([load_id] * n, pa.string()),
            "deleted_at": pa.array([now] * n, pa.timestamp("us")),
        }
    )
    details = {"table": t.name, "records": n, "load_id": load_id, "source": source}
    audit = audit_batch(wh, "load", "source.delete", t.name, details, at=now.replace(tzinfo=UTC))
    return [
        Batch(t.name, keys, "delete"),
        Batch("source_deletions", tombstones, "upsert"),
        audit,
    ]


def lifecycle_batch(events: pa.Table | None, good: pa.Table, t: Table) -> list[Batch]:
    """Lifecycle events of the rows that loaded, with times typed and kept in order.

    A stage dated before the stage listed ahead of it (a Salesforce ConvertedDate is a date,
    midnight, while CreatedDate on the same day has a time) is moved to that earlier stage's
    time, so the lifecycle engine sees the stages in the order the mapping lists them.
    """
    if events is None or events.num_rows == 0 or t.primary_key[0] not in good.column_names:
        return []
    loaded = pc.is_in(events.column("person_id"), value_set=good.column(t.primary_key[0]))
    events = events.filter(loaded)
    parsed = coerce(events.column("occurred_at").combine_chunks(), "timestamp")
    events = events.set_column(3, "occurred_at", parsed.values).filter(
        pa.array(~parsed.invalid & np.asarray(parsed.values.is_valid()))
    )
    if events.num_rows == 0:
        return []
    rows = sorted(events.to_pylist(), key=lambda r: (r["person_id"], r["event_id"]))
    last: dict[str, datetime] = {}
    for r in rows:
        before = last.get(r["person_id"])
        if before is not None and r["occurred_at"] < before:
            r["occurred_at"] = before
        last[r["person_id"]] = r["occurred_at"]
    return [Batch("lifecycle_events", pa.Table.from_pylist(rows, events.schema), "upsert")]


def sourced_batches(
    wh: Warehouse,
    mapped: Mapped,
    good: pa.Table,
    t: Table,
    source: str,
    *,
    load_id: str,
    now: datetime,
) -> list[Batch]:
    """Deletions and lifecycle events a mapped export brings to its load's write."""
    batches = deletion_batches(wh, t, mapped.deleted_ids, source, load_id=load_id, now=now)
    return batches + lifecycle_batch(mapped.lifecycle_events, good, t)
