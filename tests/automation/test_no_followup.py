"""`sla_no_followup`: a running SLA clock N business minutes after it started, worked by hand,
on DuckDB and PostgreSQL.

Business hours 09:00–17:00 Monday to Friday. Owner a works in America/New_York (EDT, UTC-4);
owner b has no timezone, so the routing default (UTC) applies. Every clock starts on Friday
2025-06-06 at 20:30 UTC (16:30 in New York) and the trigger asks for 120 business minutes:
- k1 (p1, owner a, running): 30 minutes on Friday (16:30–17:00), the other 90 on Monday from
  09:00, so it fires at Monday 10:30 EDT = 2025-06-09 14:30 UTC; with Monday a holiday, at
  Tuesday 10:30 EDT = 2025-06-10 14:30 UTC;
- k2 (p2, owner a) was answered on Monday 13:00 UTC, k4 (p4, owner a) closed by a re-route
  without an answer: neither ever fires;
- k3 (p3, owner b, running): Friday 20:30 UTC is after hours, so Monday 09:00 + 120 minutes =
  2025-06-09 11:00 UTC (Tuesday 11:00 UTC with the holiday);
- p5 (owner a) had a 15-minute SLA: its first clock k5a breached at 16:45 EDT and was closed
  by `route breaches` at 21:00 UTC, which re-armed k5b (same decision d5, breach_count 1,
  running). The wait counts from the assignment, so p5 fires with k1, once for decision d5.
Events are keyed by the routing decision (d1, d3, d5).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pyarrow as pa
import pytest

from revops.automation.outbox import detect
from revops.automation.sources import stored
from revops.config.automation import Automation, Trigger
from revops.config.routing import RoutingConfig
from revops.warehouse import Warehouse

START = datetime(2025, 6, 6, 20, 30)  # Friday 16:30 in New York
K1_DUE = datetime(2025, 6, 9, 14, 30)  # Monday 10:30 in New York
K3_DUE = datetime(2025, 6, 9, 11, 0)  # Monday 11:00 UTC
HOLIDAY = date(2025, 6, 9)


@pytest.fixture
def clocks(warehouse: Warehouse) -> Warehouse:
    users = [
        {"user_id": "a", "name": "A", "timezone": "America/New_York", "is_active": True},
        {"user_id": "b", "name": "B", "is_active": True},
    ]
    warehouse.write("users", pa.Table.from_pylist(users))
    clock = {
        "priority": "default",
        "started_at": START,
        "due_at": START + timedelta(days=3),
        "breached": False,
        "breach_count": 0,
        "responded_at": None,
        "response": None,
        "closed_at": None,
    }
    answered = datetime(2025, 6, 9, 13)
    rows = [
        clock | {"clock_id": "k1", "decision_id": "d1", "person_id": "p1", "owner_id": "a"},
        clock
        | {
            "clock_id": "k2",
            "decision_id": "d2",
            "person_id": "p2",
            "owner_id": "a",
            "responded_at": answered,
            "response": "accepted",
            "closed_at": answered,
        },
        clock | {"clock_id": "k3", "decision_id": "d3", "person_id": "p3", "owner_id": "b"},
        clock
        | {
            "clock_id": "k4",
            "decision_id": "d4",
            "person_id": "p4",
            "owner_id": "a",
            "closed_at": datetime(2025, 6, 9, 9),
        },
        clock
        | {
            "clock_id": "k5a",
            "decision_id": "d5",
            "person_id": "p5",
            "owner_id": "a",
            "due_at": datetime(2025, 6, 6, 20, 45),
            "breached": True,
            "breach_count": 1,
            "closed_at": datetime(2025, 6, 6, 21),
        },
        clock
        | {
            "clock_id": "k5b",
            "decision_id": "d5",
            "person_id": "p5",
            "owner_id": "a",
            "started_at": datetime(2025, 6, 6, 20, 45),
            "due_at": datetime(2025, 6, 9, 13, 15),
            "breach_count": 1,
        },
    ]
    warehouse.write("sla_clocks", pa.Table.from_pylist(rows))
    return warehouse


def fired(
    wh: Warehouse, at: datetime, holidays: tuple[date, ...] = (), lookback: float = 24
) -> dict[str, datetime]:
    """record_id → occurred_at of the events a 120-business-minute rule fires as of `at`."""
    rule = Automation.model_validate(
        {
            "name": "t",
            "trigger": {
                "type": "sla_no_followup",
                "after_minutes": 120,
                "lookback_hours": lookback,
            },
            "actions": [{"type": "task", "title": "x"}],
        }
    )
    routing = RoutingConfig(holidays=holidays)
    events = detect(wh, stored(wh), [rule], at, routing=routing)
    assert all(e["source_key"] == "d" + e["record_id"][1:] for e in events)
    assert all(e["details"]["started_at"] == START for e in events)
    return {e["record_id"]: e["occurred_at"] for e in events}


def test_fires_two_business_hours_after_the_start_in_the_owners_calendar(
    clocks: Warehouse,
) -> None:
    minute = timedelta(minutes=1)
    # Friday evening and the weekend: nothing, though far more than 2 wall-clock hours passed
    assert fired(clocks, datetime(2025, 6, 8, 23, 59)) == {}
    assert fired(clocks, K3_DUE - minute) == {}
    assert fired(clocks, K3_DUE) == {"p3": K3_DUE}
    assert fired(clocks, K1_DUE - minute) == {"p3": K3_DUE}
    assert fired(clocks, K1_DUE) == {"p1": K1_DUE, "p3": K3_DUE, "p5": K1_DUE}
    # answered (k2) or closed (k4) clocks never fire, however late
    assert fired(clocks, datetime(2025, 6, 9, 16)) == {"p1": K1_DUE, "p3": K3_DUE, "p5": K1_DUE}
    # the lookback: a day later Monday's deadlines are too old to fire
    assert fired(clocks, K1_DUE + timedelta(days=1, minutes=1)) == {}
    assert fired(clocks, K1_DUE + timedelta(days=1, minutes=1), lookback=48) == {
        "p1": K1_DUE,
        "p3": K3_DUE,
        "p5": K1_DUE,
    }


def test_a_holiday_does_not_count(clocks: Warehouse) -> None:
    day = timedelta(days=1)
    assert fired(clocks, K1_DUE, holidays=(HOLIDAY,)) == {}
    assert fired(clocks, K3_DUE + day, holidays=(HOLIDAY,)) == {"p3": K3_DUE + day}
    assert fired(clocks, K1_DUE + day - timedelta(minutes=1), holidays=(HOLIDAY,)) == {
        "p3": K3_DUE + day
    }
    assert fired(clocks, K1_DUE + day, holidays=(HOLIDAY,)) == {
        "p1": K1_DUE + day,
        "p3": K3_DUE + day,
        "p5": K1_DUE + day,
    }


def test_the_trigger_needs_after_minutes_and_takes_nothing_else() -> None:
    with pytest.raises(ValueError, match="needs after_minutes"):
        Trigger.model_validate({"type": "sla_no_followup"})
    with pytest.raises(ValueError, match="takes no min_breaches"):
        Trigger.model_validate({"type": "sla_no_followup", "after_minutes": 5, "min_breaches": 2})
    with pytest.raises(ValueError, match="takes no after_minutes"):
        Trigger.model_validate({"type": "sla_breached", "after_minutes": 5})
    with pytest.raises(ValueError):
        Trigger.model_validate({"type": "sla_no_followup", "after_minutes": 0})
