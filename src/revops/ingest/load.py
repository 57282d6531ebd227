"""`load_file`: read, map, validate, screen, then one atomic write of rows, quarantine and log.

Everything before the write is pure computation on Arrow tables, so a failure anywhere (a bad
file, a bug, Ctrl-C) leaves the warehouse untouched; the write itself is one `write_many`
transaction, so a failure there rolls back the good rows, the quarantine rows and the load_log
row together. The load_log row is built inside that transaction from what the write did, so
its counts are the stored truth.

Re-loading is safe and quiet: rows are merged by primary key, so only rows whose values differ
from the stored ones are updated; `quality fix` results survive (see `fixes`); duplicate rules
screen only records new to the warehouse; and a delta export's rows older than the stored
record (by `updated_at`) are left alone. With an operating model, lead sources and countries
are normalized as the intake API does (`quality.edge`), each change logged in quality_changes.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from revops.config.models import OperatingModel
from revops.config.sources import SourceObject
from revops.ingest.columns import ColumnPlan, plan_columns
from revops.ingest.errors import IngestError
from revops.ingest.fixes import keep_fixes
from revops.ingest.jsonlines import Shape, Unsliceable
from revops.ingest.raw import IntArray, Progress, RawData, check_encoding, refuse_duplicates
from revops.ingest.readers import JSON_SUFFIXES, read_file
from revops.ingest.repeats import find_repeats
from revops.ingest.report import LoadReport
from revops.ingest.sourced import (
    Lookups,
    deletion_batches,
    find_mapping,
    lifecycle_batch,
    lookups,
    map_source,
    sourced_batches,
)
from revops.ingest.streamed import header, json_shape, mapped_plan, read_sliced, streamable
from revops.ingest.validate import Validated, combine, validate
from revops.quality.edge import CHANGES, Normalized, normalize_table
from revops.warehouse import Batch, Table, Warehouse, WarehouseError, WriteResult
from revops.warehouse import table as table_def
from revops.warehouse.stage import Stage
from revops.warehouse.warehouse import arrow_schema

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


_QUARANTINE = arrow_schema(table_def("quarantine")).remove(
    arrow_schema(table_def("quarantine")).get_field_index("replayed_by")
)


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
    return _quarantine_rows(rows, load_id, t, file, now)


def _quarantine_rows(
    rows: list[tuple[int, str, str, str]], load_id: str, t: Table, file: str, now: datetime
) -> pa.Table:
    """Quarantine rows from (row number, field, reason, raw JSON), in that order."""
    n = len(rows)
    return pa.table(
        [
            pa.array([load_id] * n, pa.string()),
            pa.array([t.name] * n, pa.string()),
            pa.array([file] * n, pa.string()),
            pa.array([r[0] for r in rows], pa.int64()),
            pa.array([r[1] for r in rows], pa.string()),
            pa.array([r[2] for r in rows], pa.string()),
            pa.array([r[3] for r in rows], pa.string()),
            pa.array([now] * n, pa.timestamp("us")),
        ],
        schema=_QUARANTINE,
    )


def _kept(n: int, skipped: IntArray) -> IntArray:
    """Positions 0..n-1 not in `skipped`, by mask: `np.setdiff1d` sorts, 1.9 s at 1M rows."""
    keep = np.ones(n, dtype=np.bool_)
    keep[skipped] = False
    return np.flatnonzero(keep).astype(np.int64)


def _stored(wh: Warehouse, t: Table, good: pa.Table) -> np.ndarray:
    """Which rows of `good` update a record already stored (single-column keys; a composite
    key reports none, which only means duplicate rules would see them as new)."""
    if good.num_rows == 0 or len(t.primary_key) != 1 or t.name not in ("persons", "accounts"):
        return np.zeros(good.num_rows, dtype=np.bool_)
    key = t.primary_key[0]
    stored = wh.to_arrow(wh.table(t.name).select(key)).column(0)
    found = pc.is_in(good.column(key), value_set=stored.cast(good.schema.field(key).type))
    return np.asarray(found.to_numpy(zero_copy_only=False), dtype=np.bool_)


def _updates_only(
    wh: Warehouse, path: Path, t: Table, plan: ColumnPlan, checked: Validated, raw: RawData
) -> None:
    """A file without some required columns can only update stored records (a write-back
    file re-imported); refuse it, naming the first row that would insert, before any write."""
    good = checked.good
    if good.num_rows == 0:
        return
    keys = list(t.primary_key)
    stored = wh.to_arrow(wh.table(t.name).select(*keys))
    have = {tuple(r.values()) for r in stored.select(keys).to_pylist()}
    rows = good.select(keys).to_pylist()
    numbers = raw.row_numbers[_kept(raw.data.num_rows, checked.bad_rows)]
    for number, row in zip(numbers.tolist(), rows, strict=True):
        if tuple(row.values()) not in have:
            where = ", ".join(f"{k} {v!r}" for k, v in row.items())
            raise IngestError(
                f"{path}: row {number}: {where} is not in {t.name}, and the file has no "
                f"{', '.join(plan.missing)} to create it (a file without required columns "
                "only updates stored records)"
            )


def _screen(
    wh: Warehouse,
    model: OperatingModel | None,
    t: Table,
    preset: str | None,
    raw: RawData,
    skipped: IntArray,
    good: pa.Table,
    quarantine: pa.Table,
    *,
    load_id: str,
    file: str,
    now: datetime,
    fits: list[pa.Table],
) -> tuple[pa.Table, pa.Table, pa.Table | None]:
    """Tombstones, then duplicate rules on the records new to the warehouse only: an update
    of a stored record is that record, not a duplicate of it. A table's first records have
    nothing to be duplicates of, but they fit the model later loads screen with. A fit made
    here is added to `fits`, for the load's own transaction."""
    if t.name == "persons":  # erased persons stay erased: their rows go to quarantine, sans PII
        from revops.privacy.tombstones import screen_erased

        good, quarantine, skipped = screen_erased(
            wh, raw, skipped, good, quarantine, load_id=load_id, file=file, now=now
        )
    if model is None or not any(r.table == t.name for r in model.dedupe.rules):
        return good, quarantine, None
    stored = _stored(wh, t, good)
    if stored.all():  # no new record
        return good, quarantine, None
    from revops.identity.duplicate_rules import TableName, fit_on_arrival, screen_load

    if wh.count(t.name) == 0:  # nothing to match against
        name: TableName = "persons" if t.name == "persons" else "accounts"
        fit_on_arrival(wh, model, name, good, now=now, defer=fits)
        return good, quarantine, None

    positions = _kept(raw.data.num_rows, skipped)
    new = good.filter(pa.array(~stored))
    screened = screen_load(
        wh,
        model,
        t.name,
        preset,
        raw,
        np.union1d(skipped, positions[stored]).astype(np.int64),
        new,
        quarantine,
        load_id=load_id,
        file=file,
        now=now,
        defer=fits,
    )
    good = pa.concat_tables([good.filter(pa.array(stored)), screened.good])
    return good, screened.quarantine, screened.alerts


