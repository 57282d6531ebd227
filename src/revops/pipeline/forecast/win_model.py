"""Per-deal win probability: will this open deal close won inside the period?

Rows are open deals on snapshot dates (see `features`), labelled by whether they closed won by
the period's end. Features use only what was known on the snapshot date: stage and how long
since it changed, age, amount, close-date pushes so far, days to the close date and to the end of
the period, activity recency and volume, segment, type and the owner's win rate on deals closed
before then. The model follows `revops.scoring.model`: gradient-boosted trees, calibrated on
time-ordered folds; evaluation is on later deals it never saw (created after every training
row's period ended), with AUC, Brier score and a calibration table by decile.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from revops.config.forecast import WinModelConfig
from revops.config.pipeline import PipelineConfig
from revops.errors import RevOpsError
from revops.models.calibration import CalibrationReport, Verdict, assess, versus_baseline
from revops.models.workers import calibrated_trees, here
from revops.pipeline.forecast.data import ForecastData, ts
from revops.scoring.model import MIN_PER_CLASS
from revops.warehouse.schema import OPPORTUNITY_TYPES, SEGMENTS

FEATURES = (
    "stage_order",
    "age_days",
    "log_amount",
    "pushes",
    "days_since_change",
    "days_to_close",
    "days_left",
    "due_in_period",
    "days_since_activity",
    "activities_30d",
    "segment",
    "opportunity_type",
    "owner_win_rate",
)
CATEGORICAL = ("segment", "opportunity_type")
_PRIOR_DEALS = 10.0  # owner win rate shrinks toward the company rate with this many deals
_DAY = pd.Timedelta(days=1)
# What a withheld win model means for the forecast: the call is already chosen out of time.
WITHHELD_MEANS = (
    "its forecast stays in the methods table, and the recommended call takes it only in the "
    "phases of the quarter where its backtest beats the other methods"
)


class WinModelError(RevOpsError):
    """The win model cannot be trained or evaluated on this data."""


def features(rows: pd.DataFrame, data: ForecastData, stages: PipelineConfig) -> pd.DataFrame:
    """Model inputs for placed open-deal rows carrying their `evidence.EVIDENCE` (counted by
    the warehouse); everything is as of each row's as-of instant."""
    cut = ts(rows["as_of"]) + _DAY
    order = {s.name: i for i, s in enumerate(stages.stages)}
    x = pd.DataFrame(index=rows.index)
    x["stage_order"] = rows["stage"].map(order).astype(float)
    x["age_days"] = (cut - ts(rows["created_date"])).dt.days.astype(float)
    x["log_amount"] = np.log1p(rows["amount"].fillna(0.0).clip(lower=0).astype(float))
    x["days_since_change"] = (cut - ts(rows["changed_at"])).dt.days.astype(float)
    x["days_to_close"] = (ts(rows["close_date"]) - cut).dt.days.astype(float)
    x["days_left"] = rows["days_left"].astype(float)
    x["due_in_period"] = rows["due_in_period"].astype(float)
    x["pushes"] = _count(rows["pushes"])
    # Activities strictly before the cut (counted by the warehouse): days since the last one
    # (NaN: none yet) and how many in the 30 days before the cut.
    x["days_since_activity"] = (cut - ts(rows["last_activity"])).dt.days.to_numpy(float)
    x["activities_30d"] = _count(rows["activities_30d"])
    deal = rows[["opportunity_id"]].merge(
        data.deals[["opportunity_id", "segment"]], on="opportunity_id", how="left"
    )
    x["segment"] = _codes(deal["segment"], SEGMENTS)
    x["opportunity_type"] = _codes(rows["opportunity_type"], OPPORTUNITY_TYPES)
    x["owner_win_rate"] = owner_win_rate(rows)
    return x[list(FEATURES)]


def _count(values: pd.Series) -> npt.NDArray[np.float64]:
    """A count from the warehouse as floats; none counted (no row joined) is 0."""
    return np.asarray(values.astype(float).fillna(0.0), dtype=np.float64)


def _codes(values: pd.Series, levels: tuple[str, ...]) -> npt.NDArray[np.float64]:
    codes = pd.Categorical(values.astype("string"), categories=list(levels)).codes.astype(float)
    return np.where(codes < 0, np.nan, codes)


