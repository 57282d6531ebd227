"""Predictive lead scoring: P(lead reaches SQL / Customer) learned from history.

Each row is a person at its time cut (created_at + `feature_days`), with features that only use
what was known then: firmographics, the rule scores per group and touch aggregates up to the
cut. The label is reaching one of the target stages in the `window_days` after the cut; persons
who got there before the cut are already decided and left out. The split is by time, never at
random: the test period is the last labelled leads by cut, and training leads are those whose
whole label window closed before the test period starts, so no training label peeks into it
(the convention of `revops.revenue.churn_model`). Gradient-boosted trees calibrated on
time-ordered folds, so a probability of 0.2 means about one in five such leads converts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from revops.config.scoring import ScoringConfig, Target
from revops.errors import RevOpsError
from revops.models.calibration import CalibrationReport, Verdict, assess, versus_baseline
from revops.scoring.rules import TimeArray, score_frame, to_naive_us

CATEGORICAL = ("industry", "country", "source", "title")
MIN_PER_CLASS = 10  # calibration folds each need both outcomes
_DAY = np.timedelta64(86_400_000_000, "us")


class ScoringError(RevOpsError):
    """The scoring model cannot be trained or applied on this data."""


@dataclass
class History:
    """What the warehouse knows: persons, touches, stage changes and the end of the data."""

    persons: pd.DataFrame
    touches: pd.DataFrame
    stages: pd.DataFrame  # person_id, to_stage, changed_at (naive µs)
    data_end: np.datetime64


def features(
    history: History, cfg: ScoringConfig, cut: TimeArray, categories: dict[str, list[str]]
) -> pd.DataFrame:
    """Model inputs per person as of its `cut`; categories are coded with the training levels."""
    p = history.persons
    scored = score_frame(p, history.touches, cfg, cut).frame
    out = scored.drop(columns=["person_id", "is_mql_ready"]).reset_index(drop=True)
    emp = pd.to_numeric(p["employees"], errors="coerce").to_numpy(float)
    out["log_employees"] = np.log1p(emp)
    for col in CATEGORICAL:
        text = p[col].astype("string").str.lower().reset_index(drop=True)
        codes = pd.Categorical(text, categories=categories[col]).codes.astype(float)
        out[col] = np.where(codes < 0, np.nan, codes)
    # Touch counts and recency up to the cut, from the same rows the rule score used.
    pos = {pid: i for i, pid in enumerate(p["person_id"].astype(str))}
    t = history.touches
    idx = t["person_id"].astype(str).map(pos).to_numpy(dtype=float, na_value=np.nan)
    ok = ~np.isnan(idx)
    ti = idx[ok].astype(np.int64)
    age = (cut[ti] - to_naive_us(t["occurred_at"])[ok]) / _DAY
    seen = age >= 0
    n = len(p)
    out["touches"] = np.bincount(ti[seen], minlength=n).astype(float)
    out["touches_14d"] = np.bincount(ti[seen & (age <= 14)], minlength=n).astype(float)
    last = np.full(n, np.inf)
    np.minimum.at(last, ti[seen], age[seen])
    out["days_since_touch"] = np.where(np.isinf(last), np.nan, last)
    return out


def learn_categories(persons: pd.DataFrame) -> dict[str, list[str]]:
    """Category levels (up to 200 most frequent per column) fixed at training time."""
    levels = {}
    for col in CATEGORICAL:
        counts = persons[col].astype("string").str.lower().value_counts()
        levels[col] = [str(v) for v in counts.index[:200]]
    return levels


def labels(
    history: History, target: Target, cut: TimeArray
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """(label, usable): 1 when a target stage is reached in (cut, cut + window].

    Not usable: the stage was reached at or before the cut (already decided), or the label
    window runs past the end of the data (outcome not yet observed).
    """
    p_ids = history.persons["person_id"].astype(str).to_numpy()
    st = history.stages[history.stages["to_stage"].isin(target.stages)]
    first = st.groupby("person_id")["changed_at"].min()
    reached = pd.Series(p_ids).map(first).to_numpy("datetime64[us]")
    window = np.timedelta64(target.window_days, "D").astype("m8[us]")
    has = ~np.isnat(reached)
    before = has & (reached <= cut)
    hit = has & (reached > cut) & (reached <= cut + window)
    observed = cut + window <= history.data_end
    return hit.astype(float), np.asarray(observed & ~before)


@dataclass(frozen=True)
class Split:
    """Which leads train and which test, with the boundaries that prove there is no leak."""

    train: npt.NDArray[np.bool_]
    test: npt.NDArray[np.bool_]
    test_from: np.datetime64
    train_window_end: np.datetime64  # last training cut + window: before test_from


def time_split(
    cut: TimeArray, usable: npt.NDArray[np.bool_], window_days: int, test_fraction: float
) -> Split:
    """Test on the last `test_fraction` of usable leads by cut; train on leads whose label
    window closed before the first test cut."""
    if not usable.any():
        raise ScoringError("no lead has an observed label window; the history is too short")
    ordered = np.sort(cut[usable])
    test_from = ordered[min(len(ordered) - 1, int(len(ordered) * (1 - test_fraction)))]
    window = np.timedelta64(window_days, "D").astype("m8[us]")
    test = usable & (cut >= test_from)
    train = usable & (cut + window < test_from)
    if not train.any():
        raise ScoringError(
            f"no training leads: the {window_days}-day label window of every lead before the "
            "test period runs into it; lower window_days or test_fraction"
        )
    return Split(train, test, test_from, cut[train].max() + window)


@dataclass
class FittedTarget:
    """One calibrated classifier and how it did on the later period it never saw."""

    target: str
    model: Any
    columns: list[str]
    split: dict[str, str]
    n_train: int
    n_test: int
    auc: float
    rule_auc: float  # AUC of the rule-based combined score on the same test leads
    deciles: list[dict[str, float]]
    threshold: dict[str, float]
    base_rate: float
    # Brier, ECE and reliability on the test leads, and the out-of-time recalibration (if the
    # ECE called for one); None in models stored before it was measured
    calibration: CalibrationReport | None = None
    # against the rule score on the same later leads; withheld models are not applied unless
    # the operating model says so (scoring.model.use_withheld)
    verdict: Verdict | None = None

    @property
    def withheld(self) -> bool:
        """Did not beat the rule score out of time (models stored before it was judged: no)."""
        v = getattr(self, "verdict", None)
        return v is not None and v.withheld

    def raw(self, x: pd.DataFrame) -> npt.NDArray[np.float64]:
        """The classifier's own probability, before any out-of-time recalibration."""
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):
            proba = self.model.predict_proba(x[self.columns].to_numpy(float))
        return np.asarray(proba[:, 1], dtype=np.float64)

    def predict(self, x: pd.DataFrame) -> npt.NDArray[np.float64]:
        """Calibrated probability: the raw one through the recalibration fitted out of time."""
        p = self.raw(x)
        report = getattr(self, "calibration", None)
        return p if report is None else report.recalibrator(p)


