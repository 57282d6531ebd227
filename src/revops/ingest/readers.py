"""Which reader a file gets: decided by its extension alone, so a misnamed file fails loudly
instead of being half-understood by the wrong parser."""

from __future__ import annotations

from pathlib import Path

from revops.ingest.csvfile import read_csv
from revops.ingest.errors import IngestError
from revops.ingest.jsonlines import read_jsonl
from revops.ingest.parquetfile import read_parquet
from revops.ingest.raw import Check, Progress, RawData, check_encoding

CSV_SUFFIXES = (".csv", ".csv.gz")
PARQUET_SUFFIXES = (".parquet",)
JSON_SUFFIXES = (".jsonl", ".ndjson", ".json", ".jsonl.gz", ".ndjson.gz", ".json.gz")


def read_file(
    path: Path,
    *,
    encoding: str = "utf-8",
    progress: Progress | None = None,
    text_fields: frozenset[str] = frozenset(),
    check: Check | None = None,
    slice_rows: int | None = None,
) -> RawData:
    """Parse `path` into `RawData`; IngestError if the file as a whole cannot be read.

    `text_fields` names the file columns that feed text columns; formats that infer types
    (JSON) use it to keep those values exactly as written. `check` streams a CSV file through
    it a slice at a time (see `read_csv`); the other formats are read whole and not checked.
    """
    name = path.name.lower()
    if not path.is_file():
        raise IngestError(f"{path}: no such file")
    codec = check_encoding(encoding)
    if name.endswith(CSV_SUFFIXES):
        raw = read_csv(path, codec, progress, check, slice_rows)
    elif name.endswith(PARQUET_SUFFIXES):
        raw = read_parquet(path, progress)
    elif name.endswith(JSON_SUFFIXES):
        raw = read_jsonl(path, codec, progress, text_fields)
    else:
        known = ", ".join(CSV_SUFFIXES + PARQUET_SUFFIXES + JSON_SUFFIXES)
        raise IngestError(f"{path}: unknown file type; revops reads {known}")
    if progress is not None:
        size = path.stat().st_size
        progress(size, size)
    return raw
