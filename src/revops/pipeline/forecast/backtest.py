"""Backtesting: how wrong was each method, week by week, on quarters whose outcome we know?

Each finished quarter is replayed as of every week of it. Before the quarter starts, the learned
parts are trained only on rows whose period had ended (stage probabilities on the last
`lookback_quarters`, the win model on all earlier quarters; `trained_through` records the last
day they saw, always before the first as-of date), the not-yet-created part only on quarters
that had ended by each as-of date. Every method's forecast is compared with the quarter's actual
closed-won bookings: error = (forecast − actual) / actual. Per method and quarter the mean
absolute error is the MAPE and the mean signed error the bias.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd

from revops.config.forecast import FORECAST_METHODS, ForecastMethod
from revops.config.models import OperatingModel
from revops.pipeline.forecast.creation import not_yet_created
from revops.pipeline.forecast.data import ForecastData, ts
from revops.pipeline.forecast.features import training_rows
from revops.pipeline.forecast.methods import closed_won, combine, open_parts
from revops.pipeline.forecast.periods import Period
from revops.pipeline.forecast.replay import Replay
from revops.pipeline.forecast.win_model import (
    Pending,
    StartFit,
    WinModel,
    WinModelError,
    start_fit,
)


@dataclass
class Trained:
    """The learned parts for forecasts made on or after `before`, and what they saw."""

    learned: dict[tuple[str, ...], pd.DataFrame] | None
    model: WinModel | None
    trained_through: date | None
    skipped: dict[str, str] = field(default_factory=dict)


@dataclass
class Training:
    """The learned parts for forecasts made on or after a date, the win model still fitting."""

    learned: dict[tuple[str, ...], pd.DataFrame] | None
    pending: Pending | None
    trained_through: date | None
    skipped: dict[str, str] = field(default_factory=dict)

    def done(self) -> Trained:
        """Wait for the win model; a fit that failed leaves it out with the reason."""
        skipped, wm = dict(self.skipped), None
        if self.pending is not None:
            try:
                wm = self.pending()
            except WinModelError as exc:
                skipped["win_model"] = str(exc)
        return Trained(self.learned, wm, self.trained_through, skipped)


def start_training(
    replay: Replay, model: OperatingModel, before: date, fit_model: StartFit = start_fit
) -> Training:
    """Learn stage probabilities and start fitting the win model on rows known before `before`
    (`fit_model` starts the fit: `start_fit` unless the caller shares fits across a run).

    The rows allowed are whole quarters (`features.training_rows`: a row's period ended before
    `before`): the stage probabilities are the warehouse's aggregates of the last
    `lookback_quarters` of them, the win model trains on the replay's pool rows in them."""
    cfg = model.forecast
    done = [q for q in replay.quarters if q.end < before]
    skipped: dict[str, str] = {}
    if replay.empty or not done:
        reason = "no finished quarter before this date to learn from"
        return Training(None, None, None, {"stage_learned": reason, "win_model": reason})
    recent = done[-cfg.lookback_quarters :]
    lookback = [q for q in done if q.start >= recent[0].start]
    learned = replay.learned(lookback, cfg.min_deals)
    if learned is None:
        skipped["stage_learned"] = "no open deals in the lookback quarters"
    pool, x = replay.pool()
    sample = training_rows(pool, before) if not pool.empty else pool
    pending: Pending | None = None
    try:
        if sample.empty:
            raise WinModelError("no training rows")
        pending = fit_model(
            x.loc[sample.index],
            sample["won_in_period"].to_numpy(float),
            sample,
            cfg.win_model,
        )
    except WinModelError as exc:
        skipped["win_model"] = str(exc)
    counts = replay.counts()
    seen = [q.end for q in done if any(counts.get(d, 0) for d in q.weeks())]
    return Training(learned, pending, max(seen) if seen else None, skipped)


def train(
    replay: Replay, model: OperatingModel, before: date, fit_model: StartFit = start_fit
) -> Trained:
    """`start_training`, waited for."""
    return start_training(replay, model, before, fit_model).done()


@dataclass
class BacktestResult:
    weekly: pd.DataFrame  # one row per quarter, as-of week and method
    summary: pd.DataFrame  # MAPE and bias per method per quarter, then 'overall'
    skipped: dict[str, str]  # quarter or method → why it was left out
    recommended: pd.DataFrame = field(default_factory=pd.DataFrame)  # walk-forward choice rows


def actual_bookings(closes: pd.DataFrame, period: Period) -> float:
    """Closed-won bookings with a close date in the period (everything known now)."""
    close = ts(closes["close_date"])
    hit = (
        closes["won"].astype(bool)
        & (close >= pd.Timestamp(period.start))
        & (close <= pd.Timestamp(period.end))
    )
    return float(closes.loc[hit, "amount"].sum())


