"""Calibration of probability models, measured on a later period and mended when it is off.

AUC says whether a model ranks well; a revenue leader multiplies its probabilities by money
(ARR at risk, weighted pipeline), so they must also mean what they say. For every probability
model the engines report, on rows later than anything the model trained on:

- the Brier score, mean (p − y)², against the base rate's;
- the expected calibration error (ECE): Σ_b n_b / N × |observed_b − predicted_b| over ten
  equal-width bins of predicted probability;
- the reliability table behind the ECE.

Recalibration is honest only out of time, so the later rows are split in time order: the first
half (the calibration slice) decides whether the model needs mending (ECE above
`ECE_THRESHOLD` and above what chance alone gives a calibrated model on that many rows: the
95th percentile of ECE over outcomes drawn from the model's own probabilities, so a small slice
is not "mended" into noise) and fits the mapping (isotonic regression, or Platt's logistic fit
on the log-odds when the slice is small); the second half (the evaluation slice) is scored
before and after. The mapping then applies to every prediction the model makes.

A model must also earn its place against the rule or heuristic it replaces (the lead rule
score, the health score, the stage probability): `versus_baseline` turns the baseline into a
probability with a monotone map fitted on the same calibration slice, so both sides get the
same chance to be calibrated, and compares them on the evaluation slice. The model is kept
only when it ranks better (higher AUC) and its probabilities are no worse (Brier no higher);
otherwise it is withheld, and the engine that would use it falls back to the baseline's
probability and says so, unless the operating model names it as used anyway.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

Array = npt.NDArray[np.float64]
ECE_THRESHOLD = 0.02
BINS = 10
_ISOTONIC_FROM = 1_000  # rows in the calibration slice needed for isotonic; fewer → Platt
_EPS = 1e-6
_CHANCE_DRAWS = 200


def brier(y: Sequence[float] | Array, p: Sequence[float] | Array) -> float:
    """Mean squared difference between probability and outcome (0 is perfect)."""
    yy, pp = np.asarray(y, float), np.asarray(p, float)
    return float(np.mean((pp - yy) ** 2))


def _bins(p: Array, bins: int) -> npt.NDArray[np.int64]:
    """Equal-width bins over [0, 1]; a probability of exactly 1 falls in the top bin."""
    return np.minimum((p * bins).astype(np.int64), bins - 1)


def reliability(
    y: Sequence[float] | Array, p: Sequence[float] | Array, bins: int = BINS
) -> pd.DataFrame:
    """Rows, mean predicted and observed rate per non-empty bin of predicted probability."""
    yy, pp = np.asarray(y, float), np.asarray(p, float)
    b = _bins(pp, bins)
    frame = pd.DataFrame({"bin": b, "y": yy, "p": pp})
    g = frame.groupby("bin").agg(
        rows=("y", "size"), predicted=("p", "mean"), observed=("y", "mean")
    )
    g = g.reset_index()
    g.insert(1, "range", [f"{k / bins:.1f}–{(k + 1) / bins:.1f}" for k in g["bin"]])
    g["gap"] = g["observed"] - g["predicted"]
    return g


def ece(y: Sequence[float] | Array, p: Sequence[float] | Array, bins: int = BINS) -> float:
    """Expected calibration error: the row-weighted mean |observed − predicted| over bins."""
    table = reliability(y, p, bins)
    if table.empty:
        return float("nan")
    weight = table["rows"] / table["rows"].sum()
    return float((weight * (table["observed"] - table["predicted"]).abs()).sum())


Method = Literal["none", "isotonic", "platt", "logistic"]


@dataclass(frozen=True)
class Recalibrator:
    """A monotone map from a model's probability (or, for 'logistic' and a decreasing isotonic
    fit, a baseline's score on any scale) to a calibrated one (identity for 'none')."""

    method: Method
    fitted: Any = None

    def __call__(self, p: Sequence[float] | Array) -> Array:
        pp = np.asarray(p, float)
        if self.method == "none" or pp.size == 0:
            return pp
        if self.method == "isotonic":
            return np.asarray(self.fitted.predict(pp), float)
        if self.method == "logistic":
            return np.asarray(self.fitted.predict_proba(pp.reshape(-1, 1))[:, 1], float)
        return np.asarray(self.fitted.predict_proba(_logit(pp))[:, 1], float)


