"""Churn risk (and, with another label, expansion propensity) learned from history.

Each row is an account at a month end, with the health signals and score as they stood then,
plus MRR, tenure and the MRR change over the last 3 months. The label is whether the account
churned (or expanded) within the next `horizon` months. The split is by time, never at random:
the model trains on snapshots whose whole label window ends before the test period starts, and
is scored on the later months it never saw, so its AUC is what it would have achieved in
production. Gradient-boosted trees, calibrated with isotonic regression on time-ordered folds;
that is not enough out of time (the base rate drifts), so the test months are also judged by
`revops.models.calibration`: the earlier half fits a recalibration when its ECE exceeds 0.02,
the later half reports Brier, ECE and the reliability table before and after, and every
prediction (hence ARR at risk) goes through the mapping, so 0.3 means about 30% churn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from revops.config.revenue import SIGNALS
from revops.models.calibration import CalibrationReport, Verdict, assess, versus_baseline
from revops.revenue.errors import RevenueError
from revops.revenue.signals import month_index

FEATURES = (*SIGNALS, "score", "trend_3m", "log_mrr", "tenure", "mrr_change_3m")


@dataclass(frozen=True)
class FittedModel:
    """A calibrated classifier, the months it was trained and tested on, and its test AUC."""

    model: Any
    label: str
    train_until: int  # last month index of training snapshots
    test_from: int  # first month index of test snapshots
    auc: float
    baseline_auc: float  # AUC of the health score alone on the same test rows
    n_train: int
    n_test: int
    calibration: CalibrationReport | None = None
    verdict: Verdict | None = None  # against the health score on the same later months

    @property
    def withheld(self) -> bool:
        """Did not beat the health score out of time."""
        return self.verdict is not None and self.verdict.withheld

    def probability(
        self, rows: pd.DataFrame, use_withheld: bool = False
    ) -> npt.NDArray[np.float64]:
        """What the engine uses: the model's calibrated probability, or, when the model is
        withheld and not named in revenue.use_withheld, the health score's."""
        if self.verdict is not None and self.withheld and not use_withheld:
            return self.verdict.baseline_probability(rows["score"].to_numpy(float))
        return self.predict(rows)

    def source(self, use_withheld: bool = False) -> str:
        """In words, whose probability `probability` returns and why, so that a list built on
        it never credits a model that was not used."""
        if self.verdict is not None and self.withheld and not use_withheld:
            return (
                f"{self.label} probability from the health score: the {self.label} model is "
                "withheld (it does not beat the health score out of time)"
            )
        if self.withheld:
            return (
                f"{self.label} model (withheld, used as revenue.use_withheld says): risk from "
                "MRR, tenure and trend"
            )
        return f"{self.label} model: risk from MRR, tenure and trend"

    def raw(self, rows: pd.DataFrame) -> npt.NDArray[np.float64]:
        """The classifier's own probability, before any out-of-time recalibration."""
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):
            proba = self.model.predict_proba(features(rows, slice(None)))
        return np.asarray(proba[:, 1])

    def predict(self, rows: pd.DataFrame) -> npt.NDArray[np.float64]:
        """Calibrated probability: the raw one through the recalibration fitted out of time."""
        p = self.raw(rows)
        return p if self.calibration is None else self.calibration.recalibrator(p)


def features(rows: pd.DataFrame, at: npt.NDArray[np.intp] | slice) -> npt.NDArray[np.float64]:
    """The FEATURES of the rows at positions `at`, as a float matrix built column by column
    from those rows only: `rows[list(FEATURES)]` would copy every row's features twice (the
    frame, then its matrix) before a subset was taken."""
    return np.column_stack([rows[name].to_numpy(float)[at] for name in FEATURES])


def labels(
    snapshots: pd.DataFrame, movements: pd.DataFrame, movement: str, horizon: int
) -> pd.Series:
    """1 when the account has `movement` in the `horizon` months after the snapshot month.

    Snapshots whose label window runs past the last snapshot month (the end of the data) are
    NaN: not yet known, so neither trained on nor tested.
    """
    snap = month_index(snapshots["month"])
    ev = movements[movements["movement"] == movement]
    ev_idx = pd.DataFrame(
        {"account_id": ev["account_id"].to_numpy(), "m": month_index(ev["month"])}
    )
    hit = np.zeros(len(snapshots), dtype=bool)
    frame = pd.DataFrame(
        {"account_id": snapshots["account_id"].to_numpy(), "s": snap, "i": np.arange(len(snap))}
    )
    joined = frame.merge(ev_idx, on="account_id")
    ok = (joined["m"] > joined["s"]) & (joined["m"] <= joined["s"] + horizon)
    hit[joined.loc[ok, "i"].to_numpy()] = True
    last = int(snap.max())
    out = pd.Series(hit.astype(float), index=snapshots.index)
    out[snap + horizon > last] = np.nan
    return out


def fit(
    rows: pd.DataFrame,
    label: pd.Series,
    horizon: int,
    *,
    test_months: int = 6,
    seed: int = 0,
    low_score_is_positive: bool = True,
) -> FittedModel:
    """Train on the early months, test on the last `test_months` labelled months.

    Training snapshots end `horizon` months before the test period, so no training label
    peeks into it. The health-score baseline ranks low scores first for churn
    (`low_score_is_positive`) and high scores first for expansion.
    """
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import TimeSeriesSplit
    from threadpoolctl import threadpool_limits

    known = np.flatnonzero(label.notna().to_numpy())  # positions of the labelled snapshots
    y = label.to_numpy()[known].astype(int)
    midx = month_index(rows["month"])[known]
    test_from = int(midx.max()) - test_months + 1
    train_until = test_from - horizon - 1
    train, test = midx <= train_until, midx >= test_from
    order = np.argsort(midx[train], kind="stable")
    x_train = features(rows, known[train][order])
    x_test = features(rows, known[test])
    y_train = y[train][order]
    if len(set(y_train)) < 2 or len(set(y[test])) < 2:
        raise RevenueError(
            f"not enough history for the {label.name} model: both outcomes must occur in the "
            "training months and in the later test months"
        )
    base = HistGradientBoostingClassifier(
        max_iter=120,
        learning_rate=0.08,
        max_leaf_nodes=15,
        l2_regularization=1.0,
        random_state=seed,
    )
    model = CalibratedClassifierCV(base, method="isotonic", cv=TimeSeriesSplit(n_splits=3))
    # One thread: the data are small, and OpenMP threads spinning on a busy machine cost far
    # more than they save.
    with threadpool_limits(1):
        model.fit(x_train, y_train)
    y_test = y[test]
    with threadpool_limits(1):
        p_test = np.asarray(model.predict_proba(x_test)[:, 1], float)
    auc = float(roc_auc_score(y_test, p_test))
    report = assess(f"{label.name} model", y_test.astype(float), p_test, midx[test])
    sign = -1.0 if low_score_is_positive else 1.0
    score_test = rows["score"].to_numpy(float)[known[test]]
    baseline = float(roc_auc_score(y_test, sign * score_test))
    verdict = versus_baseline(
        report,
        y_test.astype(float),
        p_test,
        score_test,
        midx[test],
        "the health score",
        higher_is_positive=not low_score_is_positive,
    )
    return FittedModel(
        model,
        str(label.name),
        train_until,
        test_from,
        auc,
        baseline,
        int(train.sum()),
        int(test.sum()),
        report,
        verdict,
    )
