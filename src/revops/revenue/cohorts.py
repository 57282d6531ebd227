"""Cohort retention tables: accounts grouped by their first month with MRR (and segment).

Logo retention at age k = share of the cohort's accounts with MRR k months after their first
month; revenue retention at age k = the cohort's MRR then / its MRR in month 0. Reactivated
accounts count in their original cohort again once they come back. The warehouse aggregates to
(cohort, month[, segment]) rows; only the pivot into a triangle happens in pandas.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import ibis.expr.types as ir

if TYPE_CHECKING:
    import pandas as pd

Kind = Literal["logo", "revenue"]


def cohort_counts(monthly: ir.Table, accounts: ir.Table | None = None) -> ir.Table:
    """(cohort, month, [segment], logos, mrr): live accounts and MRR per cohort and month."""
    live = monthly.filter(monthly.mrr > 0)
    keys = ["cohort", "month"]
    if accounts is not None:
        acc = accounts.select(a_id="account_id", segment=accounts.segment.fill_null("unknown"))
        live = live.join(acc, live.account_id == acc.a_id)
        keys.append("segment")
    live = live.mutate(cohort=live.first_month)
    return live.group_by(keys).aggregate(logos=live.account_id.nunique(), mrr=live.mrr.sum())


def _age(cohort: pd.Series, month: pd.Series) -> pd.Series:
    """Whole months from `cohort` to `month` (both first days of months)."""
    c = cohort.map(lambda d: d.year * 12 + d.month)
    m = month.map(lambda d: d.year * 12 + d.month)
    return m - c


def cohort_table(
    counts: pd.DataFrame, kind: Kind = "logo", segment: str | None = None
) -> pd.DataFrame:
    """The triangle: one row per cohort (plus its size), one column per age in months (0, 1, …).

    Values are shares of month 0. `segment` picks one segment when `counts` has segments.
    """
    import pandas as pd

    frame = counts
    if "segment" in frame.columns:
        if segment is not None:
            frame = frame[frame["segment"] == segment]
        frame = frame.groupby(["cohort", "month"], as_index=False)[["logos", "mrr"]].sum()
    frame = frame.assign(age=_age(pd.Series(frame["cohort"]), pd.Series(frame["month"])))
    value = "logos" if kind == "logo" else "mrr"
    grid = frame.pivot_table(index="cohort", columns="age", values=value, aggfunc="sum")
    grid = grid.sort_index()
    last = max(frame["month"])
    start = grid[0]
    out = grid.fillna(0.0).div(start, axis=0)
    for cohort in out.index:
        observable = (last.year - cohort.year) * 12 + last.month - cohort.month
        out.loc[cohort, out.columns > observable] = float("nan")
    out.insert(0, "size", start)
    out.columns = [str(c) for c in out.columns]
    return out
