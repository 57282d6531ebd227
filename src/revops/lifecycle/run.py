"""The warehouse edge of the lifecycle engine: read events and persons, write history.

The history is always recomputed from every event rather than patched, so the result depends
only on the events and the lifecycle map: running twice yields identical tables, and a change
to revops.yaml is applied to the past as well as the future. All three tables change in one
transaction, so readers never see a history that disagrees with persons.lifecycle_stage.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from revops.config.models import Lifecycle
from revops.lifecycle.engine import (
    EVENT_COLUMNS,
    LifecycleResult,
    apply_events,
    required_columns,
)
from revops.lifecycle.rules import REASON_KINDS, ReasonKind, reason_kind
from revops.warehouse import Batch, Warehouse
from revops.warehouse.stage import Stage


@dataclass(frozen=True)
class LifecycleReport:
    """What a run did: every event is accepted, rejected or a repeat, and nothing else.

    `rejected_by_kind` counts by rule broken and lists every kind (zero when none);
    `rejected_by_reason` counts by exact reason text, for the detail behind a kind;
    `stage_counts` lists every configured stage in lifecycle order (zero when empty), then any
    stage a person holds that the config lacks.
    """

    events: int
    accepted: int
    rejected: int
    rejected_by_kind: dict[ReasonKind, int]
    rejected_by_reason: dict[str, int]
    repeats: int
    persons_updated: int
    stage_counts: dict[str, int]
    persons_without_stage: int

    def lines(self) -> list[str]:
        """The report as short lines of text, for a terminal or a log."""
        kinds = ", ".join(f"{k} {n}" for k, n in self.rejected_by_kind.items() if n)
        stages = ", ".join(f"{s} {n}" for s, n in self.stage_counts.items())
        return [
            f"events read: {self.events}",
            f"transitions accepted: {self.accepted}",
            f"rejected: {self.rejected}" + (f" ({kinds})" if kinds else ""),
            f"repeats ignored: {self.repeats}",
            f"persons updated: {self.persons_updated}",
            f"persons per stage: {stages}; without a stage: {self.persons_without_stage}",
        ]


def _counts(values: pa.ChunkedArray | pa.Array) -> dict[str | None, int]:
    pairs = pc.value_counts(values).to_pylist()
    return {p["values"]: p["counts"] for p in pairs}


@dataclass
class _Tally:
    """The counts a report needs, summed over the parts' results (which are then let go)."""

    events: int = 0
    accepted: int = 0
    rejected: int = 0
    repeats: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    stages: Counter[str | None] = field(default_factory=Counter)

    def add(self, result: LifecycleResult) -> None:
        self.events += result.events
        self.accepted += result.accepted
        self.rejected += result.rejected
        self.repeats += result.repeats
        for reason, n in _counts(result.rejections.column("reason")).items():
            self.reasons[str(reason)] += n
        self.stages.update(_counts(result.stages.column("lifecycle_stage")))

    def report(self, lifecycle: Lifecycle, persons_updated: int) -> LifecycleReport:
        by_kind = dict.fromkeys(REASON_KINDS, 0)
        for reason, n in self.reasons.items():
            by_kind[reason_kind(reason)] += n
        stages = {k: n for k, n in self.stages.items() if n}
        without = stages.pop(None, 0)
        ordered = {name: stages.pop(name, 0) for name in lifecycle.stage_names}
        ordered.update({str(k): v for k, v in sorted(stages.items(), key=lambda kv: str(kv[0]))})
        return LifecycleReport(
            events=self.events,
            accepted=self.accepted,
            rejected=self.rejected,
            rejected_by_kind=by_kind,
            rejected_by_reason=dict(sorted(self.reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
            repeats=self.repeats,
            persons_updated=persons_updated,
            stage_counts=ordered,
            persons_without_stage=without,
        )


def summarize(
    result: LifecycleResult, lifecycle: Lifecycle, persons_updated: int
) -> LifecycleReport:
    """Count a result into a report."""
    tally = _Tally()
    tally.add(result)
    return tally.report(lifecycle, persons_updated)


def _changed_stages(persons: pa.Table, stages: pa.Table) -> pa.Table:
    """person_id and the new lifecycle_stage of the persons whose stage changes.

    Only rows that change are written at all, which keeps a re-run a no-op and narrows the
    window in which a concurrent edit could be lost. `stages` is aligned with `persons` row for
    row (the engine keeps the persons order).
    """
    old = persons.column("lifecycle_stage")
    new = stages.column("lifecycle_stage")
    both_valid_differ = pc.not_equal(old, new)
    one_null = pc.xor(pc.is_valid(old), pc.is_valid(new))
    changed = pc.fill_null(both_valid_differ, False)
    changed = pc.or_(changed, one_null)
    ids = persons.column("person_id").filter(changed)
    return pa.table({"person_id": ids, "lifecycle_stage": new.filter(changed)})


def _changed_persons(wh: Warehouse, changed: pa.Table) -> pa.Table:
    """Full rows of the changed persons, carrying the new stage, joined in the warehouse.

    The upsert is handed whole rows (the other columns exactly as stored) because write hooks
    such as the automation outbox read a batch as the rows it will leave behind. Only the
    changed persons are pulled whole, so a re-run (few or no changes) never holds the persons
    table in Python; the engine itself reads just the columns it judges by.
    """
    persons = wh.table("persons")
    columns = persons.columns
    if changed.num_rows == 0:
        return wh.to_arrow(persons.limit(0))
    ids = ibis.memtable(changed)
    joined = persons.drop("lifecycle_stage").inner_join(ids, "person_id")
    return wh.to_arrow(joined.select(*columns))


# Persons judged per part: a person's outcome depends only on their own row and events, so
# parts of this many persons (with their events) give the same rows as the whole, and the
# events and the engine's working lists are held for one part at a time (at scale 10, 1.16M
# events: reading them whole and judging them at once held about 250 MB).
PERSONS_PER_PART = 100_000


def _parts(
    wh: Warehouse, lifecycle: Lifecycle, per_part: int
) -> Iterator[tuple[ibis.Table, ibis.Table]]:
    """(events, persons) to judge together: all of them when the persons fit in one part,
    else each part of persons with their events, then the events of no known person (null
    or unknown person_id: rejected as unknown whichever part judged them)."""
    events = wh.table("lifecycle_events").select(*EVENT_COLUMNS)
    wanted = dict.fromkeys((*required_columns(lifecycle), "lifecycle_stage"))
    persons = wh.table("persons").select(*wanted)
    ids = wh.to_arrow(persons.select("person_id")).column("person_id")
    if len(ids) <= per_part:
        yield events, persons
        return
    for start in range(0, len(ids), per_part):
        chosen = ibis.memtable(pa.table({"person_id": ids.slice(start, per_part)}))
        yield (
            events.filter(events.person_id.isin(chosen.person_id)),
            persons.filter(persons.person_id.isin(chosen.person_id)),
        )
    # An anti join, which keeps the events whose person_id is null too (null matches nothing).
    # Not `NOT IN (persons)`: its null-aware semantics left Spark a nested loop over every
    # event and every person: at 3x the demo (150k persons, 2026-12-06) the lifecycle step had
    # not finished after 8 minutes, where it took 9 s before persons were judged in parts.
    yield events.anti_join(persons.select("person_id"), "person_id"), persons.limit(0)


def _judged(
    wh: Warehouse, lifecycle: Lifecycle, per_part: int
) -> Iterator[tuple[LifecycleResult, pa.Table]]:
    """Each part's result with the (person_id, lifecycle_stage) pairs of its changed persons."""
    for events_part, persons_part in _parts(wh, lifecycle, per_part):
        events = wh.to_arrow(events_part)
        persons = wh.to_arrow(persons_part)
        result = apply_events(events, persons, lifecycle)
        yield result, _changed_stages(persons, result.stages)
        del events, persons, result


# The tables a run writes: a write hook that reads any of them fires on the run's write, and
# may then read all of them as they will be (`automation.sources.overlaid`: the history's
# candidates are joined to persons), from `Batch.data` unless it reads stages.
_WRITTEN = ("lifecycle_history", "lifecycle_rejections", "persons")


def run_lifecycle(
    wh: Warehouse, lifecycle: Lifecycle, per_part: int = PERSONS_PER_PART
) -> LifecycleReport:
    """Recompute lifecycle_history, lifecycle_rejections and persons.lifecycle_stage.

    The engine owns persons.lifecycle_stage: afterwards it is the last accepted stage of each
    person, and NULL for a person with no accepted event, whatever it was before. Persons are
    read narrow (person_id, lifecycle_stage and the required fields): the other columns, PII
    among them, would cost memory and decryption for nothing. Persons are judged `per_part`
    at a time (see `PERSONS_PER_PART`); the parts' rows are still written in one transaction.

    Each part's rows are spooled to a stage (`Warehouse.stage`) and the new stages set by one
    UPDATE of that column, so memory holds one part, not the history nor whole persons rows.
    Spark (which has no stage) and write hooks that read these tables from `Batch.data` (any
    but the automation outbox, see `Warehouse.may_stage`) keep every part's rows in
    memory until the write (`_run_held`), and so does a run of one part: a stage's Parquet
    writing and reading cost a process about 50 MB once, more than one part's rows (the 1x
    demo's first run, 50k persons: +87 MB held, +136 MB staged, bench/scale.py 2026-12-06).
    """
    if not wh.may_stage(*_WRITTEN) or wh.execute(wh.table("persons").count()) <= per_part:
        return _run_held(wh, lifecycle, per_part)
    tally = _Tally()
    with (
        wh.stage("lifecycle_history") as history,
        wh.stage("lifecycle_rejections") as rejections,
        wh.stage("persons") as persons,
    ):
        for result, changed in _judged(wh, lifecycle, per_part):
            tally.add(result)
            _spool(history, result.history)
            _spool(rejections, result.rejections)
            _spool(persons, changed)
        # Both tables' keys are the events' ids (lifecycle_events' primary key) and each event
        # is judged in one part only, so the staged keys are unique as `write_many` wants them
        # (a repeat would fail the write's INSERT, changing nothing).
        wh.write_many(
            [
                Batch("lifecycle_history", history.empty, "replace", stage=history),
                Batch("lifecycle_rejections", rejections.empty, "replace", stage=rejections),
                # a merge sets only the columns staged (lifecycle_stage) on the stored rows
                Batch("persons", persons.empty, "merge", stage=persons),
            ]
        )
        return tally.report(lifecycle, persons.rows)


def _spool(stage: Stage, rows: pa.Table) -> None:
    """Append `rows` to `stage`, numbered on from the rows already staged."""
    start = stage.rows
    stage.append(rows, np.arange(start, start + rows.num_rows, dtype=np.int64))


def _run_held(wh: Warehouse, lifecycle: Lifecycle, per_part: int) -> LifecycleReport:
    """The run with every part's rows held until the write, whole persons rows included."""
    results: list[LifecycleResult] = []
    stages: list[pa.Table] = []
    for result, changed in _judged(wh, lifecycle, per_part):
        stages.append(changed)
        results.append(result)
    result = _combined(results)
    changed = _changed_persons(wh, pa.concat_tables(stages))
    wh.write_many(
        [
            Batch("lifecycle_history", result.history, "replace"),
            Batch("lifecycle_rejections", result.rejections, "replace"),
            Batch("persons", changed, "upsert"),
        ]
    )
    return summarize(result, lifecycle, changed.num_rows)


def _combined(results: list[LifecycleResult]) -> LifecycleResult:
    """The parts' results as one (tables of several chunks: nothing is copied)."""
    if len(results) == 1:
        return results[0]
    return LifecycleResult(
        history=pa.concat_tables([r.history for r in results]),
        rejections=pa.concat_tables([r.rejections for r in results]),
        stages=pa.concat_tables([r.stages for r in results]),
        events=sum(r.events for r in results),
        repeats=sum(r.repeats for r in results),
    )
