"""Speed-to-lead deadlines in business hours, hand-worked in the owner's timezone.

Business hours 09:00–17:00 Monday to Friday. June 2025: New York is UTC-4, Tokyo UTC+9;
2025-06-06 is a Friday, 2025-06-09 the Monday after.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from revops.config.routing import RoutingConfig, SlaConfig, WorkingHours
from revops.errors import RevOpsError
from revops.routing.sla import (
    breached,
    business_deadline,
    must_escalate,
    priority,
    respond,
    start_clock,
)

HOURS = WorkingHours()
NY = "America/New_York"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def deadline(
    start: datetime, minutes: int, tz: str = NY, holidays: tuple[date, ...] = ()
) -> datetime:
    return business_deadline(start, minutes, tz, HOURS, holidays).astimezone(UTC)


def test_a_friday_afternoon_lead_is_due_on_monday_morning() -> None:
    # Fri 16:50 New York: 10 minutes left on Friday, 5 on Monday → Mon 09:05 NY = 13:05 UTC
    assert deadline(utc(2025, 6, 6, 20, 50), 15) == utc(2025, 6, 9, 13, 5)


def test_a_holiday_does_not_count() -> None:
    assert deadline(utc(2025, 6, 6, 20, 50), 15, holidays=(date(2025, 6, 9),)) == utc(
        2025, 6, 10, 13, 5
    )


def test_a_day_long_target_spans_three_business_days_and_a_weekend() -> None:
    # Wed 10:00 NY: Wed 420 min, Thu 480 (900), Fri 480 (1380), Mon 60 → Mon 10:00 NY
    assert deadline(utc(2025, 6, 4, 14, 0), 24 * 60) == utc(2025, 6, 9, 14, 0)


def test_the_clock_starts_at_opening_time_and_may_end_exactly_at_close() -> None:
    assert deadline(utc(2025, 6, 7, 12, 0), 15) == utc(2025, 6, 9, 13, 15)  # Saturday
    assert deadline(utc(2025, 6, 4, 11, 0), 15) == utc(2025, 6, 4, 13, 15)  # Wed 07:00 NY
    assert deadline(utc(2025, 6, 4, 20, 45), 15) == utc(2025, 6, 4, 21, 0)  # Wed 16:45 → 17:00


def test_the_owners_timezone_decides() -> None:
    # Fri 20:50 UTC is Sat 05:50 in Tokyo → Mon 09:15 JST = Mon 00:15 UTC
    assert deadline(utc(2025, 6, 6, 20, 50), 15, tz="Asia/Tokyo") == utc(2025, 6, 9, 0, 15)


SLA = RoutingConfig.model_validate(
    {
        "sla": {
            "targets": [
                {
                    "priority": "high_intent",
                    "minutes": 15,
                    "when": [{"field": "source", "op": "in", "value": ["demo_request"]}],
                },
                {
                    "priority": "event",
                    "minutes": 1440,
                    "when": [{"field": "source", "value": "event"}],
                },
            ],
            "default_minutes": 480,
            "escalate_after_breaches": 2,
        }
    }
).sla


def test_priority_acceptance_rejection_breach_and_escalation() -> None:
    assert priority({"source": "demo_request"}, None, SLA) == ("high_intent", 15)
    assert priority({"source": "event"}, None, SLA) == ("event", 1440)
    assert priority({"source": "paid_search"}, None, SLA) == ("default", 480)

    start = utc(2025, 6, 6, 20, 50)
    clock = start_clock("p1", "u1", {"source": "demo_request"}, None, NY, SLA, start)
    assert clock.due_at == utc(2025, 6, 9, 13, 5)
    on_time = respond(clock, "accepted", utc(2025, 6, 9, 13, 5), SLA)
    assert on_time.met
    assert not breached(clock, utc(2025, 6, 10), on_time)
    late = respond(clock, "rejected", utc(2025, 6, 9, 13, 6), SLA, reason="student")
    assert not late.met
    assert breached(clock, utc(2025, 6, 9, 13, 6), late)
    assert not breached(clock, utc(2025, 6, 9, 13, 5))
    assert breached(clock, utc(2025, 6, 9, 13, 5) + timedelta(seconds=1))
    with pytest.raises(RevOpsError, match="rejection reason 'meh' is not one of"):
        respond(clock, "rejected", start, SLA, reason="meh")
    with pytest.raises(RevOpsError, match="acceptance takes no reason"):
        respond(clock, "accepted", start, SLA, reason="student")
    assert [must_escalate(n, SLA) for n in (0, 1, 2, 3)] == [False, False, True, True]


def test_business_hours_without_days_are_refused() -> None:
    with pytest.raises(ValueError, match="at least one day"):
        SlaConfig.model_validate({"business_hours": {"days": []}})