def _known(wh: Warehouse, t: Table, quarantine: pa.Table) -> pa.Array:
    """Which refused rows wait in quarantine already, from an earlier load of the same data
    (same table, same raw row, not replayed): a reload must not file them twice."""
    if quarantine.num_rows == 0:
        return pa.array([], pa.bool_())
    q = wh.table("quarantine")
    stored = wh.to_arrow(
        q.filter((q.target_table == t.name) & q.replayed_by.isnull()).select("raw").distinct()
    ).column(0)
    return pc.fill_null(pc.is_in(quarantine.column("raw"), value_set=stored), False)


def _edge(model: OperatingModel | None, t: Table, good: pa.Table) -> Normalized:
    """Lead sources and countries as the intake API stores them (`quality.edge`)."""
    if model is None:
        return Normalized(good, CHANGES.empty_table())
    return normalize_table(t.name, good, model.quality)


def _change_log(rows: pa.Table, t: Table, load_id: str, now: datetime) -> pa.Table:
    """The load's normalizations (`Normalized.changes`) as quality_changes rows (run id: the
    load id), so the unknown sources are flagged with the value given and `quality undo
    LOAD_ID` can restore them."""
    n = rows.num_rows
    numbers = pc.utf8_lpad(pc.cast(pa.array(np.arange(n)), pa.string()), 7, "0")
    return pa.table(
        {
            "change_id": pc.binary_join_element_wise(f"{load_id}:", numbers, ""),
            "fix_run_id": pa.repeat(pa.scalar(load_id), n),
            "table_name": pa.repeat(pa.scalar(t.name), n),
            "record_id": rows.column("record_id"),
            "field": rows.column("field"),
            "before": rows.column("before"),
            "after": rows.column("after"),
            "rule": rows.column("rule"),
            "changed_at": pa.repeat(pa.scalar(now, pa.timestamp("us")), n),
        }
    )


