"""The pure lifecycle core: events in, accepted transitions, rejections and final stages out.

No I/O happens here, so the rules can be tested exhaustively and reused by both the batch
recompute (`run_lifecycle`) and the single-event intake (`apply_event`). Everything that does
not depend on a person's current stage — who the person is, which stage is asked for, whether
the person's fields are filled — is computed column-wise with Arrow/NumPy. What remains is
inherently sequential (each decision depends on the previous accepted one), so it runs as one
tight loop over pre-sorted integer lists: a list lookup and a comparison or two per event.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from revops.config.models import Lifecycle
from revops.lifecycle.rules import (
    UNKNOWN_PERSON,
    CompiledLifecycle,
    ReasonKind,
    compile_lifecycle,
    reason_kind,
    unknown_stage_reason,
)

EVENT_COLUMNS: Final = ("event_id", "person_id", "stage", "occurred_at", "source")

# Outcome codes of one event. The walk writes ACCEPTED, REPEAT, BLOCKED and MISSING; events
# of unknown persons never reach it, and BLOCKED is afterwards told apart column-wise into
# UNKNOWN_STAGE, FIRST_STAGE or (what remains BLOCKED) a transition that is not allowed.
ACCEPTED, REPEAT, BLOCKED, MISSING, UNKNOWN_PERSON_CODE, UNKNOWN_STAGE, FIRST_STAGE = range(7)

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class LifecycleResult:
    """What applying a batch of events produced.

    `history` and `rejections` have the columns of the lifecycle_history and
    lifecycle_rejections tables; `stages` has person_id and lifecycle_stage for every person
    handed in (None for a person with no stage yet).
    """

    history: pa.Table
    rejections: pa.Table
    stages: pa.Table
    events: int
    repeats: int

    @property
    def accepted(self) -> int:
        return self.history.num_rows

    @property
    def rejected(self) -> int:
        return self.rejections.num_rows


def required_columns(lifecycle: Lifecycle) -> tuple[str, ...]:
    """The persons columns the engine reads: person_id and every stage's required fields."""
    return ("person_id", *compile_lifecycle(lifecycle).required_fields)


def filled_masks(persons: pa.Table, lifecycle: Lifecycle) -> IntArray:
    """Per person, the bitmask of required fields filled, exactly as `apply_events` reads them:
    two persons with the same mask and the same events get the same outcome."""
    return _filled_mask(persons, compile_lifecycle(lifecycle).required_fields)


def _is_filled(column: pa.ChunkedArray | pa.Array) -> npt.NDArray[np.bool_]:
    """Non-null and, for text, not blank: a field of spaces does not qualify anyone."""
    valid = pc.is_valid(column)
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        blank = pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(column)), 0)
        valid = pc.and_(valid, pc.invert(pc.fill_null(blank, True)))
    return np.asarray(valid.to_numpy(zero_copy_only=False), dtype=np.bool_)


def _filled_mask(persons: pa.Table, fields: tuple[str, ...]) -> IntArray:
    """Per person, bit i set when required field i is filled."""
    mask = np.zeros(persons.num_rows, dtype=np.int64)
    for bit, name in enumerate(fields):
        if name not in persons.column_names:
            raise ValueError(f"persons is missing column {name!r}, required by the lifecycle")
        mask |= _is_filled(persons.column(name)).astype(np.int64) << bit
    return mask


def _codes(values: pa.ChunkedArray, known: pa.Array) -> IntArray:
    """Position of each value in `known`, or -1."""
    found = pc.index_in(values.cast(pa.string()), value_set=known.cast(pa.string()))
    return np.asarray(pc.fill_null(found, -1).to_numpy(zero_copy_only=False), dtype=np.int64)


