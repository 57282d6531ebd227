"""`route run` routes only persons who became routable since its last run, on both backends.

Users a and b (UTC) and g (inactive); one order pool [a, b] with a daily cap of 2; the rule
sends everyone there; fallback queue `triage`. SLA: touch_type demo_request 15 minutes, else
480, business hours 09:00-17:00 Monday to Friday. Tuesday 2025-06-10, first run at 12:00
(no watermark: looks back 24 h, to Mon 12:00), persons in the order they became routable:
  m2   MQL, no history, created 08:00           → pool: a (a 1 today)
  m1   Lead→MQL at 09:00, a demo request touch  → pool: b (b 1); high_intent, due 12:15
  own  MQL at 09:30, owned by a (active)        → stays with a (existing_owner; a 2)
  gone MQL at 10:00, owned by g (inactive)      → pool after b: a is at cap 2 → b (b 2)
  n1 (Nurture) and d1 (Disqualified)            → never routed
  old  MQL since 2022-03-01                     → not routed: before the window
Default SLA from Tue 12:00: 300 minutes Tue + 180 Wed → Wed 12:00.
A second run at 12:05 routes nothing. `--since 2022-01-01` at 12:10 routes only `old` (the
others are routed and their clocks run): a and b are both at their cap → queue triage.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa

from revops.config.routing import RoutingConfig
from revops.routing.store import route_new, watermark
from revops.warehouse import Warehouse

CFG = RoutingConfig.model_validate(
    {
        "fallback_queue": "triage",
        "pools": [{"name": "p", "daily_cap": 2, "members": [{"user_id": "a"}, {"user_id": "b"}]}],
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


def tue(hour: int, minute: int = 0) -> datetime:
    return datetime(2025, 6, 10, hour, minute)


def seed(wh: Warehouse) -> None:
    wh.write(
        "users",
        pa.Table.from_pylist(
            [
                {"user_id": u, "name": u.upper(), "team": "SDR", "role": "sdr", "timezone": "UTC"}
                | {"is_active": u != "g"}
                for u in ("a", "b", "g")
            ]
        ),
    )
    people = [
        ("m1", "MQL", None, tue(7)),
        ("m2", "MQL", None, tue(8)),
        ("own", "MQL", "a", tue(7)),
        ("gone", "MQL", "g", tue(7)),
        ("n1", "Nurture", None, tue(9)),
        ("d1", "Disqualified", None, tue(9)),
        ("old", "MQL", None, datetime(2022, 2, 1)),
    ]
    wh.write(
        "persons",
        pa.Table.from_pylist(
            [
                {"person_id": pid, "email": f"{pid}@x.com", "lifecycle_stage": stage}
                | {"owner_id": owner, "created_at": created}
                for pid, stage, owner, created in people
            ]
        ),
    )
    history = [
        ("m1", "Lead", tue(7)),
        ("m1", "MQL", tue(9)),
        ("own", "MQL", tue(9, 30)),
        ("gone", "MQL", tue(10)),
        ("old", "MQL", datetime(2022, 3, 1)),
    ]
    wh.write(
        "lifecycle_history",
        pa.Table.from_pylist(
            [
                {"transition_id": f"{pid}-{stage}", "person_id": pid, "to_stage": stage}
                | {"changed_at": when, "source": "crm"}
                for pid, stage, when in history
            ]
        ),
    )
    wh.write(
        "touchpoints",
        pa.Table.from_pylist(
            [
                {"touchpoint_id": "t1", "person_id": "m1", "occurred_at": tue(8, 55)}
                | {"channel": "paid_search", "touch_type": "demo_request"}
            ]
        ),
    )


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2025, 6, 10, hour, minute, tzinfo=UTC)


def test_route_run_routes_new_routable_persons_once(warehouse: Warehouse) -> None:
    seed(warehouse)
    first = route_new(warehouse, CFG, at(12))
    assert (first.since, first.until) == (datetime(2025, 6, 9, 12), tue(12))
    got = [(r.person_id, r.decision.owner_id, r.decision.rule) for r in first.routed]
    assert got == [
        ("m2", "a", "everyone"),
        ("m1", "b", "everyone"),
        ("own", "a", "existing_owner"),
        ("gone", "b", "everyone"),
    ]
    gone = first.routed[3].decision
    assert "a: daily cap 2 reached" in gone.reason
    clocks = {
        r["person_id"]: (r["owner_id"], r["priority"], r["due_at"])
        for r in warehouse.to_arrow(warehouse.table("sla_clocks")).to_pylist()
    }
    wed_noon = datetime(2025, 6, 11, 12)
    assert clocks == {
        "m2": ("a", "default", wed_noon),
        "m1": ("b", "high_intent", tue(12, 15)),
        "own": ("a", "default", wed_noon),
        "gone": ("b", "default", wed_noon),
    }
    assert watermark(warehouse) == tue(12)

    second = route_new(warehouse, CFG, at(12, 5))
    assert second.routed == []
    assert watermark(warehouse) == tue(12, 5)

    history = route_new(warehouse, CFG, at(12, 10), since=datetime(2022, 1, 1))
    assert [(r.person_id, r.decision.owner_id, r.decision.queue) for r in history.routed] == [
        ("old", None, "triage")
    ]
    routed = warehouse.to_arrow(warehouse.table("routing_decisions").select("person_id"))
    assert sorted(routed.column("person_id").to_pylist()) == ["gone", "m1", "m2", "old", "own"]


def test_a_stage_change_stamped_at_the_watermark_is_routed_by_the_next_run(
    warehouse: Warehouse,
) -> None:
    """`score apply` stamps the MQLs it creates at the data's end, which is where the last run
    (or the demo desk) left the watermark: the next run routes them, once."""
    seed(warehouse)
    route_new(warehouse, CFG, at(12))
    warehouse.write(
        "persons",
        pa.Table.from_pylist(
            [
                {"person_id": "late", "email": "late@x.com", "lifecycle_stage": "MQL"}
                | {"owner_id": None, "created_at": tue(8)}
            ]
        ),
        mode="upsert",
    )
    warehouse.write(
        "lifecycle_history",
        pa.Table.from_pylist(
            [
                {"transition_id": "late-MQL", "person_id": "late", "to_stage": "MQL"}
                | {"changed_at": tue(12), "source": "score"}
            ]
        ),
    )
    nxt = route_new(warehouse, CFG, at(12, 5))
    assert [r.person_id for r in nxt.routed] == ["late"]
    assert route_new(warehouse, CFG, at(12, 10)).routed == []
