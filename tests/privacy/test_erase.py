"""Erasure end to end: no trace in any table or in the DuckDB file, totals unchanged, re-import
blocked, audit chain intact and free of the email; on DuckDB and PostgreSQL."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from privacy_world import EMAIL, FIRST, LAST, PHONE, build, traces

from revops.audit import entries, verify
from revops.config import DEFAULT_CONFIG, load_config
from revops.ingest import load_file
from revops.metrics import compute
from revops.privacy import erase, erased_mask, is_erased, refresh_pseudonyms
from revops.privacy.erase import placeholder_email
from revops.privacy.tombstones import REASON
from revops.warehouse import Warehouse

FUNNEL = ("leads", "mqls", "sqls", "opportunities_created", "pipeline_created", "won_deals")


def _totals(wh: Warehouse) -> dict[str, pd.DataFrame]:
    model = load_config(DEFAULT_CONFIG).model
    return {m: compute(wh, model, m, grain="month", by=("channel",)) for m in FUNNEL}


def test_erase_leaves_no_trace_and_keeps_totals(file_warehouse: Warehouse, tmp_path: Path) -> None:
    wh = file_warehouse
    build(wh)
    refresh_pseudonyms(wh)
    before = _totals(wh)
    assert set(traces(wh)) >= {
        "persons",
        "activities",
        "routing_decisions",
        "quality_changes",
        "merge_log",
        "quarantine",
    }
    if wh.backend == "duckdb":
        wh.con.raw_sql("CHECKPOINT")
        assert b"quillfeather" in Path(wh.url).read_bytes().lower()  # so the check below bites

    report = erase(wh, EMAIL.upper(), reason=f"ticket 42 from {FIRST} {LAST}", actor="dpo")

    assert report.person_ids == ("P1", "P1B")
    assert report.audit_entries_with_pii == 0
    assert {"persons", "activities", "quarantine", "merge_log"} <= set(report.rows_changed)
    assert traces(wh) == {}
    if wh.backend == "duckdb":
        data = Path(wh.url).read_bytes().lower()
        for needle in (b"quillfeather", b"zephyrine", b"7946 0958", b"xylophone"):
            assert needle not in data, needle
        assert (
            not Path(wh.url + ".wal").exists()
            or b"quillfeather" not in Path(wh.url + ".wal").read_bytes().lower()
        )
    after = _totals(wh)
    for name in FUNNEL:
        pd.testing.assert_frame_equal(before[name], after[name], check_dtype=False)

    person = wh.to_arrow(wh.table("persons").filter(wh.table("persons").person_id == "P1"))
    row = person.to_pylist()[0]
    assert row["email"] == placeholder_email("P1")
    assert row["first_name"] is None
    assert row["phone"] is None
    assert row["title"] is None
    assert row["source"] == "paid_search"
    assert row["account_id"] == "A1"
    pseudo = wh.to_arrow(wh.table("person_pseudonyms")).to_pylist()
    assert [r["email_hmac"] for r in pseudo if r["person_id"] == "P1"] == [None]

    check = verify(wh)
    assert check.ok, check.problems
    log = entries(wh)
    assert log[-1].action == "privacy.erased"
    assert log[-1].subject == "P1,P1B"
    assert all("quillfeather" not in (e.details + e.subject).lower() for e in log)
    details = json.loads(log[-1].details)
    assert details["reason"] == "ticket 42 from [erased]"  # the full name is one token

    assert is_erased(wh, "  zephyrine.quillfeather+again@EXAMPLE.org")
    # the phone decides only for a row without an email (a switchboard number is shared)
    phones = [None, "(020) 7946-0958", "(020) 7946-0958"]
    assert erased_mask(wh, ["other@x.com", None, "colleague@x.com"], phones) == [
        False,
        True,
        False,
    ]

    csv = tmp_path / "again.csv"
    csv.write_text(
        "person_id,email,first_name,last_name,phone,created_at\n"
        f"P77,{EMAIL},{FIRST},{LAST},,2025-01-01 10:00\n"
        f"P78,{EMAIL.upper().replace('@', '+crm@')},Z,Q,{PHONE},2025-01-01 10:00\n"
        "P79,fresh@elsewhere.com,Amy,Z,,2025-01-01 10:00\n"
        "P80,quentin.dupont@acme.io,Quentin,Dupont,+1 646 555 0111,2025-01-01 10:00\n"
    )
    stored = {"person_id": ["Q1"], "email": ["quentin.dupont@acme.io"], "first_name": ["Quentin"]}
    stored |= {"last_name": ["Dupont"], "phone": ["+1 646 555 0111"]}
    wh.write("persons", pa.table({**stored, "created_at": [datetime(2025, 1, 1, 10)]}))
    # with the duplicate rules of the example model on, so both screens must stay aligned
    model = load_config(DEFAULT_CONFIG).model
    block = model.dedupe.rules[1].model_copy(update={"threshold": 0.5})
    model = model.model_copy(update={"dedupe": model.dedupe.model_copy(update={"rules": (block,)})})
    loaded = load_file(wh, csv, "persons", model=model)
    assert (loaded.inserted, loaded.quarantined) == (1, 3)
    q = wh.table("quarantine")
    rows = wh.to_arrow(q.filter(q.reason == REASON).order_by("row_number")).to_pylist()
    assert [r["row_number"] for r in rows] == [1, 2]
    dup = wh.to_arrow(q.filter(q.raw.contains("P80"))).to_pylist()
    assert [(r["row_number"], r["reason"][:15]) for r in dup] == [(4, "duplicate of Q1")]
    for r in rows:
        raw = json.loads(r["raw"])
        assert set(raw) == {"person_id", "created_at"}
    assert traces(wh) == {}


def test_erase_needs_a_reason_and_a_real_email(warehouse: Warehouse) -> None:
    from revops.errors import RevOpsError

    with pytest.raises(RevOpsError, match="reason"):
        erase(warehouse, EMAIL, reason=" ", actor="dpo")
    with pytest.raises(RevOpsError, match="not an email"):
        erase(warehouse, "nobody", reason="x", actor="dpo")


def test_erasing_an_unknown_person_still_blocks_them(warehouse: Warehouse) -> None:
    report = erase(warehouse, "ghost@nowhere.io", reason="request before import", actor="dpo")
    assert report.person_ids == ()
    assert report.rows_changed == {}
    assert is_erased(warehouse, "Ghost@Nowhere.io")
    assert verify(warehouse).ok


def test_a_shared_phone_never_reaches_another_person(warehouse: Warehouse) -> None:
    from revops.privacy import export_subject

    switchboard = "+1 212 555 0100"
    warehouse.write(
        "persons",
        pa.table(
            {
                "person_id": ["A", "B"],
                "email": ["ann@acme.com", "bo@acme.com"],
                "first_name": ["Annabel", "Bo"],
                "phone": [switchboard, switchboard],
                "created_at": [datetime(2025, 1, 1)] * 2,
            }
        ),
    )
    doc = export_subject(warehouse, "ann@acme.com")
    assert [r["person_id"] for r in doc["tables"]["persons"]] == ["A"]
    erase(warehouse, "ann@acme.com", reason="request", actor="dpo")
    rows = {r["person_id"]: r for r in warehouse.to_arrow(warehouse.table("persons")).to_pylist()}
    assert rows["A"]["phone"] is None
    assert rows["B"]["phone"] == switchboard
    assert rows["B"]["email"] == "bo@acme.com"
