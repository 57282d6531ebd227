"""Loads a user can trust (issue 12 item 6): reloads change nothing, `quality fix` results
survive them, delta exports touch only what changed, duplicate rules screen only new records,
and the quarantine can be reviewed, exported, fixed and replayed."""

from __future__ import annotations

import csv
import datetime as dt
import sys
from pathlib import Path

import pytest
from ingest_helpers import write

from revops.config import DEFAULT_CONFIG, load_config
from revops.config.dedupe import DedupeConfig, DuplicateRule
from revops.config.models import OperatingModel
from revops.ingest import load_file
from revops.ingest.quarantine import load_rows, pending_loads, replay, to_csv
from revops.quality import fix
from revops.warehouse import Warehouse

sys.path.insert(0, str(Path(__file__).parents[1] / "quality"))
from quality_data import model as quality_model

HEADER = "person_id,email,first_name,phone,country,created_at,updated_at\n"
PERSONS = (
    HEADER + "p1,ana@acme.com,Ana,4155550100,US,2025-01-02,2025-03-01 10:00\n"
    "p2,bob@initech.com,Bob,+1 415 555 0101,US,2025-01-03,2025-03-01 10:00\n"
    "p3,broken-email,Cy,,US,2025-01-04,2025-03-01 10:00\n"
)


def _people(wh: Warehouse) -> list[tuple[object, ...]]:
    return wh.sql("SELECT person_id, first_name, phone FROM persons ORDER BY 1")


