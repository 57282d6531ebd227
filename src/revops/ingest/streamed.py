"""A CSV or JSON-lines export loaded a slice at a time: read, mapped, validated and screened
per slice, its good rows spooled to a warehouse `Stage` as they are produced.

`load_file` held the whole file (its text, the mapped and validated tables, the repeats' key
hash, the write's own copy) because a load is one transaction; at 10x the demo's 665 MB
Marketo export grew the process by 2.6 GB. Here every step that judges a row by itself runs
per slice of up to SLICE_ROWS rows: the source mapping (`map_raw`: deletions, `keep:`, owners,
currencies, time zones, lifecycle events; its lookups read once), validation, `keep_fixes` and
the edge normalization. What needs the whole file is kept small or left to SQL: refused rows
(their raw JSON, for quarantine), deleted keys, lifecycle events and normalization changes are
gathered as they come; repeated keys are found over the stage (`Stage.repeated`, the same last
row wins and the same sample as `find_repeats`). `load_file` then writes the stage with the
quarantine, changes, deletions, events and load_log in its one `write_many` transaction.

Row numbers: a slice's rows are known only by their position among the parsed rows until the
read ends, since the CSV reader numbers rows once it has seen every skipped record. Everything a
slice produces is tagged with positions, which become row numbers at the end (a JSON-lines
reader knows its numbers at once, and tells them the same way, at the end).

A JSON-lines file is read twice: a first pass (`jsonlines.shape`, one slice of lines at a time)
makes the decisions the whole-file read makes over the whole file, its columns and whether
Arrow's typed parse or the per-line text path reads it, with which types; the second pass
parses each slice under them (`jsonlines.read_sliced`). At 10x the demo's 138 MB events file
grew the process by about 1 GB when read whole.

What is not streamed (`streamable` says so, and `load_file` reads the file whole):
- Parquet files (read whole by their reader);
- JSON-lines files the first pass leaves to the whole read: those it refuses (empty, a JSON
  array, bytes the encoding cannot decode, a cut-short gzip file: its error names the file and
  line), and the rare file Arrow's parse of a slice could judge otherwise than the whole file
  (a slice whose brackets alone nest deeper than Arrow may go, an invalid array Arrow builds,
  a type `jsonlines._unified` does not know); if a slice fails Arrow's parse under the
  whole file's types after all, the staged slices are dropped and the file is read whole;
- Spark warehouses, which stage whole tables in their own write;
- mappings that fold a field history (`history:`), which groups rows across the file;
- persons once someone was erased (their rows are screened against the erased, with the
  raw rows of the file), and persons and accounts the model's duplicate rules screen: both
  look at the file's new records as a whole;
- update files (required columns missing: every row must name a stored record, `_updates_only`);
- tables a write hook reads (the automations' sources: hooks read `Batch.data`), and loads
  under an audit hook or a quarantine replay.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from revops.config.models import OperatingModel
from revops.config.sources import SourceObject
from revops.ingest import jsonlines
from revops.ingest.columns import ColumnPlan, plan_columns
from revops.ingest.fixes import active_fixes, keep_fixes
from revops.ingest.mapping import Mapped
from revops.ingest.raw import BrokenRow, IntArray, Progress, RawData, rows_to_json
from revops.ingest.readers import CSV_SUFFIXES, JSON_SUFFIXES, read_file
from revops.ingest.repeats import Repeats, find_repeats
from revops.ingest.sourced import Lookups, map_with
from revops.ingest.validate import validate
from revops.quality.edge import CHANGES, FIELDS, normalize_table
from revops.warehouse import Table, Warehouse
from revops.warehouse.stage import POS, Stage

# Rows mapped, validated and staged at a time. Each step makes whole-column temporaries, so a
# slice costs several times its text; tests make it tiny to cross slice boundaries often.
# Measured on the 1x demo's Marketo export (500k rows, 2026-12-06), the read's own peak over
# the load's start: 65,536 rows +166 MB, 262,144 rows +224 MB; half the latter between.
SLICE_ROWS = 1 << 17


def header(path: Path, encoding: str) -> tuple[str, ...]:
    """The file's column names, as the reader parses them; bytes the encoding cannot decode
    raise here, quietly (see `csvfile._decode_errors_kept`), and the whole read then says
    where they are."""
    from revops.ingest.csvfile import _decode_errors_kept, _header

    undecodable: list[BaseException] = []
    with _decode_errors_kept(undecodable):
        names = _header(path, encoding)
    if undecodable:
        raise undecodable[0]
    return names


def json_shape(path: Path, encoding: str, text_fields: frozenset[str]) -> jsonlines.Shape | None:
    """A JSON-lines file's columns and parse, decided over the whole file a slice at a time
    (`jsonlines.shape`); None: read it whole."""
    return jsonlines.shape(path, encoding, text_fields, SLICE_ROWS)


def _empty_raw(names: tuple[str, ...]) -> RawData:
    data = pa.table({n: pa.array([], pa.string()) for n in names})
    return RawData(names, data, np.zeros(0, np.int64), (), rows_to_json(data))


def mapped_plan(
    path: Path,
    names: tuple[str, ...],
    t: Table,
    mapping: SourceObject | None,
    preset: str | None,
    found: Lookups | None,
) -> ColumnPlan:
    """The column plan of a file with header `names`: the mapping adds and renames columns by
    the header (and the lookups found) alone, so mapping no rows gives the columns every slice
    will have."""
    columns = names
    if mapping is not None and found is not None:
        columns = map_with(_empty_raw(names), mapping, t, "", found).raw.columns
    return plan_columns(path, columns, t, mapping, preset or "", updates=True)


def streamable(
    wh: Warehouse,
    path: Path,
    t: Table,
    mapping: SourceObject | None,
    model: OperatingModel | None,
    *,
    replay: bool,
) -> bool:
    """Whether `path` can be loaded a slice at a time (see the module docstring); the plan
    (update files) is checked by the caller, which reads the header."""
    if wh.backend == "spark" or replay:
        return False
    if not path.name.lower().endswith(CSV_SUFFIXES + JSON_SUFFIXES):
        return False
    if mapping is not None and mapping.history is not None:
        return False
    if t.name == "persons":
        from revops.privacy.tombstones import anyone_erased

        if anyone_erased(wh):
            return False
    if model is not None and any(r.table == t.name for r in model.dedupe.rules):
        return False
    return not wh.hooks_read(t.name)


@dataclass(frozen=True)
class Sliced:
    """What a streamed read leaves for the load's write besides the staged rows."""

    refused: list[tuple[int, str, str, str]]  # row number, field, reason, raw JSON; sorted
    problems: Counter[tuple[str, str]]
    rows_in: int
    blank_lines: int
    deleted_rows: int
    ignored_rows: int
    deleted_keys: pa.Table
    events: pa.Table | None
    changes: pa.Table  # quality_changes rows before ids (CHANGES schema), for stored rows only
    repeats: Repeats  # superseded: positions, already dropped from the stage; sample: numbers


