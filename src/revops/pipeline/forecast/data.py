"""What the forecast engine reads from the warehouse, as plain frames (the I/O edge).

Every forecast method and the backtest are pure functions of these frames plus the point-in-time
pipeline from `pipeline_as_of`, so a replay as of a past week sees exactly the rows that existed
then: deal states from stage history, closes with the moment they happened, overrides with the
time they were set. The stage history and the activities stay in the warehouse, which counts
what each replayed row needs from them (`evidence`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import ibis
import pandas as pd

from revops.config.models import OperatingModel
from revops.pipeline.forecast.evidence import Prepared, last_closes, open_deals_with_evidence
from revops.pipeline.snapshot import pipeline_as_of
from revops.warehouse import Warehouse


def cutoff(as_of: date) -> pd.Timestamp:
    """The instant an as-of date ends: midnight after it (everything strictly before counts)."""
    return pd.Timestamp(datetime.combine(as_of + timedelta(days=1), time()))


def latest_data_date(wh: Warehouse) -> date:
    """The last day the warehouse holds deal history for: every as-of date's default.

    A warehouse loaded from exports ends on the export's day, not today; defaulting to today would
    forecast from a pipeline frozen weeks ago as if nothing had happened since.
    """
    hist = wh.table("opportunity_stage_history")
    end = wh.execute(hist.changed_at.max())
    return pd.Timestamp(end).date() if end is not None and pd.notna(end) else date.today()


def human_inputs_until(as_of: date, data_end: date) -> pd.Timestamp | None:
    """Until when adjustments and manual probabilities count in a view as of `as_of`.

    Each counts from its own timestamp. As of the data's last date or later the view is the
    present, so every input recorded so far counts (None: no limit), even one typed in after
    the export was taken.
    """
    return None if as_of >= data_end else cutoff(as_of)


def present_overrides(overrides: pd.DataFrame, as_of: date, data_end: date) -> pd.DataFrame:
    """Overrides as a view as of `as_of` sees them: in the present, later ones count too."""
    if human_inputs_until(as_of, data_end) is not None or overrides.empty:
        return overrides
    last = cutoff(as_of) - pd.Timedelta(microseconds=1)
    ordered = overrides.assign(set_at=ts(overrides["set_at"])).sort_values("set_at", kind="stable")
    return ordered.assign(set_at=ordered["set_at"].where(ordered["set_at"] <= last, last))


@dataclass
class ForecastData:
    """The frames every method reads; `states` is filled per replay from stage history."""

    deals: pd.DataFrame  # opportunity_id, owner_id, opportunity_type, created_date, segment
    closes: pd.DataFrame  # opportunity_id, closed_at, close_date, won, amount, opportunity_type
    users: pd.DataFrame  # user_id, name, manager_id, region
    overrides: pd.DataFrame  # opportunity_id, probability, set_at
    data_end: date


def ts(values: pd.Series) -> pd.Series:
    """Timestamps at one resolution (ns), so as-of joins never meet mismatched units.

    Timestamps already are passed on as they are: `pd.to_datetime` on them still builds a
    Timestamp object for each of their first 500 rows to decide whether to cache."""
    if pd.api.types.is_datetime64_dtype(values.dtype):
        return values.astype("datetime64[ns]")
    return pd.to_datetime(values).astype("datetime64[ns]")


def _frame(wh: Warehouse, expr: ibis.Table, key: Sequence[str]) -> pd.DataFrame:
    """`expr` in the order of `key`: a database returns rows in any order, and the win model's
    training (gradient boosting, calibration folds) depends on row order, so every read is
    ordered to keep the same data giving the same forecast."""
    out: pd.DataFrame = wh.execute(expr.order_by(list(key)))
    return out


def load(wh: Warehouse, model: OperatingModel) -> ForecastData:
    """Read the deal facts once; nothing here depends on the as-of date."""
    stages = model.pipeline
    opp = wh.table("opportunities")
    acc = wh.table("accounts").select("account_id", "segment")
    deals = _frame(
        wh,
        opp.left_join(acc, "account_id").select(
            "opportunity_id", "owner_id", "opportunity_type", "created_date", "segment"
        ),
        ["opportunity_id"],
    )
    deals["created_date"] = ts(deals["created_date"])
    # Each deal's last row in a closed stage, in pandas' order of deal ids (a database may
    # collate them otherwise): the closes' sums below add up in this order.
    last = _frame(
        wh, last_closes(wh.table("opportunity_stage_history"), stages), ["opportunity_id"]
    )
    last = last.sort_values("opportunity_id", kind="stable")
    last["changed_at"] = ts(last["changed_at"])
    last["close_date"] = ts(last["close_date"])
    closes = pd.DataFrame(
        {
            "opportunity_id": last["opportunity_id"].to_numpy(),
            "closed_at": last["changed_at"].to_numpy(),
            "close_date": last["close_date"].fillna(last["changed_at"].dt.normalize()).to_numpy(),
            "won": last["stage"].isin(stages.won_stages).to_numpy(),
            "amount": last["amount"].fillna(0.0).to_numpy(),
        }
    ).merge(deals[["opportunity_id", "opportunity_type"]], on="opportunity_id", how="left")
    users = _frame(
        wh, wh.table("users").select("user_id", "name", "manager_id", "region"), ["user_id"]
    )
    ov = _frame(
        wh,
        wh.table("deal_probability_overrides").select("opportunity_id", "probability", "set_at"),
        ["opportunity_id", "set_at"],
    )
    ov["set_at"] = ts(ov["set_at"])
    return ForecastData(deals, closes, users, ov, latest_data_date(wh))


def states(
    wh: Warehouse,
    model: OperatingModel,
    dates: Sequence[date],
    *,
    open_only: bool = True,
    narrow: Callable[[ibis.Table], ibis.Table] | None = None,
) -> pd.DataFrame:
    """Every deal's state at the end of each date, from stage history, in one query (only the
    rows `narrow` keeps of it, when given: the warehouse drops the others)."""
    expr = pipeline_as_of(
        wh.table("opportunity_stage_history"),
        wh.table("opportunities"),
        list(dates),
        model.pipeline,
        open_only=open_only,
    )
    return _states(wh, expr if narrow is None else narrow(expr))


def states_with_evidence(
    wh: Warehouse,
    model: OperatingModel,
    dates: Sequence[date],
    prepared: Prepared | None = None,
) -> pd.DataFrame:
    """Every deal open at the end of each date, with what was known of it then
    (`evidence.EVIDENCE`), in one query (off the history's windows in `prepared` if given)."""
    expr = open_deals_with_evidence(
        wh.table("opportunity_stage_history"),
        wh.table("opportunities"),
        wh.table("activities"),
        list(dates),
        model.pipeline,
        prepared=prepared,
    )
    return _states(wh, expr)


def _states(wh: Warehouse, expr: ibis.Table) -> pd.DataFrame:
    out = _frame(wh, expr, ["as_of", "opportunity_id"])
    for col in ("as_of", "close_date", "created_date", "changed_at"):
        out[col] = ts(out[col])
    return out


def with_overrides(frame: pd.DataFrame, overrides: pd.DataFrame) -> pd.DataFrame:
    """Add `manual_probability`: the newest override set by each row's as-of date (0–1).

    Overrides live in their own table, keyed by deal and time, so no reload of opportunities or
    new stage-history row can touch them; an override row without a probability clears it.
    """
    out = frame.copy()
    out["_cut"] = ts(out["as_of"]) + pd.Timedelta(days=1)
    if overrides.empty:
        out["manual_probability"] = float("nan")
        return out.drop(columns="_cut")
    ov = overrides.assign(set_at=ts(overrides["set_at"])).sort_values("set_at", kind="stable")
    ov = ov[["opportunity_id", "set_at", "probability"]]
    ov = ov.rename(columns={"probability": "manual_probability"})
    left = out.reset_index().sort_values("_cut")
    merged = pd.merge_asof(
        left,
        ov,
        left_on="_cut",
        right_on="set_at",
        by="opportunity_id",
        direction="backward",
        allow_exact_matches=False,
    )
    merged = merged.sort_values("index").set_index("index")
    merged.index.name = None
    merged["manual_probability"] = merged["manual_probability"].astype(float) / 100.0
    return merged.drop(columns=["_cut", "set_at"])
