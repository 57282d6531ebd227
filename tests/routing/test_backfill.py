"""The lead desk rebuilt from the lifecycle history (`backfill_desk`), on both backends.

Users a and b (UTC), order pool [a, b]; SLA: a demo request 15 minutes, else 480; business
hours 09:00-17:00 Monday to Friday. History (Monday 2025-06-09):
  p1 MQL 10:00 after a demo request at 09:55, SAL 10:10  → a, due 10:15, accepted on time (10 min)
  p2 MQL 11:00, Disqualified Tue 12:00                   → b, due Mon 6 h + Tue 2 h = Tue 11:00;
                                                            rejected late as not_a_fit (1500 min)
  p3 MQL 12:00, nothing since                            → a, running
Acceptance rate 1/2; speed to lead (10 + 1500) / 2 = 755 minutes. Run twice: the same rows.
The watermark is the end of the data (Tue 12:00): `route run` afterwards routes nothing old.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from revops.config import load_config
from revops.config.routing import RoutingConfig
from revops.metrics import compute
from revops.routing.backfill import backfill_desk
from revops.routing.desk_facts import mql_windows, window_facts
from revops.routing.store import watermark
from revops.warehouse import Batch, Warehouse
from revops.warehouse.schema import table
from revops.warehouse.warehouse import arrow_schema

SHIPPED = load_config(Path(__file__).parents[2] / "examples" / "revops.yaml").model
ROUTING = RoutingConfig.model_validate(
    {
        "pools": [{"name": "p", "members": [{"user_id": "a"}, {"user_id": "b"}]}],
        "rules": [{"name": "everyone", "pool": "p"}],
        "sla": {
            "default_minutes": 480,
            "targets": [
                {
                    "priority": "high_intent",
                    "minutes": 15,
                    "when": [{"field": "touch_type", "op": "in", "value": ["demo_request"]}],
                }
            ],
        },
    }
)
MODEL = SHIPPED.model_copy(update={"routing": ROUTING})


def mon(hour: int, minute: int = 0, day: int = 9) -> datetime:
    return datetime(2025, 6, day, hour, minute)


def seed(wh: Warehouse) -> None:
    wh.write(
        "users",
        pa.Table.from_pylist(
            [
                {"user_id": u, "name": u, "team": "SDR", "role": "sdr", "timezone": "UTC"}
                | {"is_active": True}
                for u in "ab"
            ]
        ),
    )
    wh.write(
        "persons",
        pa.Table.from_pylist(
            [
                {"person_id": p, "email": f"{p}@x.com", "created_at": mon(8)}
                for p in ("p1", "p2", "p3")
            ]
        ),
    )
    history = [
        ("p1", "MQL", mon(10)),
        ("p1", "SAL", mon(10, 10)),
        ("p2", "MQL", mon(11)),
        ("p2", "Disqualified", mon(12, day=10)),
        ("p3", "MQL", mon(12)),
    ]
    wh.write(
        "lifecycle_history",
        pa.Table.from_pylist(
            [
                {"transition_id": f"{p}-{s}", "person_id": p, "to_stage": s, "changed_at": t}
                | {"source": "crm"}
                for p, s, t in history
            ]
        ),
    )
    wh.write(
        "touchpoints",
        pa.Table.from_pylist(
            [
                {"touchpoint_id": "t1", "person_id": "p1", "occurred_at": mon(9, 55)}
                | {"channel": "paid_search", "touch_type": "demo_request"}
            ]
        ),
    )


def test_the_desk_is_rebuilt_from_the_lifecycle(warehouse: Warehouse) -> None:
    seed(warehouse)
    report = backfill_desk(warehouse, MODEL)
    assert (report.routed, report.accepted, report.rejected, report.running) == (3, 1, 1, 1)
    cols = ["person_id", "owner_id", "priority", "due_at", "response", "rejection_reason"]
    clocks = warehouse.to_arrow(warehouse.table("sla_clocks").order_by("person_id"))
    got = [tuple(r[c] for c in cols) for r in clocks.to_pylist()]
    assert got == [
        ("p1", "a", "high_intent", mon(10, 15), "accepted", None),
        ("p2", "b", "default", mon(11, day=10), "rejected", "not_a_fit"),
        ("p3", "a", "default", mon(12, day=10), None, None),
    ]
    assert watermark(warehouse) == mon(12, day=10)
    for name, expected in (("acceptance_rate", 0.5), ("speed_to_lead_minutes", 755.0)):
        value = compute(warehouse, MODEL, name, grain=None)["value"].tolist()
        assert value == pytest.approx([expected]), name
    backfill_desk(warehouse, MODEL)
    assert warehouse.to_arrow(warehouse.table("sla_clocks").order_by("person_id")) == clocks
    assert warehouse.count("routing_decisions") == 3
    # a stored clock and decision that differ from the replay's are rewritten, as an upsert
    # would; the rows the replay gives unchanged are left alone (the desk writes a merge)
    tampered = clocks.slice(0, 1).set_column(
        clocks.column_names.index("owner_id"), "owner_id", pa.array(["zz"])
    )
    decisions = warehouse.to_arrow(warehouse.table("routing_decisions").order_by("person_id"))
    warehouse.write_many(
        [
            Batch("sla_clocks", tampered),
            Batch(
                "routing_decisions",
                pa.table({"decision_id": decisions["decision_id"][2:]}).append_column(
                    "rule", pa.array(["tampered"])
                ),
            ),
        ]
    )
    warehouse.write("routing_decisions", pa.table({"decision_id": ["x"], "rule": ["y"]}))
    backfill_desk(warehouse, MODEL)
    assert warehouse.to_arrow(warehouse.table("sla_clocks").order_by("person_id")) == clocks
    kept = warehouse.table("routing_decisions").filter(lambda t: t.decision_id != "x")
    assert warehouse.to_arrow(kept.order_by("person_id")) == decisions


def test_a_lead_arrives_with_its_last_touch_at_or_before_the_mql(warehouse: Warehouse) -> None:
    """The touch type a lead is routed with, found by the warehouse: its person's last touch
    at or before the MQL instant (the later touchpoint_id of two at one instant), never a
    later one, another person's or one of no known instant; none before it: no touch type."""
    touches = [
        ("t1", "p1", mon(9, 0), "webinar"),
        ("t3", "p1", mon(10, 0), "demo_request"),  # at the MQL instant, the later id: this one
        ("t2", "p1", mon(10, 0), "content"),
        ("t4", "p1", mon(10, 30), "event"),  # after the MQL
        ("t5", "p2", mon(10, 59), "event"),  # p3's MQL is later, but this is p2's
        ("t6", "p3", mon(12, 1), "webinar"),  # after p3's MQL
        ("t7", "p3", None, "demo_request"),  # no known instant: ignored
    ]
    warehouse.write(
        "touchpoints",
        pa.Table.from_pylist(
            [
                {"touchpoint_id": i, "person_id": p, "occurred_at": at, "touch_type": kind}
                | {"channel": "paid_search"}
                for i, p, at, kind in touches
            ]
        ),
    )
    _history(
        warehouse, [(p, "MQL", t) for p, t in (("p1", mon(10)), ("p2", mon(11)), ("p3", mon(12)))]
    )
    facts = window_facts(warehouse, "MQL", {"SAL"}, ("person_id",), ("account_id",), (None, None))
    got = list(zip(facts["person_id"].to_pylist(), facts["touch_type"].to_pylist(), strict=True))
    assert got == [("p1", "demo_request"), ("p2", "event"), ("p3", None)]