class _Slices:
    """The per-slice pipeline, as the `check` the CSV reader hands each slice to."""

    def __init__(
        self,
        wh: Warehouse,
        t: Table,
        mapping: SourceObject | None,
        source_name: str,
        model: OperatingModel | None,
        plan: ColumnPlan,
        names: tuple[str, ...],
        stage: Stage,
        found: Lookups | None,
    ) -> None:
        self.t, self.mapping, self.source_name, self.model = t, mapping, source_name, model
        self.plan, self.names, self.stage, self.found = plan, names, stage, found
        self.fixes = active_fixes(wh, t) if len(t.primary_key) == 1 else None
        self.wh = wh
        self.done = 0
        self.refused: list[tuple[int, str, str, str]] = []  # position, field, reason, raw
        self.broken: list[BrokenRow] = []  # the mapping's, numbered by position
        self.problems: Counter[tuple[str, str]] = Counter()
        self.deleted: list[pa.Table] = []
        self.deleted_rows = 0
        self.ignored_rows = 0
        self.events: list[pa.Table] = []
        self.changes: list[pa.Table] = []

    def _map(self, raw: RawData) -> Mapped:
        if self.mapping is None or self.found is None:
            return Mapped(raw, pa.table({}), 0, None)
        return map_with(raw, self.mapping, self.t, self.source_name, self.found)

    def __call__(self, chunk: pa.Table) -> IntArray:
        """A CSV reader's slice (its `check`)."""
        self.take(RawData(self.names, chunk, np.zeros(0, np.int64), (), rows_to_json(chunk)))
        return np.zeros(0, np.int64)  # refused rows are rendered here, not by the reader

    def take(self, raw: RawData) -> None:
        """A slice of parsed rows, numbered here by position (its row numbers and the rows it
        could not parse are the reader's to tell at the end)."""
        n = raw.data.num_rows
        positions = np.arange(self.done, self.done + n, dtype=np.int64)
        self.done += n
        raw = replace(raw, row_numbers=positions, broken=())
        mapped = self._map(raw)
        self.broken.extend(mapped.raw.broken)
        if mapped.deleted_keys.num_columns:
            self.deleted.append(mapped.deleted_keys)
        self.deleted_rows += mapped.deleted_rows
        self.ignored_rows += mapped.ignored_rows
        if mapped.lifecycle_events is not None:
            self.events.append(mapped.lifecycle_events)
        kept = mapped.raw
        checked = validate(kept.data, self.plan, self.t, self.mapping)
        self.problems.update(checked.problems)
        if checked.bad_rows.size:
            where = kept.row_numbers[checked.bad_rows].tolist()
            texts = kept.raw_json(checked.bad_rows)
            self.refused += zip(where, checked.fields, checked.reasons, texts, strict=True)
        keep = np.ones(kept.data.num_rows, dtype=np.bool_)
        keep[checked.bad_rows] = False
        at = kept.row_numbers[keep]
        good = keep_fixes(self.wh, self.t, checked.good, self.fixes)
        if self.model is not None:
            normalized = normalize_table(self.t.name, good, self.model.quality)
            good = normalized.table
            if normalized.changes.num_rows:
                fields = FIELDS[self.t.name]
                rank = pc.index_in(normalized.changes.column("field"), pa.array(fields))
                self.changes.append(
                    normalized.changes.append_column("__rank", rank).append_column(
                        POS, pa.array(at[np.asarray(normalized.rows)], pa.int64())
                    )
                )
        self.stage.append(good, at)


