"""The monthly funnel council: its pack of figures, and its notes and action items.

The pack shows each dictionary metric for the chosen month beside the month before, the same
month a year earlier and the month's target (`targets:` in the metric dictionary), with its
trend over twelve months and its owner. Every figure is the dictionary's (`dictionary_values`,
the query the reports' tiles use). Notes belong to one council; an action item is opened by one
council and shown at every later one until a council closes it.
"""

from __future__ import annotations

import datetime as dt
import math
import secrets
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa

from revops.access.principal import Principal, authorize
from revops.audit import audit_batch
from revops.context import RevOps
from revops.errors import RevOpsError
from revops.metrics import Period, compute_all, settled, why_missing
from revops.reports.as_of import current_state
from revops.reports.formatting import format_change, format_value
from revops.reports.periods import data_end, dictionary_values, maturing
from revops.warehouse import Batch, Warehouse
from revops.warehouse.clock import utc_now
from revops.web.views import Filters, Scope, shown_figure, shown_formula

TREND_MONTHS = 12


def month_period(month: str) -> Period:
    """'2026-10' as the calendar month [2026-10-01, 2026-11-01)."""
    try:
        start = dt.date.fromisoformat(f"{month}-01")
    except ValueError:
        raise RevOpsError(f"month {month!r} is not YYYY-MM") from None
    return Period(start, _shift(start, 1), "month")


