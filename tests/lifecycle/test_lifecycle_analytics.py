"""Time in stage and conversion from a hand-worked history, on DuckDB and PostgreSQL.

The history (days after 2024-01-01):
  a: Lead 0 → MQL 2 → SAL 5 → SQL 6 (still in SQL)
  b: Lead 0 → MQL 4 → Recycled 10 → MQL 12 (still in MQL)
  c: Lead 1 → Nurture 1.5 (still in Nurture)
  d: Lead 0 (still in Lead)
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest
from lifecycle_data import at, example_lifecycle, history

from revops.lifecycle import (
    funnel_conversion,
    rejection_summary,
    stage_conversion,
    time_in_stage,
    time_in_stage_summary,
)
from revops.warehouse import Warehouse

LIFECYCLE = example_lifecycle()
HISTORY = history(
    ("a1", "a", None, "Lead", 0),
    ("a2", "a", "Lead", "MQL", 2),
    ("a3", "a", "MQL", "SAL", 5),
    ("a4", "a", "SAL", "SQL", 6),
    ("b1", "b", None, "Lead", 0),
    ("b2", "b", "Lead", "MQL", 4),
    ("b3", "b", "MQL", "Recycled", 10),
    ("b4", "b", "Recycled", "MQL", 12),
    ("c1", "c", None, "Lead", 1),
    ("c2", "c", "Lead", "Nurture", 1.5),
    ("d1", "d", None, "Lead", 0),
)


@pytest.fixture
def wh(warehouse: Warehouse) -> Warehouse:
    warehouse.write("lifecycle_history", HISTORY)
    return warehouse


def records(wh: Warehouse, expr: Any) -> list[dict[str, Any]]:
    return wh.to_arrow(expr).to_pylist()  # type: ignore[no-any-return]


def test_time_in_stage_per_person_and_stage(wh: Warehouse) -> None:
    t = time_in_stage(wh.table("lifecycle_history"))
    got = records(wh, t.order_by(["person_id", "entered_at"]))
    assert [(r["person_id"], r["stage"], r["days_in_stage"]) for r in got] == [
        ("a", "Lead", 2.0),
        ("a", "MQL", 3.0),
        ("a", "SAL", 1.0),
        ("a", "SQL", None),
        ("b", "Lead", 4.0),
        ("b", "MQL", 6.0),
        ("b", "Recycled", 2.0),
        ("b", "MQL", None),
        ("c", "Lead", 0.5),
        ("c", "Nurture", None),
        ("d", "Lead", None),
    ]
    assert (got[0]["entered_at"], got[0]["exited_at"], got[0]["next_stage"]) == (
        at(0),
        at(2),
        "MQL",
    )
    assert got[3]["exited_at"] is None


def test_time_in_stage_summary(wh: Warehouse) -> None:
    s = time_in_stage_summary(wh.table("lifecycle_history"), LIFECYCLE)
    got = [
        (
            r["stage"],
            r["entries"],
            r["exits"],
            r["median_days"],
            r["mean_days"],
            r["still_in_stage"],
        )
        for r in records(wh, s)
    ]
    assert got == [
        ("Lead", 4, 3, 2.0, pytest.approx(6.5 / 3), 1),
        ("MQL", 3, 2, 4.5, 4.5, 1),  # median of [3, 6] interpolates on both backends
        ("SAL", 1, 1, 1.0, 1.0, 0),
        ("SQL", 1, 0, None, None, 1),
        ("Recycled", 1, 1, 2.0, 2.0, 0),
        ("Nurture", 1, 0, None, None, 1),
    ]


def test_ties_on_the_timestamp_follow_the_transition_id(warehouse: Warehouse) -> None:
    warehouse.write(
        "lifecycle_history",
        history(("x2", "x", "Lead", "MQL", 3), ("x1", "x", None, "Lead", 3)),
    )
    got = records(warehouse, time_in_stage(warehouse.table("lifecycle_history")).order_by("stage"))
    assert [(r["stage"], r["days_in_stage"], r["next_stage"]) for r in got] == [
        ("Lead", 0.0, "MQL"),
        ("MQL", None, None),
    ]


def test_stage_conversion_counts_and_shares_of_exits(wh: Warehouse) -> None:
    c = stage_conversion(wh.table("lifecycle_history"), LIFECYCLE)
    got = [
        (r["from_stage"], r["to_stage"], r["transitions"], r["share_of_exits"])
        for r in records(wh, c)
    ]
    assert got == [
        ("Lead", "MQL", 2, pytest.approx(2 / 3)),
        ("Lead", "Nurture", 1, pytest.approx(1 / 3)),
        ("MQL", "SAL", 1, 0.5),
        ("MQL", "Recycled", 1, 0.5),
        ("SAL", "SQL", 1, 1.0),
        ("Recycled", "MQL", 1, 1.0),
    ]


def test_funnel_conversion_between_consecutive_funnel_stages(wh: Warehouse) -> None:
    f = funnel_conversion(wh.table("lifecycle_history"), LIFECYCLE)
    got = [
        (r["step"], r["stage"], r["next_stage"], r["reached"], r["reached_next"], r["conversion"])
        for r in records(wh, f)
    ]
    assert got == [
        (1, "Lead", "MQL", 4, 2, 0.5),
        (2, "MQL", "SAL", 2, 1, 0.5),
        (3, "SAL", "SQL", 1, 1, 1.0),
        (4, "SQL", "Opportunity", 1, 0, 0.0),
        (5, "Opportunity", "Customer", 0, 0, None),
    ]


def test_funnel_conversion_counts_only_later_arrivals(warehouse: Warehouse) -> None:
    """Reaching N+1 *before* first reaching N is not a conversion from N."""
    lifecycle = LIFECYCLE.model_copy(
        update={
            "entry_stages": ("Lead", "MQL"),
            "transitions": {**LIFECYCLE.transitions, "MQL": ("Lead",)},
        }
    )
    warehouse.write(
        "lifecycle_history", history(("y1", "y", None, "MQL", 0), ("y2", "y", "MQL", "Lead", 1))
    )
    f = funnel_conversion(warehouse.table("lifecycle_history"), lifecycle)
    first = records(warehouse, f)[0]
    assert (first["stage"], first["reached"], first["reached_next"]) == ("Lead", 1, 0)


def test_rejection_summary_by_reason_kind_and_target_stage(warehouse: Warehouse) -> None:
    rows = [
        ("r1", "MQL", "entering MQL requires email, company, country; missing: company"),
        ("r2", "MQL", "entering MQL requires email, company, country; missing: country"),
        ("r3", "SQL", "transition Lead → SQL is not allowed (allowed from Lead: MQL)"),
        ("r4", "Lead", "unknown person"),
        ("r5", "Foo", "unknown stage 'Foo'"),
        ("r6", "MQL", "first stage must be one of: Lead"),
    ]
    warehouse.write(
        "lifecycle_rejections",
        pa.table(
            {
                "event_id": [r[0] for r in rows],
                "person_id": ["p"] * len(rows),
                "to_stage": [r[1] for r in rows],
                "occurred_at": [at(0)] * len(rows),
                "reason": [r[2] for r in rows],
            }
        ),
    )
    s = rejection_summary(warehouse.table("lifecycle_rejections"))
    got = [(r["reason_kind"], r["to_stage"], r["rejections"]) for r in records(warehouse, s)]
    assert got == [
        ("missing_fields", "MQL", 2),
        ("first_stage", "MQL", 1),
        ("not_allowed", "SQL", 1),
        ("unknown_person", "Lead", 1),
        ("unknown_stage", "Foo", 1),
    ]