def _walk(
    state: list[int],
    graphs: tuple[tuple[tuple[bool, ...], ...], ...],
    persons: list[int],
    targets: list[int],
    fields_ok: list[bool],
    kinds: list[int],
) -> tuple[bytearray, list[int]]:
    """The state machine. Per event: the outcome code and the person's stage code before it.

    `graphs[kinds[j]]` is the transition table event j is judged by (0: `allowed`, 1:
    `forward`, for imported events). This is the whole of the sequential work, kept free of
    attribute lookups and calls.
    """
    outcome = bytearray(len(persons))  # zero-filled: ACCEPTED unless set otherwise
    before = [0] * len(persons)
    repeat, blocked, missing = REPEAT, BLOCKED, MISSING  # locals: no global lookups per event
    for j, (p, s, ok, k) in enumerate(zip(persons, targets, fields_ok, kinds, strict=True)):
        cur = state[p]
        before[j] = cur
        if s == cur:
            outcome[j] = repeat
        elif not graphs[k][cur][s]:
            outcome[j] = blocked
        elif not ok:
            outcome[j] = missing
        else:
            state[p] = s
    return outcome, before


def _initial_state(
    rules: CompiledLifecycle, persons: pa.Table, current: Mapping[str, str | None] | None
) -> list[int]:
    state = [rules.none] * persons.num_rows
    if current:
        for i, pid in enumerate(persons.column("person_id").to_pylist()):
            if pid in current:
                state[i] = rules.state_code(current[pid])
    return state


def _reasons(
    rules: CompiledLifecycle,
    outcome: npt.NDArray[np.int8],
    before: IntArray,
    target: IntArray,
    missing: IntArray,
    stage: list[str | None],
) -> list[str]:
    """Reason text per rejected event; texts are built once per distinct rule violation."""
    cache: dict[tuple[int, int, int, int], str] = {}
    out: list[str] = []
    for code, b, s, m, name in zip(
        outcome.tolist(), before.tolist(), target.tolist(), missing.tolist(), stage, strict=True
    ):
        if code == UNKNOWN_PERSON_CODE:
            out.append(UNKNOWN_PERSON)
        elif code == UNKNOWN_STAGE:
            out.append(unknown_stage_reason(name))
        else:
            key = (code, b, s, m)
            if key not in cache:
                missing_fields = code == MISSING
                cache[key] = (
                    rules.missing_reason(s, m) if missing_fields else rules.blocked_reason(b, s)
                )
            out.append(cache[key])
    return out


def _missing(
    rules: CompiledLifecycle, persons: pa.Table, person: IntArray, target: IntArray
) -> IntArray:
    """Per event, the bitmask of the target stage's required fields the person lacks."""
    required = np.array([*rules.required_mask, 0], dtype=np.int64)  # index -1: unknown stage
    filled = _filled_mask(persons, rules.required_fields)
    known = person >= 0
    missing = np.zeros(len(person), dtype=np.int64)
    missing[known] = required[target[known]] & ~filled[person[known]]
    return missing


IMPORTED_PREFIX = "import:"


def _skipped(rules: CompiledLifecycle, before: IntArray, target: IntArray) -> pa.Array:
    """Per accepted transition, the funnel stages it skipped (only imported ones skip any)."""
    out: list[str | None] = [None] * len(before)
    if len(before):
        jumped = ~np.asarray(rules.allowed, dtype=np.bool_)[before, target]
        for i in np.flatnonzero(jumped).tolist():
            out[i] = rules.skipped(int(before[i]), int(target[i]))
    return pa.array(out, pa.string())


def _imported(events: pa.Table) -> npt.NDArray[np.bool_]:
    """Events from a CRM export (source `import:<system>`), which may skip funnel stages."""
    flags = pc.starts_with(events.column("source").cast(pa.string()), IMPORTED_PREFIX)
    return np.asarray(flags.fill_null(False).to_numpy(zero_copy_only=False), dtype=np.bool_)