@dataclass
class TrainedModels:
    """Every target's model, the category levels and a version stamp, stored as one joblib."""

    version: str
    categories: dict[str, list[str]]
    targets: dict[str, FittedTarget] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def decile_table(y: npt.NDArray[np.float64], p: npt.NDArray[np.float64]) -> pd.DataFrame:
    """Conversion and lift per score decile (10 = highest scores); ties split by order."""
    rank = pd.Series(p).rank(method="first").to_numpy()
    dec = np.ceil(rank * 10 / len(p)).astype(int)
    frame = pd.DataFrame({"decile": dec, "y": y, "p": p})
    g = frame.groupby("decile").agg(
        leads=("y", "size"), converted=("y", "sum"), min_score=("p", "min"), max_score=("p", "max")
    )
    g["conversion_rate"] = g["converted"] / g["leads"]
    g["lift"] = g["conversion_rate"] / max(float(np.mean(y)), 1e-12)
    return g.reset_index().sort_values("decile", ascending=False)


def fit_target(
    x: pd.DataFrame,
    y: npt.NDArray[np.float64],
    cut: TimeArray,
    split: Split,
    combined: npt.NDArray[np.float64],
    ready: npt.NDArray[np.bool_],
    target: Target,
    cfg: ScoringConfig,
) -> FittedTarget:
    """Train on the early leads, calibrate on time-ordered folds, measure on the later ones."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import TimeSeriesSplit
    from threadpoolctl import threadpool_limits

    columns = list(x.columns)
    order = np.argsort(cut[split.train], kind="stable")
    x_train = x.to_numpy(float)[split.train][order]
    y_train = y[split.train][order]
    y_test = y[split.test]
    fewest = min(int(y_train.sum()), int(len(y_train) - y_train.sum()))
    if fewest < MIN_PER_CLASS or len(set(y_test)) < 2:
        raise ScoringError(
            f"not enough history for the {target.name} model: each outcome must occur at least "
            f"{MIN_PER_CLASS} times among the training leads ({fewest} did) and in the later "
            "test leads"
        )
    base = HistGradientBoostingClassifier(
        max_iter=150,
        learning_rate=0.05,
        max_leaf_nodes=15,
        min_samples_leaf=30,
        l2_regularization=1.0,
        categorical_features=[c in CATEGORICAL for c in columns],
        random_state=cfg.model.seed,
    )
    model = CalibratedClassifierCV(
        base, method=cfg.model.calibration, cv=TimeSeriesSplit(n_splits=3)
    )
    with threadpool_limits(1):  # small data: OpenMP threads cost more than they save
        try:
            model.fit(x_train, y_train)
        except ValueError as exc:  # a time fold without both outcomes
            raise ScoringError(f"cannot train the {target.name} model: {exc}") from None
        p_test = np.asarray(model.predict_proba(x.to_numpy(float)[split.test])[:, 1], float)
    above, below = ready[split.test], ~ready[split.test]
    threshold = {
        "mql_threshold": cfg.mql_threshold,
        "leads_above": float(above.sum()),
        "conversion_above": float(y_test[above].mean()) if above.any() else float("nan"),
        "leads_below": float(below.sum()),
        "conversion_below": float(y_test[below].mean()) if below.any() else float("nan"),
    }
    tcut = cut[split.test]
    # in lead-cut order: the earlier half decides and fits any recalibration, the later
    # half is scored before and after (revops.models.calibration)
    report = assess(f"{target.name} model", y_test, p_test, tcut)
    return FittedTarget(
        target=target.name,
        model=model,
        columns=columns,
        split={
            "train_cut_min": str(cut[split.train].min()),
            "train_cut_max": str(cut[split.train].max()),
            "train_window_end": str(split.train_window_end),
            "test_from": str(split.test_from),
            "test_cut_max": str(tcut.max()),
        },
        n_train=int(split.train.sum()),
        n_test=int(split.test.sum()),
        auc=float(roc_auc_score(y_test, p_test)),
        rule_auc=float(roc_auc_score(y_test, combined[split.test])),
        deciles=[
            {str(k): float(v) for k, v in r.items()}
            for r in decile_table(y_test, p_test).to_dict("records")
        ],
        threshold=threshold,
        base_rate=float(y_test.mean()),
        calibration=report,
        verdict=versus_baseline(
            report, y_test, p_test, combined[split.test], tcut, "the rule score"
        ),
    )


def train(history: History, cfg: ScoringConfig, version: str) -> TrainedModels:
    """Fit one model per target. The first target must train; later ones may be skipped
    (e.g. too few wins in a short history), with the reason kept for the report."""
    created = to_naive_us(history.persons["created_at"])
    cut = created + np.timedelta64(cfg.model.feature_days, "D").astype("m8[us]")
    categories = learn_categories(history.persons)
    x = features(history, cfg, cut, categories)
    rule = score_frame(history.persons, history.touches, cfg, cut).frame
    combined = rule["combined"].to_numpy(float)
    ready = rule["is_mql_ready"].to_numpy(bool)
    out = TrainedModels(version, categories)
    for i, target in enumerate(cfg.model.targets):
        y, usable = labels(history, target, cut)
        try:
            split = time_split(cut, usable, target.window_days, cfg.model.test_fraction)
            out.targets[target.name] = fit_target(x, y, cut, split, combined, ready, target, cfg)
        except ScoringError as exc:
            if i == 0:
                raise
            out.skipped[target.name] = str(exc)
    return out
