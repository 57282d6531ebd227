"""Bad files from an attack run (issue 14 item 9), each on DuckDB and PostgreSQL: no traceback,
every row counted (rows in = loaded + quarantined + repeated ids), each refused row named by
file, row and field, and the load_log agreeing with what is stored."""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from ingest_helpers import quarantined, write

from revops.ingest import IngestError, LoadReport, load_file
from revops.warehouse import Warehouse

HEADER = "person_id,email,first_name,last_name,created_at\n"


def _row(i: int, first: str = "Bea") -> str:
    return f"b{i},b{i}@initech.com,{first},Bad{i},2025-01-02 10:00:00\n"


def _accounted(wh: Warehouse, report: LoadReport) -> None:
    assert report.rows_in == report.loaded + report.quarantined + report.duplicates
    logged = wh.sql(
        "SELECT rows_in, inserted, updated, unchanged, quarantined, duplicates FROM load_log "
        f"WHERE load_id = '{report.load_id}'"
    )
    assert logged == [
        (
            report.rows_in,
            report.inserted,
            report.updated,
            report.unchanged,
            report.quarantined,
            report.duplicates,
        )
    ]
    assert wh.count("persons") >= report.inserted


def test_an_unbalanced_quote_counts_every_row_it_swallowed(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    rows = [_row(i) for i in range(5)]
    rows[1] = _row(1, '"Bea')  # the quote never closes: rows 2 to 5 are one field now
    report = load_file(warehouse, write(tmp_path, "q.csv", HEADER + "".join(rows)), "persons")
    assert (report.rows_in, report.inserted, report.quarantined) == (5, 1, 4)
    _accounted(warehouse, report)
    bad = quarantined(warehouse, report.load_id)
    assert [(r[0], r[1]) for r in bad] == [(2, "(row)"), (3, "(row)"), (4, "(row)"), (5, "(row)")]
    assert bad[0][2] == "a quote opened in this row is never closed; it ran over the next 3 rows"
    assert bad[3][2] == "inside the unbalanced quote opened in row 2"
    assert json.loads(bad[3][3]) == {"_line": _row(4).strip()}


def test_whitespace_only_lines_are_not_rows(warehouse: Warehouse, tmp_path: Path) -> None:
    text = HEADER + "".join(_row(i) + "   \n\t\n" for i in range(3))
    report = load_file(warehouse, write(tmp_path, "b.csv", text), "persons")
    assert (report.rows_in, report.inserted, report.quarantined, report.blank_lines) == (3, 3, 0, 6)
    assert "blank lines skipped (not rows): 6" in report.summary()
    _accounted(warehouse, report)


def test_nul_bytes_huge_cells_and_huge_ids_quarantine_only_their_row(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    rows = [_row(i) for i in range(5)]
    rows[0] = _row(0, "A" * (5 << 20))  # a 5 MiB cell
    rows[1] = rows[1].replace("b1,", "I" * (1 << 20) + ",", 1)  # a 1 MiB id
    rows[2] = _row(2, "B\x00ea")  # PostgreSQL cannot store NUL in text
    report = load_file(warehouse, write(tmp_path, "h.csv", HEADER + "".join(rows)), "persons")
    assert (report.rows_in, report.inserted, report.quarantined) == (5, 2, 3)
    _accounted(warehouse, report)
    bad = quarantined(warehouse, report.load_id)
    assert [(r[0], r[1]) for r in bad] == [(1, "first_name"), (2, "person_id"), (3, "first_name")]
    assert bad[0][2].endswith("' is longer than the limit of 1,048,576 characters")
    assert bad[1][2].endswith("' is longer than the limit of 1,000 characters")
    assert bad[2][2] == "first_name: 'B\\0ea' contains a NUL character (\\0)"


def test_nested_json_and_lone_surrogates_quarantine_their_line(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    good = [
        json.dumps({"person_id": f"j{i}", "email": f"j{i}@x.io", "created_at": "2025-01-02"})
        for i in range(3)
    ]
    deep = "[" * 100_000 + "]" * 100_000
    start = '"email": "d@x.io", "created_at": "2025-01-02"'
    lines = [
        *good,
        '{"person_id": "deep", ' + start + ', "x": ' + deep + "}",
        '{"person_id": "s", ' + start + ', "first_name": "A\\ud800"}',
    ]
    report = load_file(warehouse, write(tmp_path, "j.jsonl", "\n".join(lines) + "\n"), "persons")
    assert (report.rows_in, report.inserted, report.quarantined) == (5, 3, 2)
    _accounted(warehouse, report)
    bad = quarantined(warehouse, report.load_id)
    assert [(r[0], r[1], r[2]) for r in bad] == [
        (4, "(json)", "malformed JSON: nested too deeply"),
        (5, "first_name", "first_name: a \\u escape is a lone surrogate, not a character"),
    ]


def test_a_list_of_only_nulls_loads_without_a_traceback(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    """Arrow 26's JSON reader gives `[null, null]` list offsets past its values: an invalid
    array that failed much later (ArrowIndexError in a concatenation); found by the fuzz test."""
    line = '{"person_id": "n1", "email": "a@b.io", "created_at": "2025-01-02", '
    line += '"first_name": [null, null]}'
    report = load_file(warehouse, write(tmp_path, "n.jsonl", line + "\n"), "persons")
    assert (report.rows_in, report.inserted, report.quarantined) == (1, 1, 0)
    _accounted(warehouse, report)
    assert warehouse.sql("SELECT email FROM persons WHERE person_id = 'n1'") == [("a@b.io",)]


def test_invalid_utf8_in_a_short_row_is_one_line_without_a_traceback(
    warehouse: Warehouse, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "u.csv"
    path.write_bytes(HEADER.encode() + _row(0).encode() + b"x1,\xa3\n")
    with pytest.raises(IngestError) as err:
        load_file(warehouse, path, "persons")
    assert str(err.value).startswith(f"{path}: line 3, byte offset ")
    assert "byte 0xA3 is not valid utf-8" in str(err.value)
    assert "Traceback" not in capfd.readouterr().err
    assert warehouse.count("load_log") == 0


def test_parquet_timestamps_out_of_range_are_quarantined(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    ms = [2**62 // 1000, 1_700_000_000_000, -(2**62) // 1000]  # years ~146 million, 2023, BC
    path = tmp_path / "t.parquet"
    table = pa.table(
        {
            "person_id": ["a", "b", "c"],
            "email": ["a@x.io", "b@x.io", "c@x.io"],
            "created_at": pa.array(ms, pa.int64()).cast(pa.timestamp("ms")),
        }
    )
    pq.write_table(table, path)
    report = load_file(warehouse, path, "persons")
    assert (report.rows_in, report.inserted, report.quarantined) == (3, 1, 2)
    _accounted(warehouse, report)
    bad = quarantined(warehouse, report.load_id)
    assert [(r[0], r[1]) for r in bad] == [(1, "created_at"), (3, "created_at")]
    assert warehouse.sql("SELECT person_id, EXTRACT(year FROM created_at) FROM persons") == [
        ("b", 2023)
    ]


@pytest.mark.postgres
def test_two_first_loads_race_on_schema_creation(pg_url: str, tmp_path: Path) -> None:
    """Two processes opening a brand-new PostgreSQL database at once both create the schema;
    serialized by an advisory lock, neither fails on the catalog's unique index."""
    name = f"revops_race_{uuid.uuid4().hex[:8]}"
    base = pg_url.rsplit("/", 1)[0]
    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def first_load(i: int) -> None:
        try:
            start.wait()
            with Warehouse.connect(f"{base}/{name}") as wh:
                path = write(tmp_path, f"r{i}.csv", HEADER + _row(i))
                load_file(wh, path, "persons")
        except BaseException as exc:  # recorded for the main thread to report
            errors.append(exc)

    try:
        threads = [threading.Thread(target=first_load, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        with Warehouse.connect(f"{base}/{name}") as wh:
            assert wh.count("persons") == 2
            assert wh.sql("SELECT sum(inserted) FROM load_log") == [(2,)]
    finally:
        with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