def test_reload_keeps_quality_fix_results_and_changes_nothing(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    path = write(tmp_path, "persons.csv", PERSONS)
    first = load_file(warehouse, path, "persons")
    assert (first.inserted, first.quarantined) == (2, 1)
    fixed = fix.apply(warehouse, quality_model())
    assert fixed.changes  # phones to E.164 (at least p1's)
    after_fix = _people(warehouse)
    assert after_fix[0] == ("p1", "Ana", "+14155550100")

    again = load_file(warehouse, path, "persons")
    # nothing changed in the export since: 0 updated, the fix kept, no second quarantine row
    assert (again.inserted, again.updated, again.unchanged, again.quarantined) == (0, 0, 2, 1)
    assert _people(warehouse) == after_fix
    assert warehouse.count("quarantine") == 1

    # a real change in the source wins over the fix
    changed = PERSONS.replace("4155550100", "4155550199")
    report = load_file(warehouse, write(tmp_path, "changed.csv", changed), "persons")
    assert (report.updated, report.unchanged) == (1, 1)
    assert _people(warehouse)[0] == ("p1", "Ana", "4155550199")


def test_delta_export_updates_only_newer_rows(warehouse: Warehouse, tmp_path: Path) -> None:
    load_file(warehouse, write(tmp_path, "full.csv", PERSONS), "persons")
    delta = (
        HEADER + "p1,ana@acme.com,Anna,4155550100,US,2025-01-02,2025-03-05 09:00\n"  # newer
        "p2,bob@initech.com,Robert,+1 415 555 0101,US,2025-01-03,2025-02-01 00:00\n"  # older
        "p4,dee@initech.com,Dee,,US,2025-03-05,2025-03-05 09:00\n"  # new
    )
    report = load_file(warehouse, write(tmp_path, "delta.csv", delta), "persons")
    assert (report.inserted, report.updated, report.unchanged) == (1, 1, 1)
    assert [r[1] for r in _people(warehouse)] == ["Anna", "Bob", "Dee"]
    assert warehouse.sql("SELECT updated_at FROM persons WHERE person_id = 'p2'") == [
        (dt.datetime(2025, 3, 1, 10),)
    ]


def _rules_model() -> OperatingModel:
    base = load_config(DEFAULT_CONFIG).model
    rule = DuplicateRule(name="no_dupes", table="persons", action="block", threshold=0.5)
    return base.model_copy(update={"dedupe": DedupeConfig(rules=(rule,))})


def test_duplicate_rules_never_screen_updates_of_stored_records(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    rows = [f"p{i},person{i}@acme{i}.com,Name{i},,US,2025-01-02,\n" for i in range(40)]
    path = write(tmp_path, "persons.csv", HEADER + "".join(rows))
    model = _rules_model()
    first = load_file(warehouse, path, "persons", model=model)
    assert first.inserted + first.quarantined == 40
    stored = warehouse.count("persons")
    alerts = warehouse.count("duplicate_alerts")
    again = load_file(warehouse, path, "persons", model=model)
    # every stored row comes back as itself: none is blocked as a duplicate of itself or others
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, stored)
    assert again.quarantined == first.quarantined
    assert again.known_quarantined == first.quarantined
    assert warehouse.count("duplicate_alerts") == alerts


def test_quarantine_export_fix_and_replay(warehouse: Warehouse, tmp_path: Path) -> None:
    path = write(tmp_path, "persons.csv", PERSONS)
    first = load_file(warehouse, path, "persons")
    [pending] = pending_loads(warehouse)
    assert (pending.load_id, pending.rows, pending.pending, pending.top_field) == (
        first.load_id,
        1,
        1,
        "email",
    )
    # replayed as stored, the row fails again and keeps waiting, not filed twice
    again = replay(warehouse, first.load_id, lambda *a, **k: load_file(warehouse, *a, **k))
    assert (again.rows_in, again.loaded, again.quarantined) == (1, 0, 1)
    assert warehouse.count("quarantine") == 1

    exported = tmp_path / "q.csv"
    exported.write_bytes(to_csv(load_rows(warehouse, first.load_id)))
    with exported.open() as fh:
        [row] = list(csv.DictReader(fh))
    assert (row["_quarantine_row"], row["email"]) == ("3", "broken-email")
    assert row["_reason"] == "email: 'broken-email' is not a valid email"
    row["email"] = "cy@initech.com"
    with exported.open("w", newline="") as fh:
        out = csv.DictWriter(fh, fieldnames=list(row))
        out.writeheader()
        out.writerow(row)

    done = replay(warehouse, first.load_id, lambda *a, **k: load_file(warehouse, *a, **k), exported)
    assert (done.inserted, done.quarantined) == (1, 0)
    assert warehouse.sql("SELECT email FROM persons WHERE person_id = 'p3'") == [
        ("cy@initech.com",)
    ]
    assert warehouse.sql("SELECT replayed_by FROM quarantine") == [(done.load_id,)]
    assert load_rows(warehouse, first.load_id).num_rows == 0
    with pytest.raises(Exception, match="no pending quarantined rows"):
        replay(warehouse, first.load_id, lambda *a, **k: load_file(warehouse, *a, **k))


def test_duplicate_rules_screen_pairs_inside_the_file_and_a_reload_files_nothing_twice(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    """n2 is n1 again under another id, both new: n2 is blocked naming n1, the row before it;
    p3 is an update of a stored record (never screened) and n3 someone new. Reloading the file
    inserts nothing and files no second quarantine row."""
    rows = [f"p{i},person{i}@acme{i}.com,Name{i},,US,2025-01-02,\n" for i in range(40)]
    load_file(warehouse, write(tmp_path, "persons.csv", HEADER + "".join(rows)), "persons")
    new = (
        HEADER + "n1,zoe@quux.io,Zoe,+1 415 555 0199,US,2025-03-01,\n"
        "p3,person3@acme3.com,Name3,+1 415 555 0103,US,2025-01-02,\n"
        "n2,zoe@quux.io,Zoe,+1 415 555 0199,US,2025-03-02,\n"
        "n3,yan@elsewhere.org,Yan,,US,2025-03-03,\n"
    )
    path = write(tmp_path, "new.csv", new)
    model = _rules_model()
    report = load_file(warehouse, path, "persons", model=model)
    assert (report.inserted, report.updated, report.quarantined) == (2, 1, 1)
    assert report.rows_in == 4 == report.inserted + report.updated + report.quarantined
    [(row, reason)] = warehouse.sql("SELECT row_number, reason FROM quarantine")
    assert (row, reason.split(" (")[0]) == (3, "duplicate of n1")  # the third data row
    again = load_file(warehouse, path, "persons", model=model)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 3)
    assert again.known_quarantined == 1
    assert warehouse.count("quarantine") == 1