def _processing_order(events: pa.Table, person: IntArray) -> IntArray:
    """Row positions sorted by person, then (occurred_at, event_id): the order of decisions."""
    keys = pa.table(
        {"p": person, "t": events.column("occurred_at"), "e": events.column("event_id")}
    )
    order = pc.sort_indices(
        keys, sort_keys=[("p", "ascending"), ("t", "ascending"), ("e", "ascending")]
    )
    return np.asarray(order.to_numpy(), dtype=np.int64)


def _decide(
    rules: CompiledLifecycle,
    state: list[int],
    person: IntArray,
    target: IntArray,
    missing: IntArray,
    order: IntArray,
    imported: npt.NDArray[np.bool_],
) -> tuple[npt.NDArray[np.int8], IntArray]:
    """Outcome code and prior stage code per event, in input order; `state` ends final.

    Unknown persons never reach the walk. Events the graph blocks are then told apart
    column-wise: an undeclared target stage, no stage yet (first-stage rule), or a transition.
    """
    seq = order[person[order] >= 0]
    walked, walked_before = _walk(
        state,
        (rules.allowed, rules.forward),
        person[seq].tolist(),
        target[seq].tolist(),
        (missing[seq] == 0).tolist(),
        imported[seq].astype(np.int64).tolist(),
    )
    outcome = np.full(len(person), UNKNOWN_PERSON_CODE, dtype=np.int8)
    outcome[seq] = np.frombuffer(bytes(walked), dtype=np.int8)
    before = np.full(len(person), rules.none, dtype=np.int64)
    before[seq] = walked_before
    blocked = outcome == BLOCKED
    outcome[blocked & (target < 0)] = UNKNOWN_STAGE
    outcome[blocked & (target >= 0) & (before == rules.none)] = FIRST_STAGE
    return outcome, before


def apply_events(
    events: pa.Table,
    persons: pa.Table,
    lifecycle: Lifecycle,
    current: Mapping[str, str | None] | None = None,
) -> LifecycleResult:
    """Apply lifecycle events in (occurred_at, event_id) order per person.

    `events` has the lifecycle_events columns; `persons` has person_id and the required fields
    (`required_columns`); `current` optionally gives persons' stages before these events, for
    incremental application (default: nobody has a stage yet). A person's first accepted stage
    must be an entry stage and every later one a configured transition; an event for the stage
    the person is already in is a repeat (no-op, not an error); the target stage's required
    fields must be filled. A rejected event leaves the stage unchanged. Output rows keep the
    input's row order, which lets the final gathers read the input sequentially.
    """
    absent = [c for c in EVENT_COLUMNS if c not in events.column_names]
    if absent:
        raise ValueError(f"events are missing columns: {', '.join(absent)}")
    rules = compile_lifecycle(lifecycle).with_foreign((current or {}).values())
    person_ids = persons.column("person_id").combine_chunks()
    person = _codes(events.column("person_id"), person_ids)
    target = _codes(events.column("stage"), pa.array(rules.names, pa.string()))
    missing = _missing(rules, persons, person, target)
    state = _initial_state(rules, persons, current)
    order = _processing_order(events, person)
    outcome, before = _decide(rules, state, person, target, missing, order, _imported(events))

    names = pa.array(rules.state_names(), pa.string())
    acc = np.flatnonzero(outcome == ACCEPTED)
    history = pa.table(
        {
            "transition_id": events.column("event_id").take(acc),
            "person_id": events.column("person_id").take(acc),
            "from_stage": names.take(before[acc]),
            "to_stage": events.column("stage").take(acc),
            "changed_at": events.column("occurred_at").take(acc),
            "source": events.column("source").take(acc),
            "skipped": _skipped(rules, before[acc], target[acc]),
        }
    )
    rej = np.flatnonzero((outcome != ACCEPTED) & (outcome != REPEAT))
    to_stage = events.column("stage").take(rej)
    reasons = _reasons(
        rules, outcome[rej], before[rej], target[rej], missing[rej], to_stage.to_pylist()
    )
    rejections = pa.table(
        {
            "event_id": events.column("event_id").take(rej),
            "person_id": events.column("person_id").take(rej),
            "from_stage": names.take(before[rej]),
            "to_stage": to_stage,
            "occurred_at": events.column("occurred_at").take(rej),
            "source": events.column("source").take(rej),
            "reason": pa.array(reasons, pa.string()),
        }
    )
    final = names.take(pa.array(state, pa.int64()))
    stages = pa.table({"person_id": person_ids, "lifecycle_stage": final})
    repeats = int(np.count_nonzero(outcome == REPEAT))
    return LifecycleResult(history, rejections, stages, events.num_rows, repeats)