def load_file(
    wh: Warehouse,
    path: Path,
    table: str,
    preset: str | None = None,
    *,
    progress: Progress | None = None,
    encoding: str = "utf-8",
    model: OperatingModel | None = None,
    replay: Callable[[str, pa.Table], Sequence[Batch]] | None = None,
) -> LoadReport:
    """Load one export file into `table`, merging good rows and quarantining bad ones.

    With a `model`, its duplicate rules (dedupe.rules) screen new persons and accounts rows
    against the stored records and the file's earlier new rows: a blocked row is quarantined,
    an allowed match is loaded and recorded in duplicate_alerts.
    `preset` names a source mapping (`hubspot`, `salesforce.Lead`): the model's `sources:`,
    else the shipped mapping files; without a model, naive times are read as UTC and amounts
    converted into USD. `replay` (quarantine replay) is given this load's id and refused rows
    instead of filing them, and returns the batches that update the original quarantine rows,
    written in the same transaction.

    Raises IngestError when the file as a whole cannot be loaded; nothing is written then.
    `progress(bytes_done, bytes_total)` is called while the file is read.
    """
    started = time.perf_counter()
    path = Path(path)
    t = _target(table)
    source_name, mapping = find_mapping(preset, table, model)
    sliced = _sliced_plan(wh, path, t, mapping, preset, model, replay, encoding)
    if sliced is not None:
        plan, names, found, shape = sliced
        try:
            with wh.stage(t.name, tuple(plan.custom)) as stage:
                return _load_sliced(
                    wh,
                    path,
                    t,
                    preset,
                    (source_name, mapping, model),
                    (plan, names, found, shape),
                    stage,
                    encoding=encoding,
                    progress=progress,
                    started=started,
                )
        except Unsliceable as exc:  # the whole read decides what Arrow's parse makes of it
            log.info("%s: read whole: %s", path, exc)
    # Without a source mapping (which reads the whole export: history folding, deletions) a
    # CSV file is validated as it is read, a slice at a time, and its text is let go
    parts: list[Validated] = []

    def check(chunk: pa.Table) -> IntArray:
        plan = plan_columns(path, tuple(chunk.column_names), t, None, "", updates=True)
        parts.append(validate(chunk, plan, t, None))
        return parts[-1].bad_rows

    raw = read_file(
        path,
        encoding=encoding,
        progress=progress,
        text_fields=_text_fields(t, mapping),
        check=check if mapping is None else None,
    )
    mapped = map_source(wh, raw, mapping, t, source_name, model)
    raw = mapped.raw
    plan = plan_columns(path, raw.columns, t, mapping, preset or "", updates=True)
    checked = combine(parts) if parts else validate(raw.data, plan, t, mapping)
    parts.clear()  # `checked` holds them now; `del checked` below must let them go
    if plan.missing:
        _updates_only(wh, path, t, plan, checked, raw)

    now = datetime.now(UTC).replace(tzinfo=None)
    load_id = _new_load_id(now)
    file = str(path)
    quarantine = _quarantine(raw, checked, load_id, t, file, now)
    good, skipped = checked.good, checked.bad_rows
    positions = _kept(raw.data.num_rows, skipped)
    repeats = find_repeats(good, t.primary_key, raw.row_numbers[positions])
    if repeats.superseded.size:
        keep = np.ones(good.num_rows, dtype=np.bool_)
        keep[repeats.superseded] = False
        good = good.filter(pa.array(keep))
        skipped = np.union1d(skipped, positions[repeats.superseded]).astype(np.int64)
    good = keep_fixes(wh, t, good)
    fits: list[pa.Table] = []  # a duplicate-rule fit made on the way, stored with the rows
    good, quarantine, alerts = _screen(
        wh,
        model,
        t,
        preset,
        raw,
        skipped,
        good,
        quarantine,
        load_id=load_id,
        file=file,
        now=now,
        fits=fits,
    )
    normalized = _edge(model, t, good)
    good = normalized.table
    duplicates = int(repeats.superseded.size)
    blank = raw.blank_lines
    rows_in = raw.rows_in + mapped.deleted_rows + mapped.ignored_rows
    deleted, ignored = mapped.deleted_rows, mapped.ignored_rows
    problems: Counter[tuple[str, str]] = Counter(checked.problems)
    for broken in raw.broken:
        problems[(broken.field, broken.kind)] += 1
    screened = quarantine.num_rows - len(raw.broken) - checked.bad_rows.size
    if screened:
        problems[("(screen)", "erased or duplicate rule")] += screened
    sourced = sourced_batches(wh, mapped, good, t, source_name, load_id=load_id, now=now)
    # The file's parsed text is not needed past this point: let it go before the write, whose
    # database buffers would otherwise come on top of it (a third of the peak at 1M rows)
    del raw, mapped, checked

    newer = "updated_at" if "updated_at" in good.column_names else None
    # find_repeats kept one row per key, so the write need not hash every key again
    merge = Batch(t.name, good, "merge", tuple(plan.custom), newer=newer, unique_keys=True)
    changes = _change_log(normalized.changes, t, load_id, now)
    outcome = _Outcome(
        rows_in=rows_in,
        deleted=deleted,
        ignored=ignored,
        blank_lines=blank,
        duplicates=duplicates,
        duplicate_ids=repeats.sample,
        problems=dict(problems),
        ignored_columns=plan.ignored,
        alerts=alerts,
    )
    dedupe = [Batch("dedupe_models", pa.concat_tables(fits), "append")] if fits else []
    return _commit(
        wh,
        path,
        t,
        preset,
        load_id,
        now,
        merge if good.num_rows else None,
        quarantine,
        changes,
        dedupe,
        sourced,
        replay,
        outcome,
        started,
    )