def owner_win_rate(rows: pd.DataFrame) -> npt.NDArray[np.float64]:
    """Owner's count win rate over deals closed before each row's cut, shrunk to the company's
    (from the warehouse's counts of those closes)."""
    company = (_count(rows["company_won"]) + 1.0) / (_count(rows["company_closed"]) + 2.0)
    n = _count(rows["owner_closed"])
    w = _count(rows["owner_won"])
    rate = (w + _PRIOR_DEALS * company) / (n + _PRIOR_DEALS)
    return np.asarray(rate, dtype=np.float64)


def _matrix(x: pd.DataFrame) -> npt.NDArray[np.float64]:
    """Training matrix; a column with no value at all (say, no activities logged anywhere) is
    set to 0, since the trees cannot bin an empty column and learn nothing from it anyway."""
    m = x[list(FEATURES)].to_numpy(float)
    empty = np.isnan(m).all(axis=0)
    m[:, empty] = 0.0
    return m


@dataclass
class WinModel:
    """A fitted, calibrated classifier and the span of data it learned from."""

    model: Any
    trained_through: date
    n_rows: int
    n_deals: int
    base_rate: float

    def predict(self, x: pd.DataFrame) -> npt.NDArray[np.float64]:
        from threadpoolctl import threadpool_limits

        if x.empty:
            return np.zeros(0)
        with threadpool_limits(1):
            proba = self.model.predict_proba(x[list(FEATURES)].to_numpy(float))
        return np.asarray(proba[:, 1], dtype=np.float64)


# A fit under way: calling it waits for the model (and raises `WinModelError` if it failed).
Pending = Callable[[], "WinModel"]
# How to run the trees' fit: `submit(calibrated_trees, *args)` (a `Workers.submit`).
Submit = Callable[..., Future[Any]]


def start_fit(
    x: pd.DataFrame,
    y: npt.NDArray[np.float64],
    rows: pd.DataFrame,
    cfg: WinModelConfig,
    submit: Submit = here,
) -> Pending:
    """Start training on rows in time order (calibration folds never look ahead of their
    training part) through `submit`: in this process unless given a worker pool's.

    Too few wins or non-wins raise here; the trees' own errors when the result is asked for."""
    fewest = min(int(y.sum()), int(len(y) - y.sum()))
    if fewest < MIN_PER_CLASS:
        raise WinModelError(
            f"not enough history for the win model: wins and non-wins must each occur at least "
            f"{MIN_PER_CLASS} times among the training rows ({fewest} did)"
        )
    order = np.argsort(ts(rows["as_of"]).to_numpy(), kind="stable")
    categorical = [c in CATEGORICAL for c in FEATURES]
    future = submit(
        calibrated_trees, _matrix(x)[order], y[order], categorical, cfg.seed, cfg.calibration
    )
    through = ts(rows["period_end"]).max().date()
    n_deals = int(rows["opportunity_id"].nunique())

    @cache
    def result() -> WinModel:
        try:
            model = future.result()
        except ValueError as exc:
            raise WinModelError(f"cannot train the win model: {exc}") from None
        return WinModel(model, through, len(y), n_deals, float(y.mean()))

    return result


def fit(
    x: pd.DataFrame, y: npt.NDArray[np.float64], rows: pd.DataFrame, cfg: WinModelConfig
) -> WinModel:
    """Train on rows in time order, here and now (`start_fit`, waited for)."""
    return start_fit(x, y, rows, cfg)()


# `start_fit`'s shape: what a caller may put in its place (a `History` hands out its fits,
# run in worker processes and shared across a run, this way).
StartFit = Callable[[pd.DataFrame, npt.NDArray[np.float64], pd.DataFrame, WinModelConfig], Pending]


def calibration_table(y: npt.NDArray[np.float64], p: npt.NDArray[np.float64]) -> pd.DataFrame:
    """Predicted against observed win rate per decile of predicted probability (10 = highest)."""
    rank = pd.Series(p).rank(method="first").to_numpy()
    dec = np.ceil(rank * 10 / len(p)).astype(int)
    frame = pd.DataFrame({"decile": dec, "y": y, "p": p})
    g = frame.groupby("decile").agg(
        rows=("y", "size"), predicted=("p", "mean"), observed=("y", "mean"), wins=("y", "sum")
    )
    return g.reset_index().sort_values("decile", ascending=False).reset_index(drop=True)


