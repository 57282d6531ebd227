"""Planning periods: parse `2026-09`, `2026-Q3` or `2026` and walk their months."""

from __future__ import annotations

import re
from datetime import date, timedelta

from revops.errors import RevOpsError
from revops.pipeline.forecast.periods import check_years, quarter


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(day: date, months: int) -> date:
    """The first day of the month `months` after `day`'s month."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def month_end(day: date) -> date:
    return add_months(day, 1) - timedelta(days=1)


def parse_period(text: str, fiscal_start_month: int = 1) -> tuple[date, date]:
    """First and last day of a month (YYYY-MM), fiscal quarter (YYYY-Qn) or fiscal year (YYYY).

    Fiscal years are named by the calendar year they start in, so with a February start
    FY2026 runs Feb 2026 – Jan 2027 and 2026-Q3 is Aug – Oct 2026, the quarters the metric
    layer buckets by.
    """
    t = text.strip()
    if m := re.match(r"\d{4}", t):
        check_years(text, int(m[0]))
    if m := re.fullmatch(r"(\d{4})-(\d{2})", t):
        if 1 <= int(m[2]) <= 12:
            start = date(int(m[1]), int(m[2]), 1)
            return start, month_end(start)
    elif m := re.fullmatch(r"(\d{4})-?[Qq]([1-4])", t):
        q = quarter(int(m[1]), int(m[2]), fiscal_start_month)  # the forecast's fiscal quarters
        return q.start, q.end
    elif re.fullmatch(r"\d{4}", t):
        start = date(int(t), fiscal_start_month, 1)
        return start, month_end(add_months(start, 11))
    raise RevOpsError(f"period {text!r} is not YYYY-MM, YYYY-Qn or YYYY")


def months_between(start: date, end: date) -> list[date]:
    """First days of every month from start's month through end's month."""
    out, cur = [], month_start(start)
    while cur <= end:
        out.append(cur)
        cur = add_months(cur, 1)
    return out


def tenure_month(start: date | None, month: date) -> int | None:
    """1 in the month a rep starts, 2 the month after, …; None without a start date."""
    if start is None:
        return None
    return (month.year - start.year) * 12 + month.month - start.month + 1


def ramp_fraction(start: date | None, month: date, ramp: tuple[float, ...]) -> float:
    """Share of a full quota a rep carries in `month`: 0 before starting, ramp[k-1], then 1."""
    k = tenure_month(start, month)
    if k is None or k > len(ramp):
        return 1.0
    return 0.0 if k < 1 else ramp[k - 1]
