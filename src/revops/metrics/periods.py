"""Time buckets and reporting windows, computed inside the database.

Every bucket is returned as the DATE of its first day. Truncation always runs on a TIMESTAMP
and is cast back, because the backends disagree on what `date_trunc` returns for a DATE (DuckDB:
DATE, PostgreSQL: TIMESTAMPTZ). Quarters and years step back from the month to the start of the
fiscal bucket, so with a fiscal year starting in February the quarters start in Feb/May/Aug/Nov
and the year bucket of January 2025 is 2024-02-01.
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

from revops.config.models import Grain

_MONTHS_PER_BUCKET = {"month": 1, "quarter": 3, "year": 12}


def bucket(time: ir.Value, grain: Grain, fiscal_year_start_month: int = 1) -> ir.DateValue:
    """The first day of the `grain` bucket holding `time` (a date or timestamp column)."""
    if grain == "day":
        return time.cast("date")
    # Truncate a TIMESTAMP and cast the result: one well-defined type on both backends. ISO
    # weeks start on Monday in DuckDB and PostgreSQL alike.
    stamp: ir.TimestampValue = time.cast("timestamp")
    if grain == "week":
        return stamp.truncate("W").cast("date")
    month_start = stamp.truncate("M")
    step = _MONTHS_PER_BUCKET[grain]
    if step == 1:
        return month_start.cast("date")
    # Months since the start of the fiscal year (0–11), then back to the bucket's first month.
    into_year = (stamp.month() + (12 - fiscal_year_start_month)) % 12
    back = (into_year % step).as_interval("M")
    return (month_start - back).cast("date")


def _bound(time: ir.Value, day: dt.date) -> ir.Value:
    """`day` as a literal of the column's own type, so the comparison can use the column as is."""
    if time.type().is_timestamp():
        return ibis.literal(dt.datetime.combine(day, dt.time.min))
    return ibis.literal(day)


def window(time: ir.Value, start: dt.date | None, end: dt.date | None) -> list[ir.BooleanValue]:
    """Predicates for start ≤ time < end (either side optional)."""
    preds: list[ir.BooleanValue] = []
    if start is not None:
        preds.append(time >= _bound(time, start))
    if end is not None:
        preds.append(time < _bound(time, end))
    return preds