def _logit(p: Array) -> Array:
    q = np.clip(p, _EPS, 1 - _EPS)
    return np.log(q / (1 - q)).reshape(-1, 1)


def fit_recalibrator(y: Array, p: Array, method: Method | None = None) -> Recalibrator:
    """Isotonic regression with enough rows, else Platt scaling on the log-odds."""
    chosen: Method = method or ("isotonic" if len(y) >= _ISOTONIC_FROM else "platt")
    if chosen == "none" or len(set(np.asarray(y).tolist())) < 2:
        return Recalibrator("none")
    if chosen == "isotonic":
        from sklearn.isotonic import IsotonicRegression

        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        return Recalibrator("isotonic", iso.fit(p, y))
    from sklearn.linear_model import LogisticRegression

    return Recalibrator("platt", LogisticRegression(C=1e6).fit(_logit(p), y))


@dataclass(frozen=True)
class CalibrationReport:
    """How calibrated a model was on later rows, and after mending, if it needed it."""

    model: str
    rows_calibration: int
    rows_evaluation: int
    base_rate: float
    brier: float
    base_brier: float
    ece: float
    ece_calibration_slice: float
    ece_chance: float  # what chance alone gives a calibrated model on the calibration slice
    recalibrator: Recalibrator
    brier_after: float
    ece_after: float
    table: pd.DataFrame  # reliability of the raw model on the evaluation slice
    table_after: pd.DataFrame
    fitted_on: str = "probability"  # what the recalibrator maps (see `assess`'s `score`)

    @property
    def recalibrated(self) -> bool:
        return self.recalibrator.method != "none"

    @property
    def still_miscalibrated(self) -> bool:
        """Mended, yet the later rows still show more error than the threshold and chance allow:
        said in the summary so nobody reads its probabilities as rates unwarned."""
        return self.recalibrated and self.ece_after > max(ECE_THRESHOLD, self.ece_chance)

    def summary(self) -> str:
        """One line for a closing note or a CLI."""
        head = (
            f"{self.model}: Brier {self.brier:.4f} (base rate alone {self.base_brier:.4f}), "
            f"ECE {self.ece:.3f} on {self.rows_evaluation:,} later rows"
        )
        if not self.recalibrated:
            return head + (
                f"; kept: ECE {self.ece_calibration_slice:.3f} on the rows before is within "
                f"{ECE_THRESHOLD} or what chance gives a calibrated model ({self.ece_chance:.3f})"
            )
        mended = (
            f"; recalibrated ({self.recalibrator.method} on the {self.fitted_on}, fitted on the "
            f"{self.rows_calibration:,} rows before): Brier {self.brier_after:.4f}, "
            f"ECE {self.ece_after:.3f}"
        )
        if self.still_miscalibrated:
            mended += (
                f"; still above {ECE_THRESHOLD} and what chance gives ({self.ece_chance:.3f}): "
                "its probabilities rank well but are only approximate rates"
            )
        return head + mended


def chance_ece(p: Array, seed: int = 0, draws: int = _CHANCE_DRAWS) -> float:
    """The ECE a perfectly calibrated model would still show on these rows 95% of the time."""
    if p.size == 0:
        return float("nan")
    rng = np.random.default_rng(seed)
    # The bins, their rows and mean prediction depend on `p` alone: take them once from the
    # reliability table, then count each draw's outcomes per bin with `bincount` (exact for
    # 0/1 outcomes, so each ECE is the one `ece` gives, at a fraction of a groupby's cost).
    b = _bins(p, BINS)
    table = reliability(np.zeros(p.size), p)
    rows = table["rows"]
    weight = rows / rows.sum()
    sims = []
    for _ in range(draws):
        y = (rng.uniform(size=p.size) < p).astype(float)
        observed = np.bincount(b, weights=y, minlength=BINS)[table["bin"]] / rows.to_numpy()
        sims.append(float((weight * (observed - table["predicted"]).abs()).sum()))
    return float(np.quantile(sims, 0.95))


