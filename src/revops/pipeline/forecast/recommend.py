"""One forecast call: the method (or blend) that was least wrong at this point of past quarters.

The methods disagree on purpose, so a leader needs one number and the reason for it. For each
phase of the quarter (early, mid, late: the thirds of `features.place`) the candidates are every
method and every equal-weight blend of two methods; the candidate with the lowest mean absolute
percentage error over the backtest's weeks in that phase is the recommendation. Its band comes
from the same errors: with error e = (forecast − actual) / actual, the actual is forecast / (1 + e),
so the `band_quantiles` of e bound what the quarter is likely to close at.

The choice is judged out of time as well: `walk_forward` replays it quarter by quarter, each
time choosing only on quarters before the one scored, and adds its weekly errors to the backtest
as the method "recommended", so its MAPE and bias sit beside every method's.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd

from revops.pipeline.forecast.features import PHASES

RECOMMENDED = "recommended"


def phase_of(as_of: pd.Series, period_start: pd.Series, period_end: pd.Series) -> pd.Series:
    """early / mid / late: which third of the period each as-of date falls in (as `place`)."""
    start, end = pd.to_datetime(period_start), pd.to_datetime(period_end)
    length = (end - start).dt.days + 1
    elapsed = ((pd.to_datetime(as_of) - start).dt.days + 1).clip(lower=0) / length
    return pd.Series(np.array(PHASES)[np.clip((elapsed * 3).astype(int), 0, 2)], index=as_of.index)


def candidates(weekly: pd.DataFrame) -> pd.DataFrame:
    """Each method's weekly forecasts plus every two-method equal-weight blend ('a+b')."""
    keys = ["period_start", "as_of"]
    wide = weekly.pivot_table(index=keys, columns="method", values="forecast", sort=False)
    methods = [m for m in dict.fromkeys(weekly["method"]) if m != RECOMMENDED]
    for a, b in combinations(methods, 2):
        wide[f"{a}+{b}"] = (wide[a] + wide[b]) / 2
    long = wide.reset_index().melt(id_vars=keys, var_name="method", value_name="forecast")
    facts = weekly.drop_duplicates(keys)[[*keys, "period_end", "quarter", "actual"]]
    out = long.dropna(subset=["forecast"]).merge(facts, on=keys, how="left")
    out["error_pct"] = (out["forecast"] - out["actual"]) / out["actual"]
    out["phase"] = phase_of(out["as_of"], out["period_start"], out["period_end"])
    return out


@dataclass(frozen=True)
class Choice:
    """The candidate chosen for one phase, the evidence, and the band its errors give."""

    phase: str
    method: str
    mape: float
    bias: float
    weeks: int
    quarters: int
    error_low: float  # band_quantiles[0] of the chosen candidate's errors
    error_high: float
    runner_up: str
    runner_up_mape: float

    def band(self, forecast: float) -> tuple[float, float]:
        """What the period is likely to close at, given this candidate's forecast."""

        def bound(e: float) -> float:
            return forecast / (1 + e) if e > -1 else float("inf")

        return bound(self.error_high), bound(self.error_low)

    def reason(self) -> str:
        return (
            f"{self.method} had the lowest mean absolute error in the {self.phase} third of "
            f"{self.quarters} backtested quarter(s) ({self.weeks} weekly forecasts): MAPE "
            f"{self.mape:.1%}, bias {self.bias:+.1%}; next best {self.runner_up} "
            f"{self.runner_up_mape:.1%}"
        )


def choose(cands: pd.DataFrame, quantiles: tuple[float, float]) -> dict[str, Choice]:
    """Per phase, the candidate with the lowest MAPE (ties: the earlier candidate)."""
    out: dict[str, Choice] = {}
    for phase, part in cands.groupby("phase", sort=False):
        g = part.groupby("method", sort=False)["error_pct"]
        score = pd.DataFrame({"mape": g.apply(lambda e: e.abs().mean()), "bias": g.mean()})
        score = score.sort_values("mape", kind="stable")
        best = str(score.index[0])
        errors = part.loc[part["method"] == best, "error_pct"]
        lo, hi = (float(v) for v in np.quantile(errors, quantiles))
        second = score.iloc[1] if len(score) > 1 else score.iloc[0]
        out[str(phase)] = Choice(
            phase=str(phase),
            method=best,
            mape=float(score.iloc[0]["mape"]),
            bias=float(score.iloc[0]["bias"]),
            weeks=len(errors),
            quarters=int(part["quarter"].nunique()),
            error_low=lo,
            error_high=hi,
            runner_up=str(score.index[1] if len(score) > 1 else best),
            runner_up_mape=float(second["mape"]),
        )
    return out


def walk_forward(weekly: pd.DataFrame, quantiles: tuple[float, float]) -> pd.DataFrame:
    """The recommendation's own weekly backtest rows, each quarter chosen on earlier ones only.

    The first backtested quarter has nothing earlier to choose on and gets no row; a phase never
    seen before is skipped the same way.
    """
    cands = candidates(weekly)
    quarters = sorted(cands["period_start"].unique())
    rows = []
    for q in quarters[1:]:
        picks = choose(cands[cands["period_start"] < q], quantiles)
        now = cands[cands["period_start"] == q]
        chosen = now["phase"].map({p: c.method for p, c in picks.items()})
        rows.append(now[now["method"] == chosen].assign(chosen=lambda f: f["method"]))
    if not rows:
        return weekly.iloc[0:0].assign(phase="", chosen="")
    out = pd.concat(rows, ignore_index=True).assign(method=RECOMMENDED)
    out["abs_pct_error"] = out["error_pct"].abs()
    extra = [c for c in weekly.columns if c not in out.columns]
    facts = weekly.drop_duplicates(["period_start", "as_of"])[["period_start", "as_of", *extra]]
    out = out.merge(facts, on=["period_start", "as_of"], how="left")
    return out[[*weekly.columns, "phase", "chosen"]]


@dataclass(frozen=True)
class Call:
    """The recommended call for a period as of a date, with its band and reasoning."""

    phase: str
    method: str
    forecast: float
    low: float
    high: float
    reason: str
    caveat: str = ""


def recommend(
    totals: dict[str, float], phase: str, picks: dict[str, Choice], days_ahead: int = 0
) -> Call | None:
    """The call from today's method totals, using the candidate chosen for today's phase.

    A period that has not started (`days_ahead` > 0) gets the early-third choice with a caveat:
    the backtest scores forecasts from a quarter's first day on, so for a forecast made ahead
    of it the band is narrower than the error to expect.
    """
    choice = picks.get(phase)
    if choice is None:
        return None
    parts = choice.method.split("+")
    if any(p not in totals for p in parts):
        return None
    value = float(np.mean([totals[p] for p in parts]))
    low, high = choice.band(value)
    caveat = (
        f"the period starts in {days_ahead} day(s): the backtest scored forecasts made from a "
        "quarter's first day on, so this band understates the error of a forecast made ahead"
        if days_ahead > 0
        else ""
    )
    return Call(phase, choice.method, value, low, high, choice.reason(), caveat)
