"""Properties of the pure core over arbitrary event streams (hypothesis)."""

from __future__ import annotations

import itertools
from collections import defaultdict

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st
from lifecycle_data import events, example_lifecycle, persons

from revops.lifecycle import LifecycleEvent, apply_event, apply_events
from revops.lifecycle.engine import stage_after
from revops.lifecycle.rules import compile_lifecycle

LIFECYCLE = example_lifecycle()
FIELDS = ("email", "company", "country", "owner_id", "account_id")
PEOPLE = ("p0", "p1", "p2")

field_value = st.sampled_from([None, "", " ", "x"])
person_fields = st.fixed_dictionaries(dict.fromkeys(FIELDS, field_value))
stage = st.sampled_from([*LIFECYCLE.stage_names, "Foo"])
event_row = st.tuples(st.sampled_from([*PEOPLE, "ghost"]), stage, st.integers(0, 8))


@st.composite
def cases(draw: st.DrawFn) -> tuple[pa.Table, pa.Table]:
    people = {p: draw(person_fields) for p in PEOPLE}
    # Lead-heavy prefixes so that long valid walks are common, not just rejections.
    lead_first = [(p, "Lead", 0) for p in PEOPLE if draw(st.booleans())]
    rows = lead_first + draw(st.lists(event_row, max_size=40))
    evs = events(*[(f"e{i:03d}", p, s, day) for i, (p, s, day) in enumerate(rows)])
    order = draw(st.permutations(range(evs.num_rows)))
    return evs.take(pa.array(order, pa.int64())), persons(**people)


def filled(value: object) -> bool:
    return value is not None and str(value).strip() != ""


@settings(max_examples=200, deadline=None)
@given(cases())
def test_every_history_is_a_valid_walk_and_every_event_is_accounted_for(
    case: tuple[pa.Table, pa.Table],
) -> None:
    evs, people = case
    result = apply_events(evs, people, LIFECYCLE)
    assert result.accepted + result.rejected + result.repeats == result.events == evs.num_rows
    ids = result.history.column("transition_id").to_pylist()
    rejected = result.rejections.column("event_id").to_pylist()
    assert not set(ids) & set(rejected)

    fields = {r["person_id"]: r for r in people.to_pylist()}
    walks: dict[str, list[dict[str, object]]] = defaultdict(list)
    keys = [("changed_at", "ascending"), ("transition_id", "ascending")]
    for row in result.history.sort_by(keys).to_pylist():
        walks[row["person_id"]].append(row)
    for pid, rows in walks.items():
        assert rows[0]["from_stage"] is None
        assert rows[0]["to_stage"] in LIFECYCLE.first_stages
        for prev, row in itertools.pairwise(rows):
            assert row["from_stage"] == prev["to_stage"]
            assert LIFECYCLE.allowed(str(row["from_stage"]), str(row["to_stage"]))
        for row in rows:
            required = LIFECYCLE.stage(str(row["to_stage"])).required_fields
            assert all(filled(fields[pid][f]) for f in required)
    finals = {r["person_id"]: r["lifecycle_stage"] for r in result.stages.to_pylist()}
    assert finals == {p: (walks[p][-1]["to_stage"] if walks[p] else None) for p in PEOPLE}


@settings(max_examples=50, deadline=None)
@given(cases())
def test_one_event_at_a_time_agrees_with_the_batch(case: tuple[pa.Table, pa.Table]) -> None:
    evs, people = case
    batch = apply_events(evs, people, LIFECYCLE)
    fields = {r["person_id"]: r for r in people.to_pylist()}
    current: dict[str, str | None] = dict.fromkeys(PEOPLE)
    accepted, rejected, repeats = set(), {}, 0
    for row in evs.sort_by([("occurred_at", "ascending"), ("event_id", "ascending")]).to_pylist():
        pid = row["person_id"]
        event = LifecycleEvent(row["event_id"], pid, row["stage"], row["occurred_at"])
        outcome = apply_event(event, fields.get(pid), current.get(pid), LIFECYCLE)
        if outcome.status == "accepted":
            accepted.add(row["event_id"])
        elif outcome.status == "rejected":
            rejected[row["event_id"]] = outcome.reason
        else:
            repeats += 1
        if pid in current:
            current[pid] = outcome.stage
    assert accepted == set(batch.history.column("transition_id").to_pylist())
    assert rejected == {r["event_id"]: r["reason"] for r in batch.rejections.to_pylist()}
    assert repeats == batch.repeats
    assert current == {r["person_id"]: r["lifecycle_stage"] for r in batch.stages.to_pylist()}


@settings(max_examples=300, deadline=None)
@given(
    fields=person_fields,
    asked=st.lists(stage, max_size=6),
    current=st.sampled_from([None, *LIFECYCLE.stage_names]),
)
def test_stage_after_agrees_with_apply_events(
    fields: dict[str, str | None], asked: list[str], current: str | None
) -> None:
    """The intake's plain-Python walk ends where the batch engine does, for any request."""
    evs = events(*[(f"e{i:03d}", "p0", s, i) for i, s in enumerate(asked)])
    people = persons(p0=fields)
    batch = apply_events(evs, people, LIFECYCLE, {"p0": current})
    expected = batch.stages.column("lifecycle_stage")[0].as_py()
    row = people.to_pylist()[0]
    assert stage_after(compile_lifecycle(LIFECYCLE), row, asked, current) == expected
