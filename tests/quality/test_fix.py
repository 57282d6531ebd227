"""`quality fix` and `quality undo` on the hand-worked dataset, on DuckDB and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
from quality_data import PERSON_COLUMNS, PERSONS, column, load, model

from revops.quality import fix
from revops.quality.check import check
from revops.quality.undo import UndoError, undo
from revops.warehouse import Warehouse

EXPECTED = {
    ("persons", "P2", "country"): ("USA", "US", "country_code"),
    ("persons", "P3", "country"): ("gb", "GB", "country_code"),
    ("persons", "P2", "source"): ("Paid Search", "paid_search", "picklist"),
    # P2's state is read in the light of its country once that is fixed to US.
    ("persons", "P2", "state"): ("California", "CA", "state_code"),
    ("persons", "P1", "phone"): ("+1 415 555 0100", "+14155550100", "phone_e164"),
    ("persons", "P2", "phone"): ("4155550101", "+14155550101", "phone_e164"),
    ("persons", "P4", "phone"): ("+44 20 7946 0958", "+442079460958", "phone_e164"),
    ("persons", "P2", "email"): ("Bob@Acme.COM", "bob@acme.com", "email_lowercase"),
    ("persons", "P1", "seniority"): (None, "vp", "title_seniority"),
    ("persons", "P2", "seniority"): (None, "individual_contributor", "title_seniority"),
    ("persons", "P3", "seniority"): (None, "c_level", "title_seniority"),
    ("persons", "P4", "seniority"): (None, "director", "title_seniority"),
    ("persons", "P1", "job_function"): (None, "sales", "title_function"),
    ("persons", "P2", "job_function"): (None, "engineering", "title_function"),
    ("persons", "P3", "job_function"): (None, "finance", "title_function"),
    ("persons", "P4", "job_function"): (None, "it", "title_function"),
    ("accounts", "A2", "country"): ("Deutschland", "DE", "country_code"),
}
AT = dt.datetime(2025, 3, 1, 12)


def _snapshot(wh: Warehouse) -> dict[str, dict[str, object]]:
    fields = ("email", "phone", "country", "state", "source", "seniority", "job_function")
    out = {f"persons.{f}": column(wh, "persons", f, "person_id") for f in fields}
    out["accounts.country"] = column(wh, "accounts", "country", "account_id")
    return out


def test_dry_run_plans_exactly_the_safe_changes_and_writes_nothing(warehouse: Warehouse) -> None:
    load(warehouse)
    before = _snapshot(warehouse)
    planned = fix.plan(warehouse, model())
    got = {(c.table, c.record_id, c.field): (c.before, c.after, c.rule) for c in planned.changes}
    assert got == EXPECTED
    assert _snapshot(warehouse) == before
    assert warehouse.count("quality_changes") == 0


def test_fix_records_every_change_is_idempotent_and_undo_restores(warehouse: Warehouse) -> None:
    load(warehouse)
    m = model()
    before = _snapshot(warehouse)
    result = fix.apply(warehouse, m, now=AT)
    assert result.run_id is not None
    assert len(result.changes) == len(EXPECTED)
    after = _snapshot(warehouse)
    for (table, rid, field), (_old, new, _rule) in EXPECTED.items():
        assert after[f"{table}.{field}"][rid] == new
    assert after["persons.phone"]["P5"] == "12"  # not a possible number: left alone
    log = warehouse.execute(warehouse.table("quality_changes"))
    assert len(log) == len(EXPECTED)
    assert set(log["fix_run_id"]) == {result.run_id}
    assert log["undone_at"].isna().all()
    recorded = {(r.table_name, r.record_id, r.field): (r.before, r.after) for r in log.itertuples()}
    assert recorded[("persons", "P2", "state")] == ("California", "CA")

    # The rules that fix repairs now pass; the ones it cannot stay.
    counts = {(v.field, v.rule): v.violations for v in check(warehouse, m).results}
    assert counts[("country", "country_iso")] == 0
    assert counts[("email", "email_case")] == 0
    assert counts[("phone", "phone_e164")] == 1  # P5
    assert counts[("source", "picklist")] == 1  # carrier pigeon
    assert counts[("state", "state_iso")] == 1  # CA-XX

    assert fix.apply(warehouse, m).changes == ()  # a second fix is a no-op

    undone = undo(warehouse, result.run_id, now=AT)
    assert (undone.restored, undone.conflicts) == (len(EXPECTED), 0)
    assert _snapshot(warehouse) == before
    log = warehouse.execute(warehouse.table("quality_changes"))
    assert log["undone_at"].notna().all()
    with pytest.raises(UndoError, match="already undone"):
        undo(warehouse, result.run_id)
    with pytest.raises(UndoError, match="no quality fix run"):
        undo(warehouse, "fix-nope")


def test_undo_keeps_values_changed_since_the_fix(warehouse: Warehouse) -> None:
    load(warehouse)
    result = fix.apply(warehouse, model(), now=AT)
    assert result.run_id is not None
    edited = pa.table({"person_id": ["P2"], "country": ["MX"]})
    warehouse.write("persons", edited)
    undone = undo(warehouse, result.run_id)
    assert (undone.restored, undone.conflicts) == (len(EXPECTED) - 1, 1)
    countries = column(warehouse, "persons", "country", "person_id")
    assert countries["P2"] == "MX"
    assert countries["P3"] == "gb"
    log = warehouse.execute(warehouse.table("quality_changes"))
    pending = log[log["undone_at"].isna()]
    assert list(zip(pending["record_id"], pending["field"], strict=True)) == [("P2", "country")]


def test_nothing_to_fix_writes_no_run(warehouse: Warehouse) -> None:
    clean = {c: [v] for c, v in zip(PERSON_COLUMNS, PERSONS[0], strict=True)}
    clean |= {"phone": ["+14155550100"], "seniority": ["vp"], "job_function": ["sales"]}
    clean["created_at"] = [AT]
    warehouse.write("persons", pa.table(clean))
    result = fix.apply(warehouse, model())
    assert (result.run_id, result.changes) == (None, ())
    assert warehouse.count("quality_changes") == 0
