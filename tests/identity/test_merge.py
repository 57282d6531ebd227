"""Merge with survivorship, and unmerge: hand-worked outcomes on both backends."""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa
import pytest

from revops.config.identity import FieldRule, MergeConfig, TableSurvivorship
from revops.identity.merge import merge, plan_merges
from revops.identity.mergelog import MergeError, unmerge
from revops.identity.survivorship import survive
from revops.warehouse import Warehouse

T0 = datetime(2025, 1, 1, 9, 0)
T1 = datetime(2025, 3, 1, 9, 0)
T2 = datetime(2025, 6, 1, 9, 0)


def _persons() -> pa.Table:
    return pa.table(
        {
            "person_id": ["p1", "p2", "p3"],
            "email": ["ann@acme.com", "Ann@Acme.com", "bob@beta.io"],
            "first_name": ["Ann", "Annie", "Bob"],
            "last_name": ["Lee", "Lee", "Ng"],
            "company": ["Acme", "Acme Incorporated", "Beta"],
            "phone": [None, "+1 555 0100", None],
            "title": ["Analyst", "Data Lead", None],
            "employees": [120, 450, 10],
            "source": ["paid_search", "webinar", "direct"],
            "created_at": [T1, T0, T1],
            "updated_at": [T1, T2, T1],
        }
    )


def _children() -> dict[str, pa.Table]:
    return {
        "touchpoints": pa.table(
            {
                "touchpoint_id": ["t1", "t2", "t3"],
                "person_id": ["p1", "p2", "p2"],
                "occurred_at": [T0, T1, T2],
                "channel": ["webinar"] * 3,
                "touch_type": ["web_visit"] * 3,
            }
        ),
        "lifecycle_events": pa.table(
            {
                "event_id": ["e1", "e2"],
                "person_id": ["p2", "p3"],
                "stage": ["Lead", "Lead"],
                "occurred_at": [T0, T1],
            }
        ),
    }


def _load(wh: Warehouse) -> None:
    wh.write("persons", _persons())
    for name, data in _children().items():
        wh.write(name, data)


def _snapshot(wh: Warehouse, name: str, key: str) -> list[dict[str, object]]:
    return sorted(wh.to_arrow(wh.table(name)).to_pylist(), key=lambda r: str(r[key]))


def test_survivorship_rules_by_hand() -> None:
    rows = _persons().to_pylist()[:2]
    spec = TableSurvivorship(
        fields={
            "first_name": FieldRule(rule="most_recent_non_empty"),
            "company": FieldRule(rule="longest"),
            "employees": FieldRule(rule="min"),
            "title": FieldRule(rule="most_trusted_source", sources=("paid_search", "webinar")),
            "created_at": FieldRule(rule="min"),
        },
        source_column="source",
    )
    out = survive(rows, spec, "person_id")
    assert out["person_id"] == "p1"
    assert out["first_name"] == "Annie"  # p2 updated later
    assert out["company"] == "Acme Incorporated"
    assert out["employees"] == 120
    assert out["title"] == "Analyst"  # paid_search is trusted more than webinar
    assert out["created_at"] == T0
    assert out["phone"] == "+1 555 0100"  # default 'survivor' fills blanks only
    assert out["email"] == "ann@acme.com"


def test_merge_reparents_logs_and_unmerge_restores(warehouse: Warehouse) -> None:
    _load(warehouse)
    before = {
        n: _snapshot(warehouse, n, k)
        for n, k in [
            ("persons", "person_id"),
            ("touchpoints", "touchpoint_id"),
            ("lifecycle_events", "event_id"),
        ]
    }
    cfg = MergeConfig()
    plan, none = merge(warehouse, cfg, "persons", "p1", ["p2"], dry_run=True)
    assert none is None
    assert plan.child_counts() == {"touchpoints": 2, "lifecycle_events": 1}
    changed = {f for f, _, _ in plan.changes()}
    assert {"phone", "title", "company", "employees", "created_at", "updated_at"} == changed
    assert _snapshot(warehouse, "persons", "person_id") == before["persons"]  # dry run

    _, merge_id = merge(warehouse, cfg, "persons", "p1", ["p2"], actor="test")
    assert merge_id is not None
    persons = {r["person_id"]: r for r in _snapshot(warehouse, "persons", "person_id")}
    assert set(persons) == {"p1", "p3"}
    assert persons["p1"]["employees"] == 450
    assert persons["p1"]["title"] == "Data Lead"
    touch = {
        r["touchpoint_id"]: r["person_id"]
        for r in _snapshot(warehouse, "touchpoints", "touchpoint_id")
    }
    assert touch == {"t1": "p1", "t2": "p1", "t3": "p1"}
    log = warehouse.to_arrow(warehouse.table("merge_log")).to_pylist()
    assert [(r["survivor_id"], r["merged_id"], r["actor"]) for r in log] == [("p1", "p2", "test")]

    result = unmerge(warehouse, merge_id)
    assert result.restored_ids == ("p2",)
    for name, key in [
        ("persons", "person_id"),
        ("touchpoints", "touchpoint_id"),
        ("lifecycle_events", "event_id"),
    ]:
        assert _snapshot(warehouse, name, key) == before[name]
    with pytest.raises(MergeError, match="already undone"):
        unmerge(warehouse, merge_id)


def test_unmerge_refuses_while_a_later_merge_depends_on_it(warehouse: Warehouse) -> None:
    _load(warehouse)
    cfg = MergeConfig()
    _, first = merge(warehouse, cfg, "persons", "p1", ["p2"])
    _, second = merge(warehouse, cfg, "persons", "p3", ["p1"])
    assert first
    assert second
    with pytest.raises(MergeError, match="later merge"):
        unmerge(warehouse, first)
    unmerge(warehouse, second)
    unmerge(warehouse, first)
    assert {r["person_id"] for r in _snapshot(warehouse, "persons", "person_id")} == {
        "p1",
        "p2",
        "p3",
    }


def test_bad_merges_are_refused(warehouse: Warehouse) -> None:
    _load(warehouse)
    cfg = MergeConfig()
    with pytest.raises(MergeError, match="not found"):
        plan_merges(warehouse, cfg, "persons", [("p1", ["nope"])])
    with pytest.raises(MergeError, match="twice"):
        plan_merges(warehouse, cfg, "persons", [("p1", ["p1"])])
    with pytest.raises(MergeError, match="cannot merge"):
        plan_merges(warehouse, cfg, "touchpoints", [("t1", ["t2"])])
