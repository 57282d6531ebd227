"""Open deals as of a date, placed in the period being forecast, with what was known then.

Both learned methods (stage probabilities and the win model) look at the same rows: an open deal
on an as-of date, the period it is forecast for, whether its close date falls inside, how far the
period has run, and (for training) whether it closed won inside the period. Every feature uses
only rows stamped before the as-of instant, which is what lets the backtest replay the past.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import numpy as np
import pandas as pd

from revops.pipeline.forecast.data import ts
from revops.pipeline.forecast.periods import Period

PHASES = ("early", "mid", "late")
_DAY = pd.Timedelta(days=1)


def place(frame: pd.DataFrame, period_for: Callable[[date], Period]) -> pd.DataFrame:
    """Add period_start/period_end, due_in_period, phase and days_left to open-deal states."""
    out = frame.copy()
    as_of = ts(out["as_of"])
    day = as_of.dt.normalize()
    periods = {d: period_for(d.date()) for d in day.unique()}
    starts = {d: pd.Timestamp(p.start) for d, p in periods.items()}
    out["period_start"] = ts(day.map(starts))  # ts: an empty frame maps to floats
    out["period_end"] = ts(day.map({d: pd.Timestamp(p.end) for d, p in periods.items()}))
    close = ts(out["close_date"])
    out["due_in_period"] = (close >= out["period_start"]) & (close <= out["period_end"])
    length = (out["period_end"] - out["period_start"]).dt.days + 1
    elapsed = ((as_of - out["period_start"]).dt.days + 1).clip(lower=0) / length
    out["phase"] = np.array(PHASES)[np.clip((elapsed * 3).astype(int), 0, 2)]
    out["days_left"] = (out["period_end"] - as_of).dt.days.astype(float)
    return out


def label(frame: pd.DataFrame, closes: pd.DataFrame) -> pd.DataFrame:
    """Add `won_in_period`: the deal closed won after the as-of date and by the period's end."""
    c = closes[["opportunity_id", "closed_at", "close_date", "won"]].rename(
        columns={"close_date": "final_close_date"}
    )
    out = frame.merge(c, on="opportunity_id", how="left")
    cut = ts(out["as_of"]) + _DAY
    final = ts(out["final_close_date"])
    out["won_in_period"] = (
        out["won"].eq(True) & (ts(out["closed_at"]) >= cut) & (final <= out["period_end"])
    ).astype(float)
    return out.drop(columns=["closed_at", "final_close_date", "won"])


def training_rows(rows: pd.DataFrame, before: date, lookback: Period | None = None) -> pd.DataFrame:
    """Labelled rows whose whole period ended before `before`: outcomes known by then.

    This is the no-leak rule of the backtest: a row may train a forecast made on `before` only
    if its as-of date and its period's last day (hence its label) both lie before that day.
    With `lookback`, rows from periods starting before `lookback.start` are left out.
    """
    keep = ts(rows["period_end"]) < pd.Timestamp(before)  # the day ends before
    if lookback is not None:
        keep &= ts(rows["period_start"]) >= pd.Timestamp(lookback.start)
    return rows[keep]
