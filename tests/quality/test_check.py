"""`quality check` on the hand-worked dataset (quality_data.py), on DuckDB and PostgreSQL."""

from __future__ import annotations

from quality_data import load, model

from revops.quality.check import check
from revops.warehouse import Warehouse

EXPECTED = {
    ("persons", "country", "required"): 1,  # P4
    ("persons", "email", "required_for_Lead"): 0,
    ("persons", "company", "required_for_MQL"): 1,  # P2
    ("persons", "owner_id", "required_for_SQL"): 1,  # P3
    ("persons", "account_id", "required_for_SQL"): 0,
    ("persons", "email", "email_syntax"): 1,  # P4 dave@@x.com
    ("persons", "email", "email_case"): 1,  # P2
    ("persons", "email", "free_mail"): 1,  # P3 gmail.com
    ("persons", "phone", "phone_e164"): 4,  # every filled phone but none is E.164
    ("persons", "country", "country_iso"): 2,  # USA, gb
    ("persons", "state", "state_iso"): 1,  # CA-XX (P2's USA is not a checked country yet)
    ("persons", "source", "picklist"): 2,  # Paid Search, carrier pigeon
    ("persons", "person_type", "enum"): 0,
    ("accounts", "country", "required"): 1,  # A3
    ("accounts", "country", "country_iso"): 1,  # Deutschland
    ("accounts", "employees", "range"): 2,  # -5, 10M
}


def test_every_rule_kind_counts_by_hand(warehouse: Warehouse) -> None:
    load(warehouse)
    report = check(warehouse, model())
    got = {(v.table, v.field, v.rule): v.violations for v in report.results}
    for key, count in EXPECTED.items():
        assert got[key] == count, key
    assert report.total == sum(EXPECTED.values())


def test_samples_name_the_offending_keys_and_values(warehouse: Warehouse) -> None:
    load(warehouse)
    report = check(warehouse, model(), ["persons"])
    assert {v.table for v in report.results} == {"persons"}
    by_rule = {(v.field, v.rule): v for v in report.results}
    phone = by_rule[("phone", "phone_e164")]
    assert phone.sample_keys == ("P1", "P2", "P4", "P5")
    assert phone.fixable
    assert by_rule[("email", "free_mail")].sample_keys == ("P3",)
    assert by_rule[("source", "picklist")].sample_values == ("'Paid Search'", "'carrier pigeon'")
    assert by_rule[("phone", "phone_e164")].share == 4 / 5
    frame = report.to_frame()
    assert len(frame) == len(report.failing)
    assert (frame["violations"] > 0).all()