def _repeats(stage: Stage, keys: tuple[str, ...], numbers: IntArray) -> Repeats:
    """The staged rows a later row of their key supersedes (positions) and the sample of
    `find_repeats` (row numbers), from the rows of repeated keys only."""
    rows = stage.repeated(keys)
    if rows.num_rows == 0:
        return Repeats(np.zeros(0, np.int64), ())
    at = np.asarray(rows.column(POS).to_numpy(), dtype=np.int64)
    found = find_repeats(rows.select(list(keys)), keys, numbers[at])
    return Repeats(at[found.superseded], found.sample)


def _changes(parts: list[pa.Table], superseded: IntArray) -> pa.Table:
    """The stored rows' changes in the order one pass over the whole table makes: by field,
    then by row."""
    if not parts:
        return CHANGES.empty_table()
    every = pa.concat_tables(parts)
    if superseded.size:
        gone = pc.is_in(every.column(POS), value_set=pa.array(superseded, pa.int64()))
        every = every.filter(pc.invert(gone))
    every = every.sort_by([("__rank", "ascending"), (POS, "ascending")])
    return every.select(CHANGES.names)


def read_sliced(
    wh: Warehouse,
    path: Path,
    t: Table,
    mapping: SourceObject | None,
    source_name: str,
    model: OperatingModel | None,
    plan: ColumnPlan,
    stage: Stage,
    *,
    names: tuple[str, ...],
    found: Lookups | None,
    encoding: str,
    progress: Progress | None,
    shape: jsonlines.Shape | None = None,
) -> Sliced:
    """Read `path` (header `names`, mapped with `found`; a JSON-lines file: under `shape`) a
    slice at a time into `stage`, its superseded repeats dropped."""
    slices = _Slices(wh, t, mapping, source_name, model, plan, names, stage, found)
    if shape is None:
        raw = read_file(
            path, encoding=encoding, progress=progress, check=slices, slice_rows=SLICE_ROWS
        )
    else:
        raw = jsonlines.read_sliced(path, encoding, progress, shape, slices.take, SLICE_ROWS)
    numbers = raw.row_numbers  # position -> row number
    # Arrow's allocator (mimalloc) keeps freed pages for reuse, which the next slice does;
    # handed back once the read is done, they do not stay resident under the write's database
    # buffers. Measured on the 10x Marketo export (two runs each, 2026-12-06): released after
    # every slice, the read peaked at +414/+415 MB and left +103/+100 resident, the load
    # peaking at +643/+619; released once here, +363/+345, +36/+34 and +556/+579.
    pa.default_memory_pool().release_unused()
    refused = [(int(b.row_number), b.field, b.reason, b.raw) for b in raw.broken]
    for b in slices.broken:
        refused.append((int(numbers[b.row_number]), b.field, b.reason, b.raw))
    refused += [(int(numbers[p]), f, r, j) for p, f, r, j in slices.refused]
    refused.sort(key=lambda r: r[0])
    problems = slices.problems  # then the broken rows' kinds, in row order as a whole read
    kinds = [(b.row_number, b.field, b.kind) for b in raw.broken]
    kinds += [(int(numbers[b.row_number]), b.field, b.kind) for b in slices.broken]
    for _, field, kind in sorted(kinds, key=lambda r: r[0]):
        problems[(field, kind)] += 1
    repeats = _repeats(stage, t.primary_key, numbers)
    stage.drop(repeats.superseded)
    keys = pa.concat_tables(slices.deleted) if slices.deleted else pa.table({})
    events = pa.concat_tables(slices.events) if slices.events else None
    return Sliced(
        refused=refused,
        problems=problems,
        rows_in=raw.rows_in,
        blank_lines=raw.blank_lines,
        deleted_rows=slices.deleted_rows,
        ignored_rows=slices.ignored_rows,
        deleted_keys=keys,
        events=events,
        changes=_changes(slices.changes, repeats.superseded),
        repeats=repeats,
    )
