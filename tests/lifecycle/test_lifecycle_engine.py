"""The pure core on hand-worked cases: every rule, its exact reason text, and ordering."""

from __future__ import annotations

import pyarrow as pa
import pytest
from lifecycle_data import at, events, example_lifecycle, persons, reasons, walk

from revops.config.models import Lifecycle
from revops.lifecycle import (
    LifecycleEvent,
    apply_event,
    apply_events,
    reason_kind,
    required_columns,
)


@pytest.fixture(scope="module")
def lifecycle() -> Lifecycle:
    return example_lifecycle()


def stage_of(result_stages: pa.Table, person_id: str) -> str | None:
    for row in result_stages.to_pylist():
        if row["person_id"] == person_id:
            return row["lifecycle_stage"]  # type: ignore[no-any-return]
    raise AssertionError(person_id)


def test_happy_path_through_every_funnel_stage(lifecycle: Lifecycle) -> None:
    funnel = ["Lead", "MQL", "SAL", "SQL", "Opportunity", "Customer"]
    evs = events(*[(f"e{i}", "p1", stage, i) for i, stage in enumerate(funnel)])
    result = apply_events(evs, persons(p1={}), lifecycle)
    assert walk(result.history) == list(zip([None, *funnel[:-1]], funnel, strict=True))
    assert result.rejected == 0
    assert result.repeats == 0
    assert stage_of(result.stages, "p1") == "Customer"
    first = result.history.sort_by("changed_at").to_pylist()[0]
    assert first == {
        "transition_id": "e0",
        "person_id": "p1",
        "from_stage": None,
        "to_stage": "Lead",
        "changed_at": at(0),
        "source": "src-e0",
        "skipped": None,
    }


def test_each_rejection_kind_has_its_exact_reason(lifecycle: Lifecycle) -> None:
    evs = events(
        ("e1", "ghost", "Lead", 0),
        ("e2", "p1", "MQL", 0),  # no stage yet: first must be Lead
        ("e3", "p1", "Lead", 1),
        ("e4", "p1", "SQL", 2),  # Lead → SQL skips the funnel
        ("e5", "p1", "Foo", 3),
        ("e6", "p2", "Lead", 0),
        ("e7", "p2", "MQL", 1),  # p2 has no company
    )
    result = apply_events(evs, persons(p1={}, p2={"company": None}), lifecycle)
    assert reasons(result.rejections) == {
        "e1": "unknown person",
        "e2": "first stage must be one of: Lead",
        "e4": "transition Lead → SQL is not allowed "
        "(allowed from Lead: MQL, Nurture, Disqualified)",
        "e5": "unknown stage 'Foo'",
        "e7": "entering MQL requires email, company, country; missing: company",
    }
    kinds = {r["event_id"]: reason_kind(r["reason"]) for r in result.rejections.to_pylist()}
    assert kinds == {
        "e1": "unknown_person",
        "e2": "first_stage",
        "e4": "not_allowed",
        "e5": "unknown_stage",
        "e7": "missing_fields",
    }
    rows = {r["event_id"]: r for r in result.rejections.to_pylist()}
    assert rows["e1"]["from_stage"] is None
    assert rows["e4"]["from_stage"] == "Lead"
    assert rows["e4"]["to_stage"] == "SQL"
    assert rows["e5"]["from_stage"] == "Lead"
    assert rows["e7"]["occurred_at"] == at(1)
    assert rows["e7"]["source"] == "src-e7"


def test_an_exit_with_no_transitions_says_none_are_allowed(lifecycle: Lifecycle) -> None:
    funnel = ["Lead", "MQL", "SAL", "SQL", "Opportunity", "Customer", "Recycled"]
    evs = events(*[(f"e{i}", "p1", stage, i) for i, stage in enumerate(funnel)])
    result = apply_events(evs, persons(p1={}), lifecycle)
    assert reasons(result.rejections) == {
        "e6": "transition Customer → Recycled is not allowed (allowed from Customer: none)"
    }


def test_missing_fields_are_listed_in_the_stage_order_and_blank_text_counts_as_missing(
    lifecycle: Lifecycle,
) -> None:
    evs = events(("e1", "p1", "Lead", 0), ("e2", "p1", "MQL", 1))
    people = persons(p1={"country": "  ", "company": ""})
    result = apply_events(evs, people, lifecycle)
    assert reasons(result.rejections) == {
        "e2": "entering MQL requires email, company, country; missing: company, country"
    }
    no_email = apply_events(events(("e1", "p1", "Lead", 0)), persons(p1={"email": None}), lifecycle)
    assert reasons(no_email.rejections) == {"e1": "entering Lead requires email; missing: email"}


