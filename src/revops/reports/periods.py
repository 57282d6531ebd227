"""The stated period a report's tiles show, and each figure in it beside the period before.

A tile never shows an "all time" figure: a stock summed over months means nothing (customers
added up month after month), and an all-time flow hides the trend. Reports show the last full
month of the data — the month before the day after the newest event — with the month before it
and the change, each computed by the metric dictionary (`revops.metrics.tile`), so the CLI
(`revops metrics show NAME --grain month`) prints the same numbers. A figure with no value
shows n/a and the reason the dictionary gives, never 0.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from revops.config.models import ConversionMetric
from revops.context import RevOps
from revops.metrics import (
    Period,
    compute_all,
    formula,
    last_full_period,
    settled,
    tile,
    why_missing,
)
from revops.reports.formatting import format_change, format_value

# Event columns whose newest value marks where the data ends (the day after it is "as of").
DATA_END_COLUMNS = (("lifecycle_history", "changed_at"), ("opportunities", "created_date"))


def data_end(ro: RevOps) -> dt.date | None:
    """The newest event day in the warehouse, or None when it holds no event yet."""
    days = []
    for table, column in DATA_END_COLUMNS:
        t = ro.warehouse.table(table)
        newest = ro.warehouse.execute(t[column].max())
        if newest is not None and not pd.isna(newest):
            days.append(pd.Timestamp(newest).date())
    return max(days) if days else None


def report_period(ro: RevOps) -> Period:
    """The last full month before the day after the newest event (today without data)."""
    end = data_end(ro)
    as_of = end + dt.timedelta(days=1) if end else dt.date.today()
    return last_full_period(as_of, "month", ro.model.company.fiscal_year_start_month)


@dataclass(frozen=True)
class Figure:
    """One metric as a report shows it: this period, the one before, the change, the formula,
    and for an n/a the reason."""

    name: str
    label: str
    value: float | None
    previous: float | None
    text: str
    previous_text: str
    change_text: str
    formula: str
    reason: str | None
    note: str | None = None  # a caveat on a value that is there (a cohort still maturing)


def _text(ro: RevOps, name: str, value: float | None) -> str:
    return format_value(value, ro.model.metric(name).format, ro.model.company.currency)


def maturing(ro: RevOps, name: str, period: Period, end: dt.date | None) -> str | None:
    """For a conversion metric whose window runs past the data's end: the cohort of `period`
    has not had its full window to convert yet, so its rate is a floor, not the rate."""
    metric = ro.model.metric(name)
    if not isinstance(metric, ConversionMetric) or end is None:
        return None
    closes = period.end - dt.timedelta(days=1) + dt.timedelta(days=metric.window_days)
    if closes <= end:
        return None
    return f"still maturing: its {metric.window_days}-day window runs to {closes:%d %b %Y}"


def figure(ro: RevOps, name: str, period: Period) -> Figure:
    """Metric `name` over `period` beside the period before it."""
    t = tile(ro.warehouse, ro.model, name, period)
    m = ro.model.metric(name)
    return Figure(
        name,
        m.title,
        t.current.value,
        t.previous.value,
        _text(ro, name, t.current.value),
        _text(ro, name, t.previous.value),
        format_change(t.current.value, t.previous.value, m.format, ro.model.company.currency),
        formula(ro.model, name),
        t.current.reason,
        # only a conversion metric can be maturing: the data's end (two queries) is not asked
        # for every other tile
        maturing(ro, name, period, data_end(ro)) if isinstance(m, ConversionMetric) else None,
    )


def dictionary_figures(ro: RevOps, period: Period) -> list[Figure]:
    """Every metric of the dictionary over `period` and the one before: two whole-dictionary
    queries, then the reason for each n/a."""
    now, before = (
        compute_all(ro.warehouse, ro.model, grain=None, start=p.start, end=p.end)
        for p in (period, period.previous())
    )
    cur = _values(ro, now)
    prev = _values(ro, before)
    out = []
    currency = ro.model.company.currency
    end = data_end(ro)
    for m in ro.model.metrics:
        value, previous = cur.get(m.name), prev.get(m.name)
        reason = None if value is not None else why_missing(ro.warehouse, ro.model, m.name, period)
        out.append(
            Figure(
                m.name,
                m.title,
                value,
                previous,
                _text(ro, m.name, value),
                _text(ro, m.name, previous),
                format_change(value, previous, m.format, currency),
                formula(ro.model, m.name),
                reason,
                maturing(ro, m.name, period, end),
            )
        )
    return out


def _values(ro: RevOps, frame: pd.DataFrame) -> dict[str, float | None]:
    """metric -> value, settled as `period_value` settles it (a sum over no rows is 0)."""
    out = {}
    for name, v, rows in zip(frame["metric"], frame["value"], frame["rows"], strict=True):
        out[str(name)] = settled(
            ro.model, str(name), float(v), None if pd.isna(rows) else int(rows)
        )
    return out


def dictionary_values(ro: RevOps, period: Period) -> dict[str, float | None]:
    """Every metric of the dictionary over `period` (one query), settled as the tiles show it."""
    frame = compute_all(ro.warehouse, ro.model, grain=None, start=period.start, end=period.end)
    return _values(ro, frame)
