"""Today's open deals over a period that has begun: what stood open at its end.

The dictionary's open_pipeline and open_opportunities are the CRM's state now, bucketed by
expected close date (see the operating model). For a month after the data that is the
forecast it means; for a month that has begun, today's open deals expected to close in it
are not what was open then (a past month reads $0 once its deals closed). There the pages and
`revops metrics show` both read the deals open at the period's end (or on the data's last day
for the period still running), rebuilt from stage history (`revops pipeline snapshot
--as-of DAY`, the computed-elsewhere figure open_pipeline_as_of), cut by one snapshot
dimension at most; otherwise the figure is missing, with the command that answers it. One
function, so a page and the CLI show one number.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

import pandas as pd

from revops.config.models import OperatingModel
from revops.context import RevOps
from revops.errors import RevOpsError
from revops.metrics.compiler import leaf_tables
from revops.reports.periods import data_end

OPEN_NOW = "not is_closed"  # a filter on the CRM's state today, not on any past day


def current_state(model: OperatingModel, name: str) -> bool:
    """Whether `name` reads today's open deals (by expected close date)."""
    return any(
        OPEN_NOW in (getattr(model.metric(leaf), "filter", None) or "")
        for leaf, _ in leaf_tables(model, name)
    )


def as_of_day(
    ro: RevOps, start: dt.date, end: dt.date, last: dt.date | None = None
) -> dt.date | None:
    """The day open deals over [start, end) are read on: its last day, or the data's last day
    (`last`, else read) for the period still running; None for a period after the data."""
    last = last or data_end(ro)
    if last is None or start > last:
        return None
    return min(end - dt.timedelta(days=1), last)


def open_as_of(
    ro: RevOps, name: str, day: dt.date, by: str | None = None, where: bool = False
) -> tuple[pd.Series | None, str | None]:
    """`name` (open_pipeline's sum or open_opportunities' count) over the deals open at the
    end of `day`, by `by` (one snapshot dimension) or in all (the series' one value, under
    "all"); or None and why, naming the command that answers it. `where`: a filter the
    snapshot cannot apply was asked for."""
    from revops.pipeline.analytics import DIMENSIONS as SNAPSHOT_BY
    from revops.pipeline.engine import PipelineEngine

    m = ro.model.metric(name)
    measure = getattr(m, "measure", None)
    column = {"sum": "value", "count": "deals"}.get(measure.agg if measure else "", "")
    say = f"{name}: today's open deals by expected close date; on {day}: "
    if getattr(m, "filter", None) != OPEN_NOW or not column:
        return None, say + f"`revops pipeline metrics --as-of {day}`"
    if where or (by is not None and by not in SNAPSHOT_BY):
        return None, say + f"`revops pipeline snapshot --as-of {day} --by DIMENSION`"
    engine = PipelineEngine(ro.warehouse, ro.model.pipeline)
    try:
        latest = engine.latest_day()
    except RevOpsError:
        return None, say + "no stage history to rebuild it from"
    if latest < day:
        return None, say + f"stage history ends on {latest}"
    frame = engine.snapshot(day, by or "stage")  # type: ignore[arg-type]
    if by is None:
        return pd.Series({"all": float(frame[column].sum())}), None
    return frame.set_index(by)[column].astype(float), None


def open_value(series: pd.Series, keys: Collection[str] | None = None) -> float:
    """The snapshot's value for the groups `keys` (all of them when None): no deal open in
    them is 0 deals and $0, as the dictionary's sum over no rows."""
    if keys is None:
        return float(series.sum())
    return float(series[series.index.isin(list(keys))].sum())