def _history(wh: Warehouse, changes: list[tuple[str, str, datetime]]) -> None:
    wh.write(
        "lifecycle_history",
        pa.Table.from_pylist(
            [
                {"transition_id": f"h{n}", "person_id": p, "to_stage": s, "changed_at": t}
                | {"source": "crm"}
                for n, (p, s, t) in enumerate(changes)
            ]
        ),
    )


# -- varied histories: the warehouse's facts equal the rules said in Python, and a replay
# read a few MQLs at a time equals one read whole ----------------------------------------------
PEOPLE = [f"p{i}" for i in range(6)]
STAGES = ["MQL", "MQL", "MQL", "SAL", "Disqualified", "Nurture", "Recycled", "SQL"]
INSTANTS = [mon(h, m, day) for day in (9, 10) for h in (8, 10, 16) for m in (0, 30)]
ANSWERS = {"MQL", "SAL", "Disqualified", "Nurture", "Recycled"}

changes_st = st.lists(
    st.tuples(st.sampled_from(PEOPLE), st.sampled_from(STAGES), st.sampled_from(INSTANTS)),
    min_size=8,  # enough for several windows, and returning leads
    max_size=25,
)
touches_st = st.lists(
    st.tuples(
        st.sampled_from(PEOPLE),
        st.one_of(st.none(), st.sampled_from(INSTANTS[::3])),  # few instants: many ties
        st.sampled_from(["demo_request", "webinar", "content", None]),
    ),
    min_size=6,
    max_size=20,
)
_person_st = st.tuples(
    st.sampled_from(["a0", "a1", "a2", "a9", None]),  # a9: no such account
    st.sampled_from(["US", "GB", "DE", None]),
    st.sampled_from(["Student", "VP Sales", None]),
    st.sampled_from(["webinar", "web", None]),
)
persons_st = st.fixed_dictionaries(dict.fromkeys(PEOPLE[:5], _person_st))  # p5: no person
DESK = SHIPPED.model_copy(
    update={
        "routing": RoutingConfig.model_validate(
            {
                "fallback_queue": "triage",
                "pools": [
                    {"name": "na", "members": [{"user_id": "a"}, {"user_id": "b"}]},
                    {"name": "eu", "members": [{"user_id": "c"}], "daily_cap": 1},
                ],
                "rules": [
                    {
                        "name": "students",
                        "when": [{"field": "title", "op": "contains", "value": "student"}],
                        "queue": "nurture",
                    },
                    {
                        "name": "named",
                        "kind": "account_owner",
                        "when": [{"field": "account.segment", "op": "in", "value": ["ent"]}],
                    },
                    {
                        "name": "territories",
                        "kind": "territory",
                        "territories": [
                            {"name": "NA", "countries": ["US"], "pool": "na"},
                            {"name": "EU", "countries": ["GB", "DE"], "pool": "eu"},
                        ],
                    },
                ],
                "sla": {
                    "targets": [
                        {
                            "priority": "hot",
                            "minutes": 15,
                            "when": [{"field": "touch_type", "op": "eq", "value": "demo_request"}],
                        },
                        {
                            "priority": "event",
                            "minutes": 60,
                            "when": [{"field": "source", "op": "eq", "value": "webinar"}],
                        },
                    ]
                },
            }
        )
    }
)