@dataclass(frozen=True)
class _Outcome:
    """What a load found besides the rows it writes: its counts for load_log and the report."""

    rows_in: int
    deleted: int
    ignored: int
    blank_lines: int
    duplicates: int
    duplicate_ids: tuple[tuple[str, tuple[int, ...]], ...]
    problems: dict[tuple[str, str], int]
    ignored_columns: tuple[str, ...]
    alerts: pa.Table | None


def _commit(
    wh: Warehouse,
    path: Path,
    t: Table,
    preset: str | None,
    load_id: str,
    now: datetime,
    merge: Batch | None,
    quarantine: pa.Table,
    changes: pa.Table,
    dedupe: list[Batch],
    sourced: list[Batch],
    replay: Callable[[str, pa.Table], Sequence[Batch]] | None,
    outcome: _Outcome,
    started: float,
) -> LoadReport:
    """The load's one write (rows, quarantine, changes, alerts, a duplicate-rule fit,
    replayed quarantine, deletions and events, load_log) and its report; `merge` is None when
    no row is good."""
    file = str(path)
    known = (
        _known(wh, t, quarantine)
        if replay is None
        else pa.array([True] * quarantine.num_rows, pa.bool_())
    )
    fresh = quarantine.filter(pc.invert(known))
    alerts = outcome.alerts

    def log_row(results: list[WriteResult]) -> list[Batch]:
        done = results[0] if merge is not None else WriteResult(0, 0, 0)
        row = {
            "load_id": [load_id],
            "target_table": [t.name],
            "file": [file],
            "preset": pa.array([preset], pa.string()),
            "rows_in": [outcome.rows_in],
            "inserted": [done.inserted],
            "updated": [done.updated],
            "quarantined": [quarantine.num_rows],
            "unchanged": [done.unchanged],
            "duplicates": [outcome.duplicates],
            "blank_lines": [outcome.blank_lines],
            "deleted": [outcome.deleted],
            "ignored": [outcome.ignored],
            "loaded_at": pa.array([now], pa.timestamp("us")),
        }
        return [Batch("load_log", pa.table(row), "append")]

    batches = [merge] if merge is not None else []
    if fresh.num_rows:
        batches.append(Batch("quarantine", fresh, "append"))
    if changes.num_rows:  # change ids unique by construction
        batches.append(Batch("quality_changes", changes, "append", unique_keys=True))
    if alerts is not None and alerts.num_rows:
        batches.append(Batch("duplicate_alerts", alerts, "append"))
    batches += dedupe
    if replay is not None:
        batches.extend(replay(load_id, quarantine))
    batches += sourced
    try:
        results = wh.write_many(batches, then=log_row)
    except WarehouseError as exc:
        raise IngestError(f"{path}: nothing was loaded; the warehouse write failed: {exc}") from exc
    done = results[0] if merge is not None else WriteResult(0, 0, 0)
    report = LoadReport(
        load_id=load_id,
        file=file,
        table=t.name,
        preset=preset,
        rows_in=outcome.rows_in,
        deleted=outcome.deleted,
        ignored=outcome.ignored,
        inserted=done.inserted,
        updated=done.updated,
        unchanged=done.unchanged,
        quarantined=quarantine.num_rows,
        known_quarantined=quarantine.num_rows - fresh.num_rows,
        duplicates=outcome.duplicates,
        duplicate_ids=outcome.duplicate_ids,
        alerts=0 if alerts is None else alerts.num_rows,
        blank_lines=outcome.blank_lines,
        problems=outcome.problems,
        ignored_columns=outcome.ignored_columns,
        seconds=time.perf_counter() - started,
    )
    log.info(
        "load %s: %s -> %s: %d rows in, %d inserted, %d updated, %d unchanged, "
        "%d quarantined, %d repeated ids (%.2fs)",
        load_id,
        file,
        t.name,
        report.rows_in,
        report.inserted,
        report.updated,
        report.unchanged,
        report.quarantined,
        report.duplicates,
        report.seconds,
    )
    return report


