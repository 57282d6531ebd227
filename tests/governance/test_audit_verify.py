"""Tampering with the audit log: every edit, deletion, relink or cut tail is found and named."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from revops.audit import head, record, verify
from revops.audit.log import GENESIS
from revops.cli import app
from revops.warehouse import Warehouse

runner = CliRunner()


def _five(wh: Warehouse) -> None:
    for i in range(1, 6):
        record(wh, "boss", f"test.step{i}", f"subject {i}", {"n": i})


def _tamper(wh: Warehouse, statement: str) -> None:
    with wh.transaction() as run:
        run(statement)


def test_intact_log_verifies(warehouse: Warehouse) -> None:
    _five(warehouse)
    result = verify(warehouse, expect_head=head(warehouse)[1])
    assert result.ok
    assert result.entries == 5
    assert result.problems == ()
    assert result.head_hash == head(warehouse)[1]


def test_edited_field_is_named(warehouse: Warehouse) -> None:
    _five(warehouse)
    _tamper(warehouse, "UPDATE \"audit_log\" SET actor = 'mallory' WHERE seq = 3")
    result = verify(warehouse)
    assert not result.ok
    assert result.problems == ("entry 3 (test.step3): content does not match its hash",)


def test_edited_details_are_named(warehouse: Warehouse) -> None:
    _five(warehouse)
    _tamper(warehouse, 'UPDATE "audit_log" SET details = \'{"n":99}\' WHERE seq = 2')
    assert verify(warehouse).problems == ("entry 2 (test.step2): content does not match its hash",)


def test_deleted_middle_entry_is_named(warehouse: Warehouse) -> None:
    _five(warehouse)
    _tamper(warehouse, 'DELETE FROM "audit_log" WHERE seq = 3')
    assert verify(warehouse).problems == (
        "entry 3 missing (deleted)",
        "entry 4 (test.step4): link to the previous entry is broken",
    )


def test_deleted_run_of_entries_is_named_as_a_range(warehouse: Warehouse) -> None:
    _five(warehouse)
    _tamper(warehouse, 'DELETE FROM "audit_log" WHERE seq IN (1, 2)')
    assert verify(warehouse).problems == (
        "entries 1..2 missing (deleted)",
        "entry 3 (test.step3): link to the previous entry is broken",
    )


def test_changed_prev_hash_is_named(warehouse: Warehouse) -> None:
    _five(warehouse)
    _tamper(warehouse, f"UPDATE \"audit_log\" SET prev_hash = '{GENESIS}' WHERE seq = 4")
    # The link no longer matches entry 3, and the entry's own hash covers prev_hash too.
    assert verify(warehouse).problems == (
        "entry 4 (test.step4): link to the previous entry is broken",
        "entry 4 (test.step4): content does not match its hash",
    )


def test_cut_tail_is_caught_only_with_the_expected_head(warehouse: Warehouse) -> None:
    _five(warehouse)
    kept = head(warehouse)[1]
    _tamper(warehouse, 'DELETE FROM "audit_log" WHERE seq >= 4')
    assert verify(warehouse, use_anchor=False).ok  # a shorter chain is still a valid chain...
    result = verify(warehouse, expect_head=kept, use_anchor=False)  # ...but not the kept one
    assert not result.ok
    assert result.problems == (f"expected head {kept[:12]}… is not in the log (entries removed)",)
    # the head anchored outside the warehouse catches the cut without a hand-kept head
    # (in-memory DuckDB has no place to anchor; see tests/reliability/test_audit_anchor.py)
    anchored = verify(warehouse)
    assert anchored.ok == (anchored.anchored is None)


def test_cli_audit_verify_exit_codes_and_names(tmp_path: Path) -> None:
    url = str(tmp_path / "wh.duckdb")
    with Warehouse.connect(url) as wh:
        _five(wh)
        kept = head(wh)[1]
    ok = runner.invoke(app, ["audit", "verify", "-w", url], env={"COLUMNS": "250"})
    assert ok.exit_code == 0, ok.output
    assert f"audit log intact: 5 entries, head {kept}" in ok.output

    shown = runner.invoke(
        app,
        ["audit", "log", "--action", "test.", "--limit", "2", "-w", url],
        env={"COLUMNS": "250"},
    )
    assert shown.exit_code == 0, shown.output
    assert "test.step5" in shown.output
    assert "test.step4" in shown.output
    assert "test.step3" not in shown.output

    with Warehouse.connect(url) as wh:
        _tamper(wh, "UPDATE \"audit_log\" SET subject = 'nothing to see' WHERE seq = 2")
        _tamper(wh, 'DELETE FROM "audit_log" WHERE seq = 5')
    bad = runner.invoke(
        app, ["audit", "verify", "--expect-head", kept, "-w", url], env={"COLUMNS": "250"}
    )
    assert bad.exit_code == 1
    assert "entry 2 (test.step2): content does not match its hash" in bad.output
    assert f"expected head {kept[:12]}… is not in the log" in bad.output
    assert "the anchored head, entry 5" in bad.output  # caught without --expect-head too
