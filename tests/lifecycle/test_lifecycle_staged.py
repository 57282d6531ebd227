"""The staged run (each part's rows spooled to disk, persons' stages set by one UPDATE) writes
and reports what the held run (every part's rows in memory, whole persons rows upserted) does.

The held run is the old path, kept for Spark and for warehouses whose write hooks read the
tables the run writes: it is the plain reading these tests compare the staged one against.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lifecycle_data import events, example_lifecycle, history, persons
from test_lifecycle_parts import PEOPLE, TABLES, _events, event_rows, person_fields

from revops.lifecycle import run_lifecycle
from revops.lifecycle.run import LifecycleReport, _run_held
from revops.warehouse import Batch, Warehouse, WarehouseError

LIFECYCLE = example_lifecycle()
Run = Callable[[Warehouse], LifecycleReport]
Tables = dict[str, list[dict[str, Any]]]


def _tables(wh: Warehouse) -> Tables:
    return {
        name: wh.to_arrow(wh.table(name).order_by(key)).to_pylist() for name, key in TABLES.items()
    }


def _fill(wh: Warehouse, people: pa.Table, evts: pa.Table) -> None:
    """Persons and events, and a stale history row and rejection a run must replace."""
    wh.write("persons", people)
    if evts.num_rows:
        wh.write("lifecycle_events", evts)
    wh.write("lifecycle_history", history(("stale", "p0", None, "Lead", 0)))
    wh.write(
        "lifecycle_rejections",
        pa.table({"event_id": ["stale"], "person_id": ["p0"], "reason": ["old"]}),
    )


def _twice(wh: Warehouse, run: Run) -> tuple[LifecycleReport, LifecycleReport, Tables]:
    """A first run, then a second over its result (nothing changes), and the tables after."""
    first = run(wh)
    second = run(wh)
    return first, second, _tables(wh)


def _on_memory(people: pa.Table, evts: pa.Table, run: Run) -> tuple[Any, ...]:
    wh = Warehouse.connect(":memory:")
    try:
        _fill(wh, people, evts)
        return _twice(wh, run)
    finally:
        wh.close()


def _staged(per_part: int) -> Run:
    return lambda wh: run_lifecycle(wh, LIFECYCLE, per_part=per_part)


def _held(wh: Warehouse) -> LifecycleReport:
    return _run_held(wh, LIFECYCLE, len(PEOPLE) + 1)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    fields=st.lists(person_fields, min_size=len(PEOPLE), max_size=len(PEOPLE)),
    rows=event_rows,
    per_part=st.integers(1, 3),
)
def test_staged_run_writes_what_the_held_run_writes(
    fields: list[dict[str, Any]], rows: list[tuple[str, str, int, str | None]], per_part: int
) -> None:
    people = persons(**dict(zip(PEOPLE, fields, strict=True)))
    evts = _events(rows)
    assert _on_memory(people, evts, _staged(per_part)) == _on_memory(people, evts, _held)


def _example() -> tuple[pa.Table, pa.Table]:
    """Persons in three parts of two, one moved back to no stage, two left as they were; events of a
    null and an unknown person, a repeat and a rejection."""
    people = persons(
        p0={},
        p1={"company": None},
        p2={"lifecycle_stage": "MQL"},
        p3={},
        p4={"lifecycle_stage": "Lead"},
    )
    evts = events(
        ("e1", "p0", "Lead", 0),
        ("e2", "p0", "MQL", 1),
        ("e3", "p1", "Lead", 0),
        ("e4", "p1", "MQL", 1),
        ("e5", "ghost", "Lead", 0),
        ("e6", "p3", "SAL", 0),
        ("e7", "p0", "MQL", 2),
        ("e8", "p4", "Lead", 0),
    )
    ids = ["p0", "p0", "p1", "p1", None, "p3", "p0", "p4"]
    evts = evts.set_column(1, "person_id", pa.array(ids))
    return people, evts


def test_staged_run_on_each_backend(warehouse: Warehouse) -> None:
    """DuckDB reads the stage's files in place, PostgreSQL COPYs them into temporary tables:
    both write what the held run writes."""
    people, evts = _example()
    _fill(warehouse, people, evts)
    got = _twice(warehouse, _staged(2))
    assert got == _on_memory(people, evts, _held)
    first, second, _ = got
    assert (first.persons_updated, second.persons_updated) == (3, 0)


class _Reader:
    """A standing write hook that reads the rows written to `reads` and records what it saw."""

    def __init__(self, reads: str) -> None:
        self.reads = frozenset({reads})
        self.seen: list[tuple[str, int, bool]] = []

    def __call__(self, written: Sequence[Batch]) -> list[Batch]:
        self.seen += [(b.table, b.data.num_rows, b.stage is not None) for b in written]
        return []


@pytest.mark.parametrize("reads", ["persons", "lifecycle_history", "opportunities"])
def test_a_hook_that_reads_the_run_is_handed_its_rows(warehouse: Warehouse, reads: str) -> None:
    """A hook reading persons or the history gets whole rows (the held run); one reading
    another table gets the staged batches, empty; the tables are the same either way."""
    people, evts = _example()
    _fill(warehouse, people, evts)
    hook = _Reader(reads)
    warehouse.write_hooks.append(hook)
    hook.seen.clear()  # the fill's writes are not the run's
    report = run_lifecycle(warehouse, LIFECYCLE, per_part=2)
    assert (report, _tables(warehouse)) == _on_memory(people, evts, _held)[0::2]
    held = reads != "opportunities"
    persons_batch = [s for s in hook.seen if s[0] == "persons"]
    assert persons_batch == [("persons", 3, False)] if held else [("persons", 0, True)]


def test_a_failed_write_leaves_every_table_as_it_was(
    warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The persons' merge fails after both replaces ran in the transaction: nothing stays."""
    people, evts = _example()
    _fill(warehouse, people, evts)
    before = _tables(warehouse)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(Warehouse, "_merge", broken)
    with pytest.raises(WarehouseError, match="nothing was changed"):
        run_lifecycle(warehouse, LIFECYCLE, per_part=2)
    assert _tables(warehouse) == before