def test_a_rejected_event_leaves_the_stage_and_the_next_proceeds_from_it(
    lifecycle: Lifecycle,
) -> None:
    evs = events(
        ("e1", "p1", "Lead", 0),
        ("e2", "p1", "SQL", 1),  # rejected
        ("e3", "p1", "MQL", 2),  # from Lead, not from SQL
        ("e4", "p1", "SAL", 3),
    )
    result = apply_events(evs, persons(p1={}), lifecycle)
    assert walk(result.history) == [(None, "Lead"), ("Lead", "MQL"), ("MQL", "SAL")]
    assert list(reasons(result.rejections)) == ["e2"]
    assert stage_of(result.stages, "p1") == "SAL"


def test_recycled_then_mql_again(lifecycle: Lifecycle) -> None:
    stages = ["Lead", "MQL", "Recycled", "MQL", "SAL"]
    evs = events(*[(f"e{i}", "p1", s, i) for i, s in enumerate(stages)])
    result = apply_events(evs, persons(p1={}), lifecycle)
    assert walk(result.history) == [
        (None, "Lead"),
        ("Lead", "MQL"),
        ("MQL", "Recycled"),
        ("Recycled", "MQL"),
        ("MQL", "SAL"),
    ]


def test_same_stage_repeats_are_counted_not_recorded(lifecycle: Lifecycle) -> None:
    evs = events(
        ("e1", "p1", "Lead", 0),
        ("e2", "p1", "Lead", 1),
        ("e3", "p1", "MQL", 2),
        ("e4", "p1", "MQL", 3),
        ("e5", "p1", "MQL", 4),
    )
    result = apply_events(evs, persons(p1={}), lifecycle)
    assert walk(result.history) == [(None, "Lead"), ("Lead", "MQL")]
    assert (result.accepted, result.rejected, result.repeats, result.events) == (2, 0, 3, 5)


def test_a_repeat_is_not_checked_for_required_fields(lifecycle: Lifecycle) -> None:
    """A person already in MQL whose company was since cleared is still just 'in MQL'."""
    result = apply_events(
        events(("e1", "p1", "MQL", 0)), persons(p1={"company": None}), lifecycle, {"p1": "MQL"}
    )
    assert (result.accepted, result.rejected, result.repeats) == (0, 0, 1)
    assert stage_of(result.stages, "p1") == "MQL"


def test_events_are_applied_in_time_order_whatever_the_input_order(
    lifecycle: Lifecycle,
) -> None:
    evs = events(
        ("e3", "p1", "SAL", 2),
        ("e1", "p1", "Lead", 0),
        ("e9", "p2", "Lead", 5),
        ("e2", "p1", "MQL", 1),
    )
    result = apply_events(evs, persons(p1={}, p2={}), lifecycle)
    assert walk(result.history) == [(None, "Lead"), ("Lead", "MQL"), ("MQL", "SAL"), (None, "Lead")]
    assert result.rejected == 0


def test_equal_timestamps_are_ordered_by_event_id(lifecycle: Lifecycle) -> None:
    evs = events(("b", "p1", "MQL", 0), ("a", "p1", "Lead", 0))
    assert walk(apply_events(evs, persons(p1={}), lifecycle).history) == [
        (None, "Lead"),
        ("Lead", "MQL"),
    ]
    swapped = events(("a", "p1", "MQL", 0), ("b", "p1", "Lead", 0))
    result = apply_events(swapped, persons(p1={}), lifecycle)
    assert reasons(result.rejections) == {"a": "first stage must be one of: Lead"}


def test_incremental_application_starts_from_the_current_stage(lifecycle: Lifecycle) -> None:
    evs = events(("e1", "p1", "SAL", 0), ("e2", "p2", "MQL", 0), ("e3", "p3", "Lead", 0))
    current = {"p1": "MQL", "p2": "Subscriber"}
    result = apply_events(evs, persons(p1={}, p2={}, p3={}), lifecycle, current)
    assert walk(result.history) == [("MQL", "SAL"), (None, "Lead")]
    assert reasons(result.rejections) == {
        "e2": "transition Subscriber → MQL is not allowed (allowed from Subscriber: none)"
    }
    assert result.stages.to_pylist() == [
        {"person_id": "p1", "lifecycle_stage": "SAL"},
        {"person_id": "p2", "lifecycle_stage": "Subscriber"},
        {"person_id": "p3", "lifecycle_stage": "Lead"},
    ]