def _shift(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def same_month_last_year(period: Period) -> Period:
    return Period(_shift(period.start, -12), _shift(period.start, -11), "month")


@dataclass(frozen=True)
class PackRow:
    name: str
    title: str
    owner: str
    kind: str
    value: float | None
    previous: float | None
    last_year: float | None
    target: float | None
    trend: list[float | None]
    text: str
    previous_text: str
    last_year_text: str
    target_text: str
    change_text: str
    year_change_text: str
    target_gap_text: str
    formula: str
    reason: str | None
    note: str | None  # a cohort still maturing (reports.periods.maturing)


@dataclass(frozen=True)
class Pack:
    period: Period
    months: list[str]  # the trend's months, oldest first
    rows: list[PackRow]


def council_pack(ro: RevOps, period: Period) -> Pack:
    """Every dictionary metric for `period` vs the month before, a year before and target."""
    now = dictionary_values(ro, period)
    before = dictionary_values(ro, period.previous())
    year = dictionary_values(ro, same_month_last_year(period))
    first = _shift(period.start, -(TREND_MONTHS - 1))
    monthly = compute_all(ro.warehouse, ro.model, grain="month", start=first, end=period.end)
    months = [_shift(first, i) for i in range(TREND_MONTHS)]
    series: dict[str, dict[dt.date, float | None]] = {}
    for name, p, v, rows in zip(
        monthly["metric"], monthly["period"], monthly["value"], monthly["rows"], strict=True
    ):
        n = None if pd.isna(rows) else int(rows)
        series.setdefault(str(name), {})[p] = settled(ro.model, str(name), float(v), n)
    currency = ro.model.company.currency
    key = f"{period.start:%Y-%m}"
    end = data_end(ro)
    out = []
    for m in ro.model.metrics:
        value, prev, ly = now.get(m.name), before.get(m.name), year.get(m.name)
        target = m.targets.get(key)
        reason = None
        if current_state(ro.model, m.name):  # today's open deals: as they stood then
            value, reason = shown_figure(ro, m.name, period, Filters(key), Scope())
            prev, _ = shown_figure(ro, m.name, period.previous(), Filters(key), Scope())
            ly, _ = shown_figure(ro, m.name, same_month_last_year(period), Filters(key), Scope())
        if value is None and reason is None:
            reason = why_missing(ro.warehouse, ro.model, m.name, period)

        def text(v: float | None, kind: str = m.format) -> str:
            return format_value(v, kind, currency)

        out.append(
            PackRow(
                name=m.name,
                title=m.title,
                owner=m.owner,
                kind=m.format,
                value=value,
                previous=prev,
                last_year=ly,
                target=target,
                trend=[_month(ro, series, m.name, d) for d in months],
                text=text(value),
                previous_text=text(prev),
                last_year_text=text(ly),
                target_text="—" if target is None else text(target),
                change_text=format_change(value, prev, m.format, currency),
                year_change_text=format_change(value, ly, m.format, currency),
                target_gap_text=(
                    "—" if target is None else format_change(value, target, m.format, currency)
                ),
                formula=shown_formula(ro, m.name, period),
                reason=reason,
                note=maturing(ro, m.name, period, end),
            )
        )
    return Pack(period, [f"{d:%Y-%m}" for d in months], out)


def _month(
    ro: RevOps, series: dict[str, dict[dt.date, float | None]], name: str, month: dt.date
) -> float | None:
    """The month's value; a month without rows is what the month's own figure says it is
    (0 for a count or sum, unless the metric declares `no_rows: missing`), not a gap."""
    found = series.get(name, {})
    return found[month] if month in found else settled(ro.model, name, math.nan, 0)


# -- notes and action items ---------------------------------------------------------------------
@dataclass(frozen=True)
class Note:
    note_id: str
    month: str
    body: str
    author: str
    created_at: dt.datetime


@dataclass(frozen=True)
class Action:
    action_id: str
    month: str
    title: str
    owner: str
    due: dt.date
    closed_month: str | None
    created_by: str

    def carried(self, month: str) -> bool:
        """Opened by an earlier council and still open at `month`'s."""
        return self.month < month


def _check_month(month: str) -> str:
    month_period(month)
    return month


def _text(value: str, what: str, limit: int) -> str:
    out = value.strip()
    if not out:
        raise RevOpsError(f"{what} is empty")
    if len(out) > limit:
        raise RevOpsError(f"{what} is longer than {limit} characters")
    return out


def add_note(wh: Warehouse, by: Principal, month: str, body: str) -> str:
    authorize(by, "council.write")
    note_id = secrets.token_hex(8)
    row = {
        "note_id": [note_id],
        "month": [_check_month(month)],
        "body": [_text(body, "note", 4000)],
        "author": [by.name],
        "created_at": [utc_now()],
    }
    wh.write_many(
        [
            Batch("council_notes", pa.table(row), "append"),
            audit_batch(wh, by.actor, "council.note_added", month),
        ]
    )
    return note_id


def add_action(
    wh: Warehouse, by: Principal, month: str, title: str, owner: str, due: dt.date
) -> str:
    authorize(by, "council.write")
    action_id = secrets.token_hex(8)
    row = {
        "action_id": [action_id],
        "month": [_check_month(month)],
        "title": [_text(title, "action", 500)],
        "owner": [_text(owner, "owner", 200)],
        "due": [due],
        "closed_month": pa.array([None], pa.string()),
        "created_by": [by.name],
        "created_at": [utc_now()],
    }
    wh.write_many(
        [
            Batch("council_actions", pa.table(row), "append"),
            audit_batch(wh, by.actor, "council.action_added", action_id, {"month": month}),
        ]
    )
    return action_id


def close_action(wh: Warehouse, by: Principal, action_id: str, month: str) -> None:
    authorize(by, "council.write")
    if not action_id.isalnum():
        raise RevOpsError(f"no action item {action_id!r}")
    rows = wh.sql(f"SELECT month FROM \"council_actions\" WHERE action_id = '{action_id}'")
    if not rows:
        raise RevOpsError(f"no action item {action_id!r}")
    if str(rows[0][0]) > _check_month(month):
        raise RevOpsError(f"action {action_id} was opened after {month}")
    change = pa.table({"action_id": [action_id], "closed_month": [month]})
    wh.write_many(
        [
            Batch("council_actions", change, "upsert"),
            audit_batch(wh, by.actor, "council.action_closed", action_id, {"month": month}),
        ]
    )


def notes(wh: Warehouse, month: str) -> list[Note]:
    rows = wh.sql(
        'SELECT note_id, month, body, author, created_at FROM "council_notes" '
        f"WHERE month = '{_check_month(month)}' ORDER BY created_at, note_id"
    )
    return [Note(str(a), str(b), str(c), str(d), e) for a, b, c, d, e in rows]


def actions(wh: Warehouse, month: str) -> list[Action]:
    """Items opened at this council, and those of earlier councils open at it (carried over),
    or closed at it; oldest first."""
    m = _check_month(month)
    rows = wh.sql(
        "SELECT action_id, month, title, owner, due, closed_month, created_by "
        f"FROM \"council_actions\" WHERE month <= '{m}' "
        f"AND (closed_month IS NULL OR closed_month >= '{m}') ORDER BY month, due, action_id"
    )
    out = []
    for a, mo, title, owner, due, closed, by in rows:
        day = due if isinstance(due, dt.date) else pd.Timestamp(due).date()
        out.append(Action(str(a), str(mo), str(title), str(owner), day, _opt(closed), str(by)))
    return out


def _opt(v: object) -> str | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
