"""Every forecast method's number for one period as of one date, side by side.

Each method is closed-won so far plus its view of the open pipeline, plus the expected bookings
from deals not yet created where the method is a probability (the category call is a rep's
statement about existing deals, so it is shown without it):

- category: closed + commit + `best_case_share` × best case (deals due in the period);
- stage_default: Σ amount × the configured stage probability (deals due in the period);
- stage_learned: Σ amount × the learned in-period win rate of the deal's cell (every open deal);
- win_model: Σ amount × the calibrated per-deal model (every open deal).

A manual probability on a deal replaces the computed one in the three weighted methods.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from revops.config.forecast import ForecastConfig, ForecastMethod
from revops.config.pipeline import PipelineConfig
from revops.pipeline.forecast.periods import Period
from revops.pipeline.forecast.weighted import (
    default_probability,
    learned_probability,
    prefer_manual,
)
from revops.pipeline.forecast.win_model import WinModel

METHOD_COLUMNS = (
    "method",
    "opportunity_type",
    "closed_won",
    "open_part",
    "not_yet_created",
    "forecast",
)


def closed_won(closes: pd.DataFrame, period: Period, as_of: date) -> pd.Series:
    """Closed-won bookings of the period known by the end of `as_of`, by type."""
    cut = np.datetime64(as_of + timedelta(days=1), "ns")
    close = closes["close_date"].to_numpy("datetime64[ns]")
    hit = (
        closes["won"].to_numpy(bool)
        & (closes["closed_at"].to_numpy("datetime64[ns]") < cut)
        & (close >= np.datetime64(period.start, "ns"))
        & (close <= np.datetime64(period.end, "ns"))
    )
    return closes[hit].groupby("opportunity_type")["amount"].sum()


def open_parts(
    rows: pd.DataFrame,
    cfg: ForecastConfig,
    stages: PipelineConfig,
    learned: dict[tuple[str, ...], pd.DataFrame] | None,
    model: WinModel | None,
    x: pd.DataFrame | None,
    by: tuple[str, ...] = (),
) -> dict[ForecastMethod, pd.Series]:
    """Each method's expected bookings from the open deals in `rows`, by type (and by the
    columns `by` before it: the backtest sums every week of a quarter in one go, each week's
    sums the same as alone, since a group adds its rows in the same order)."""
    amount = rows["amount"].fillna(0.0).astype(float)
    due = rows["due_in_period"].astype(bool)
    typ = rows["opportunity_type"]
    keys = [*(rows[k] for k in by), typ] if by else typ
    cat = rows["forecast_category"].fillna("pipeline")
    weight = np.where(cat.isin(["commit", "closed"]), 1.0, 0.0) + np.where(
        cat == "best_case", cfg.best_case_share, 0.0
    )
    out: dict[ForecastMethod, pd.Series] = {
        "category": (amount * weight * due).groupby(keys).sum(),
        "stage_default": (amount * prefer_manual(default_probability(rows, stages), rows) * due)
        .groupby(keys)
        .sum(),
    }
    if learned is not None:
        p = prefer_manual(learned_probability(rows, learned, stages), rows)
        out["stage_learned"] = (amount * p).groupby(keys).sum()
    if model is not None and x is not None:
        pm = pd.Series(model.predict(x), index=rows.index)
        out["win_model"] = (amount * prefer_manual(pm, rows)).groupby(keys).sum()
    return out


def combine(
    closed: pd.Series,
    parts: dict[ForecastMethod, pd.Series],
    nyc: pd.Series,
    types: list[str],
) -> pd.DataFrame:
    """One row per method and type plus an 'all' row per method."""
    rows = []
    for method, part in parts.items():
        for t in types:
            extra = 0.0 if method == "category" else float(nyc.get(t, 0.0))
            c, o = float(closed.get(t, 0.0)), float(part.get(t, 0.0))
            rows.append((method, t, c, o, extra, c + o + extra))
    frame = pd.DataFrame(rows, columns=list(METHOD_COLUMNS))
    total = frame.groupby("method", sort=False)[
        ["closed_won", "open_part", "not_yet_created", "forecast"]
    ].sum()
    total = total.reset_index().assign(opportunity_type="all")
    return pd.concat([frame, total[list(METHOD_COLUMNS)]], ignore_index=True)
