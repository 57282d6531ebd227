"""The audit head is kept outside the warehouse, so cutting or rewriting the log is caught, and
an engine's change commits with its audit entry in one transaction."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pyarrow as pa
import pytest

from revops.audit import audited, entries, record, rows_of, verify
from revops.audit.anchor import anchor_path, read_anchor
from revops.errors import RevOpsError
from revops.warehouse import Batch, Warehouse


@pytest.fixture
def wh(tmp_path: Path) -> Warehouse:
    w = Warehouse.connect(str(tmp_path / "w.duckdb"))
    for i in range(5):
        record(w, "tester", "test.did", f"thing-{i}", {"i": i})
    return w


def test_every_audit_write_anchors_the_head_beside_the_warehouse(wh: Warehouse) -> None:
    path = anchor_path(wh.url)
    assert path is not None
    assert path.name == "w.duckdb.audit-anchor"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    anchor = read_anchor(wh.url)
    assert anchor is not None
    last = entries(wh)[-1]
    assert (anchor.seq, anchor.hash) == (last.seq, last.hash)
    check = verify(wh)
    assert check.ok, check.problems
    assert check.anchored == 5


def test_truncation_is_caught_by_the_anchor(wh: Warehouse) -> None:
    wh.sql('DELETE FROM "audit_log" WHERE seq >= 4')
    assert verify(wh, use_anchor=False).ok  # a shorter chain is valid on its own
    check = verify(wh)
    assert not check.ok
    assert "entry 5" in check.problems[0]
    assert "cut off" in check.problems[0]


def test_a_rewritten_chain_is_caught_by_the_anchor(wh: Warehouse) -> None:
    """Rewrite entries 3.. with consistent hashes: the chain alone is valid again."""
    from revops.audit.log import GENESIS, AuditNote, chain_batch

    kept = entries(wh)[:2]
    wh.sql('DELETE FROM "audit_log" WHERE seq >= 3')
    start = (kept[-1].seq, kept[-1].hash) if kept else (0, GENESIS)
    fake = [AuditNote("mallory", "test.did", f"forged-{i}", {}, kept[-1].at) for i in range(3)]
    batch, _ = chain_batch(start, fake)
    wh.con.con.register("forged", batch.data)
    wh.sql('INSERT INTO "audit_log" SELECT * FROM forged')
    assert verify(wh, use_anchor=False).ok
    check = verify(wh)
    assert not check.ok
    assert "rewritten" in check.problems[0]


def test_the_anchor_command_gets_the_head(
    wh: Warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "anchors.txt"
    script = tmp_path / "anchor.sh"
    script.write_text(f"#!/bin/sh\ncat >> {out}\n")
    script.chmod(0o700)
    monkeypatch.setenv("REVOPS_AUDIT_ANCHOR_COMMAND", str(script))
    record(wh, "tester", "test.did", "thing-6")
    seq, digest, _ = out.read_text().split()
    assert (int(seq), digest) == (entries(wh)[-1].seq, entries(wh)[-1].hash)


def test_an_unreadable_anchor_fails_verify(wh: Warehouse) -> None:
    path = anchor_path(wh.url)
    assert path is not None
    path.write_text("{not json")
    assert not verify(wh).ok
    path.write_text(json.dumps({"seq": 5, "hash": entries(wh)[-1].hash}))
    assert verify(wh).ok


def test_audited_commits_the_entry_with_the_change_or_not_at_all(wh: Warehouse) -> None:
    person = pa.table({"person_id": ["p1"], "email": ["a@example.com"]})

    def describe(batches: list[Batch]) -> tuple[str, dict[str, int]]:
        return "p1", {"persons": len(rows_of(batches, "persons"))}

    with audited(wh, "tester", "persons.added", describe):
        wh.write_many([Batch("persons", person)])
    assert wh.count("persons") == 1
    last = entries(wh)[-1]
    assert (last.action, last.details) == ("persons.added", '{"persons":1}')
    before = len(entries(wh))
    with pytest.raises(RevOpsError), audited(wh, "tester", "persons.added", describe):
        wh.write_many([Batch("persons", person, "append")])  # a repeated key: the write fails
    assert len(entries(wh)) == before  # no entry for a change that did not happen
    assert wh.audit_hook is None
