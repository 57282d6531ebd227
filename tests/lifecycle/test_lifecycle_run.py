"""run_lifecycle against the warehouse, on DuckDB and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pyarrow as pa
import pytest
from lifecycle_data import at, events, example_lifecycle, history, persons

from revops.lifecycle import run_lifecycle
from revops.warehouse import Batch, Warehouse, WarehouseError

LIFECYCLE = example_lifecycle()


def load(wh: Warehouse) -> pa.Table:
    people = persons(
        p1={"title": "CTO", "phone": "+49 1", "lifecycle_stage": "Lead"},
        p2={"company": None, "employees": None},
        p3={"lifecycle_stage": "MQL"},  # a CRM stage with no events behind it
    )
    wh.write("persons", people)
    wh.write(
        "lifecycle_events",
        events(
            ("e05", "p1", "SAL", 2),
            ("e01", "p1", "Lead", 0),
            ("e02", "p1", "MQL", 1),
            ("e03", "p1", "MQL", 1.5),  # repeat
            ("e04", "p1", "Customer", 1.7),  # not allowed
            ("e06", "p2", "Lead", 0),
            ("e07", "p2", "MQL", 1),  # missing company
            ("e08", "ghost", "Lead", 0),
            ("e09", "p2", "Foo", 2),
        ),
    )
    return people


def rows(wh: Warehouse, name: str, key: str) -> list[dict[str, object]]:
    return wh.to_arrow(wh.table(name).order_by(key)).to_pylist()  # type: ignore[no-any-return]


def test_run_writes_history_rejections_and_stages(warehouse: Warehouse) -> None:
    load(warehouse)
    report = run_lifecycle(warehouse, LIFECYCLE)

    assert (report.events, report.accepted, report.rejected, report.repeats) == (9, 4, 4, 1)
    assert report.rejected_by_kind == {
        "unknown_person": 1,
        "unknown_stage": 1,
        "first_stage": 0,
        "not_allowed": 1,
        "missing_fields": 1,
    }
    assert report.rejected_by_reason == {
        "entering MQL requires email, company, country; missing: company": 1,
        "transition MQL → Customer is not allowed "
        "(allowed from MQL: SAL, Recycled, Nurture, Disqualified)": 1,
        "unknown person": 1,
        "unknown stage 'Foo'": 1,
    }
    assert report.stage_counts["SAL"] == 1
    assert report.stage_counts["Lead"] == 1
    assert sum(report.stage_counts.values()) == 2
    assert report.persons_without_stage == 1
    assert report.persons_updated == 3
    assert report.lines()[2] == (
        "rejected: 4 (unknown_person 1, unknown_stage 1, not_allowed 1, missing_fields 1)"
    )

    history = rows(warehouse, "lifecycle_history", "transition_id")
    assert [
        (r["transition_id"], r["from_stage"], r["to_stage"], r["changed_at"]) for r in history
    ] == [
        ("e01", None, "Lead", at(0)),
        ("e02", "Lead", "MQL", at(1)),
        ("e05", "MQL", "SAL", at(2)),
        ("e06", None, "Lead", at(0)),
    ]
    assert history[0]["source"] == "src-e01"
    rejections = rows(warehouse, "lifecycle_rejections", "event_id")
    assert [(r["event_id"], r["from_stage"], r["reason"]) for r in rejections] == [
        (
            "e04",
            "MQL",
            "transition MQL → Customer is not allowed "
            "(allowed from MQL: SAL, Recycled, Nurture, Disqualified)",
        ),
        ("e07", "Lead", "entering MQL requires email, company, country; missing: company"),
        ("e08", None, "unknown person"),
        ("e09", "Lead", "unknown stage 'Foo'"),
    ]
    stages = {r["person_id"]: r["lifecycle_stage"] for r in rows(warehouse, "persons", "person_id")}
    assert stages == {"p1": "SAL", "p2": "Lead", "p3": None}


def test_run_leaves_every_other_persons_column_as_it_was(warehouse: Warehouse) -> None:
    before = load(warehouse).drop_columns(["lifecycle_stage"]).sort_by("person_id")
    run_lifecycle(warehouse, LIFECYCLE)
    after = warehouse.to_arrow(warehouse.table("persons").order_by("person_id"))
    after = after.drop_columns(["lifecycle_stage"]).cast(before.schema)
    assert after.to_pylist() == before.to_pylist()
    assert after.column("title").to_pylist() == ["CTO", None, None]
    assert after.column("employees").to_pylist() == [10, None, 12]


def test_run_is_idempotent(warehouse: Warehouse) -> None:
    load(warehouse)
    tables = [
        ("lifecycle_history", "transition_id"),
        ("lifecycle_rejections", "event_id"),
        ("persons", "person_id"),
    ]
    first = run_lifecycle(warehouse, LIFECYCLE)
    written = [rows(warehouse, name, key) for name, key in tables]
    second = run_lifecycle(warehouse, LIFECYCLE)
    assert [rows(warehouse, name, key) for name, key in tables] == written
    assert second.persons_updated == 0
    assert second == replace(first, persons_updated=0)


def test_run_on_an_empty_warehouse_writes_nothing(warehouse: Warehouse) -> None:
    report = run_lifecycle(warehouse, LIFECYCLE)
    assert (report.events, report.accepted, report.persons_updated) == (0, 0, 0)
    assert warehouse.count("lifecycle_history") == 0


def test_a_failed_write_keeps_the_previous_history(warehouse: Warehouse) -> None:
    """The run replaces three tables in one transaction; a failure must restore all of them."""
    load(warehouse)
    run_lifecycle(warehouse, LIFECYCLE)
    before = rows(warehouse, "lifecycle_history", "transition_id")
    assert len(before) == 4
    bad = pa.table({"event_id": [None], "person_id": ["p1"], "to_stage": ["Lead"]})
    with pytest.raises(WarehouseError, match="nothing was changed"):
        warehouse.write_many(
            [
                Batch("lifecycle_history", history(), "replace"),
                Batch("lifecycle_rejections", bad, "replace"),
            ]
        )
    assert rows(warehouse, "lifecycle_history", "transition_id") == before


def test_write_hooks_see_whole_rows_of_only_the_changed_persons(warehouse: Warehouse) -> None:
    """The engine reads persons narrow, but the batch it writes carries whole stored rows:
    a write hook (the automation outbox) reads a batch as the rows it leaves behind."""
    people = load(warehouse)
    seen: list[Batch] = []

    def hook(batches: Sequence[Batch]) -> list[Batch]:
        seen.extend(batches)
        return []

    warehouse.write_hooks.append(hook)
    run_lifecycle(warehouse, LIFECYCLE)
    (written,) = [b.data for b in seen if b.table == "persons"]
    assert set(written.column_names) == set(people.column_names)
    stored = {r["person_id"]: r for r in people.to_pylist()}
    got = {r["person_id"]: r for r in written.to_pylist()}
    assert set(got) == {"p1", "p2", "p3"}  # p3's CRM stage has no events behind it: cleared
    assert {p: r["lifecycle_stage"] for p, r in got.items()} == {
        "p1": "SAL",
        "p2": "Lead",
        "p3": None,
    }
    for pid, row in got.items():
        others = {k: v for k, v in row.items() if k != "lifecycle_stage"}
        assert others == {k: v for k, v in stored[pid].items() if k != "lifecycle_stage"}
    seen.clear()
    run_lifecycle(warehouse, LIFECYCLE)  # nothing changes: no person row is written again
    assert [b.data.num_rows for b in seen if b.table == "persons"] == [0]
