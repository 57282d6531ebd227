"""Forecast periods: fiscal quarters by name ("2026Q4") or any explicit date range.

A forecast is always "for a period, as of a date". Quarters follow the company's fiscal year
(`company.fiscal_year_start_month`) and its naming convention (`forecast.fiscal_year_named_by`),
so `2026Q4` means the same months in the roll-up, the backtest and the metric dictionary.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from revops.errors import RevOpsError

Naming = Literal["start", "end"]
_QUARTER = re.compile(r"^(?:FY)?(\d{4})-?Q([1-4])$", re.IGNORECASE)
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:\.\.|:)(\d{4}-\d{2}-\d{2})$")
# Years a period may name. Four digits admit year 0 (no such date) and 9999 (whose next month
# or quarter is no date either); periods are walked forwards and backwards from the one named,
# so the bounds leave a wide margin rather than stopping at Python's date range.
FIRST_YEAR, LAST_YEAR = 1000, 8999


def check_years(text: str, *years: int) -> None:
    """Refuse a period naming a year outside FIRST_YEAR..LAST_YEAR, with a one-line error."""
    if any(not FIRST_YEAR <= y <= LAST_YEAR for y in years):
        raise RevOpsError(f"period {text!r} is outside the years {FIRST_YEAR}–{LAST_YEAR}")


@dataclass(frozen=True, order=True)
class Period:
    """Days `start` through `end`, both inclusive."""

    start: date
    end: date
    label: str = ""

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise RevOpsError(f"period {self.label or self.start} ends before it starts")

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def weeks(self) -> list[date]:
        """As-of dates one week apart from the first day: the backtest's replay points."""
        return [self.start + timedelta(days=7 * k) for k in range((self.days + 6) // 7)]


def _add_months(year: int, month: int, n: int) -> tuple[int, int]:
    total = year * 12 + (month - 1) + n
    return total // 12, total % 12 + 1


def quarter(year: int, q: int, fy_start_month: int, naming: Naming = "start") -> Period:
    """Fiscal quarter `q` of fiscal year `year`."""
    first_year = year if naming == "start" or fy_start_month == 1 else year - 1
    y, m = _add_months(first_year, fy_start_month, 3 * (q - 1))
    ny, nm = _add_months(y, m, 3)
    return Period(date(y, m, 1), date(ny, nm, 1) - timedelta(days=1), f"{year}Q{q}")


def quarter_of(day: date, fy_start_month: int, naming: Naming = "start") -> Period:
    """The fiscal quarter holding `day`."""
    into_year = (day.month - fy_start_month) % 12
    start_year = day.year if day.month >= fy_start_month else day.year - 1
    fy = start_year if naming == "start" or fy_start_month == 1 else start_year + 1
    return quarter(fy, into_year // 3 + 1, fy_start_month, naming)


def previous(period: Period, fy_start_month: int, naming: Naming = "start") -> Period:
    return quarter_of(period.start - timedelta(days=1), fy_start_month, naming)


def quarters_between(
    first: date, last: date, fy_start_month: int, naming: Naming = "start"
) -> list[Period]:
    """Every fiscal quarter lying wholly inside [first, last]."""
    out: list[Period] = []
    q = quarter_of(first, fy_start_month, naming)
    if q.start < first:
        q = quarter_of(q.end + timedelta(days=1), fy_start_month, naming)
    while q.end <= last:
        out.append(q)
        q = quarter_of(q.end + timedelta(days=1), fy_start_month, naming)
    return out


def parse_period(text: str, fy_start_month: int, naming: Naming = "start") -> Period:
    """`2026Q4`, `FY2026Q4`, `2026-Q4` or `2026-08-01..2026-10-31`."""
    raw = text.strip()
    m = _QUARTER.match(raw)
    if m:
        check_years(text, int(m.group(1)))
        return quarter(int(m.group(1)), int(m.group(2)), fy_start_month, naming)
    r = _RANGE.match(raw)
    if r:
        try:
            start, end = date.fromisoformat(r.group(1)), date.fromisoformat(r.group(2))
        except ValueError:
            raise RevOpsError(f"period {text!r} holds an invalid date") from None
        check_years(text, start.year, end.year)
        return Period(start, end, raw)
    raise RevOpsError(
        f"period {text!r} is not a fiscal quarter (2026Q4) or a range (2026-08-01..2026-10-31)"
    )
