"""Revenue measures of a rep's book of accounts: expansion ARR, NRR and GRR over a plan period.

Account managers are paid to grow the accounts they own and CSMs to keep theirs, so their
plans measure the book, not the deals they closed. The figures come from the revenue engine's
tables (`mrr_monthly` for ARR at month ends, `arr_movements` for the waterfall), so a comp line
agrees with the revenue report to the cent. The book is the accounts table as it stands (no
ownership history is kept): an account handed over mid-quarter counts for its new owner.
Definitions are in `revops.config.planning.RevenueMeasure`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from revops.config.planning import RevenueMeasure
from revops.planning.periods import add_months, month_start, months_between


@dataclass(frozen=True)
class RevenueBook:
    """accounts: account_id, owner_id, csm_id; arr: account_id, month (first day), arr at that
    month's end; movements: account_id, month, movement, amount (arr_movements)."""

    accounts: pd.DataFrame
    arr: pd.DataFrame
    movements: pd.DataFrame


@dataclass(frozen=True)
class Measured:
    """A measure's value over the period (None when undefined) and its attainment."""

    value: float | None
    attainment: float | None
    note: str


def _arr_at(book: RevenueBook, ids: set[str], month: date) -> pd.Series:
    a = book.arr
    rows = a[(pd.to_datetime(a["month"]).dt.date == month) & a["account_id"].isin(ids)]
    return rows.groupby("account_id")["arr"].sum().astype(float)


def measure(
    m: RevenueMeasure, user_id: str, book: RevenueBook, span: tuple[date, date]
) -> Measured:
    """The measure for `user_id`'s book over `span` (first to last day of the plan period)."""
    col = "owner_id" if m.book == "owner" else "csm_id"
    acc = book.accounts
    ids = set(acc.loc[acc[col].astype("string") == user_id, "account_id"].astype(str))
    months = len(months_between(*span))
    if m.metric == "expansion_arr":
        mv = book.movements
        day = pd.to_datetime(mv["month"]).dt.date
        hit = (
            mv["account_id"].isin(ids)
            & (mv["movement"] == "expansion")
            & (day >= month_start(span[0]))
            & (day <= span[1])
        )
        value = float(mv.loc[hit, "amount"].sum())
        target = m.target * months
        return Measured(
            value,
            value / target,
            f"{m.name}: expansion ARR {value:,.2f} on {len(ids)} accounts ({m.book}) of "
            f"{target:,.2f}",
        )
    before = add_months(month_start(span[0]), -1)
    start = _arr_at(book, ids, before)
    start = start[start > 0]
    if start.empty:
        return Measured(
            None,
            None,
            f"{m.name}: {m.metric.upper()} undefined, no ARR on the book ({m.book}) at the end "
            f"of {before:%Y-%m}; nothing paid",
        )
    end = _arr_at(book, set(start.index), month_start(span[1])).reindex(start.index).fillna(0.0)
    kept = end if m.metric == "nrr" else end.clip(upper=start)
    value = float(kept.sum() / start.sum())
    return Measured(
        value,
        value / m.target,
        f"{m.name}: {m.metric.upper()} {value:.1%} on {len(start)} accounts ({m.book}, ARR "
        f"{start.sum():,.2f} at the end of {before:%Y-%m} → {kept.sum():,.2f}) against "
        f"{m.target:.0%}",
    )