def test_persons_without_events_have_no_stage_and_nothing_is_empty_safe(
    lifecycle: Lifecycle,
) -> None:
    result = apply_events(events(), persons(p1={}), lifecycle)
    assert (result.events, result.accepted, result.rejected, result.repeats) == (0, 0, 0, 0)
    assert result.stages.to_pylist() == [{"person_id": "p1", "lifecycle_stage": None}]
    assert result.history.column_names == [
        "transition_id",
        "person_id",
        "from_stage",
        "to_stage",
        "changed_at",
        "source",
        "skipped",
    ]


def test_inputs_missing_columns_are_refused_by_name(lifecycle: Lifecycle) -> None:
    with pytest.raises(ValueError, match="events are missing columns: source"):
        apply_events(events().drop_columns(["source"]), persons(p1={}), lifecycle)
    only_ids = persons(p1={}).select(["person_id", "email"])
    with pytest.raises(ValueError, match="persons is missing column 'company'"):
        apply_events(events(), only_ids, lifecycle)


def test_required_columns_are_the_union_of_the_stages_fields(lifecycle: Lifecycle) -> None:
    assert required_columns(lifecycle) == (
        "person_id",
        "email",
        "company",
        "country",
        "owner_id",
        "account_id",
    )


def test_apply_event_reports_each_outcome(lifecycle: Lifecycle) -> None:
    def event(stage: str) -> LifecycleEvent:
        return LifecycleEvent("e1", "p1", stage, at(0), "rep")

    person = {"email": "a@x.io", "company": "Acme", "country": "DE"}
    accepted = apply_event(event("MQL"), person, "Lead", lifecycle)
    assert (accepted.status, accepted.from_stage, accepted.stage) == ("accepted", "Lead", "MQL")
    assert accepted.reason is None
    assert accepted.reason_kind is None

    repeat = apply_event(event("Lead"), person, "Lead", lifecycle)
    assert (repeat.status, repeat.stage) == ("repeat", "Lead")

    missing = apply_event(event("SAL"), person, "MQL", lifecycle)
    assert missing.status == "rejected"
    assert missing.stage == "MQL"
    assert missing.reason == "entering SAL requires owner_id; missing: owner_id"
    assert missing.reason_kind == "missing_fields"

    first = apply_event(event("Lead"), person, None, lifecycle)
    assert (first.status, first.from_stage, first.stage) == ("accepted", None, "Lead")

    ghost = apply_event(event("Lead"), None, None, lifecycle)
    assert (ghost.status, ghost.reason) == ("rejected", "unknown person")


def test_reason_kind_refuses_text_that_is_not_a_reason() -> None:
    with pytest.raises(ValueError, match="not a lifecycle rejection reason"):
        reason_kind("because")


def test_imported_events_may_skip_funnel_stages_and_record_them(lifecycle: Lifecycle) -> None:
    # A HubSpot contact with a Lead date and an SQL date but no MQL date: the CRM moved it
    # Lead → SQL. Imported (source import:…), the move is accepted and MQL and SAL are recorded
    # as skipped on it, never entered; the same move from any other source is refused.
    evs = events(("e1", "p1", "Lead", 0), ("e2", "p1", "SQL", 3), ("e3", "p2", "MQL", 1))
    evs = evs.set_column(4, "source", pa.array(["import:hubspot"] * 3))
    result = apply_events(evs, persons(p1={}, p2={}), lifecycle)
    rows = {r["transition_id"]: r for r in result.history.to_pylist()}
    assert (rows["e2"]["from_stage"], rows["e2"]["to_stage"]) == ("Lead", "SQL")
    assert rows["e2"]["skipped"] == "MQL|SAL"
    assert rows["e1"]["skipped"] is None
    # a first stage past Lead: Lead is recorded as skipped, not invented
    assert (rows["e3"]["from_stage"], rows["e3"]["skipped"]) == (None, "Lead")
    assert stage_of(result.stages, "p1") == "SQL"
    native = apply_events(
        events(("e1", "p1", "Lead", 0), ("e2", "p1", "SQL", 3)), persons(p1={}), lifecycle
    )
    assert native.rejected == 1
