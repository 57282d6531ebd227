"""File formats and broken files: each fails clearly, or loads what it can and quarantines the
rest; nothing is lost either way."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from ingest_helpers import SPEND_HEADER, column, counts, quarantined, write

from revops.ingest import IngestError, load_file
from revops.warehouse import Warehouse

PERSON_HEADER = "person_id,email,first_name,last_name,company,title,country,employees,created_at\n"
PEOPLE = (
    "p1,ann@example.com,Ann,Lee,Acme,CEO,US,10,2024-01-01\n"
    'p2,bob@example.com,Bob,"O\'Neil, Jr.",Globex,"VP\nSales",DE,20,2024-01-02\n'
    "p3,cem@example.com,Cem,Kaya,Initech,CTO,TR,30,2024-01-03\n"
)


def test_csv_gz(warehouse: Warehouse, tmp_path: Path) -> None:
    path = tmp_path / "spend.csv.gz"
    path.write_bytes(gzip.compress((SPEND_HEADER + "c1,2024-01-01,5\nc2,2024-01-02,x\n").encode()))
    report = load_file(warehouse, path, "campaign_spend")
    assert (report.inserted, report.quarantined) == (1, 1)


def test_parquet_keeps_types_and_converts_zoned_timestamps(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    table = pa.table(
        {
            "account_id": ["a1", "a2", "a3"],
            "name": ["A", "B", None],
            "employees": pa.array([10, 20, 30], pa.int32()),
            "annual_revenue": [1.5, None, 3.0],
            "segment": pa.array(["SMB", "enterprise", "smb"]).dictionary_encode(),
            "created_at": pa.array(
                [dt.datetime(2024, 1, 1, 12, tzinfo=dt.UTC)] * 3, pa.timestamp("ms", "UTC")
            ).cast(pa.timestamp("ms", "Europe/Berlin")),
        }
    )
    path = tmp_path / "accounts.parquet"
    pq.write_table(table, path)
    report = load_file(warehouse, path, "accounts")
    assert (report.rows_in, report.inserted, report.quarantined) == (3, 2, 1)
    rows = warehouse.sql("SELECT employees, segment, created_at FROM accounts ORDER BY 1")
    assert rows == [
        (10, "smb", dt.datetime(2024, 1, 1, 12)),
        (20, "enterprise", dt.datetime(2024, 1, 1, 12)),
    ]
    [bad] = quarantined(warehouse, report.load_id)
    assert bad[:3] == (3, "name", "name: required value is empty")
    assert json.loads(bad[3])["employees"] == 30


def test_parquet_numbers_that_do_not_fit(warehouse: Warehouse, tmp_path: Path) -> None:
    path = tmp_path / "a.parquet"
    pq.write_table(
        pa.table(
            {
                "account_id": ["a1", "a2"],
                "name": ["A", "B"],
                "employees": [12.0, 12.5],
                "created_at": ["2024-01-01", "2024-01-01"],
            }
        ),
        path,
    )
    report = load_file(warehouse, path, "accounts")
    [bad] = quarantined(warehouse, report.load_id)
    assert bad[2] == "employees: '12.5' is not a valid integer"


def test_truncated_parquet_is_refused(warehouse: Warehouse, tmp_path: Path) -> None:
    path = tmp_path / "spend.parquet"
    pq.write_table(pa.table({"campaign_id": ["c1"] * 100, "amount": [1.0] * 100}), path)
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(IngestError, match="not a complete Parquet file") as err:
        load_file(warehouse, path, "campaign_spend")
    assert str(path) in str(err.value)
    assert counts(warehouse)["load_log"] == 0


@pytest.mark.parametrize("suffix", [".jsonl", ".ndjson", ".json", ".jsonl.gz"])
def test_json_lines_extensions(warehouse: Warehouse, tmp_path: Path, suffix: str) -> None:
    text = (
        '{"campaign_id": "c1", "spend_date": "2024-01-01", "amount": 5}\n'
        '{"campaign_id": "c2", "spend_date": "2024-01-02", "amount": "1,250.50"}\n'
    )
    data = gzip.compress(text.encode()) if suffix.endswith(".gz") else text.encode()
    path = tmp_path / f"spend{suffix}"
    path.write_bytes(data)
    report = load_file(warehouse, path, "campaign_spend")
    assert (report.rows_in, report.inserted, report.quarantined) == (2, 2, 0)
    assert column(warehouse, "campaign_spend", "amount", "campaign_id") == [5.0, 1250.5]


def test_malformed_json_lines_are_quarantined(warehouse: Warehouse, tmp_path: Path) -> None:
    text = (
        '{"campaign_id": "c1", "spend_date": "2024-01-01", "amount": 5}\n'
        '{"campaign_id": "c2", "spend_date": "2024-01-02", "amount": 6\n'
        '["c3", "2024-01-03", 7]\n'
        '{"campaign_id": "c4", "spend_date": "2024-01-04", "amount": {"value": 8}}\n'
        '{"campaign_id": "c5", "spend_date": "2024-01-05", "amount": 9.5}\n'
    )
    report = load_file(warehouse, write(tmp_path, "spend.jsonl", text), "campaign_spend")
    assert (report.rows_in, report.inserted, report.quarantined) == (5, 2, 3)
    bad = quarantined(warehouse, report.load_id)
    assert [(r[0], r[1]) for r in bad] == [(2, "(json)"), (3, "(json)"), (4, "amount")]
    assert bad[0][2] == "malformed JSON: Expecting ',' delimiter (column 62)"
    assert bad[1][2] == "line is a JSON list, expected an object"
    assert bad[2][2] == """amount: '{"value": 8}' is not a valid number"""
    assert report.problems[("(json)", "json")] == 2


def test_json_text_values_that_look_like_dates_stay_as_written(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    text = "".join(
        f'{{"touchpoint_id": "t{i}", "person_id": {i}, "occurred_at": "2024-01-0{i}T10:00:00Z", '
        f'"channel": "events", "touch_type": "event_attended", "utm_campaign": "2024-01-0{i}"}}\n'
        for i in (1, 2)
    )
    load_file(warehouse, write(tmp_path, "t.jsonl", text), "touchpoints")
    rows = warehouse.sql("SELECT person_id, utm_campaign, occurred_at FROM touchpoints ORDER BY 1")
    assert rows == [
        ("1", "2024-01-01", dt.datetime(2024, 1, 1, 10)),
        ("2", "2024-01-02", dt.datetime(2024, 1, 2, 10)),
    ]


def test_empty_json_lines_file_is_refused(warehouse: Warehouse, tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="the file is empty"):
        load_file(warehouse, write(tmp_path, "t.jsonl", "\n\n"), "touchpoints")


def test_a_semicolon_separated_file_gets_a_hint(warehouse: Warehouse, tmp_path: Path) -> None:
    path = write(tmp_path, "s.csv", "campaign_id;spend_date;amount\nc1;2024-01-01;5\n")
    with pytest.raises(IngestError, match="separated by something other than commas"):
        load_file(warehouse, path, "campaign_spend")


def test_a_json_array_file_is_refused_with_a_hint(warehouse: Warehouse, tmp_path: Path) -> None:
    path = write(tmp_path, "spend.json", '[\n{"campaign_id": "c1"}\n]\n')
    with pytest.raises(IngestError, match="JSON array; revops reads JSON lines"):
        load_file(warehouse, path, "campaign_spend")


def test_truncated_csv_quarantines_the_cut_row_and_loads_the_rest(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    text = PERSON_HEADER + PEOPLE + "p4,dee@example.com,Dee"  # cut mid-line, no newline
    report = load_file(warehouse, write(tmp_path, "people.csv", text), "persons")
    assert (report.rows_in, report.inserted, report.quarantined) == (4, 3, 1)
    [bad] = quarantined(warehouse, report.load_id)
    assert bad[:3] == (4, "(row)", "row has 3 fields, expected 9 (truncated?)")
    assert json.loads(bad[3]) == {
        "person_id": "p4",
        "email": "dee@example.com",
        "first_name": "Dee",
    }
    # The quoted multi-line title was kept intact and did not shift the row numbers.
    assert column(warehouse, "persons", "title", "person_id")[1] == "VP\nSales"


def test_rows_with_too_many_fields_anywhere(warehouse: Warehouse, tmp_path: Path) -> None:
    text = SPEND_HEADER + 'c1,2024-01-01,5\nc2,2024-01-02,5,extra\n\nc3,2024-01-03,"7"\n'
    report = load_file(warehouse, write(tmp_path, "s.csv", text), "campaign_spend")
    assert (report.rows_in, report.inserted, report.quarantined) == (3, 2, 1)
    [bad] = quarantined(warehouse, report.load_id)
    assert bad[:3] == (2, "(row)", "row has 4 fields, expected 3 (unquoted separator?)")
    assert json.loads(bad[3])["_extra"] == ["extra"]


def test_unterminated_quote_at_the_end(warehouse: Warehouse, tmp_path: Path) -> None:
    text = SPEND_HEADER + 'c1,2024-01-01,5\nc2,"2024-01'
    report = load_file(warehouse, write(tmp_path, "s.csv", text), "campaign_spend")
    assert (report.inserted, report.quarantined) == (1, 1)
    assert quarantined(warehouse, report.load_id)[0][:2] == (2, "(row)")


def test_non_utf8_file_names_line_and_offset_and_latin1_works(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    text = "account_id,name,created_at\na1,Acme,2024-01-01\na2,Café Müller,2024-01-02\n"
    path = write(tmp_path, "accounts.csv", text, encoding="latin-1")
    offset = text.encode("latin-1").index("é".encode("latin-1"))
    with pytest.raises(IngestError) as err:
        load_file(warehouse, path, "accounts")
    message = str(err.value)
    assert str(path) in message
    assert f"line 3, byte offset {offset}: byte 0xE9 is not valid utf-8" in message
    assert "--encoding latin-1" in message
    assert warehouse.count("accounts") == 0

    report = load_file(warehouse, path, "accounts", encoding="latin-1")
    assert report.inserted == 2
    assert column(warehouse, "accounts", "name", "account_id") == ["Acme", "Café Müller"]


def test_non_utf8_json_lines(warehouse: Warehouse, tmp_path: Path) -> None:
    text = '{"account_id": "a1", "name": "Café", "created_at": "2024-01-01"}\n'
    path = write(tmp_path, "a.jsonl", text, encoding="cp1252")
    with pytest.raises(IngestError, match=f"line 1, byte offset {text.index('é')}: byte 0xE9"):
        load_file(warehouse, path, "accounts")
    assert load_file(warehouse, path, "accounts", encoding="cp1252").inserted == 1
    assert column(warehouse, "accounts", "name", "account_id") == ["Café"]


def test_utf8_bom_is_not_part_of_the_first_column(warehouse: Warehouse, tmp_path: Path) -> None:
    path = write(tmp_path, "s.csv", "\ufeff" + SPEND_HEADER + "c1,2024-01-01,5\n")
    assert load_file(warehouse, path, "campaign_spend").inserted == 1


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("spend.xlsx", b"PK", "unknown file type"),
        ("spend.csv", b"", "the file is empty"),
        ("missing.csv", None, "no such file"),
        ("spend.csv", b"campaign_id,spend_date,campaign_id\n1,2,3\n", "repeats column"),
    ],
)
def test_unreadable_files(
    warehouse: Warehouse, tmp_path: Path, name: str, content: bytes | None, match: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(IngestError, match=match) as err:
        load_file(warehouse, path, "campaign_spend")
    assert str(path) in str(err.value)


def test_truncated_gzip_is_refused(warehouse: Warehouse, tmp_path: Path) -> None:
    body = SPEND_HEADER + "".join(f"c{i},2024-01-01,{i}\n" for i in range(5000))
    path = tmp_path / "spend.csv.gz"
    path.write_bytes(gzip.compress(body.encode())[:-200])
    with pytest.raises(IngestError, match="not a complete gzip file"):
        load_file(warehouse, path, "campaign_spend")
    assert counts(warehouse)["campaign_spend"] == 0


def test_header_only_file_loads_nothing_and_is_logged(warehouse: Warehouse, tmp_path: Path) -> None:
    report = load_file(warehouse, write(tmp_path, "s.csv", SPEND_HEADER), "campaign_spend")
    assert (report.rows_in, report.inserted, report.quarantined) == (0, 0, 0)
    assert warehouse.sql("SELECT rows_in FROM load_log") == [(0,)]


@pytest.mark.parametrize("gzipped", [False, True])
def test_progress_follows_parsing_up_to_the_file_size(
    warehouse: Warehouse, tmp_path: Path, gzipped: bool
) -> None:
    body = SPEND_HEADER + "".join(f"c{i},2024-01-01,{i}\n" for i in range(600_000))
    path = tmp_path / ("big.csv.gz" if gzipped else "big.csv")
    path.write_bytes(gzip.compress(body.encode()) if gzipped else body.encode())
    calls: list[tuple[int, int]] = []
    load_file(warehouse, path, "campaign_spend", progress=lambda d, t: calls.append((d, t)))
    size = path.stat().st_size
    assert {total for _, total in calls} == {size}
    done = [d for d, _ in calls]
    assert len(done) >= 4  # one call per 4 MiB block, then the final one
    assert done == sorted(set(done))  # strictly increasing
    assert done[0] < size / 2  # not fooled by the reader's read-ahead
    assert done[-1] == size