def assess(
    name: str,
    y: Sequence[float] | Array,
    p: Sequence[float] | Array,
    order: Sequence[Any] | npt.NDArray[Any],
    threshold: float = ECE_THRESHOLD,
    score: tuple[str, Sequence[float] | Array] | None = None,
) -> CalibrationReport:
    """Split later rows in time (`order`) into a calibration and an evaluation half; recalibrate
    on the first when its ECE exceeds `threshold`; score the second before and after.

    `score` (its name, and a value per row rising with `p`) is what the recalibration maps
    instead of `p`, by isotonic regression whatever the slice's size: for a model whose
    probability saturates (a Fellegi–Sunter weight of 20 and one of 40 are both 1.0 to within
    1e-6, so the log-odds Platt fits are clipped alike) while its score keeps the order, and
    takes few distinct values (one per comparison pattern), so the isotonic map is a step per
    value that a few hundred rows can fit. The recalibrator then takes that score (and when
    none was needed, the model's probability stands)."""
    yy, pp = np.asarray(y, float), np.asarray(p, float)
    fitted_on, ss = (
        ("probability", pp) if score is None else (score[0], np.asarray(score[1], float))
    )
    idx = np.argsort(np.asarray(order), kind="stable")
    half = len(idx) // 2
    cal, ev = idx[:half], idx[half:]
    cal_ece = ece(yy[cal], pp[cal]) if half else float("nan")
    chance = chance_ece(pp[cal])
    needs = half > 0 and cal_ece > max(threshold, chance)
    method: Method | None = None if score is None else "isotonic"
    rec = fit_recalibrator(yy[cal], ss[cal], method) if needs else Recalibrator("none")
    after = rec(ss[ev]) if rec.method != "none" else pp[ev]
    base = float(yy[cal].mean()) if half else float(yy.mean())
    return CalibrationReport(
        model=name,
        rows_calibration=int(half),
        rows_evaluation=len(ev),
        base_rate=base,
        brier=brier(yy[ev], pp[ev]),
        base_brier=brier(yy[ev], np.full(len(ev), base)),
        ece=ece(yy[ev], pp[ev]),
        ece_calibration_slice=cal_ece,
        ece_chance=chance,
        recalibrator=rec,
        brier_after=brier(yy[ev], after),
        ece_after=ece(yy[ev], after),
        table=reliability(yy[ev], pp[ev]),
        table_after=reliability(yy[ev], after),
        fitted_on=fitted_on,
    )


def fit_score_map(y: Array, score: Array) -> Recalibrator:
    """A baseline score (any scale, either direction) as a probability: isotonic regression
    with enough rows, else a logistic fit on the score."""
    ok = ~np.isnan(score)
    yy, ss = y[ok], score[ok]
    if len(set(yy.tolist())) < 2:
        return Recalibrator("none")
    if len(yy) >= _ISOTONIC_FROM:
        from sklearn.isotonic import IsotonicRegression

        iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing="auto", out_of_bounds="clip")
        return Recalibrator("isotonic", iso.fit(ss, yy))
    from sklearn.linear_model import LogisticRegression

    return Recalibrator("logistic", LogisticRegression(C=1e6).fit(ss.reshape(-1, 1), yy))


CRITERION = "kept only when its AUC is higher and its Brier no higher than the baseline's"