def stage_after(
    rules: CompiledLifecycle,
    person: Mapping[str, Any],
    stages: Sequence[str],
    current: str | None = None,
) -> str | None:
    """The stage one person ends in after asking for `stages` in order, as `apply_events`
    decides them (same tables, same filled-field test), in plain Python.

    For the intake API, which must know a new lead's stage before routing it, on the request
    path: a one-row `apply_events` costs Arrow set-up per call; this is a few list lookups.
    tests/lifecycle/test_engine.py checks it against `apply_events`.
    """
    names = rules.names
    state = rules.state_code(current) if current is None or current in names else None
    if state is None:
        return current  # an undeclared current stage has no way out
    filled = 0
    for bit, name in enumerate(rules.required_fields):
        value = person.get(name)
        if value is not None and (not isinstance(value, str) or value.strip()):
            filled |= 1 << bit
    for stage in stages:
        if stage not in names:
            continue
        target = names.index(stage)
        if target == state or not rules.allowed[state][target]:
            continue
        if rules.required_mask[target] & ~filled:
            continue
        state = target
    return rules.state_names()[state]


@dataclass(frozen=True)
class LifecycleEvent:
    """One requested stage change, as the real-time intake receives it."""

    event_id: str
    person_id: str
    stage: str
    occurred_at: dt.datetime
    source: str | None = None


@dataclass(frozen=True)
class EventOutcome:
    """What one event did: accepted (a transition), a repeat (no-op) or rejected (a reason)."""

    status: Literal["accepted", "repeat", "rejected"]
    from_stage: str | None
    to_stage: str
    stage: str | None
    reason: str | None = None

    @property
    def reason_kind(self) -> ReasonKind | None:
        return None if self.reason is None else reason_kind(self.reason)


def apply_event(
    event: LifecycleEvent,
    person: Mapping[str, Any] | None,
    current_stage: str | None,
    lifecycle: Lifecycle,
) -> EventOutcome:
    """Apply one event to one person whose stage is `current_stage` (None: no stage yet).

    `person` maps persons columns to values (at least `required_columns`); None means the
    person does not exist. This runs the batch core on one row, so the real-time path and the
    nightly recompute cannot disagree about a rule.
    """
    events = pa.table(
        {
            "event_id": pa.array([event.event_id], pa.string()),
            "person_id": pa.array([event.person_id], pa.string()),
            "stage": pa.array([event.stage], pa.string()),
            "occurred_at": pa.array([event.occurred_at], pa.timestamp("us")),
            "source": pa.array([event.source], pa.string()),
        }
    )
    fields = required_columns(lifecycle)[1:]
    if person is None:
        persons = pa.table({name: pa.array([], pa.string()) for name in ("person_id", *fields)})
    else:
        persons = pa.table({"person_id": [event.person_id], **{f: [person.get(f)] for f in fields}})
    result = apply_events(events, persons, lifecycle, {event.person_id: current_stage})
    if result.history.num_rows:
        return EventOutcome("accepted", current_stage, event.stage, event.stage)
    if result.rejections.num_rows:
        reason = str(result.rejections.column("reason")[0].as_py())
        return EventOutcome("rejected", current_stage, event.stage, current_stage, reason)
    return EventOutcome("repeat", current_stage, event.stage, current_stage)
