"""Subject export, pseudonyms and encrypted export files."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest
from privacy_world import EMAIL, build

from revops.privacy import export_subject, refresh_pseudonyms, write_export
from revops.privacy.crypto import read_private
from revops.privacy.pseudonyms import VIEW
from revops.privacy.secrets import MissingSecret
from revops.warehouse import Warehouse

# Every table privacy_world gives a row about P1 (or its merged-away duplicate P1B).
EXPECTED = {
    "persons": 1,  # P1B was merged into P1 and removed
    "touchpoints": 1,  # re-parented from P1B
    "activities": 1,
    "lifecycle_history": 6,  # funnel_case: Lead, MQL, SAL, SQL, Opportunity, Customer
    "lifecycle_events": 1,
    "lifecycle_rejections": 1,
    "attribution_credits": 1,
    "routing_decisions": 1,
    "lead_scores": 1,
    "sla_clocks": 1,
    "quality_changes": 1,
    "merge_log": 1,
    "account_matches": 1,
    "dedupe_pairs": 1,
    "dedupe_clusters": 2,
    "duplicate_alerts": 1,
    "quarantine": 2,  # one with her email, one with a mistyped email and her names
    "consent_ledger": 1,
    "person_pseudonyms": 1,
    "audit_log": 1,  # consent.recorded about P1
}


def test_export_has_every_table_about_the_person(warehouse: Warehouse) -> None:
    build(warehouse)
    refresh_pseudonyms(warehouse)
    doc = export_subject(warehouse, " zephyrine.quillfeather+newsletter@EXAMPLE.org ")
    assert doc["person_ids"] == ["P1", "P1B"]
    counts = {name: len(rows) for name, rows in doc["tables"].items()}
    assert counts == EXPECTED
    assert doc["tables"]["touchpoints"][0]["touchpoint_id"] == "TP1"
    assert {r["row_number"] for r in doc["tables"]["quarantine"]} == {3, 4}
    other = export_subject(warehouse, "p2@example.com")  # funnel_case's P2: unrelated rows only
    assert other["person_ids"] == ["P2"]
    assert "merge_log" not in other["tables"]


def test_export_file_is_encrypted_with_the_environment_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = {"person_ids": ["P1"], "tables": {"persons": [{"email": EMAIL}]}}
    plain = tmp_path / "plain.json"
    assert write_export(doc, plain) is False
    assert EMAIL.encode() in plain.read_bytes()
    assert plain.stat().st_mode & 0o777 == 0o600

    monkeypatch.setenv("REVOPS_ENCRYPTION_KEY", "correct horse battery staple")
    sealed = tmp_path / "sealed.json"
    assert write_export(doc, sealed) is True
    assert b"Zephyrine" not in sealed.read_bytes()
    assert json.loads(read_private(sealed)) == json.loads(read_private(plain))
    monkeypatch.setenv("REVOPS_ENCRYPTION_KEY", "wrong key")
    from revops.errors import RevOpsError

    with pytest.raises(RevOpsError, match="wrong REVOPS_ENCRYPTION_KEY"):
        read_private(sealed)


def test_pseudonyms_are_keyed_hmacs_and_the_view_hides_pii(warehouse: Warehouse) -> None:
    build(warehouse)
    assert refresh_pseudonyms(warehouse) == 8  # funnel_case P1..P8 (P1B merged away)
    rows = {r["person_id"]: r for r in warehouse.to_arrow(warehouse.table(VIEW)).to_pylist()}
    key = b"test-pseudonym-key-0123456789"
    # normalised: lower-cased, +tag dropped; phone: last ten digits
    email = hmac.new(key, b"zephyrine.quillfeather@example.org", hashlib.sha256).hexdigest()
    phone = hmac.new(key, b"2079460958", hashlib.sha256).hexdigest()
    assert rows["P1"]["email_hmac"] == email
    assert rows["P1"]["phone_hmac"] == phone
    assert rows["P2"]["phone_hmac"] is None
    hidden = {"email", "first_name", "last_name", "phone", "title", "company", "state"}
    assert not hidden & set(rows["P1"])
    assert rows["P1"]["source"] == "paid_search"


def test_pseudonyms_need_the_key(warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REVOPS_PSEUDONYM_KEY")
    with pytest.raises(MissingSecret, match="REVOPS_PSEUDONYM_KEY"):
        refresh_pseudonyms(warehouse)
