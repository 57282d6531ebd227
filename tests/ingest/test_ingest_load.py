"""Loads as a whole: idempotent upserts, one atomic write, the load_log, the report, the logs."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from ingest_helpers import CASES, SPEND_HEADER, column, counts, quarantined, write

from revops.ingest import IngestError, LoadReport, load_file
from revops.warehouse import Warehouse
from revops.warehouse.warehouse import Warehouse as WarehouseClass

SPEND = SPEND_HEADER + "c1,2024-01-01,5\nc2,2024-01-01,6\nc3,2024-01-01,oops\nc4,2024-01-01,8\n"


def test_reloading_an_unchanged_file_changes_nothing(warehouse: Warehouse, tmp_path: Path) -> None:
    path = write(tmp_path, "spend.csv", SPEND)
    first = load_file(warehouse, path, "campaign_spend")
    second = load_file(warehouse, path, "campaign_spend")
    assert (first.inserted, first.updated, first.unchanged, first.quarantined) == (3, 0, 0, 1)
    assert (second.inserted, second.updated, second.unchanged, second.quarantined) == (0, 0, 3, 1)
    assert warehouse.count("campaign_spend") == 3
    assert first.load_id != second.load_id
    # The refused row is still reported, but not filed in quarantine a second time.
    assert second.known_quarantined == 1
    assert warehouse.count("quarantine") == 1
    assert warehouse.sql(
        "SELECT rows_in, inserted, updated, unchanged, quarantined FROM load_log "
        "ORDER BY loaded_at, load_id"
    ) == [(4, 3, 0, 0, 1), (4, 0, 0, 3, 1)]


def test_reloading_an_export_with_a_single_column_key(warehouse: Warehouse) -> None:
    path = CASES / "salesforce_accounts.csv"
    first = load_file(warehouse, path, "accounts", "salesforce")
    second = load_file(warehouse, path, "accounts", "salesforce")
    assert (first.inserted, first.updated) == (3, 0)
    assert (second.inserted, second.updated, second.unchanged, second.quarantined) == (0, 0, 3, 3)
    assert warehouse.count("accounts") == 3


def test_overlapping_files_count_new_and_replaced_keys(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    load_file(warehouse, write(tmp_path, "a.csv", SPEND), "campaign_spend")
    text = SPEND_HEADER + "c2,2024-01-01,60\nc4,2024-01-01,80\nc5,2024-01-01,9\nc5,2024-01-01,10\n"
    report = load_file(warehouse, write(tmp_path, "b.csv", text), "campaign_spend")
    # c2, c4 change stored rows; c5 is new; its second row wins, the first is reported.
    assert (report.rows_in, report.inserted, report.updated, report.quarantined) == (4, 1, 2, 0)
    assert (report.duplicates, report.duplicate_ids) == (1, (("c5/2024-01-01", (3, 4)),))
    assert "c5/2024-01-01 (rows 3, 4)" in report.summary()
    assert column(warehouse, "campaign_spend", "amount", "campaign_id") == [5.0, 60.0, 80.0, 10.0]
    logged = warehouse.sql(
        f"SELECT target_table, file, preset, rows_in, inserted, updated, quarantined, duplicates "
        f"FROM load_log WHERE load_id = '{report.load_id}'"
    )
    assert logged == [("campaign_spend", str(tmp_path / "b.csv"), None, 4, 1, 2, 0, 1)]


def test_quarantine_rows_carry_the_load_the_file_and_the_time(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    path = write(tmp_path, "spend.csv", SPEND)
    report = load_file(warehouse, path, "campaign_spend")
    rows = warehouse.sql(
        "SELECT q.load_id, q.target_table, q.file, q.row_number, q.quarantined_at = l.loaded_at "
        "FROM quarantine q JOIN load_log l ON q.load_id = l.load_id"
    )
    assert rows == [(report.load_id, "campaign_spend", str(path), 3, True)]


def _fail_on(table: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the warehouse fail while applying `table`: after earlier batches already ran."""
    real = WarehouseClass._apply

    def apply(self: Warehouse, run: Any, t: Any, *args: Any) -> Any:
        if t.name == table:
            raise RuntimeError(f"disk full while writing {table}")
        return real(self, run, t, *args)

    monkeypatch.setattr(WarehouseClass, "_apply", apply)


@pytest.mark.parametrize("failing", ["quarantine", "load_log"])
def test_a_failed_write_leaves_the_warehouse_exactly_as_it_was(
    warehouse: Warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    load_file(warehouse, write(tmp_path, "a.csv", SPEND), "campaign_spend")
    before = counts(warehouse)
    amounts = column(warehouse, "campaign_spend", "amount", "campaign_id")

    text = SPEND_HEADER + "c1,2024-01-01,500\nc9,2024-01-01,9\nc10,bad,1\n"
    _fail_on(failing, monkeypatch)
    with pytest.raises(IngestError, match="nothing was loaded") as err:
        load_file(warehouse, write(tmp_path, "b.csv", text), "campaign_spend")
    assert "disk full" in str(err.value)
    assert counts(warehouse) == before
    assert column(warehouse, "campaign_spend", "amount", "campaign_id") == amounts


def test_an_interrupted_read_writes_nothing(warehouse: Warehouse, tmp_path: Path) -> None:
    body = "".join(f"c{i},2024-01-01,{i}\n" for i in range(300_000))
    path = write(tmp_path, "big.csv", SPEND_HEADER + body)

    class Stop(Exception):
        pass

    def progress(done: int, total: int) -> None:
        if done < total:
            raise Stop

    with pytest.raises(Stop):
        load_file(warehouse, path, "campaign_spend", progress=progress)
    assert counts(warehouse) == {"accounts": 0, "campaign_spend": 0, "quarantine": 0, "load_log": 0}


def test_report_invariant_and_summary(warehouse: Warehouse, tmp_path: Path) -> None:
    report = load_file(warehouse, write(tmp_path, "spend.csv", SPEND), "campaign_spend")
    assert isinstance(report, LoadReport)
    assert report.rows_in == report.loaded + report.quarantined + report.duplicates
    assert report.loaded == 3
    assert report.problems == {("amount", "float"): 1}
    assert report.seconds > 0
    summary = report.summary()
    assert "4 rows in, 3 inserted, 0 updated, 0 unchanged, 1 quarantined" in summary
    assert "amount (float) × 1" in summary
    with pytest.raises(AttributeError):
        report.inserted = 9  # type: ignore[misc]


def test_emails_stay_out_of_logs_and_summaries(
    warehouse: Warehouse, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    text = (
        "person_id,email,created_at\np1,secret.person@example.com,2024-01-01\np2,leak@,2024-01-01\n"
    )
    caplog.set_level(logging.DEBUG, logger="revops")
    report = load_file(warehouse, write(tmp_path, "p.csv", text), "persons")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert report.load_id in logged
    assert "secret.person" not in logged
    assert "leak@" not in logged
    assert "leak@" not in report.summary()
    # ...but the quarantine tells the user exactly what was wrong with which row.
    assert quarantined(warehouse, report.load_id)[0][2] == "email: 'leak@' is not a valid email"
