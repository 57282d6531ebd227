"""Weekly forecast snapshots: the pipeline frozen as of a date, stored for later comparison.

Stage history can rebuild any past date, but a stored snapshot is what a forecast call was made
on, so "what changed since last week" compares two stored facts. A snapshot for a date is
rebuilt from stage history as of the end of that day (today's is just the newest history), with
the manual probability in force then; writing it again for the same date replaces its rows by
key, so re-running is harmless, and past weeks can be backfilled in one query.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import pandas as pd
import pyarrow as pa

from revops.config.models import OperatingModel
from revops.pipeline.forecast.data import states, with_overrides
from revops.warehouse import Batch, Warehouse

SNAPSHOT_COLUMNS = (
    "snapshot_date",
    "opportunity_id",
    "owner_id",
    "opportunity_type",
    "stage",
    "amount",
    "close_date",
    "forecast_category",
    "probability",
    "is_open",
    "is_won",
)
CLOSED_KEPT_DAYS = 184  # closed deals stay in snapshots for two quarters, so changes see them


def snapshot_rows(frame: pd.DataFrame, overrides: pd.DataFrame) -> pd.DataFrame:
    """Snapshot rows from `pipeline_as_of` output: open deals and recently closed ones."""
    keep = frame["is_open"].astype(bool) | (
        pd.to_datetime(frame["close_date"])
        >= pd.to_datetime(frame["as_of"]) - pd.Timedelta(days=CLOSED_KEPT_DAYS)
    )
    f = with_overrides(frame[keep], overrides)
    prob = f["manual_probability"].mul(100).where(f["manual_probability"].notna(), f["probability"])
    out = pd.DataFrame(
        {
            "snapshot_date": pd.to_datetime(f["as_of"]).dt.date,
            "opportunity_id": f["opportunity_id"],
            "owner_id": f["owner_id"],
            "opportunity_type": f["opportunity_type"],
            "stage": f["stage"],
            "amount": f["amount"].astype(float),
            "close_date": pd.to_datetime(f["close_date"]).dt.date,
            "forecast_category": f["forecast_category"],
            "probability": prob.astype(float),
            "is_open": f["is_open"].astype(bool),
            "is_won": f["is_won"].astype(bool),
        }
    )
    return out.reset_index(drop=True)


def take_snapshots(
    wh: Warehouse, model: OperatingModel, dates: Sequence[date], overrides: pd.DataFrame
) -> int:
    """Write the snapshots for `dates` (one query for all of them); returns rows written."""
    frame = states(wh, model, dates, open_only=False)
    rows = snapshot_rows(frame, overrides)
    if rows.empty:
        return 0
    wh.write_many([Batch("forecast_snapshots", pa.Table.from_pandas(rows, preserve_index=False))])
    return len(rows)


def weekly_dates(first: date, last: date) -> list[date]:
    """Every 7th day from `first` through `last`: the backfill schedule."""
    return [first + timedelta(days=7 * k) for k in range((last - first).days // 7 + 1)]


def read_snapshot(wh: Warehouse, day: date) -> pd.DataFrame:
    t = wh.table("forecast_snapshots")
    out: pd.DataFrame = wh.execute(t.filter(t.snapshot_date == day))
    return out


def snapshot_dates(wh: Warehouse) -> list[date]:
    t = wh.table("forecast_snapshots")
    days = wh.execute(t.select("snapshot_date").distinct().order_by("snapshot_date"))
    return [pd.Timestamp(d).date() for d in days["snapshot_date"]]
