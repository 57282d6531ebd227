"""`load_file`: read, map, validate, then one atomic write of rows, quarantine and load log.

Everything before the write is pure computation on Arrow tables, so a failure anywhere (a bad
file, a bug, Ctrl-C) leaves the warehouse untouched; the write itself is one `write_many`
transaction, so a failure there rolls back the good rows, the quarantine rows and the load_log
row together. Re-loading a file is safe: rows are upserted by primary key.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from revops.config.models import OperatingModel
from revops.config.sources import SourceObject
from revops.ingest.columns import plan_columns
from revops.ingest.errors import IngestError
from revops.ingest.raw import Progress, RawData
from revops.ingest.readers import read_file
from revops.ingest.report import LoadReport
from revops.ingest.sourced import find_mapping, map_source, sourced_batches
from revops.ingest.validate import Validated, validate
from revops.warehouse import Batch, Table, Warehouse, WarehouseError
from revops.warehouse import table as table_def

log = logging.getLogger(__name__)


def _target(name: str) -> Table:
    try:
        t = table_def(name)
    except KeyError as exc:
        raise IngestError(str(exc.args[0])) from None
    if t.system:
        raise IngestError(f"{name} is a system table written by revops itself; it cannot be loaded")
    return t


def _text_fields(t: Table, mapping: SourceObject | None) -> frozenset[str]:
    """File column names (canonical or preset) that feed the table's text columns."""
    text = {c.name for c in t.columns if c.type == "string"}
    exported = mapping.columns.items() if mapping else ()
    return frozenset(text | {source for source, canonical in exported if canonical in text})


def _new_load_id(now: datetime) -> str:
    """Sortable by time (for people scanning load_log) and unique (uuid suffix)."""
    return f"{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"


def _quarantine(
    raw: RawData, checked: Validated, load_id: str, t: Table, file: str, now: datetime
) -> pa.Table:
    """One row per refused input row: reader-level breakage and validation failures merged."""
    rows = [(b.row_number, b.field, b.reason, b.raw) for b in raw.broken]
    if checked.bad_rows.size:
        numbers = raw.row_numbers[checked.bad_rows].tolist()
        raws = raw.raw_json(checked.bad_rows)
        rows += list(zip(numbers, checked.fields, checked.reasons, raws, strict=True))
    rows.sort(key=lambda r: r[0])
    n = len(rows)
    return pa.table(
        {
            "load_id": pa.array([load_id] * n, pa.string()),
            "target_table": pa.array([t.name] * n, pa.string()),
            "file": pa.array([file] * n, pa.string()),
            "row_number": pa.array([r[0] for r in rows], pa.int64()),
            "field": pa.array([r[1] for r in rows], pa.string()),
            "reason": pa.array([r[2] for r in rows], pa.string()),
            "raw": pa.array([r[3] for r in rows], pa.string()),
            "quarantined_at": pa.array([now] * n, pa.timestamp("us")),
        }
    )


def _expected_inserts(wh: Warehouse, t: Table, good: pa.Table) -> int:
    """How many of the file's primary keys are new to the table.

    The load_log row must say how many rows were inserted, yet it is written in the same
    transaction as the rows, before the database can tell. So it is computed beforehand from
    the keys already stored; `load_file` checks the prediction against the write's own count.
    """
    if good.num_rows == 0:
        return 0
    keys = list(t.primary_key)
    if len(keys) == 1:  # the common case, and hashing one column is several times cheaper
        unique = pc.unique(good.column(keys[0]))
        if wh.count(t.name) == 0:
            return len(unique)
        stored_keys = wh.to_arrow(wh.table(t.name).select(*keys)).column(0)
        found = pc.is_in(unique, value_set=stored_keys.cast(unique.type))
        return len(unique) - int(pc.sum(found).as_py() or 0)
    distinct = good.select(keys).group_by(keys, use_threads=False).aggregate([])
    if wh.count(t.name) == 0:
        return distinct.num_rows
    stored = wh.to_arrow(wh.table(t.name).select(*keys))
    stored = stored.cast(pa.schema([good.schema.field(k) for k in keys]))
    return distinct.num_rows - distinct.join(stored, keys=keys, join_type="left semi").num_rows


