"""Monthly recurring revenue per account, computed inside the warehouse from subscriptions.

Semantics (month-end snapshot, no proration): an account's MRR for month M is the sum of the
`mrr` of its subscription lines active on M's last day, i.e. `start_date <= month_end` and
(`end_date` empty or `end_date >= month_end`). `end_date` is the last day billed, so a line that
ends on the 31st still counts for that month and is gone the next; a line that starts and ends
inside one month never shows (it was never live at a month end). An upgrade that replaces a line
mid-month counts at the new MRR only. Month-end snapshots are what Gainsight, ChartMogul and the
SaaS-metrics literature use, and they make every month's waterfall reconcile by construction:
closing ARR minus opening ARR is exactly the sum of per-account changes.

`month` columns hold the first day of the month; values are "as of the last day of that month".
"""

from __future__ import annotations

import calendar as _calendar
import datetime as dt

import ibis
import ibis.expr.types as ir


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def add_months(month: dt.date, n: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)


def month_end(month: dt.date) -> dt.date:
    return month.replace(day=_calendar.monthrange(month.year, month.month)[1])


def months(first: dt.date, last: dt.date) -> list[dt.date]:
    """Every month (first days) from `first`'s month to `last`'s month, inclusive."""
    out, m, stop = [], month_start(first), month_start(last)
    while m <= stop:
        out.append(m)
        m = add_months(m, 1)
    return out


def calendar(first: dt.date, last: dt.date) -> ir.Table:
    """The month calendar as a small in-memory table: month, month_end, prev_month, base_month.

    Shifts (previous month, 12 months before) are precomputed here so the SQL only ever joins on
    equality, which every backend plans well and computes identically.
    """
    ms = months(first, last)
    return ibis.memtable(
        {
            "month": ms,
            "month_end": [month_end(m) for m in ms],
            "prev_month": [add_months(m, -1) for m in ms],
            "base_month": [add_months(m, -12) for m in ms],
        },
        schema={"month": "date", "month_end": "date", "prev_month": "date", "base_month": "date"},
    )


def data_range(subscriptions: ir.Table) -> tuple[ir.Scalar, ir.Scalar]:
    """Expressions for the first start date and the latest start or end date."""
    s = subscriptions
    return s.start_date.min(), ibis.greatest(s.start_date.max(), s.end_date.max())


def active_mrr(subscriptions: ir.Table, cal: ir.Table) -> ir.Table:
    """(account_id, month, mrr) for every account with MRR > 0 at a month end."""
    s = subscriptions
    live = s.join(
        cal,
        [s.start_date <= cal.month_end, s.end_date.isnull() | (s.end_date >= cal.month_end)],
    )
    out = live.group_by(["account_id", "month"]).aggregate(mrr=live.mrr.sum())
    return out.filter(out.mrr > 0).mutate(mrr=out.mrr.round(2).cast("float64"))


def monthly(subscriptions: ir.Table, cal: ir.Table) -> ir.Table:
    """The `mrr_monthly` rows: MRR, prior MRR and MRR 12 months before, per account and month.

    A row exists when any of the three is positive, so churn months and the bases of 12-month
    retention are present as rows (with `mrr` 0) for the metric dictionary to sum.
    """
    active = active_mrr(subscriptions, cal)
    shift = cal.select(s_month=cal.month, s_prev=cal.prev_month, s_base=cal.base_month)
    nxt = active.join(shift, active.month == shift.s_prev).select("account_id", month="s_month")
    later = active.join(shift, active.month == shift.s_base).select("account_id", month="s_month")
    keys = active.select("account_id", "month").union(nxt).union(later).distinct()

    cur = active.select(c_acc="account_id", c_month="month", c_mrr="mrr")
    prev = active.select(p_acc="account_id", p_month="month", p_mrr="mrr")
    base = active.select(b_acc="account_id", b_month="month", b_mrr="mrr")
    first = active.group_by("account_id").aggregate(f_month=active.month.min())
    first = first.select(f_acc="account_id", f_month="f_month")
    rows = keys.join(cal, "month")
    rows = rows.left_join(cur, [rows.account_id == cur.c_acc, rows.month == cur.c_month])
    rows = rows.left_join(prev, [rows.account_id == prev.p_acc, rows.prev_month == prev.p_month])
    rows = rows.left_join(base, [rows.account_id == base.b_acc, rows.base_month == base.b_month])
    rows = rows.join(first, rows.account_id == first.f_acc)
    mrr = rows.c_mrr.fill_null(0.0)
    then = rows.b_mrr.fill_null(0.0)
    return rows.select(
        account_id=rows.account_id,
        month=rows.month,
        mrr=mrr,
        arr=(mrr * 12).round(2).cast("float64"),
        prior_mrr=rows.p_mrr.fill_null(0.0),
        mrr_12m_ago=then,
        retained_mrr_12m=ibis.least(mrr, then),
        first_month=rows.f_month,
    )