def _seed_varied(
    wh: Warehouse,
    changes: list[tuple[str, str, datetime]],
    touches: list[tuple[str, datetime | None, str | None]],
    persons: dict[str, tuple[str | None, str | None, str | None, str | None]],
) -> None:
    for name in (*SEEDED, *DESK_TABLES):  # the previous example's
        wh.write(name, arrow_schema(table(name)).empty_table(), mode="replace")
    _history(wh, changes)
    users = [
        {"user_id": u, "name": u, "team": "SDR", "role": "sdr", "timezone": z, "is_active": True}
        for u, z in (("a", "UTC"), ("b", "America/New_York"), ("c", "Europe/Berlin"))
    ]
    wh.write("users", pa.Table.from_pylist(users))
    accounts = [
        {"account_id": a, "name": a, "segment": seg, "owner_id": owner, "country": country}
        for a, seg, owner, country in [
            ("a0", "ent", "b", "US"),
            ("a1", "ent", None, None),  # a named account without an owner
            ("a2", "smb", "a", "GB"),
        ]
    ]
    wh.write("accounts", pa.Table.from_pylist(accounts))
    if persons:
        rows = [
            {"person_id": p, "email": f"{p}@x.com", "created_at": mon(7)}
            | {"account_id": a, "country": c, "title": t, "source": s}
            for p, (a, c, t, s) in sorted(persons.items())
        ]
        wh.write("persons", pa.Table.from_pylist(rows))
    if touches:
        rows = [
            {"touchpoint_id": f"t{n:02d}", "person_id": p, "occurred_at": at, "touch_type": k}
            | {"channel": "web"}
            for n, (p, at, k) in enumerate(touches)
        ]
        wh.write("touchpoints", pa.Table.from_pylist(rows))


VARIED = settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@VARIED
@given(changes=changes_st, touches=touches_st, persons=persons_st, window=st.integers(1, 5))
def test_the_warehouse_finds_each_mqls_touch_and_answer_as_the_rules_say(
    warehouse: Warehouse,
    changes: list[tuple[str, str, datetime]],
    touches: list[tuple[str, datetime | None, str | None]],
    persons: dict[str, tuple[str | None, str | None, str | None, str | None]],
    window: int,
) -> None:
    """Per MQL moment: the last touch at or before it (of a known instant; the later id of
    one instant) and the first change into an answering stage after it (over the person's
    whole later history; the first stage by name of one instant), as a direct reading of
    the lists says; moments in (instant, person) order, repeats kept. Read `window` moments
    at a time (each window reads only its own persons' touches), the windows in order."""
    _seed_varied(warehouse, changes, touches, persons)
    parts = [
        window_facts(warehouse, "MQL", ANSWERS, ("person_id",), ("account_id",), span)
        for span in mql_windows(warehouse, "MQL", window)
    ]
    facts = pa.concat_tables(parts)
    moments = sorted((t, p) for p, s, t in changes if s == "MQL")
    ids = [(f"t{n:02d}", p, at, k) for n, (p, at, k) in enumerate(touches)]
    expected = []
    for at, p in moments:
        mine = [(w, i, k) for i, who, w, k in ids if who == p and w is not None and w <= at]
        later = sorted((t, s) for who, s, t in changes if who == p and s in ANSWERS and t > at)
        answer = later[0] if later else (None, None)
        expected.append((p, at, max(mine)[2] if mine else None, *answer))
    columns = ("person_id", "at", "touch_type", "answered_at", "answer_stage")
    got = zip(*(facts[c].to_pylist() for c in columns), strict=True)
    assert list(got) == expected


