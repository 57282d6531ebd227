"""Routing against the warehouse, on DuckDB and PostgreSQL, with a hand-worked batch.

Users a, b active (UTC), gone inactive. Rules: students → queue nurture; account owner;
everyone else → order pool [a, b, gone]. Persons (created in this order):
  p1 account acc1 (owner b) → b (account rule)
  p2 no account             → a (pool starts at its first member)
  p3 no account             → b (next in order)
  p4 already owned by a     → not routed
  p5 a student              → queue nurture
Re-routing p2 and p3 later continues from the stored pointer (b): gone is skipped → a, then b.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pyarrow as pa

from revops.config.routing import RoutingConfig
from revops.routing import reroute, route_unassigned, routing_state
from revops.routing.store import latest_decisions
from revops.warehouse import Warehouse

CFG = RoutingConfig.model_validate(
    {
        "fallback_queue": "triage",
        "pools": [{"name": "p", "members": [{"user_id": u} for u in ("a", "b", "gone")]}],
        "rules": [
            {
                "name": "students",
                "when": [{"field": "title", "value": "Student"}],
                "queue": "nurture",
            },
            {"name": "accounts", "kind": "account_owner"},
            {"name": "pool", "pool": "p"},
        ],
    }
)
AT = datetime(2025, 6, 4, 14, 0, tzinfo=UTC)
LATER = datetime(2025, 6, 4, 15, 0, tzinfo=UTC)


def seed(wh: Warehouse) -> None:
    wh.write(
        "users",
        pa.Table.from_pylist(
            [
                {"user_id": u, "name": u, "team": "SDR", "role": "sdr", "is_active": u != "gone"}
                for u in ("a", "b", "gone")
            ]
        ),
    )
    wh.write(
        "accounts",
        pa.Table.from_pylist(
            [{"account_id": "acc1", "name": "Acme", "owner_id": "b", "created_at": AT}]
        ),
    )
    persons = [
        ("p1", "acc1", None, None),
        ("p2", None, None, None),
        ("p3", None, None, None),
        ("p4", None, "a", None),
        ("p5", None, None, "Student"),
    ]
    wh.write(
        "persons",
        pa.Table.from_pylist(
            [
                {
                    "person_id": pid,
                    "email": f"{pid}@x.com",
                    "account_id": acc,
                    "owner_id": owner,
                    "title": title,
                    "created_at": datetime(2025, 6, 1, i),
                }
                for i, (pid, acc, owner, title) in enumerate(persons)
            ]
        ),
    )


def owners(wh: Warehouse) -> dict[str, str | None]:
    rows = wh.to_arrow(wh.table("persons").select("person_id", "owner_id")).to_pylist()
    return {r["person_id"]: r["owner_id"] for r in rows}


def test_route_store_and_reroute(warehouse: Warehouse) -> None:
    seed(warehouse)
    routed = route_unassigned(warehouse, CFG, AT)
    assert [(r.person_id, r.decision.owner_id, r.decision.queue) for r in routed] == [
        ("p1", "b", None),
        ("p2", "a", None),
        ("p3", "b", None),
        ("p5", None, "nurture"),
    ]
    assert owners(warehouse) == {"p1": "b", "p2": "a", "p3": "b", "p4": "a", "p5": None}
    stored = latest_decisions(warehouse, ["p1", "p5"])
    assert stored["p1"]["rule"] == "accounts"
    assert json.loads(stored["p1"]["evaluated"]) == [
        {"rule": "students", "matched": False, "reason": "title = 'Student' failed (got None)"},
        {"rule": "accounts", "matched": True, "reason": "account 'acc1' is owned → owner b"},
    ]
    assert stored["p5"]["queue"] == "nurture"

    # the state rebuilt from the warehouse is the state the batch ended in
    state = routing_state(warehouse, CFG)
    end = routed[-1].decision.state
    assert (state.pointers, state.pool_counts, state.tallies) == (
        end.pointers,
        end.pool_counts,
        end.tallies,
    )
    # nothing is left to route: p5 waits in its queue
    assert route_unassigned(warehouse, CFG, AT) == []

    again = reroute(warehouse, CFG, ["p3", "p2"], LATER)
    assert [(r.person_id, r.decision.owner_id) for r in again] == [("p2", "a"), ("p3", "b")]
    assert again[1].decision.reason == "no conditions → pool p (order) → b"
    assert again[0].decision.reason == "no conditions → pool p (order) → a (skipped gone: inactive)"
    first = {r.person_id: r.decision_id for r in routed}
    assert [r.replay_of for r in again] == [first["p2"], first["p3"]]
    assert warehouse.count("routing_decisions") == 6
    after = routing_state(warehouse, CFG)
    assert after.pool_counts == {"p": {"a": 2, "b": 2}}
    assert after.tallies["b"].day_count == 3


def test_a_stored_decision_without_a_person_leaves_the_others_routable(
    warehouse: Warehouse,
) -> None:
    """A decision row whose person_id is missing (a hand-made import, say) names nobody: the
    unowned persons are routed as without it. Read as `NOT IN (decided persons)`, its NULL made
    every comparison unknown and routed no one."""
    seed(warehouse)
    orphan = {"decision_id": "d0", "person_id": None, "reason": "-", "evaluated": "[]"}
    warehouse.write("routing_decisions", pa.Table.from_pylist([orphan]), "append")
    routed = route_unassigned(warehouse, CFG, AT)
    assert [r.person_id for r in routed] == ["p1", "p2", "p3", "p5"]