def quarter_forecasts(
    replay: Replay, data: ForecastData, model: OperatingModel, q: Period, trained: Trained
) -> pd.DataFrame:
    """Each method's company-wide forecast for `q` as of each of its weeks.

    The open deals of a few weeks at a time (`Replay.chunks`) are weighted (and the win model
    asked) in one go, then summed per week: each week's figure is the one it gets alone."""
    cfg = model.forecast
    types = sorted(data.deals["opportunity_type"].dropna().unique())
    earlier = [p for p in replay.quarters if p.end < q.start][-cfg.lookback_quarters :]
    days = [pd.Timestamp(d) for d in q.weeks()]
    methods: list[ForecastMethod] = ["category", "stage_default"]
    methods += ["stage_learned"] if trained.learned is not None else []
    methods += ["win_model"] if trained.model is not None else []
    by_day: dict[ForecastMethod, dict[Any, pd.Series]] = {m: {} for m in methods}
    on: set[pd.Timestamp] = set()
    for rows, x in replay.chunks(q.weeks()):
        rows = rows.assign(_day=ts(rows["as_of"]).dt.normalize())
        parts = open_parts(rows, cfg, model.pipeline, trained.learned, trained.model, x, ("_day",))
        for m, part in parts.items():
            by_day[m].update({d: g.droplevel(0) for d, g in part.groupby(level=0, sort=False)})
        # The distinct days only: a set of every row's day builds a Timestamp per row.
        on |= set(rows["_day"].unique())
    none = pd.Series(dtype=float)
    out = []
    for d in days:
        nyc = not_yet_created(data.deals, data.closes, q, d.date(), earlier)
        frame = combine(
            closed_won(data.closes, q, d.date()),
            {m: part.get(d, none) for m, part in by_day.items() if m != "win_model" or d in on},
            nyc.set_index("opportunity_type")["expected"],
            types,
        )
        total = frame[frame["opportunity_type"] == "all"].assign(as_of=d.date())
        out.append(total[["as_of", "method", "forecast"]])
    return pd.concat(out, ignore_index=True)


def backtest(
    replay: Replay,
    data: ForecastData,
    model: OperatingModel,
    targets: list[Period] | None = None,
    fit_model: StartFit = start_fit,
) -> BacktestResult:
    """Replay every finished quarter that has enough earlier quarters to learn from.

    Every quarter's training starts before the first quarter is forecast, so win models
    fitted in worker processes (a `History`'s) are fitted side by side."""
    cfg = model.forecast
    skipped: dict[str, str] = {}
    quarters = replay.quarters
    targets = targets or quarters[cfg.min_training_quarters :]
    actuals = {q: actual_bookings(data.closes, q) for q in targets}
    started = {
        q: start_training(replay, model, q.start, fit_model)
        for q in targets
        if quarters.index(q) >= cfg.min_training_quarters and actuals[q] > 0
    }
    weekly = []
    for q in targets:
        name = q.label or str(q.start)
        if quarters.index(q) < cfg.min_training_quarters:
            skipped[name] = f"fewer than {cfg.min_training_quarters} earlier quarters to learn from"
            continue
        actual = actuals[q]
        if actual <= 0:
            skipped[name] = "nothing closed won in the quarter; percentage errors are undefined"
            continue
        trained = started[q].done()
        for method, reason in trained.skipped.items():
            skipped[f"{name} {method}"] = reason
        f = quarter_forecasts(replay, data, model, q, trained)
        f = f.assign(
            period_start=q.start,
            period_end=q.end,
            quarter=name,
            actual=actual,
            trained_through=trained.trained_through,
        )
        weekly.append(f)
    if not weekly:
        return BacktestResult(pd.DataFrame(), pd.DataFrame(), skipped)
    w = pd.concat(weekly, ignore_index=True)
    w["error_pct"] = (w["forecast"] - w["actual"]) / w["actual"]
    w["abs_pct_error"] = w["error_pct"].abs()
    return BacktestResult(w, summarize(w), skipped)


def summarize(weekly: pd.DataFrame) -> pd.DataFrame:
    """MAPE and bias per quarter and method, then one 'overall' row per method (all weeks)."""
    g = weekly.groupby(["period_start", "quarter", "method"], sort=False).agg(
        weeks=("as_of", "size"),
        actual=("actual", "first"),
        mape=("abs_pct_error", "mean"),
        bias=("error_pct", "mean"),
    )
    g = g.reset_index()
    overall = weekly.groupby("method", sort=False).agg(
        weeks=("as_of", "size"), mape=("abs_pct_error", "mean"), bias=("error_pct", "mean")
    )
    overall = overall.reset_index().assign(quarter="overall", actual=float("nan"))
    out = pd.concat([g.drop(columns="period_start"), overall], ignore_index=True)
    rank = {m: i for i, m in enumerate(FORECAST_METHODS)}
    out["_q"] = out["quarter"].eq("overall").astype(int)
    out["_m"] = out["method"].map(rank)
    order = out.sort_values(["_q", "quarter", "_m"], kind="stable")
    return order.drop(columns=["_q", "_m"]).reset_index(drop=True)


def stored_rows(weekly: pd.DataFrame, primary: str) -> pd.DataFrame:
    """The weekly results as `forecast_backtests` rows."""
    now = datetime.now(UTC).replace(tzinfo=None)
    return pd.DataFrame(
        {
            "period_start": weekly["period_start"],
            "period_end": weekly["period_end"],
            "as_of": weekly["as_of"],
            "method": weekly["method"],
            "forecast": weekly["forecast"].astype(float),
            "actual": weekly["actual"].astype(float),
            "error_pct": weekly["error_pct"].astype(float),
            "abs_pct_error": weekly["abs_pct_error"].astype(float),
            "is_primary": weekly["method"] == primary,
            "trained_through": weekly["trained_through"],
            "run_at": now,
        }
    )
