"""CSV reading: streamed in blocks (for progress), every column as text, broken rows kept.

Row numbers need care, because Arrow skips rows it cannot split into the right number of fields
and numbers nothing it returns. The reader runs single-threaded since only then does Arrow tell
the record number of each skipped row (`InvalidRow.number`). That number counts records, not
physical lines, so quoted multi-line values and skipped blank lines cannot shift it; the valid
rows then take the numbers the skipped ones did not, in order. Two kinds of skipped record are
not one row: a whitespace-only line is no row at all (it is counted as a blank line), and a
record holding an odd number of quotes is an unbalanced quote that swallowed the lines after it,
each of which was a row of the file and is quarantined as one.
"""

from __future__ import annotations

import contextlib
import csv
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from revops.ingest.errors import IngestError
from revops.ingest.raw import (
    CHUNK_ROWS,
    BrokenRow,
    Check,
    IntArray,
    Progress,
    RawData,
    decode_error,
    is_gzip,
    read_bytes,
    refuse_duplicates,
    rows_to_json,
)

_BLOCK = 4 << 20


def _open(
    path: Path,
    encoding: str,
    column_types: dict[str, pa.DataType] | None,
    on_invalid: pacsv.InvalidRowHandler,
) -> tuple[pa.NativeFile, pacsv.CSVStreamingReader]:
    disk = pa.OSFile(str(path))
    stream = pa.CompressedInputStream(disk, "gzip") if is_gzip(path) else disk
    reader = pacsv.open_csv(
        stream,
        read_options=pacsv.ReadOptions(use_threads=False, block_size=_BLOCK, encoding=encoding),
        parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=on_invalid),
        convert_options=pacsv.ConvertOptions(
            column_types=column_types or {},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    return disk, reader


@contextlib.contextmanager
def _decode_errors_kept(found: list[BaseException]) -> Iterator[None]:
    """Arrow decodes a skipped row's text before calling our handler; bytes that are not
    valid in the encoding raise inside Arrow's callback, where Python can only print them
    ("Exception ignored in …", a traceback on the user's screen). They are collected here
    instead, and the file is refused with one line naming the line and byte."""
    previous = sys.unraisablehook

    def keep(info: Any) -> None:
        if isinstance(info.exc_value, UnicodeDecodeError):
            found.append(info.exc_value)
        else:
            previous(info)

    sys.unraisablehook = keep
    try:
        yield
    finally:
        sys.unraisablehook = previous


def _unreadable(path: Path, encoding: str, exc: Exception) -> IngestError:
    """The most useful explanation of a reader failure: an encoding problem if there is one."""
    data = read_bytes(path)  # raises its own IngestError for a cut-short .gz
    if not data.strip():
        return IngestError(f"{path}: the file is empty (no header row)")
    return decode_error(path, data, encoding) or IngestError(f"{path}: not a readable CSV: {exc}")


def _header(path: Path, encoding: str) -> tuple[str, ...]:
    """The column names, parsed by the same parser as the data (first block only)."""
    disk, reader = _open(path, encoding, None, lambda row: "skip")
    try:
        return tuple(reader.schema.names)
    finally:
        disk.close()


def _text_bytes(batch: pa.RecordBatch) -> int:
    """Roughly how many bytes of CSV text `batch` came from: its values plus one separator (or
    newline) per cell. Quotes are not counted; the estimate only drives a progress bar."""
    values = sum(pc.sum(pc.binary_length(col)).as_py() or 0 for col in batch.columns)
    return int(values) + batch.num_rows * max(batch.num_columns, 1)


def _disk_ratio(path: Path, total: int) -> float:
    """Bytes on disk per byte of CSV text: 1, or for .gz the ratio from the gzip trailer, which
    stores the uncompressed size (mod 2**32, hence the sanity check)."""
    if not is_gzip(path) or total < 18:
        return 1.0
    with path.open("rb") as fh:
        fh.seek(-4, 2)
        size = int.from_bytes(fh.read(4), "little")
    return total / size if size >= total else 1.0


def _broken(number: int, text: str, actual: int, names: tuple[str, ...]) -> BrokenRow:
    expected = len(names)
    hint = "truncated?" if actual < expected else "unquoted separator?"
    try:
        fields = next(csv.reader([text]), [])
    except csv.Error:
        fields = []
    raw: dict[str, object] = dict(zip(names, fields, strict=False)) if fields else {"_line": text}
    if len(fields) > expected:
        raw["_extra"] = fields[expected:]
    return BrokenRow(
        row_number=number,
        field="(row)",
        kind="field_count",
        reason=f"row has {actual} fields, expected {expected} ({hint})",
        raw=json.dumps(raw, ensure_ascii=False),
    )


def _swallowed(first: int, text: str, names: tuple[str, ...]) -> list[BrokenRow]:
    """The rows an unbalanced quote in row `first` ran over, one per physical line."""
    lines = text.split("\n")[1:]
    return [
        BrokenRow(
            row_number=first + i,
            field="(row)",
            kind="unbalanced_quote",
            reason=f"inside the unbalanced quote opened in row {first}",
            raw=json.dumps({"_line": line}, ensure_ascii=False),
        )
        for i, line in enumerate(lines, start=1)
    ]


def _number_rows(
    path: Path, data_rows: int, invalid: list[tuple[int, str, int]], names: tuple[str, ...]
) -> tuple[IntArray, tuple[BrokenRow, ...], int]:
    """Row numbers of the parsed rows, the broken rows, and the blank lines skipped."""
    records = data_rows + len(invalid)
    rows_per = np.ones(records, dtype=np.int64)  # how many file rows each data record is
    skipped = np.zeros(records, dtype=np.bool_)
    kinds: dict[int, tuple[str, str, int]] = {}
    for number, text, actual in invalid:
        i = number - 2  # record 1 is the header
        if not 0 <= i < records or skipped[i]:
            raise IngestError(f"{path}: could not number the rows reliably near record {number}")
        skipped[i] = True
        if not text.strip():
            rows_per[i], kinds[i] = 0, ("blank", text, actual)
        elif text.count('"') % 2 and "\n" in text:
            rows_per[i], kinds[i] = text.count("\n") + 1, ("quote", text, actual)
        else:
            kinds[i] = ("fields", text, actual)
    first = np.concatenate([[1], 1 + np.cumsum(rows_per)[:-1]]).astype(np.int64)
    broken: list[BrokenRow] = []
    for i, (kind, text, actual) in sorted(kinds.items()):
        if kind == "blank":
            continue
        row = int(first[i])
        if kind == "quote":
            head = text.split("\n", 1)[0]
            broken.append(
                BrokenRow(
                    row,
                    "(row)",
                    "unbalanced_quote",
                    f"a quote opened in this row is never closed; it ran over the next "
                    f"{text.count(chr(10))} rows",
                    json.dumps({"_line": head}, ensure_ascii=False),
                )
            )
            broken.extend(_swallowed(row, text, names))
        else:
            broken.append(_broken(row, text, actual, names))
    blank = sum(1 for kind, _, _ in kinds.values() if kind == "blank")
    return first[~skipped], tuple(broken), blank


def _render_again(
    path: Path, encoding: str, names: tuple[str, ...], wanted: list[int]
) -> dict[int, str]:
    """The raw JSON of rows at `wanted` positions, read from the file a second time: a
    streamed read keeps no text, and a screen that refuses a validated row (an erased person,
    a blocked duplicate) needs the row as the file gave it. The parse is the same, so the
    positions are too."""
    wanted_set = np.asarray(sorted(set(wanted)), dtype=np.int64)
    found: dict[int, str] = {}
    disk, reader = _open(path, encoding, dict.fromkeys(names, pa.string()), lambda row: "skip")
    try:
        offset = 0
        for batch in reader:
            n = batch.num_rows
            lo, hi = np.searchsorted(wanted_set, [offset, offset + n])
            if hi > lo:
                here = wanted_set[lo:hi]
                rendered = rows_to_json(pa.Table.from_batches([batch]))(here - offset)
                found.update(zip(here.tolist(), rendered, strict=True))
            offset += n
            if hi == len(wanted_set):
                break
    finally:
        disk.close()
    return found


def _streamed_json(
    path: Path, encoding: str, names: tuple[str, ...], refused: dict[int, str]
) -> Callable[[IntArray], list[str]]:
    """A `raw_json` for a streamed read: the rows `check` refused were rendered while their
    text was in memory; any other row is read again from the file."""

    def render(indices: IntArray) -> list[str]:
        positions = [int(i) for i in indices]
        missing = [i for i in positions if i not in refused]
        if missing:
            refused.update(_render_again(path, encoding, names, missing))
        return [refused[i] for i in positions]

    return render


def read_csv(
    path: Path,
    encoding: str,
    progress: Progress | None,
    check: Check | None = None,
    slice_rows: int | None = None,
) -> RawData:
    """Read a .csv or .csv.gz file; see the module docstring for how rows are numbered.

    With `check`, the read is streamed: each slice of up to CHUNK_ROWS parsed rows is handed
    to `check`, which returns the positions (in the slice) it refuses; those rows are rendered
    as JSON for quarantine at once and the slice's text is let go, so memory does not grow
    with the file. The returned RawData then holds no columns, only the row count.
    `slice_rows` overrides CHUNK_ROWS (a streamed load's slice size).
    """
    rows = CHUNK_ROWS if slice_rows is None else slice_rows
    invalid: list[tuple[int, str, int]] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        invalid.append((row.number if row.number is not None else -1, row.text, row.actual_columns))
        return "skip"

    total = path.stat().st_size
    batches: list[pa.RecordBatch] = []
    pending: list[pa.RecordBatch] = []
    refused: dict[int, str] = {}
    done = 0  # rows handed to `check` so far

    def hand_over(schema: pa.Schema) -> None:
        nonlocal done
        assert check is not None
        chunk = pa.Table.from_batches(pending, schema=schema)
        pending.clear()
        bad = check(chunk)
        if bad.size:
            refused.update(zip((bad + done).tolist(), rows_to_json(chunk)(bad), strict=True))
        done += chunk.num_rows

    undecodable: list[BaseException] = []
    try:
        with _decode_errors_kept(undecodable):
            names = _header(path, encoding)
            refuse_duplicates(path, names)
            disk, reader = _open(path, encoding, dict.fromkeys(names, pa.string()), on_invalid)
            try:
                # The reader reads ahead by up to ~40 MiB, so the file position says little
                # about how far parsing got; the text behind the parsed rows does. The end is
                # reported only at the end (by read_file).
                parsed, ratio = 0, _disk_ratio(path, total)
                schema = reader.schema
                for batch in reader:
                    parsed += _text_bytes(batch)
                    if progress is not None:
                        progress(max(0, min(int(parsed * ratio), total - 1)), total)
                    if check is None:
                        batches.append(batch)
                        continue
                    pending.append(batch)
                    if sum(b.num_rows for b in pending) >= rows:
                        hand_over(schema)
                if check is not None and (pending or done == 0):
                    hand_over(schema)  # an empty file is checked too: its plan must hold
            finally:
                disk.close()
        if undecodable:
            raise undecodable[0]
    except (pa.ArrowInvalid, OSError, UnicodeDecodeError) as exc:
        raise _unreadable(path, encoding, exc) from exc
    if check is None:
        data = pa.Table.from_batches(batches, schema=schema)
        render = rows_to_json(data)
    else:  # no columns, only the row count: the text went slice by slice
        data = pa.table({"rows": pa.nulls(done)}).select([])
        render = _streamed_json(path, encoding, names, refused)
    row_numbers, broken, blank = _number_rows(path, data.num_rows, invalid, names)
    return RawData(names, data, row_numbers, broken, render, blank)
