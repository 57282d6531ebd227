"""Build the revenue tables: `mrr_monthly`, `arr_movements` and `unit_economics`, in one write.

This is the I/O edge of the engine: it reads the canonical tables through the `Warehouse`,
hands Ibis expressions to the pure modules and writes their results back atomically, so the
metric dictionary (mrr, arr, nrr, new_arr, ltv …) can be computed over them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import ibis.expr.types as ir
import numpy as np
import pandas as pd

from revops.config.models import OperatingModel
from revops.revenue import mrr
from revops.revenue.errors import RevenueError
from revops.revenue.unit_economics import unit_economics
from revops.revenue.waterfall import movements
from revops.warehouse import Warehouse
from revops.warehouse.warehouse import Batch

# Every table the revenue engine reads: loading these is enough to run it.
INPUT_TABLES = frozenset(
    {
        "accounts",
        "users",
        "campaign_spend",
        "subscriptions",
        "activities",
        "product_usage",
        "support_tickets",
        "invoices",
        "champion_changes",
    }
)


@dataclass(frozen=True)
class RevenueRun:
    first_month: dt.date
    last_month: dt.date
    mrr_rows: int
    movement_rows: int


def revenue_range(wh: Warehouse, as_of: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """First and last month to compute: from the first subscription start to `as_of` (default:
    the latest start or end date in the data)."""
    first, last = mrr.data_range(wh.table("subscriptions"))
    lo, hi = wh.execute(first), wh.execute(last)
    if lo is None or (hi is None and as_of is None):
        raise RevenueError("no subscriptions in the warehouse: load billing data first")
    end = as_of or _as_date(hi)
    return mrr.month_start(_as_date(lo)), mrr.month_start(end)


DATE_COLUMNS = ("month", "cohort", "first_month")


def fetch(wh: Warehouse, expr: ir.Table) -> pd.DataFrame:
    """Execute `expr`, with month columns as `datetime.date` (backends differ: DuckDB gives
    datetime64, PostgreSQL dates), so engines and callers compare months one way."""
    frame = pd.DataFrame(wh.execute(expr))
    for name in DATE_COLUMNS:
        if name in frame.columns:
            column = frame[name]
            if pd.api.types.is_datetime64_dtype(column):  # in one pass, not a Python loop
                frame[name] = _dates(column)
            else:
                frame[name] = [_as_date(v) for v in column]
    return frame


def _dates(column: pd.Series) -> pd.Series:
    """`column.dt.date` with one `datetime.date` object per distinct value, shared by its
    rows: a month column holds few months, and an object per row costs ~40 bytes of memory."""
    codes, uniques = pd.factorize(column)
    objects = np.array([*pd.DatetimeIndex(uniques).date, pd.NaT], dtype=object)
    return pd.Series(objects[codes], index=column.index, dtype=object)  # NaT is code -1


def _as_date(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def build_revenue(wh: Warehouse, model: OperatingModel, as_of: dt.date | None = None) -> RevenueRun:
    """Recompute the revenue tables from subscriptions (and spend, for unit economics)."""
    first, last = revenue_range(wh, as_of)
    cal = mrr.calendar(first, last)
    expr = mrr.monthly(wh.table("subscriptions"), cal)
    monthly = wh.to_arrow(expr)
    moves = wh.to_arrow(movements(expr))
    econ = unit_economics(wh, monthly, model, first, last)
    wh.write_many(
        [
            Batch("mrr_monthly", monthly, "replace"),
            Batch("arr_movements", moves, "replace"),
            Batch("unit_economics", econ, "replace"),
        ]
    )
    return RevenueRun(first, last, monthly.num_rows, moves.num_rows)
