"""Judging persons in parts (`run_lifecycle(per_part=...)`) writes what judging them whole does.

The parts exist for memory only (see `PERSONS_PER_PART`): every table the run writes and the
report it returns must not depend on how many persons a part holds, whatever the events.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lifecycle_data import events, example_lifecycle, persons

from revops.lifecycle import run_lifecycle
from revops.lifecycle.run import LifecycleReport
from revops.warehouse import Warehouse

LIFECYCLE = example_lifecycle()
STAGES = [*LIFECYCLE.stage_names, "Foo"]
PEOPLE = [f"p{i}" for i in range(6)]
SOURCES = ["rep", "import:crm", None]
TABLES = {
    "lifecycle_history": "transition_id",
    "lifecycle_rejections": "event_id",
    "persons": "person_id",
}

person_fields = st.fixed_dictionaries(
    {},
    optional={
        "company": st.sampled_from([None, "Acme", " "]),
        "title": st.sampled_from([None, "CTO"]),
        "phone": st.sampled_from([None, "+49 1"]),
        "lifecycle_stage": st.sampled_from([None, "Lead", "MQL", "Gone"]),
    },
)
event_rows = st.lists(
    st.tuples(
        st.sampled_from([*PEOPLE, "ghost"]),
        st.sampled_from(STAGES),
        st.integers(0, 6),
        st.sampled_from(SOURCES),
    ),
    max_size=30,
)


def _run(
    people: pa.Table, evts: pa.Table, per_part: int
) -> tuple[LifecycleReport, dict[str, list[dict[str, Any]]]]:
    wh = Warehouse.connect(":memory:")
    try:
        wh.write("persons", people)
        if evts.num_rows:
            wh.write("lifecycle_events", evts)
        report = run_lifecycle(wh, LIFECYCLE, per_part=per_part)
        tables = {
            name: wh.to_arrow(wh.table(name).order_by(key)).to_pylist()
            for name, key in TABLES.items()
        }
        return report, tables
    finally:
        wh.close()


def _events(rows: list[tuple[str, str, int, str | None]]) -> pa.Table:
    table = events(*((f"e{i:02d}", p, s, t) for i, (p, s, t, _) in enumerate(rows)))
    return table.set_column(4, "source", pa.array([r[3] for r in rows], pa.string()))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    fields=st.lists(person_fields, min_size=len(PEOPLE), max_size=len(PEOPLE)),
    rows=event_rows,
    per_part=st.integers(1, 4),
)
def test_parts_write_what_the_whole_writes(
    fields: list[dict[str, Any]], rows: list[tuple[str, str, int, str | None]], per_part: int
) -> None:
    people = persons(**dict(zip(PEOPLE, fields, strict=True)))
    evts = _events(rows)
    whole = _run(people, evts, per_part=len(PEOPLE))
    parted = _run(people, evts, per_part=per_part)
    assert parted == whole


def test_parts_on_each_backend(warehouse: Warehouse) -> None:
    """The parts' queries (ids chosen through a memtable, strays by NOT IN) on every backend:
    a null person id, an unknown one and persons in three parts."""
    people = persons(p0={}, p1={"company": None}, p2={"lifecycle_stage": "MQL"}, p3={})
    evts = events(
        ("e1", "p0", "Lead", 0),
        ("e2", "p0", "MQL", 1),
        ("e3", "p1", "Lead", 0),
        ("e4", "p1", "MQL", 1),
        ("e5", "ghost", "Lead", 0),
        ("e6", "p3", "SAL", 0),
    )
    evts = evts.set_column(1, "person_id", pa.array(["p0", "p0", "p1", "p1", None, "p3"]))
    warehouse.write("persons", people)
    warehouse.write("lifecycle_events", evts)
    report = run_lifecycle(warehouse, LIFECYCLE, per_part=2)
    assert (report.events, report.accepted, report.rejected, report.repeats) == (6, 3, 3, 0)
    assert report.rejected_by_kind["unknown_person"] == 1
    history = warehouse.to_arrow(warehouse.table("lifecycle_history").order_by("transition_id"))
    assert history.column("transition_id").to_pylist() == ["e1", "e2", "e3"]
    stages = warehouse.to_arrow(warehouse.table("persons").order_by("person_id"))
    assert stages.column("lifecycle_stage").to_pylist() == ["MQL", "Lead", None, None]
