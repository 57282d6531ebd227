"""What every reader hands to validation: the parsed rows plus the rows that could not be parsed.

Readers know nothing about the data model. They turn bytes into columns, number every data row
(1-based, header and blank lines not counted) and keep the rows they could not split into fields
as `BrokenRow`s, so those reach quarantine instead of vanishing.
"""

from __future__ import annotations

import codecs
import gzip
import json
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from revops.ingest.errors import IngestError

Progress = Callable[[int, int], None]
IntArray = npt.NDArray[np.int64]
# Given a slice of parsed rows, the positions (in the slice) of the rows it refuses
Check = Callable[[pa.Table], IntArray]

# Rows handled at a time by a streamed read and by validation. Each check makes whole-column
# temporaries (trimmed text, masks, parsed parts); over a 3M-row file they took more memory
# than the file and its parsed rows. Every rule is judged per cell, so checking slices gives
# the same answer as one pass.
CHUNK_ROWS = 1 << 18


@dataclass(frozen=True)
class BrokenRow:
    """A data row that could not be split into fields (wrong field count, malformed JSON)."""

    row_number: int
    field: str
    kind: str
    reason: str
    raw: str


@dataclass(frozen=True)
class RawData:
    """Parsed rows under the file's own column names, each with its 1-based data row number.

    `raw_json` renders chosen rows (by position in `data`) as JSON objects for quarantine; it
    is a callable because only bad rows are ever rendered, and how depends on the format.
    """

    columns: tuple[str, ...]
    data: pa.Table
    row_numbers: IntArray
    broken: tuple[BrokenRow, ...]
    raw_json: Callable[[IntArray], list[str]]
    blank_lines: int = 0  # whitespace-only lines: not rows, but reported

    @property
    def rows_in(self) -> int:
        return self.data.num_rows + len(self.broken)


def is_gzip(path: Path) -> bool:
    return path.name.lower().endswith(".gz")


def check_encoding(encoding: str) -> str:
    """The codec's canonical name, or an IngestError for a misspelt one."""
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise IngestError(f"unknown encoding {encoding!r} (try 'utf-8' or 'latin-1')") from None


_CHUNK = 8 << 20


def read_bytes(path: Path, progress: Progress | None = None) -> bytes:
    """The file's bytes, decompressed when it is gzipped, reporting progress on the file on disk
    (compressed bytes for .gz, so the bar tracks what is really being read)."""
    total = path.stat().st_size
    chunks: list[bytes] = []
    try:
        with path.open("rb") as disk:
            source = gzip.GzipFile(fileobj=disk, mode="rb") if is_gzip(path) else disk
            while chunk := source.read(_CHUNK):
                chunks.append(chunk)
                if progress is not None:
                    progress(disk.tell(), total)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise IngestError(f"{path}: not a complete gzip file ({exc}); was it cut short?") from exc
    return b"".join(chunks)


def decode_error(path: Path, data: bytes, encoding: str) -> IngestError | None:
    """If `data` does not decode, an IngestError saying exactly where and what to do about it.

    Runs only after a reader has already failed, so decoding the whole file again is fine.
    """
    try:
        codecs.decode(data, encoding)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        bad = data[exc.start : exc.start + 1].hex().upper()
        return IngestError(
            f"{path}: line {line}, byte offset {exc.start}: byte 0x{bad} is not valid "
            f"{encoding}; if the file was saved in another encoding, say which, e.g. "
            f"--encoding latin-1 (encoding='latin-1')"
        )
    return None


def rows_to_json(data: pa.Table) -> Callable[[IntArray], list[str]]:
    """A `raw_json` for readers whose parsed columns are the raw values themselves."""

    def render(indices: IntArray) -> list[str]:
        rows = _printable(data.take(pa.array(indices, pa.int64()))).to_pylist()
        return [json.dumps(row, ensure_ascii=False, default=str) for row in rows]

    return render


def _printable(rows: pa.Table) -> pa.Table:
    """Times as Arrow prints them: Python's datetime cannot hold a year past 9999, which is
    exactly what an overflowing timestamp in a quarantined row may hold."""
    for i, field in enumerate(rows.schema):
        if pa.types.is_timestamp(field.type) or pa.types.is_date(field.type):
            try:
                text = pc.cast(rows.column(i), pa.string())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                text = pc.cast(pc.cast(rows.column(i), pa.int64()), pa.string())
            rows = rows.set_column(i, field.name, text)
    return rows


def refuse_duplicates(path: Path, names: tuple[str, ...]) -> None:
    """Two columns with one name make the mapping ambiguous, so the file is refused outright."""
    dupes = sorted(name for name, n in Counter(names).items() if n > 1)
    if dupes:
        raise IngestError(f"{path}: the header repeats column(s) {', '.join(map(repr, dupes))}")