@dataclass
class Evaluation:
    """How a model trained on early deals did on later deals it never saw."""

    model: WinModel
    test_from: date
    n_test_rows: int
    n_test_deals: int
    auc: float
    brier: float
    base_brier: float  # Brier of predicting the training base rate for every row
    stage_auc: float  # AUC of the stage's default probability on the same rows
    calibration: pd.DataFrame = field(default_factory=pd.DataFrame)
    reliability: CalibrationReport | None = None  # Brier, ECE, reliability; recalibrated if off
    verdict: Verdict | None = None  # against the stage probability on the same later rows


def start_evaluate(
    rows: pd.DataFrame,
    x: pd.DataFrame,
    cfg: WinModelConfig,
    stages: PipelineConfig,
    data_end: date,
    fit_model: StartFit = start_fit,
) -> Callable[[], Evaluation]:
    """Split by deal creation date: test on the latest `test_fraction` of deals, train on rows
    of earlier deals whose period (hence label) ended before the first test deal was created.

    The model's fit starts now (`fit_model`: `start_fit` unless the caller shares fits across a
    run); calling the result waits for it and scores the later deals."""
    created = ts(rows["created_date"])
    period_end = ts(rows["period_end"])
    known = period_end < pd.Timestamp(data_end + timedelta(days=1))
    deal_created = created[known].drop_duplicates().sort_values()
    if deal_created.empty:
        raise WinModelError("no deal has a finished period to learn from")
    ordered = deal_created.to_numpy()
    at = min(len(ordered) - 1, int(len(ordered) * (1 - cfg.test_fraction)))
    test_from = pd.Timestamp(ordered[at]).date()
    test = known & (created >= pd.Timestamp(test_from))
    train = known & (period_end < pd.Timestamp(test_from))
    y = rows["won_in_period"].to_numpy(float)
    if not train.any() or len(set(y[test.to_numpy()])) < 2:
        raise WinModelError("too little history to hold out later deals for evaluation")
    pending = fit_model(x[train], y[train.to_numpy()], rows[train], cfg)

    def scored() -> Evaluation:
        return _score(pending(), rows, x, test, y[test.to_numpy()], test_from, stages)

    return scored


def _score(
    fitted: WinModel,
    rows: pd.DataFrame,
    x: pd.DataFrame,
    test: pd.Series,
    y_test: npt.NDArray[np.float64],
    test_from: date,
    stages: PipelineConfig,
) -> Evaluation:
    """How `fitted` did on the `test` rows, against the stage probability on the same rows."""
    return score(
        fitted,
        y_test,
        fitted.predict(x[test]),
        stage_probability(rows.loc[test, "stage"], stages),
        ts(rows.loc[test, "as_of"]).to_numpy(),
        test_from,
        int(rows.loc[test, "opportunity_id"].nunique()),
    )


def stage_probability(stage: pd.Series, stages: PipelineConfig) -> npt.NDArray[np.float64]:
    """The configured probability (0–1) of each row's stage: the baseline the model must beat."""
    defaults = stage.map({s.name: s.probability / 100 for s in stages.stages})
    return np.asarray(defaults.fillna(0.0), dtype=np.float64)


def score(
    fitted: WinModel,
    y_test: npt.NDArray[np.float64],
    p_test: npt.NDArray[np.float64],
    stage_p: npt.NDArray[np.float64],
    order: npt.NDArray[np.datetime64],
    test_from: date,
    n_test_deals: int,
) -> Evaluation:
    """The evaluation from the test rows' outcomes, the model's and the stage's probabilities
    and their as-of dates, in row order (arrays: a caller may read the rows in pieces)."""
    from sklearn.metrics import brier_score_loss, roc_auc_score

    report = assess("win model", y_test, p_test, order)
    return Evaluation(
        model=fitted,
        test_from=test_from,
        n_test_rows=len(y_test),
        n_test_deals=n_test_deals,
        auc=float(roc_auc_score(y_test, p_test)),
        brier=float(brier_score_loss(y_test, p_test)),
        base_brier=float(brier_score_loss(y_test, np.full(len(y_test), fitted.base_rate))),
        stage_auc=float(roc_auc_score(y_test, stage_p)),
        calibration=calibration_table(y_test, p_test),
        reliability=report,
        verdict=versus_baseline(report, y_test, p_test, stage_p, order, "the stage probability"),
    )


def evaluate(
    rows: pd.DataFrame,
    x: pd.DataFrame,
    cfg: WinModelConfig,
    stages: PipelineConfig,
    data_end: date,
    fit_model: StartFit = start_fit,
) -> Evaluation:
    """`start_evaluate`, waited for."""
    return start_evaluate(rows, x, cfg, stages, data_end, fit_model)()
