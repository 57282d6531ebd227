"""One metric for one stated period: the value, the previous period's, the change, what was
missing and, when there is no value, why.

This is the shape every front end shows a figure in (CLI, report tiles, API), so the same
figure is the same number everywhere: `period_value` asks the dictionary for [start, end) with
no grain, which sums a flow over the period and reads a stock at the period's last (or first)
point in time, never summing it. `tile` adds the previous period of the same length and grain.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass

from revops.config.models import (
    ConversionMetric,
    Grain,
    OperatingModel,
    RatioMetric,
    SimpleMetric,
)
from revops.metrics.compiler import lookup, zero_when_empty
from revops.metrics.errors import MetricError
from revops.metrics.graph import references
from revops.metrics.results import compute
from revops.warehouse import Warehouse

_MONTHS = {"month": 1, "quarter": 3, "year": 12}


@dataclass(frozen=True)
class Period:
    """[start, end): a calendar month, or a fiscal quarter or year."""

    start: dt.date
    end: dt.date
    grain: Grain

    @property
    def label(self) -> str:
        if self.grain == "month":
            return f"{self.start:%b %Y}"
        last = _add_months(self.end, -1)
        return f"{self.start:%b %Y}–{last:%b %Y}"

    def previous(self) -> Period:
        """The period of the same grain just before this one."""
        if self.grain in _MONTHS:
            step = _MONTHS[self.grain]
            return Period(_add_months(self.start, -step), self.start, self.grain)
        days = (self.end - self.start).days
        return Period(self.start - dt.timedelta(days=days), self.start, self.grain)


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def last_full_period(as_of: dt.date, grain: Grain, fiscal_year_start_month: int = 1) -> Period:
    """The last month, fiscal quarter or fiscal year that ended on or before `as_of` (a period
    ending on `as_of`'s day counts as ended when `as_of` is the day after it)."""
    if grain not in _MONTHS:
        raise ValueError(f"a full period is a month, quarter or year, not {grain!r}")
    step = _MONTHS[grain]
    into_year = (as_of.month - fiscal_year_start_month) % 12
    current = _add_months(dt.date(as_of.year, as_of.month, 1), -(into_year % step))
    return Period(_add_months(current, -step), current, grain)


@dataclass(frozen=True)
class PeriodValue:
    """`value` is None when unknown (`reason` says why), never 0 in its place. `missing` counts
    the rows without a value (of `rows`, for a simple metric; summed over the components of a
    ratio or derived metric, where `rows` is None)."""

    metric: str
    period: Period
    value: float | None
    rows: int | None
    missing: int
    reason: str | None


@dataclass(frozen=True)
class Tile:
    """A figure with its previous period and the change (None unless both are known)."""

    current: PeriodValue
    previous: PeriodValue

    @property
    def change(self) -> float | None:
        a, b = self.current.value, self.previous.value
        return None if a is None or b is None else a - b

    @property
    def relative_change(self) -> float | None:
        a, b = self.current.value, self.previous.value
        return None if a is None or b is None or b == 0 else (a - b) / abs(b)


def sum_over_time(model: OperatingModel, name: str, values: Iterable[float | None]) -> float | None:
    """Add up per-period values of an additive flow (a count or a sum; None if any period is
    unknown); for anything else the
    total over a range is not a sum, so this refuses with a one-line MetricError: a stock is
    read at the range's end, a ratio or average is recomputed over it (`period_value`)."""
    metric = lookup(model, name)
    if metric.over_time != "flow":
        raise MetricError(
            f"metric {name!r} is a stock ({metric.over_time}): it is never summed over time; "
            "ask period_value for the whole range (its value at the range's end)"
        )
    if not (isinstance(metric, SimpleMetric) and metric.measure.agg in ("count", "sum")):
        raise MetricError(
            f"metric {name!r} is not a count or a sum: its total is not the sum of its periods; "
            "ask period_value for the whole range"
        )
    listed = list(values)
    if any(v is None or math.isnan(v) for v in listed):
        return None  # one unknown period makes the total unknown, never a smaller number
    return float(sum(v for v in listed if v is not None))


def period_value(wh: Warehouse, model: OperatingModel, name: str, period: Period) -> PeriodValue:
    """Metric `name` over `period` (a stock at its last or first point), with the reason when
    there is no value."""
    value, rows, missing = _one(wh, model, name, period)
    reason = None if value is not None else why_missing(wh, model, name, period)
    return PeriodValue(name, period, value, rows, missing, reason)


def tile(wh: Warehouse, model: OperatingModel, name: str, period: Period) -> Tile:
    """`name` for `period` and the period before it."""
    return Tile(
        period_value(wh, model, name, period), period_value(wh, model, name, period.previous())
    )


def _one(
    wh: Warehouse, model: OperatingModel, name: str, period: Period
) -> tuple[float | None, int | None, int]:
    """(value, rows, missing); a count or sum over no rows at all is 0 (no won deal: $0 of
    bookings) unless the metric declares `no_rows: missing`."""
    import pandas as pd

    df = compute(wh, model, name, grain=None, start=period.start, end=period.end)
    raw = float(df["value"].iloc[0]) if len(df) else math.nan
    rows = None if df.empty or pd.isna(df["rows"].iloc[0]) else int(df["rows"].iloc[0])
    missing = int(df["missing"].iloc[0]) if len(df) else 0
    if math.isnan(raw) and not rows and zero_when_empty(lookup(model, name)):
        return 0.0, 0, 0
    return settled(model, name, raw, rows), rows, missing


def settled(model: OperatingModel, name: str, raw: float, rows: int | None) -> float | None:
    """A computed value as a figure: None for NaN, except a count or sum over no rows at all,
    which is 0 (no won deal: $0 of bookings) unless the metric declares `no_rows: missing`.
    Whoever reads a whole-dictionary result applies this too, so it shows `period_value`'s
    number."""
    if math.isnan(raw):
        return 0.0 if not rows and zero_when_empty(lookup(model, name)) else None
    return raw


def why_missing(wh: Warehouse, model: OperatingModel, name: str, period: Period) -> str:
    """One line saying why `name` has no value over `period`, naming the component at fault."""
    metric = lookup(model, name)
    _, rows, missing = _one(wh, model, name, period)
    if isinstance(metric, SimpleMetric):
        table = metric.measure.table
        if not rows:
            return f"{name}: no {table} rows in {period.label}"
        if missing:
            return f"{name}: all {rows} {table} rows lack {metric.measure.column or 'a value'}"
        return f"{name}: no value"
    if isinstance(metric, ConversionMetric):
        return f"{name}: no {metric.base.table} base events in {period.label}"
    parts = {ref: _one(wh, model, ref, period)[0] for ref in references(metric)}
    if isinstance(metric, RatioMetric) and parts.get(metric.denominator) == 0:
        return f"{name}: {metric.denominator} is 0 in {period.label}"
    for ref, v in parts.items():
        if v is None:
            return f"{name}: {why_missing(wh, model, ref, period)}"
    return f"{name}: a divisor is 0 in {period.label}"
