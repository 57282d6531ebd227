"""CSV reading: streamed in blocks (for progress), every column as text, broken rows kept.

Row numbers need care, because Arrow skips rows it cannot split into the right number of fields
and numbers nothing it returns. The reader runs single-threaded since only then does Arrow tell
the record number of each skipped row (`InvalidRow.number`). That number counts records, not
physical lines, so quoted multi-line values and skipped blank lines cannot shift it; the valid
rows then take the numbers the skipped ones did not, in order.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from revops.ingest.errors import IngestError
from revops.ingest.raw import (
    BrokenRow,
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


def read_csv(path: Path, encoding: str, progress: Progress | None) -> RawData:
    """Read a .csv or .csv.gz file; see the module docstring for how rows are numbered."""
    invalid: list[tuple[int, str, int]] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        invalid.append((row.number if row.number is not None else -1, row.text, row.actual_columns))
        return "skip"

    total = path.stat().st_size
    batches: list[pa.RecordBatch] = []
    try:
        names = _header(path, encoding)
        refuse_duplicates(path, names)
        disk, reader = _open(path, encoding, dict.fromkeys(names, pa.string()), on_invalid)
        try:
            # The reader reads ahead by up to ~40 MiB, so the file position says little about
            # how far parsing got; the text behind the parsed rows does. The end is reported
            # only at the end (by read_file).
            parsed, ratio = 0, _disk_ratio(path, total)
            for batch in reader:
                batches.append(batch)
                parsed += _text_bytes(batch)
                if progress is not None:
                    progress(max(0, min(int(parsed * ratio), total - 1)), total)
            schema = reader.schema
        finally:
            disk.close()
    except (pa.ArrowInvalid, OSError, UnicodeDecodeError) as exc:
        raise _unreadable(path, encoding, exc) from exc
    data = pa.Table.from_batches(batches, schema=schema)

    # Records are numbered from the header (record 1), so data row = record number - 1.
    rows_in = data.num_rows + len(invalid)
    taken = np.zeros(rows_in + 1, dtype=np.bool_)
    broken = []
    for number, text, actual in invalid:
        row_number = number - 1
        if not 1 <= row_number <= rows_in or taken[row_number]:
            raise IngestError(f"{path}: could not number the rows reliably near record {number}")
        taken[row_number] = True
        broken.append(_broken(row_number, text, actual, names))
    row_numbers = np.flatnonzero(~taken[1:]).astype(np.int64) + 1
    return RawData(names, data, row_numbers, tuple(broken), rows_to_json(data))