@VARIED
@given(changes=changes_st, touches=touches_st, persons=persons_st, window=st.integers(1, 4))
def test_a_replay_read_a_few_mqls_at_a_time_equals_one_read_whole(
    warehouse: Warehouse,
    changes: list[tuple[str, str, datetime]],
    touches: list[tuple[str, datetime | None, str | None]],
    persons: dict[str, tuple[str | None, str | None, str | None, str | None]],
    window: int,
) -> None:
    """The same decisions, clocks, watermark and counts whatever the window: the routing
    state, a returning lead's owner and the answers carry over from one window to the next."""
    _seed_varied(warehouse, changes, touches, persons)
    runs = []
    for size in (window, 10**6):
        report = backfill_desk(warehouse, DESK, window=size)
        runs.append((report, *(_stored(warehouse, t) for t in DESK_TABLES)))
        for name in DESK_TABLES:  # the next run starts from an empty desk
            warehouse.write(name, arrow_schema(table(name)).empty_table(), mode="replace")
    assert runs[0] == runs[1]


DESK_TABLES = ("routing_decisions", "sla_clocks", "routing_watermarks")
SEEDED = ("lifecycle_history", "users", "accounts", "persons", "touchpoints")


def _stored(wh: Warehouse, name: str) -> list[dict[str, object]]:
    t = wh.table(name)
    rows = wh.to_arrow(t.drop("updated_at") if "updated_at" in t.columns else t).to_pylist()
    return sorted(rows, key=lambda r: sorted((k, str(v)) for k, v in r.items()))


class _Reader:
    """A write hook that reads the desk's rows (as the automations' outbox reads SLA clocks):
    the desk must then hand them over in the batches, not staged. Keeps the keys it saw."""

    reads = frozenset(("routing_decisions", "sla_clocks"))

    def __init__(self) -> None:
        self.seen: dict[str, set[str]] = {}

    def __call__(self, written: Sequence[Batch]) -> list[Batch]:
        for b in written:
            key = table(b.table).primary_key[0]
            self.seen.setdefault(b.table, set()).update(b.data.column(key).to_pylist())
        return []


@VARIED
@given(changes=changes_st, touches=touches_st, persons=persons_st, window=st.integers(1, 3))
def test_a_replay_staged_a_few_mqls_at_a_time_equals_one_held_whole(
    warehouse: Warehouse,
    monkeypatch: pytest.MonkeyPatch,
    changes: list[tuple[str, str, datetime]],
    touches: list[tuple[str, datetime | None, str | None]],
    persons: dict[str, tuple[str | None, str | None, str | None, str | None]],
    window: int,
) -> None:
    """Staged a window at a time (no hook reads the desk's tables: each window's rows appended
    to a Stage) the desk stores the same rows and counts as held whole for a hook that reads them
    (one window, one merge), repeated moments (a person's two MQL changes of one instant)
    included; the hook is given every key written."""
    _seed_varied(warehouse, changes, touches, persons)
    opened: list[str] = []
    stage = Warehouse.stage

    def counted(wh: Warehouse, name: str, custom: tuple[str, ...] = ()) -> Any:
        opened.append(name)
        return stage(wh, name, custom)

    monkeypatch.setattr(Warehouse, "stage", counted)
    staged = backfill_desk(warehouse, DESK, window=window)
    runs = [(staged, *(_stored(warehouse, t) for t in DESK_TABLES))]
    # staged when the replay takes more than one window (one window's rows are held)
    windows = mql_windows(warehouse, DESK.scoring.stages.mql, window)
    assert ("routing_decisions" in opened) == (len(windows) > 1)
    for name in DESK_TABLES:
        warehouse.write(name, arrow_schema(table(name)).empty_table(), mode="replace")
    reader = _Reader()
    warehouse.write_hooks.append(reader)
    opened.clear()
    held = backfill_desk(warehouse, DESK, window=10**6)
    warehouse.write_hooks.remove(reader)
    runs.append((held, *(_stored(warehouse, t) for t in DESK_TABLES)))
    assert opened == []
    assert runs[0] == runs[1]
    for name in ("routing_decisions", "sla_clocks"):
        stored = runs[1][1 + DESK_TABLES.index(name)]
        key = table(name).primary_key[0]
        assert reader.seen.get(name, set()) == {r[key] for r in stored}