@dataclass(frozen=True)
class Verdict:
    """A model against its rule or heuristic baseline on the same later rows."""

    model: str
    baseline: str  # in words: "the rule score", "the health score", ...
    rows: int  # the evaluation slice both were judged on
    auc: float
    baseline_auc: float
    brier: float  # the model's, after its own recalibration
    baseline_brier: float  # the baseline's, through `baseline_map`
    baseline_map: Recalibrator  # baseline score → probability, fitted on the calibration slice
    base_rate: float  # the calibration slice's: the baseline's probability where it has no score

    def baseline_probability(self, score: Sequence[float] | Array) -> Array:
        """The baseline's probability for these scores: what is used when the model is not."""
        bb = np.asarray(score, float)
        if self.baseline_map.method == "none":
            return np.full(len(bb), self.base_rate)
        mapped = self.baseline_map(np.nan_to_num(bb, nan=0.0))
        return np.where(np.isnan(bb), self.base_rate, mapped)

    @property
    def withheld(self) -> bool:
        """Not better than the baseline out of time (NaN figures count as not better)."""
        return not (self.auc > self.baseline_auc and self.brier <= self.baseline_brier)

    def summary(self, overridden: bool = False, instead: str | None = None) -> str:
        """One line for a report: the figures, the criterion and what follows from it
        (`overridden`: the operating model says to use the model although withheld;
        `instead`: what happens instead, when it is not simply the baseline)."""
        figures = (
            f"AUC {self.auc:.3f} vs {self.baseline_auc:.3f}, Brier {self.brier:.4f} vs "
            f"{self.baseline_brier:.4f} for {self.baseline} on {self.rows:,} later rows"
        )
        if self.withheld:
            return (
                f"{self.model} WITHHELD: it does not beat {self.baseline} out of time ({figures};"
                f" {CRITERION}); "
                + (
                    "used anyway, as the operating model says (use_withheld)"
                    if overridden
                    else instead or f"{self.baseline} is used instead"
                )
            )
        return f"{self.model} beats {self.baseline} out of time ({figures})"


def _auc(y: Array, s: Array) -> float:
    from sklearn.metrics import roc_auc_score

    ok = ~np.isnan(s)
    if len(set(y[ok].tolist())) < 2:
        return float("nan")
    return float(roc_auc_score(y[ok], s[ok]))


def versus_baseline(
    report: CalibrationReport,
    y: Sequence[float] | Array,
    p: Sequence[float] | Array,
    baseline: Sequence[float] | Array,
    order: Sequence[Any] | npt.NDArray[Any],
    baseline_name: str,
    *,
    higher_is_positive: bool = True,
) -> Verdict:
    """Judge a model (its raw probabilities `p`, mended by `report`'s recalibrator) against a
    baseline score on the same rows and the same time split as `assess`.

    The baseline's AUC ranks its raw score (high first, or low first when
    `higher_is_positive` is False); its Brier is that of the score mapped to a probability on
    the calibration slice. Missing baseline scores are left out of its AUC and predicted at the
    calibration slice's base rate."""
    yy, pp, bb = np.asarray(y, float), np.asarray(p, float), np.asarray(baseline, float)
    idx = np.argsort(np.asarray(order), kind="stable")
    half = len(idx) // 2
    cal, ev = idx[:half], idx[half:]
    smap = fit_score_map(yy[cal], bb[cal])
    rate = float(yy[cal].mean()) if half else float(yy.mean())
    sign = 1.0 if higher_is_positive else -1.0
    verdict = Verdict(
        model=report.model,
        baseline=baseline_name,
        rows=len(ev),
        auc=_auc(yy[ev], pp[ev]),
        baseline_auc=_auc(yy[ev], sign * bb[ev]),
        brier=brier(yy[ev], report.recalibrator(pp[ev])),
        baseline_brier=float("nan"),
        baseline_map=smap,
        base_rate=rate,
    )
    mapped = verdict.baseline_probability(bb[ev])
    return replace(verdict, baseline_brier=brier(yy[ev], mapped))
