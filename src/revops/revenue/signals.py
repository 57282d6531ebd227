"""Customer-health signals per account and month end, as of that month end (no look-ahead).

Every source is first bucketed into an accounts x months grid, then summed over trailing
windows with a cumulative sum, so a whole history of monthly snapshots costs a few array
operations instead of a query per snapshot. An event counts in the month it became known:
a ticket when opened, an activity when logged, a champion change when it happened, and a late
payment in the month its invoice became 15 days overdue (paid later, or not at all), which is
the first month anyone could have known. The signal names are those of `config.revenue.SIGNALS`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

LATE_DAYS = 15
SEVERE = ("high", "urgent")
TREND_MONTHS = 3

FloatGrid = npt.NDArray[np.float64]


@dataclass(frozen=True)
class SuccessData:
    """The inputs: frames with the canonical columns named in each comment; activities come
    counted per account and month (the warehouse counts them: there are far more activities
    than account-months, and an activity's only signal is the month it was logged in)."""

    usage: pd.DataFrame  # account_id, month, active_users
    tickets: pd.DataFrame  # account_id, opened_at, priority
    invoices: pd.DataFrame  # account_id, due_date, paid_date
    activities: pd.DataFrame  # account_id, month, touches (activities logged that month)
    champions: pd.DataFrame  # account_id, changed_at


def month_index(values: pd.Series | Sequence[object]) -> npt.NDArray[np.int64]:
    """Months since year 0 (year x 12 + month - 1) of dates or timestamps; -1 when missing."""
    stamps = pd.to_datetime(pd.Series(values), errors="coerce")
    out = (stamps.dt.year * 12 + stamps.dt.month - 1).fillna(-1)
    return np.asarray(out.to_numpy(dtype=np.int64), dtype=np.int64)


class _Grid:
    """Accounts x months, months from `first` (an index) for `width` months."""

    def __init__(self, accounts: pd.Index, first: int, width: int) -> None:
        self.accounts, self.first, self.width = accounts, first, width

    def counts(
        self, account: pd.Series, month: npt.NDArray[np.int64], weight: object = 1.0
    ) -> FloatGrid:
        row = self.accounts.get_indexer(pd.Index(account))
        col = month - self.first
        ok = (row >= 0) & (col >= 0) & (col < self.width)
        out = np.zeros((len(self.accounts), self.width))
        w = np.broadcast_to(np.asarray(weight, dtype=float), ok.shape)
        np.add.at(out, (row[ok], col[ok]), w[ok])
        return out


def trailing(grid: FloatGrid, months: int, lag: int = 0) -> FloatGrid:
    """Sum over the `months` months ending `lag` months before each column (inclusive)."""
    padded = np.concatenate([np.zeros((grid.shape[0], months + lag + 1)), grid], axis=1)
    c = np.cumsum(padded, axis=1)
    shift = months + lag + 1
    end = c[:, shift - lag : shift - lag + grid.shape[1]]
    start = c[:, shift - lag - months : shift - lag - months + grid.shape[1]]
    return np.asarray(end - start, dtype=np.float64)


def signals(snapshots: pd.DataFrame, data: SuccessData, lookback: int) -> pd.DataFrame:
    """`snapshots` (account_id, month) with the five signals added, as of each month end.

    Each signal is taken at the snapshots' cells as soon as its grids are summed, so only one
    signal's grids (accounts x months) are held at a time."""
    snap_month = month_index(snapshots["month"])
    accounts = pd.Index(pd.unique(snapshots["account_id"]))
    first = int(snap_month.min()) - 2 * TREND_MONTHS if len(snap_month) else 0
    width = (int(snap_month.max()) - first + 1) if len(snap_month) else 1
    grid = _Grid(accounts, first, width)
    cells = (accounts.get_indexer(pd.Index(snapshots["account_id"])), snap_month - first)

    def window(counts: FloatGrid) -> FloatGrid:
        return trailing(counts, lookback)[cells]

    u = data.usage
    users = grid.counts(u["account_id"], month_index(u["month"]), u["active_users"].to_numpy(float))
    seen = grid.counts(u["account_id"], month_index(u["month"]))
    recent_n, prior_n = trailing(seen, TREND_MONTHS), trailing(seen, TREND_MONTHS, TREND_MONTHS)
    del seen
    recent = trailing(users, TREND_MONTHS) / np.maximum(recent_n, 1)
    prior = trailing(users, TREND_MONTHS, TREND_MONTHS) / np.maximum(prior_n, 1)
    del users
    with np.errstate(divide="ignore", invalid="ignore"):
        usage_trend = np.where((prior_n > 0) & (recent_n > 0), recent / prior - 1.0, 0.0)[cells]
    del recent, prior, recent_n, prior_n

    t = data.tickets
    weight = np.where(t["priority"].isin(SEVERE).to_numpy(), 2.0, 1.0)
    tickets = window(grid.counts(t["account_id"], month_index(t["opened_at"]), weight))

    a = data.activities
    engagement = window(
        grid.counts(a["account_id"], month_index(a["month"]), a["touches"].to_numpy(float))
    )

    inv = data.invoices
    due = pd.to_datetime(inv["due_date"])
    overdue_at = due + pd.Timedelta(days=LATE_DAYS)
    paid = pd.to_datetime(inv["paid_date"])
    late = (paid.isna() | (paid > overdue_at)).to_numpy()
    late_payments = window(grid.counts(inv["account_id"][late], month_index(overdue_at[late])))
    del due, overdue_at, paid, late

    ch = data.champions
    changes = window(grid.counts(ch["account_id"], month_index(ch["changed_at"])))
    return snapshots.assign(
        usage_trend=usage_trend,
        tickets=tickets,
        engagement=engagement,
        late_payments=late_payments,
        champion_change=np.minimum(changes, 1.0),
    )