# -- the automations' outbox reads the SLA clocks: on DuckDB it reads them staged ------------


def _with_outbox(
    changes: list[tuple[str, str, datetime]],
    touches: list[tuple[str, datetime | None, str | None]],
    persons: dict[str, tuple[str | None, str | None, str | None, str | None]],
    window: int,
    held: bool,
) -> tuple[Any, ...]:
    """The desk replayed `window` MQLs at a time on a fresh DuckDB warehouse with the shipped
    automations installed (the no-follow-up rule reads sla_clocks, and persons through the
    overlay; every person is an MQL, so open clocks fire it), as of the second evening. `held`
    adds a hook that reads the desk's rows from the batches, which keeps them held. Returns
    the report, the desk's and the automations' rows, whether each table was staged and the
    number of windows."""
    from revops.automation.outbox import install

    with Warehouse.connect(":memory:") as wh:
        _seed_varied(wh, changes, touches, persons)
        wh.con.raw_sql("UPDATE persons SET lifecycle_stage = 'MQL'")
        install(wh, DESK, clock=lambda: mon(20, day=10))
        if held:
            wh.write_hooks.append(_Reader())
        staged: dict[str, bool] = {}
        write_many = wh.write_many

        def spy(batches: Sequence[Batch], **kwargs: Any) -> Any:
            staged.update({b.table: b.stage is not None for b in batches})
            return write_many(batches, **kwargs)

        wh.write_many = spy  # type: ignore[method-assign]
        report = backfill_desk(wh, DESK, window=window)
        added = ("automation_events", "automation_actions", "tasks")
        rows = [_stored(wh, t) for t in (*DESK_TABLES, *added)]
        windows = len(mql_windows(wh, DESK.scoring.stages.mql, window))
        return report, rows, staged, windows


def _automated(rows: list[list[dict[str, object]]]) -> list[object]:
    """The events' automations and records."""
    events = rows[len(DESK_TABLES)]
    return sorted((e["automation"], e["record_id"]) for e in events)


def test_the_outbox_reads_the_clocks_staged_as_held_on_an_example() -> None:
    """p0 and p1 become MQLs on Tuesday morning and nobody answers: two windows, both desk
    tables staged, and the outbox, reading the staged clocks, finds both open clocks past
    their deadline that evening, as it does when the rows are held."""
    changes = [("p0", "MQL", mon(10, day=10)), ("p1", "MQL", mon(11, day=10))]
    touches = [("p0", mon(9, day=10), "webinar")]
    persons = dict.fromkeys(PEOPLE[:5], ("a0", "US", None, None))
    report, rows, staged, windows = _with_outbox(changes, touches, persons, 1, held=False)
    assert windows == 2
    assert staged == {"routing_decisions": True, "sla_clocks": True, "routing_watermarks": False}
    assert _automated(rows) == [("mql_no_followup", "p0"), ("mql_no_followup", "p1")]
    held = _with_outbox(changes, touches, persons, 10**6, held=True)
    assert not any(held[2].values())
    assert (report, rows) == held[:2]


@VARIED
@given(changes=changes_st, touches=touches_st, persons=persons_st, window=st.integers(1, 3))
def test_the_outbox_reads_staged_clocks_as_held_ones(
    changes: list[tuple[str, str, datetime]],
    touches: list[tuple[str, datetime | None, str | None]],
    persons: dict[str, tuple[str | None, str | None, str | None, str | None]],
    window: int,
) -> None:
    """With the automations' outbox reading the SLA clocks, the desk still stages its rows
    on DuckDB (more than one window), and the write stores and triggers what a held run
    does: the same desk rows, events, actions and tasks."""
    report, rows, staged, windows = _with_outbox(changes, touches, persons, window, held=False)
    assert staged.get("sla_clocks", False) == (windows > 1 and bool(rows[1]))
    held = _with_outbox(changes, touches, persons, 10**6, held=True)
    assert not any(held[2].values())
    assert (report, rows) == held[:2]
