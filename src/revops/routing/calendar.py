"""Business calendar of a rep: working hours in their own timezone, holidays and time off.

Pure functions over explicit inputs, so the routing engine stays deterministic: the same instant
and the same calendar always give the same answer, whatever the machine's clock or timezone.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from revops.config.routing import WorkingHours


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    """ZoneInfo construction costs microseconds; a routing decision cannot pay it per lead."""
    return ZoneInfo(name)


def aware(at: datetime) -> datetime:
    """Naive instants are UTC: the warehouse stores timestamps in UTC without an offset."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def local_time(at: datetime, timezone: str) -> datetime:
    return aware(at).astimezone(zone(timezone))


def is_working(local: datetime, hours: WorkingHours | None) -> bool:
    """Inside the weekly working window; no window means reachable around the clock."""
    if hours is None:
        return True
    return local.weekday() in hours.days and hours.start <= local.time() < hours.end


def week_of(day: date) -> tuple[int, int]:
    """ISO year and week, so weekly caps reset on Monday and survive the turn of the year."""
    iso = day.isocalendar()
    return iso.year, iso.week


def in_any(at: datetime, ranges: Iterable[tuple[datetime, datetime]]) -> bool:
    """Half-open ranges: someone back at 09:00 takes the 09:00 lead."""
    moment = aware(at)
    return any(start <= moment < end for start, end in ranges)