def load_file(
    wh: Warehouse,
    path: Path,
    table: str,
    preset: str | None = None,
    *,
    progress: Progress | None = None,
    encoding: str = "utf-8",
    model: OperatingModel | None = None,
) -> LoadReport:
    """Load one export file into `table`, upserting good rows and quarantining bad ones.

    With a `model`, its duplicate rules (dedupe.rules) screen persons and accounts rows: a
    blocked row is quarantined, an allowed match is loaded and recorded in duplicate_alerts.
    `preset` names a source mapping (`hubspot`, `salesforce.Lead`): the model's `sources:`,
    else the shipped mapping files; without a model, naive times are read as UTC and amounts
    converted into USD.

    Raises IngestError when the file as a whole cannot be loaded; nothing is written then.
    `progress(bytes_done, bytes_total)` is called while the file is read.
    """
    started = time.perf_counter()
    path = Path(path)
    t = _target(table)
    source_name, mapping = find_mapping(preset, table, model)
    raw = read_file(
        path, encoding=encoding, progress=progress, text_fields=_text_fields(t, mapping)
    )
    mapped = map_source(wh, raw, mapping, t, source_name, model)
    raw = mapped.raw
    plan = plan_columns(path, raw.columns, t, mapping, preset or "")
    checked = validate(raw.data, plan, t, mapping)

    now = datetime.now(UTC).replace(tzinfo=None)
    load_id = _new_load_id(now)
    file = str(path)
    quarantine = _quarantine(raw, checked, load_id, t, file, now)
    good, bad_rows = checked.good, checked.bad_rows
    if t.name == "persons":  # erased persons stay erased: their rows go to quarantine, sans PII
        from revops.privacy.tombstones import screen_erased

        good, quarantine, bad_rows = screen_erased(
            wh, raw, bad_rows, good, quarantine, load_id=load_id, file=file, now=now
        )
    alerts = None
    if model is not None and model.dedupe.rules and t.name in ("persons", "accounts"):
        from revops.identity.duplicate_rules import screen_load

        screened = screen_load(
            wh,
            model,
            t.name,
            preset,
            raw,
            bad_rows,
            good,
            quarantine,
            load_id=load_id,
            file=file,
            now=now,
        )
        good, quarantine, alerts = screened.good, screened.quarantine, screened.alerts
    inserted = _expected_inserts(wh, t, good)
    log_row = pa.table(
        {
            "load_id": [load_id],
            "target_table": [t.name],
            "file": [file],
            "preset": pa.array([preset], pa.string()),
            "rows_in": [raw.rows_in + mapped.deleted_rows],
            "inserted": [inserted],
            "updated": [good.num_rows - inserted],
            "quarantined": [quarantine.num_rows],
            "loaded_at": pa.array([now], pa.timestamp("us")),
        }
    )
    custom = tuple(plan.custom)
    batches = [Batch(t.name, good, "upsert", custom)] if good.num_rows else []
    if quarantine.num_rows:
        batches.append(Batch("quarantine", quarantine, "append"))
    if alerts is not None and alerts.num_rows:
        batches.append(Batch("duplicate_alerts", alerts, "append"))
    batches.append(Batch("load_log", log_row, "append"))
    batches += sourced_batches(wh, mapped, good, t, source_name, load_id=load_id, now=now)
    try:
        results = wh.write_many(batches)
    except WarehouseError as exc:
        raise IngestError(f"{path}: nothing was loaded; the warehouse write failed: {exc}") from exc
    if good.num_rows and results[0].inserted != inserted:
        # Only a concurrent writer can cause this; the rows are right, the load_log counts not.
        log.warning(
            "load %s: load_log predicted %d inserts, the write made %d (concurrent load?)",
            load_id,
            inserted,
            results[0].inserted,
        )
        inserted = results[0].inserted

    problems: Counter[tuple[str, str]] = Counter(checked.problems)
    for broken in raw.broken:
        problems[(broken.field, broken.kind)] += 1
    report = LoadReport(
        load_id=load_id,
        file=file,
        table=t.name,
        preset=preset,
        rows_in=raw.rows_in + mapped.deleted_rows,
        deleted=mapped.deleted_rows,
        inserted=inserted,
        updated=good.num_rows - inserted,
        quarantined=quarantine.num_rows,
        problems=dict(problems),
        ignored_columns=plan.ignored,
        seconds=time.perf_counter() - started,
    )
    log.info(
        "load %s: %s -> %s: %d rows in, %d inserted, %d updated, %d quarantined (%.2fs)",
        load_id,
        file,
        t.name,
        report.rows_in,
        report.inserted,
        report.updated,
        report.quarantined,
        report.seconds,
    )
    return report