def _sliced_plan(
    wh: Warehouse,
    path: Path,
    t: Table,
    mapping: SourceObject | None,
    preset: str | None,
    model: OperatingModel | None,
    replay: object,
    encoding: str,
) -> tuple[ColumnPlan, tuple[str, ...], Lookups | None, Shape | None] | None:
    """The plan, header (a JSON-lines file: its keys and parse) and mapping lookups of a file
    to load a slice at a time, or None to read it whole (`streamed.streamable`; an update file;
    a file whose header or JSON lines already fail: the whole read then says why, as it
    always did)."""
    if not path.is_file() or not streamable(wh, path, t, mapping, model, replay=replay is not None):
        return None
    shape = None
    try:
        if path.name.lower().endswith(JSON_SUFFIXES):
            shape = json_shape(path, check_encoding(encoding), _text_fields(t, mapping))
            if shape is None:
                return None
            names = shape.columns
        else:
            names = header(path, check_encoding(encoding))
        refuse_duplicates(path, names)
        found = lookups(wh, mapping, names, t, model) if mapping is not None else None
        plan = mapped_plan(path, names, t, mapping, preset, found)
    except (IngestError, pa.ArrowInvalid, OSError, UnicodeDecodeError):
        return None
    return None if plan.missing else (plan, names, found, shape)


def _load_sliced(
    wh: Warehouse,
    path: Path,
    t: Table,
    preset: str | None,
    source: tuple[str, SourceObject | None, OperatingModel | None],
    planned: tuple[ColumnPlan, tuple[str, ...], Lookups | None, Shape | None],
    stage: Stage,
    *,
    encoding: str,
    progress: Progress | None,
    started: float,
) -> LoadReport:
    """`load_file` a slice at a time (see `revops.ingest.streamed`): the same rows, quarantine,
    changes, deletions, events, load_log and report as the whole read, from a stage."""
    source_name, mapping, model = source
    plan, names, found, shape = planned
    got = read_sliced(
        wh,
        path,
        t,
        mapping,
        source_name,
        model,
        plan,
        stage,
        names=names,
        found=found,
        encoding=encoding,
        progress=progress,
        shape=shape,
    )
    now = datetime.now(UTC).replace(tzinfo=None)
    load_id = _new_load_id(now)
    quarantine = _quarantine_rows(got.refused, load_id, t, str(path), now)
    merge = None
    if stage.rows:
        newer = "updated_at" if "updated_at" in stage.present else None
        data = stage.empty
        merge = Batch(t.name, data, "merge", tuple(plan.custom), newer=newer, stage=stage)
    sourced = deletion_batches(wh, t, got.deleted_keys, source_name, load_id=load_id, now=now)
    if got.events is not None and got.events.num_rows:
        key = t.primary_key[0]
        stored = pa.table({key: stage.keys(key)})
        sourced += lifecycle_batch(got.events, stored, t)
    outcome = _Outcome(
        rows_in=got.rows_in,  # the reader's rows: deleted and ignored ones among them
        deleted=got.deleted_rows,
        ignored=got.ignored_rows,
        blank_lines=got.blank_lines,
        duplicates=int(got.repeats.superseded.size),
        duplicate_ids=got.repeats.sample,
        problems=dict(got.problems),
        ignored_columns=plan.ignored,
        alerts=None,
    )
    changes = _change_log(got.changes, t, load_id, now)
    return _commit(
        wh,
        path,
        t,
        preset,
        load_id,
        now,
        merge,
        quarantine,
        changes,
        [],
        sourced,
        None,
        outcome,
        started,
    )
