"""A source mapping at the load's edges: finding it, feeding `map_raw` what it needs from the
warehouse (users, currency rates), and what it adds to the load's write besides its rows.

Deletions and lifecycle events join the load's one transaction, so a load either lands with its
deletions, tombstones, audit entry and events, or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from revops.config.models import OperatingModel
from revops.config.sources import SourceObject, find_object, shipped_sources
from revops.ingest.coerce import coerce
from revops.ingest.errors import IngestError
from revops.ingest.mapping import Mapped, Rates, Related, map_raw
from revops.ingest.raw import RawData
from revops.warehouse import Batch, Table, Warehouse
from revops.warehouse import table as table_def


def find_mapping(
    preset: str | None, table: str, model: OperatingModel | None
) -> tuple[str, SourceObject | None]:
    """The source object `preset` names (`salesforce`, `salesforce.Lead`), from the operating
    model's `sources:` when there is one, else from the shipped mapping files."""
    if preset is None:
        return "", None
    sources = model.sources if model is not None else shipped_sources()
    try:
        return find_object(sources, preset, table)
    except ValueError as exc:
        raise IngestError(str(exc)) from None


def _users(
    wh: Warehouse, mapping: SourceObject | None, columns: tuple[str, ...]
) -> pa.Table | None:
    """user_id, name and email of every user, when the mapping resolves owners by name/email."""
    owner = mapping.owner if mapping else None
    if owner is None or owner.by == "id" or owner.column not in columns:
        return None
    return wh.to_arrow(wh.table("users").select("user_id", "name", "email"))


@dataclass(frozen=True)
class Lookups:
    """What `map_raw` reads from the warehouse and the model: read once per load, so a load
    mapped a slice at a time reads them once too."""

    timezone: str
    users: pa.Table | None
    rates: Rates | None
    related: Related


def lookups(
    wh: Warehouse,
    mapping: SourceObject,
    columns: tuple[str, ...],
    t: Table,
    model: OperatingModel | None,
) -> Lookups:
    """The users, rates and related values a file with `columns` needs mapped."""
    zone = model.company.timezone if model is not None else "UTC"
    users = _users(wh, mapping, columns)
    rates = _rates(wh, mapping, columns, model.company.currency if model is not None else "USD")
    related = {}
    for canonical, relation in mapping.related.items():
        rel = t.relation(relation)
        target = wh.table(rel.table)
        key = table_def(rel.table).primary_key[0]
        related[canonical] = wh.to_arrow(target.select(key, canonical))
    return Lookups(zone, users, rates, related)


def map_with(raw: RawData, mapping: SourceObject, t: Table, name: str, found: Lookups) -> Mapped:
    """`map_raw` of `raw` with lookups read before."""
    return map_raw(
        raw,
        mapping,
        t,
        system=name,
        timezone=found.timezone,
        users=found.users,
        rates=found.rates,
        related=found.related,
    )


def map_source(
    wh: Warehouse,
    raw: RawData,
    mapping: SourceObject | None,
    t: Table,
    name: str,
    model: OperatingModel | None,
) -> Mapped:
    """`map_raw` with what it needs from the warehouse and the operating model."""
    if mapping is None:
        return Mapped(raw, pa.table({}), 0, None)
    return map_with(raw, mapping, t, name, lookups(wh, mapping, raw.columns, t, model))


def _rates(
    wh: Warehouse, mapping: SourceObject, columns: tuple[str, ...], company: str
) -> Rates | None:
    """The dated currency rates, when the export has a currency column to convert."""
    if mapping.currency is None or mapping.currency.column not in columns:
        return None
    return Rates.of(company, wh.to_arrow(wh.table("currency_rates")))


def _stored(wh: Warehouse, t: Table, keys: pa.Table) -> pa.Table:
    """The keys among `keys` that the table holds (all primary-key columns)."""
    if keys.num_rows == 0 or wh.count(t.name) == 0:
        return keys.slice(0, 0)
    names = list(t.primary_key)
    table = wh.table(t.name)
    first = names[0]
    wanted = keys.column(first).unique()
    stored = wh.to_arrow(table.filter(table[first].isin(wanted.to_pylist())).select(*names))
    stored = stored.cast(keys.schema)
    found = keys.group_by(names).aggregate([]).join(stored, names, join_type="inner")
    return found.select(names).sort_by([(n, "ascending") for n in names])


def _record_id(keys: pa.Table) -> pa.Array:
    """A tombstone's record id: the key's values, joined by `|` when it has several columns."""
    text = [pc.cast(keys.column(n), pa.string()) for n in keys.column_names]
    return text[0] if len(text) == 1 else pc.binary_join_element_wise(*text, "|")


def deletion_batches(
    wh: Warehouse, t: Table, keys: pa.Table, source: str, *, load_id: str, now: datetime
) -> list[Batch]:
    """Remove stored records the export flags deleted, each with a tombstone and one audit
    entry for the lot; keys never stored need nothing (the row was just not loaded)."""
    gone = _stored(wh, t, keys)
    if gone.num_rows == 0:
        return []
    from revops.audit.log import audit_batch

    n = gone.num_rows
    tombstones = pa.table(
        {
            "target_table": pa.array([t.name] * n, pa.string()),
            "record_id": _record_id(gone),
            "source": pa.array([source] * n, pa.string()),
            "load_id": pa.array([load_id] * n, pa.string()),
            "deleted_at": pa.array([now] * n, pa.timestamp("us")),
        }
    )
    details = {"table": t.name, "records": n, "load_id": load_id, "source": source}
    audit = audit_batch(wh, "load", "source.delete", t.name, details, at=now.replace(tzinfo=UTC))
    return [
        Batch(t.name, gone, "delete"),
        Batch("source_deletions", tombstones, "upsert"),
        audit,
    ]


def lifecycle_batch(events: pa.Table | None, good: pa.Table, t: Table) -> list[Batch]:
    """Lifecycle events of the records that loaded, with times typed and kept in order.

    A stage dated before the stage listed ahead of it (a Salesforce ConvertedDate is a date,
    midnight, while CreatedDate on the same day has a time) is moved to that earlier stage's
    time, so the lifecycle engine sees the stages in the order the mapping lists them.
    """
    if events is None or events.num_rows == 0 or t.primary_key[0] not in good.column_names:
        return []
    loaded = pc.is_in(events.column("record"), value_set=good.column(t.primary_key[0]))
    events = events.filter(loaded).drop_columns(["record"])
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
    batches = deletion_batches(wh, t, mapped.deleted_keys, source, load_id=load_id, now=now)
    return batches + lifecycle_batch(mapped.lifecycle_events, good, t)
