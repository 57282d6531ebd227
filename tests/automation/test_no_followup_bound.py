"""The bound that keeps `sla_no_followup` from reading the old backlog of unanswered clocks:
every clock it leaves unread is due before the lookback (so could not fire), in any zone,
across DST changes and Samoa's skipped day, with holidays; and the trigger's answer is the one
it gives reading every running clock."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pyarrow as pa
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

from revops.automation import triggers
from revops.automation.sources import stored
from revops.automation.triggers import candidates, too_old_to_fire
from revops.config.automation import Trigger
from revops.config.routing import RoutingConfig, SlaConfig, WorkingHours
from revops.routing.calendar import aware
from revops.routing.sla import business_deadline
from revops.warehouse import Warehouse
from revops.warehouse.clock import naive_utc

ZONES = [
    "UTC",
    "America/New_York",
    "Europe/Berlin",
    "Australia/Lord_Howe",  # a 30-minute DST shift
    "Pacific/Apia",  # skipped 2011-12-30 entirely
    "Asia/Kolkata",
]
instants = st.datetimes(datetime(2011, 10, 1), datetime(2012, 4, 1))
hours = st.sampled_from(
    [
        WorkingHours(),
        WorkingHours(days=(0, 1, 2, 3, 4, 5, 6), start=time(0, 30), end=time(23, 45)),
        WorkingHours(days=(1, 3), start=time(1), end=time(3)),  # across the small-hours shifts
    ]
)
holiday_lists = st.lists(st.dates(date(2011, 9, 1), date(2012, 4, 1)), max_size=20)


@settings(max_examples=300, deadline=None)
@given(
    since=instants,
    back=st.timedeltas(timedelta(0), timedelta(days=60)),
    minutes=st.integers(0, 3000),
    tz=st.sampled_from(ZONES),
    work=hours,
    off=holiday_lists,
)
def test_no_clock_started_at_or_before_the_bound_is_due_within_the_lookback(
    since: datetime,
    back: timedelta,
    minutes: int,
    tz: str,
    work: WorkingHours,
    off: list[date],
) -> None:
    bound = too_old_to_fire(since, minutes, tz, work, off)
    assert bound is not None
    assert bound < since
    for start in (bound, bound - back):
        due = naive_utc(business_deadline(aware(start), minutes, tz, work, off))
        assert due < since


def _clocks(starts: list[tuple[datetime, int, bool]]) -> Warehouse:
    wh = Warehouse.connect(":memory:")
    users = [
        {"user_id": f"u{i}", "name": z, "timezone": z, "is_active": True}
        for i, z in enumerate(ZONES)
    ]
    users.append({"user_id": "plain", "name": "no zone", "is_active": True})
    wh.write("users", pa.Table.from_pylist(users))
    owners = [u["user_id"] for u in users]
    rows = [
        {
            "clock_id": f"k{n}",
            "decision_id": f"d{n}",
            "person_id": f"p{n}",
            "owner_id": owners[who % len(owners)],
            "priority": "default",
            "started_at": start,
            "due_at": start + timedelta(hours=1),
            "breached": False,
            "breach_count": 0,
            "responded_at": None,
            "response": None,
            "closed_at": start + timedelta(days=1) if closed else None,
        }
        for n, (start, who, closed) in enumerate(starts)
    ]
    wh.write("sla_clocks", pa.Table.from_pylist(rows))
    return wh


def _fire(wh: Warehouse, trigger: Trigger, at: datetime, routing: RoutingConfig) -> list[dict]:
    rows = wh.to_arrow(candidates(stored(wh), trigger, at, routing=routing)).to_pylist()
    return sorted(rows, key=lambda r: str(r["decision_id"]))


@settings(max_examples=20, deadline=None)
@given(
    ages=st.lists(
        st.tuples(
            st.timedeltas(timedelta(0), timedelta(days=20)), st.integers(0, 10), st.booleans()
        ),
        max_size=40,
    ),
    at=instants,
    minutes=st.integers(1, 2000),
    lookback=st.floats(0.5, 100),
    work=hours,
    off=holiday_lists,
    default=st.sampled_from(ZONES),
)
def test_the_trigger_fires_what_it_fires_reading_every_running_clock(
    ages: list[tuple[timedelta, int, bool]],
    at: datetime,
    minutes: int,
    lookback: float,
    work: WorkingHours,
    off: list[date],
    default: str,
) -> None:
    wh = _clocks([(at - age, who, closed) for age, who, closed in ages])
    trigger = Trigger(type="sla_no_followup", after_minutes=minutes, lookback_hours=lookback)
    routing = RoutingConfig(
        sla=SlaConfig(business_hours=work), holidays=off, default_timezone=default
    )
    bounded = _fire(wh, trigger, at, routing)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(triggers, "too_old_to_fire", lambda *_: None)
        everything = _fire(wh, trigger, at, routing)
    assert bounded == everything
    note(f"{len(bounded)} fire")
