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

from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pytest

from revops.config import load_config
from revops.config.routing import RoutingConfig
from revops.metrics import compute
from revops.routing.backfill import backfill_desk
from revops.routing.store import watermark
from revops.warehouse import Warehouse

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


def test_a_lead_arrives_with_its_last_touch_at_or_before_the_mql(warehouse: Warehouse) -> None:
    """The touch type a lead is routed with: its person's last touch at or before the MQL
    instant (the later touchpoint_id of two at one instant), never a later one or another
    person's; none before it: no touch type."""
    from revops.routing.backfill import _last_touches

    touches = [
        ("t1", "p1", mon(9, 0), "webinar"),
        ("t3", "p1", mon(10, 0), "demo_request"),  # at the MQL instant, the later id: this one
        ("t2", "p1", mon(10, 0), "content"),
        ("t4", "p1", mon(10, 30), "event"),  # after the MQL
        ("t5", "p2", mon(10, 59), "event"),  # p3's MQL is later, but this is p2's
        ("t6", "p3", mon(12, 1), "webinar"),  # after p3's MQL
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
    h = warehouse.table("lifecycle_history")
    warehouse.write(
        "lifecycle_history",
        pa.Table.from_pylist(
            [
                {"transition_id": p, "person_id": p, "to_stage": "MQL", "changed_at": t}
                | {"source": "crm"}
                for p, t in (("p1", mon(10, 0)), ("p2", mon(11, 0)), ("p3", mon(12, 0)))
            ]
        ),
    )
    ever = h.filter(h.to_stage == "MQL").select("person_id").distinct()
    moments = [(mon(10, 0), "p1"), (mon(11, 0), "p2"), (mon(12, 0), "p3")]
    assert _last_touches(warehouse, ever, moments) == ["demo_request", "event", None]
