"""Replaying the past: open deals on every week of every finished quarter, placed and labelled.

One `pipeline_as_of` query rebuilds each week's open pipeline from stage history; each row is
placed in the quarter of its as-of date, labelled with whether it closed won by that quarter's
end and given the win model's features (all computed from rows stamped before the as-of
instant). The learned methods train on slices of these rows that `features.training_rows` allows,
which is how the backtest guarantees it never learns from the future.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

import pandas as pd

from revops.config.models import OperatingModel
from revops.pipeline.forecast import periods as P
from revops.pipeline.forecast.data import (
    ForecastData,
    present_overrides,
    states_with_evidence,
    ts,
    with_overrides,
)
from revops.pipeline.forecast.evidence import EVIDENCE
from revops.pipeline.forecast.features import label, place
from revops.pipeline.forecast.win_model import features
from revops.warehouse import Warehouse


def quarter_fn(model: OperatingModel) -> Callable[[date], P.Period]:
    """The fiscal quarter of a day under this operating model."""
    fy, naming = model.company.fiscal_year_start_month, model.forecast.fiscal_year_named_by
    return lambda d: P.quarter_of(d, fy, naming)


def finished_quarters(data: ForecastData, model: OperatingModel) -> list[P.Period]:
    """Quarters lying wholly between the first deal's creation and the end of the data."""
    if data.deals.empty:
        return []
    first = ts(data.deals["created_date"]).min().date()
    fy, naming = model.company.fiscal_year_start_month, model.forecast.fiscal_year_named_by
    return P.quarters_between(first, data.data_end, fy, naming)


@dataclass
class Replay:
    """Labelled weekly open-deal rows of the given quarters, with win-model features."""

    quarters: list[P.Period]
    rows: pd.DataFrame
    x: pd.DataFrame

    def subset(self, quarters: Sequence[P.Period]) -> Replay:
        """The replay of some of these quarters: their weeks' rows, in the same order and with
        the same index (a row depends only on its own deal and week, so these are the rows and
        features a replay of `quarters` alone makes)."""
        if self.rows.empty:
            return Replay(list(quarters), self.rows, self.x)
        days = [pd.Timestamp(d) for q in quarters for d in q.weeks()]
        keep = ts(self.rows["as_of"]).dt.normalize().isin(days).to_numpy()
        return Replay(list(quarters), self.rows[keep], self.x[keep])


def replay(
    wh: Warehouse, model: OperatingModel, data: ForecastData, quarters: Sequence[P.Period]
) -> Replay:
    """Every week of every quarter in `quarters`, in one point-in-time query."""
    dates = sorted({d for q in quarters for d in q.weeks()})
    if not dates:
        return Replay(list(quarters), pd.DataFrame(), pd.DataFrame())
    frame = states_with_evidence(wh, model, dates)
    rows = label(place(frame, quarter_fn(model)), data.closes)
    rows = with_overrides(rows, data.overrides).reset_index(drop=True)
    x = features(rows, data, model.pipeline)
    return Replay(list(quarters), rows.drop(columns=list(EVIDENCE)), x)


def current_rows(
    wh: Warehouse, model: OperatingModel, data: ForecastData, period: P.Period, as_of: date
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Open deals as of `as_of`, placed in `period` (which may lie ahead), with features."""
    frame = states_with_evidence(wh, model, [as_of])
    overrides = present_overrides(data.overrides, as_of, data.data_end)
    rows = with_overrides(place(frame, lambda _d: period), overrides).reset_index(drop=True)
    return rows.drop(columns=list(EVIDENCE)), features(rows, data, model.pipeline)
