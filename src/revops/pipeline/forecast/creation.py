"""Pipeline not yet created: bookings a period will get from deals that do not exist yet.

Early in a quarter much of what will close has not been created; forecasting only the existing
pipeline then under-calls every quarter by the same kind of amount. For the same point of each
of the last `lookback` finished quarters (same number of days into it), we count the deals
created after that point, the share of them won inside the quarter and their average size; the
product, averaged over those quarters, is the expected not-yet-created bookings, by type.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from revops.pipeline.forecast.periods import Period

CREATION_COLUMNS = (
    "opportunity_type",
    "quarters",
    "created_per_quarter",
    "in_period_win_rate",
    "avg_won_size",
    "expected",
)


def not_yet_created(
    deals: pd.DataFrame,
    closes: pd.DataFrame,
    period: Period,
    as_of: date,
    history: list[Period],
) -> pd.DataFrame:
    """Expected bookings of `period` from deals created after `as_of`, per opportunity type.

    `history` are earlier, finished periods; only the ones that ended by `as_of` are used, and
    only closes that happened before the end of `as_of`, so nothing from the future leaks in.
    """
    past = [q for q in history if q.end < as_of]
    types = sorted(deals["opportunity_type"].dropna().unique())
    if as_of >= period.end or not past:
        return _frame(types, len(past), {})
    # Plain numpy arrays: the backtest asks this for every week of every quarter.
    offset = np.timedelta64((as_of - period.start).days, "D")
    created = deals["created_date"].to_numpy("datetime64[ns]")
    deal_type = deals["opportunity_type"].to_numpy(object)
    cut = np.datetime64(as_of + timedelta(days=1), "ns")
    won = closes["won"].to_numpy(bool) & (closes["closed_at"].to_numpy("datetime64[ns]") < cut)
    won_close = closes["close_date"].to_numpy("datetime64[ns]")
    deal_of = pd.Index(deals["opportunity_id"]).get_indexer(closes["opportunity_id"])
    won &= deal_of >= 0
    won_type = closes["opportunity_type"].to_numpy(object)
    amount = closes["amount"].to_numpy(float)
    counts: dict[str, list[float]] = {t: [0.0, 0.0, 0.0] for t in types}
    for q in past:
        qs, qe = np.datetime64(q.start, "ns"), np.datetime64(q.end, "ns")
        new = (created > qs + offset) & (created <= qe)
        w = won & (won_close >= qs) & (won_close <= qe) & new[deal_of]
        for t in types:
            counts[t][0] += float((deal_type[new] == t).sum())
            wt = w & (won_type == t)
            counts[t][1] += float(wt.sum())
            counts[t][2] += float(amount[wt].sum())
    return _frame(types, len(past), counts)


def _frame(types: list[str], quarters: int, counts: dict[str, list[float]]) -> pd.DataFrame:
    rows = []
    for t in types:
        n, wins, amount = counts.get(t, [0.0, 0.0, 0.0])
        q = max(quarters, 1)
        rows.append(
            {
                "opportunity_type": t,
                "quarters": quarters,
                "created_per_quarter": n / q,
                "in_period_win_rate": wins / n if n else np.nan,
                "avg_won_size": amount / wins if wins else np.nan,
                "expected": amount / q if counts else 0.0,
            }
        )
    return pd.DataFrame(rows, columns=list(CREATION_COLUMNS))
