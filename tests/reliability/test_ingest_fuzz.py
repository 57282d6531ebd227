"""Property-based ingestion fuzzing (issue 14): generated CSV, JSON lines and Parquet files,
good and bad in every way an attack run found, each loaded into one in-memory warehouse.

For every file: no exception other than IngestError (a one-line refusal that wrote nothing);
otherwise rows in = loaded + quarantined + repeated ids, rows in equals the data rows the file
really holds, and the load_log row, the stored rows and the quarantine agree with the report.
Each example uses its own id prefix, so the stored rows of one load can be counted exactly.
At least 200 files per run: 80 CSV, 70 JSON lines, 60 Parquet.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from revops.ingest import IngestError, load_file
from revops.warehouse import Warehouse

COLUMNS = ["person_id", "email", "first_name", "employees", "created_at"]
_ids = itertools.count()

weird_text = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",)) | st.sampled_from(["\x00", '"', "\n"]),
    max_size=8,
)
cell = st.one_of(
    st.sampled_from(["", " ", "7", "1,200", "-3", "1e400", "NaN", "2025-01-02", "soon"]),
    st.sampled_from(["a@b.io", "bob@", "x" * 1200, "2024-02-30", "9999-12-31 23:59:59"]),
    weird_text,
)


@pytest.fixture(scope="module")
def wh() -> Iterator[Warehouse]:
    with Warehouse.connect(":memory:") as warehouse:
        yield warehouse


@pytest.fixture(scope="module")
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="revops-fuzz-") as tmp:
        yield Path(tmp)


def _check(wh: Warehouse, path: Path, prefix: str, data_rows: int | None) -> None:
    before = wh.count("load_log")
    try:
        report = load_file(wh, path, "persons")
    except IngestError as exc:
        refused = str(exc)
    else:
        refused = ""
    if refused:  # one line naming the file, and nothing written
        assert refused.startswith(str(path))
        assert wh.count("load_log") == before
        return
    assert report.rows_in == report.loaded + report.quarantined + report.duplicates
    if data_rows is not None:
        assert report.rows_in == data_rows
    stored = wh.sql(f"SELECT count(*) FROM persons WHERE starts_with(person_id, '{prefix}')")
    assert stored == [(report.inserted,)]
    assert report.updated == report.unchanged == 0  # a fresh prefix: nothing was stored before
    logged = wh.sql(
        "SELECT rows_in, inserted, quarantined, duplicates FROM load_log "
        f"WHERE load_id = '{report.load_id}'"
    )
    assert logged == [(report.rows_in, report.inserted, report.quarantined, report.duplicates)]
    filed = wh.sql(f"SELECT count(*) FROM quarantine WHERE load_id = '{report.load_id}'")
    assert filed == [(report.quarantined - report.known_quarantined,)]


@st.composite
def csv_files(draw: st.DrawFn) -> tuple[bytes, int | None, str]:
    """A CSV written by a real CSV writer (so its row count is known), sometimes with raw
    damage spliced in afterwards (then only the accounting invariant is checked)."""
    prefix = f"c{next(_ids)}_"
    rows: list[list[str]] = []
    for _ in range(draw(st.integers(0, 12))):
        row = [
            prefix + draw(st.sampled_from(["1", "2", "3"])),
            *draw(st.lists(cell, min_size=4, max_size=4)),
        ]
        if draw(st.integers(0, 5)) == 0:
            row = row[: draw(st.integers(1, 6))] + draw(st.lists(cell, max_size=2))
        rows.append(row)
    buf = io.StringIO()
    # CRLF, as RFC 4180 writes it: then Python quotes a value holding \r or \n (with "\n" as
    # terminator it leaves a lone \r bare, which every CSV reader takes as a line break)
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerows([COLUMNS, *rows])
    # a line holding only whitespace is a blank line, not a row
    count = sum(1 for r in rows if "".join(r).strip() or len(r) > 1)
    data = buf.getvalue().encode("utf-8")
    damage = draw(st.sampled_from(["none", "none", "blank", "quote", "bytes", "nul"]))
    if damage == "blank":
        lines = data.split(b"\r\n")
        at = draw(st.integers(1, len(lines) - 1))
        data = b"\r\n".join([*lines[:at], b"  \t", *lines[at:]])
    elif damage != "none":
        piece = {"quote": b'"', "bytes": draw(st.binary(min_size=1, max_size=4)), "nul": b"\0"}
        at = draw(st.integers(len(data.split(b"\n", 1)[0]) + 1, max(len(data), 1)))
        data = data[:at] + piece[damage] + data[at:]
        count = None
    return data, (count if damage in ("none", "blank") else None), prefix


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(csv_files())
def test_fuzz_csv(wh: Warehouse, folder: Path, case: tuple[bytes, int | None, str]) -> None:
    data, count, prefix = case
    path = folder / f"f{next(_ids)}.csv"
    path.write_bytes(data)
    _check(wh, path, prefix, count)


json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=6,
)


@st.composite
def jsonl_files(draw: st.DrawFn) -> tuple[bytes, int, str]:
    prefix = f"j{next(_ids)}_"
    lines: list[str] = []
    rows = 0
    for _ in range(draw(st.integers(0, 10))):
        kind = draw(
            st.sampled_from(["good", "good", "odd", "broken", "deep", "surrogate", "blank"])
        )
        obj: dict[str, Any] = {
            "person_id": prefix + draw(st.sampled_from(["1", "2", "3"])),
            "email": draw(st.sampled_from(["a@b.io", "c@d.io", "bad@"])),
            "created_at": draw(st.sampled_from(["2025-01-02", "soon", "2025-01-02T10:00:00Z"])),
        }
        if kind == "odd":
            obj[draw(st.sampled_from(["first_name", "employees", "email", "x"]))] = draw(json_value)
        line = json.dumps(obj)
        if kind == "broken":
            line = line[: draw(st.integers(1, len(line) - 1))]
        elif kind == "deep":
            depth = draw(st.sampled_from([50, 3000, 50_000]))
            line = line[:-1] + ', "first_name": ' + "[" * depth + "]" * depth + "}"
        elif kind == "surrogate":
            line = line[:-1] + ', "first_name": "x\\udc80"}'
        elif kind == "blank":
            line = draw(st.sampled_from(["", "   ", "\t"]))
        lines.append(line)
        rows += kind != "blank"
    return ("\n".join(lines) + "\n").encode("utf-8"), rows, prefix


@settings(max_examples=70, deadline=None, suppress_health_check=list(HealthCheck))
@given(jsonl_files())
def test_fuzz_json_lines(wh: Warehouse, folder: Path, case: tuple[bytes, int, str]) -> None:
    data, rows, prefix = case
    path = folder / f"f{next(_ids)}.jsonl"
    path.write_bytes(data)
    _check(wh, path, prefix, rows)


units = st.sampled_from(["ms", "us", "ns"])  # Parquet stores no seconds unit


@st.composite
def parquet_files(draw: st.DrawFn) -> tuple[pa.Table, str]:
    prefix = f"q{next(_ids)}_"
    n = draw(st.integers(0, 10))
    unit = draw(units)
    big = st.integers(-(2**63) + 1, 2**63 - 1)
    stamps = draw(st.lists(st.none() | big | st.integers(0, 2 * 10**9), min_size=n, max_size=n))
    texts = draw(st.lists(st.none() | weird_text, min_size=n, max_size=n))
    table = pa.table(
        {
            "person_id": [prefix + draw(st.sampled_from(["1", "2", "3"])) for _ in range(n)],
            "email": [draw(st.sampled_from(["a@b.io", "bad@", None])) for _ in range(n)],
            "first_name": pa.array(texts, pa.string()),
            "employees": pa.array(
                draw(st.lists(st.none() | big, min_size=n, max_size=n)), pa.int64()
            ),
            "created_at": pa.array(stamps, pa.int64()).cast(pa.timestamp(unit)),
        }
    )
    return table, prefix


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(parquet_files())
def test_fuzz_parquet(wh: Warehouse, folder: Path, case: tuple[pa.Table, str]) -> None:
    table, prefix = case
    path = folder / f"f{next(_ids)}.parquet"
    pq.write_table(table, path, coerce_timestamps=None, allow_truncated_timestamps=True)
    _check(wh, path, prefix, table.num_rows)