def test_the_stage_files_are_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The stage's folder beside a DuckDB file is gone after a run, and after a failed one."""
    people, evts = _example()
    with Warehouse.connect(tmp_path / "w.duckdb") as wh:
        _fill(wh, people, evts)
        run_lifecycle(wh, LIFECYCLE, per_part=2)
        assert not list(tmp_path.glob("revops-stage-*"))

        def broken(*args: object, **kwargs: object) -> None:
            assert len(list(tmp_path.glob("revops-stage-*"))) == 3  # the run's three stages
            raise RuntimeError("disk full")

        monkeypatch.setattr(Warehouse, "_merge", broken)
        with pytest.raises(WarehouseError):
            run_lifecycle(wh, LIFECYCLE, per_part=2)
        assert not list(tmp_path.glob("revops-stage-*"))


def _with_outbox(
    run: Callable[[Warehouse], LifecycleReport], on: Warehouse | None = None
) -> tuple[Any, ...]:
    """The example's automations installed (the outbox reads lifecycle_history, and persons
    through the overlay), on warehouse `on` (empty) or a new in-memory DuckDB: the run's
    report, tables and the automation rows its write added."""
    from lifecycle_data import EXAMPLE, at

    from revops.automation.outbox import install
    from revops.config import load_config

    people, evts = _example()
    with contextlib.nullcontext(on) if on is not None else Warehouse.connect(":memory:") as wh:
        _fill(wh, people, evts)
        install(wh, load_config(EXAMPLE).model, clock=lambda: at(2.5))
        seen: list[bool] = []
        write_many = wh.write_many

        def spy(batches: Sequence[Batch], **kwargs: Any) -> Any:
            seen.extend(b.stage is not None for b in batches)
            return write_many(batches, **kwargs)

        wh.write_many = spy  # type: ignore[method-assign]
        report = run(wh)
        added = {
            name: wh.to_arrow(wh.table(name)).sort_by([(key, "ascending")]).to_pylist()
            for name, key in (("automation_events", "event_id"), ("audit_log", "seq"))
        }
        return report, _tables(wh), added, any(seen)


def test_the_outbox_reads_a_staged_run_as_a_held_one(warehouse: Warehouse) -> None:
    """The outbox reads the staged batches (from their files on DuckDB, from a temporary
    table they are copied into on PostgreSQL): the same events as the held run's."""
    report, tables, added, staged = _with_outbox(_staged(2), warehouse)
    assert staged
    assert [e["record_id"] for e in added["automation_events"]] == ["p0"]  # p0's MQL
    held = _with_outbox(_held)
    assert not held[3]
    assert (report, tables, added) == held[:3]
