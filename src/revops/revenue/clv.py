"""Customer lifetime value for non-subscription revenue: BG/NBD with Gamma-Gamma.

Where revenue is not a subscription (one-off orders, usage top-ups) nobody announces a churn,
so lifetime is inferred: BG/NBD (Fader, Hardie & Lee 2005) models repeat purchases as Poisson
while "alive" (rates ~ Gamma(r, alpha)) and dropout after each purchase with probability
p ~ Beta(a, b); Gamma-Gamma (Fader, Hardie & Lee 2005, "RFM and CLV") models the spend per
order as Gamma with a Gamma-distributed scale (p, q, v), independent of purchase frequency.

Our own implementation: the standard log-likelihoods maximised with scipy over log-parameters,
and the closed-form predictions. It is checked against the `lifetimes` package on the CDNOW
data it ships (tests/revenue/test_clv.py and bench/revenue.py). Inputs follow lifetimes'
conventions: `frequency` = repeat purchases, `recency` = age at the last purchase, `T` = age at
the end of observation, in one time unit (e.g. weeks); `monetary_value` = mean repeat order value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.optimize import minimize
from scipy.special import betaln, gammaln, hyp2f1

Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class BgNbd:
    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float

    def expected_purchases(self, t: float, frequency: Array, recency: Array, T: Array) -> Array:
        """Expected repeat purchases in the next `t` periods, given each customer's history."""
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        x, tx = np.asarray(frequency, float), np.asarray(recency, float)
        T = np.asarray(T, float)
        z = t / (alpha + T + t)
        head = (a + b + x - 1) / (a - 1)
        body = 1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp2f1(
            r + x, b + x, a + b + x - 1, z
        )
        return np.asarray(
            head * body / (1 + (x > 0) * a / (b + x - 1) * ((alpha + T) / (alpha + tx)) ** (r + x))
        )

    def probability_alive(self, frequency: Array, recency: Array, T: Array) -> Array:
        x, tx = np.asarray(frequency, float), np.asarray(recency, float)
        T = np.asarray(T, float)
        ratio = ((self.alpha + T) / (self.alpha + tx)) ** (self.r + x)
        return np.asarray(1.0 / (1.0 + (x > 0) * self.a / (self.b + x - 1) * ratio))


@dataclass(frozen=True)
class GammaGamma:
    p: float
    q: float
    v: float
    log_likelihood: float

    def expected_spend(self, frequency: Array, monetary_value: Array) -> Array:
        """Conditional expected mean order value (falls back to the population mean at x = 0)."""
        x, m = np.asarray(frequency, float), np.asarray(monetary_value, float)
        return np.asarray(self.p * (self.v + x * m) / (self.p * x + self.q - 1))


def _bgnbd_nll(log_params: Array, x: Array, tx: Array, T: Array) -> float:
    r, alpha, a, b = np.exp(log_params)
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = betaln(a, b + x) - betaln(a, b)
    a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(
            x > 0,
            np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + tx),
            -np.inf,
        )
    return float(-(a1 + a2 + np.logaddexp(a3, a4)).sum())


def _gg_nll(log_params: Array, x: Array, m: Array) -> float:
    p, q, v = np.exp(log_params)
    ll = (
        gammaln(p * x + q) - gammaln(p * x) - gammaln(q) + q * np.log(v)
        + (p * x - 1) * np.log(m) + p * x * np.log(x) - (p * x + q) * np.log(x * m + v)
    )  # fmt: skip
    return float(-ll.sum())


def _fit(nll: object, start: Array, args: tuple[Array, ...]) -> tuple[Array, float]:
    best = minimize(
        nll,
        start,
        args=args,
        method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-10, "maxiter": 20_000},
    )
    polish = minimize(nll, best.x, args=args, method="L-BFGS-B")
    chosen = polish if polish.fun <= best.fun else best
    return np.exp(chosen.x), -float(chosen.fun)


def fit_bgnbd(frequency: Array, recency: Array, T: Array) -> BgNbd:
    """Maximum-likelihood BG/NBD parameters."""
    args = (np.asarray(frequency, float), np.asarray(recency, float), np.asarray(T, float))
    (r, alpha, a, b), ll = _fit(_bgnbd_nll, np.log([1.0, float(np.mean(args[2])), 1.0, 1.0]), args)
    return BgNbd(float(r), float(alpha), float(a), float(b), ll)


def fit_gamma_gamma(frequency: Array, monetary_value: Array) -> GammaGamma:
    """Maximum-likelihood Gamma-Gamma parameters over customers with repeat purchases."""
    x, m = np.asarray(frequency, float), np.asarray(monetary_value, float)
    keep = (x > 0) & (m > 0)
    (p, q, v), ll = _fit(_gg_nll, np.log([1.0, 1.0, 1.0]), (x[keep], m[keep]))
    return GammaGamma(float(p), float(q), float(v), ll)


def lifetime_value(
    bg: BgNbd,
    gg: GammaGamma,
    summary: pd.DataFrame,
    months: int = 12,
    discount_rate: float = 0.01,
    periods_per_month: float = 4.345,
) -> Array:
    """Discounted value over `months` months: expected purchases each month x expected spend.

    `discount_rate` is monthly; `periods_per_month` converts months to the data's time unit
    (4.345 for weeks, 30 for days), the same schedule `lifetimes` uses.
    """
    x, tx, T = (summary[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    spend = gg.expected_spend(x, summary["monetary_value"].to_numpy(float))
    value = np.zeros(len(summary))
    before = np.zeros(len(summary))
    for month in range(1, months + 1):
        now = bg.expected_purchases(month * periods_per_month, x, tx, T)
        value += spend * (now - before) / (1 + discount_rate) ** month
        before = now
    return value


def rfm_summary(
    transactions: pd.DataFrame,
    customer: str,
    time: str,
    amount: str,
    observation_end: pd.Timestamp,
    freq: Literal["D", "W"] = "W",
) -> pd.DataFrame:
    """frequency, recency, T and monetary_value per customer, exactly as `lifetimes` has them.

    Every date is first moved to the start of its period (a day, or a pandas week: Monday to
    Sunday), the observation end included; purchases in one period count once (their amounts
    add up); a purchase in the observation end's period counts even after the end day, as in
    `lifetimes.utils.summary_data_from_transaction_data`. The first period's purchase is the
    acquisition, neither a repeat nor part of the monetary value. recency and T are whole
    periods between period starts, so weekly figures are integers, as the BG/NBD fit expects.
    """
    unit_days = 7 if freq == "W" else 1

    def start(values: pd.Series) -> pd.Series:
        return pd.to_datetime(values).dt.to_period(freq).dt.start_time

    end = pd.Timestamp(observation_end).to_period(freq).start_time
    t = transactions[[customer, time, amount]].copy()
    t[time] = start(t[time])
    t = t[t[time] <= end]
    periods = pd.DataFrame(t.groupby([customer, time], as_index=False)[amount].sum())
    periods = periods.sort_values([customer, time])
    first = periods.groupby(customer)[time].transform("min")
    periods["repeat"] = periods[time] > first
    g = periods.groupby(customer)
    out = pd.DataFrame(
        {
            "frequency": g["repeat"].sum().astype(float),
            "recency": (g[time].max() - g[time].min()).dt.days / unit_days,
            "T": (end - g[time].min()).dt.days / unit_days,
        }
    )
    repeats = periods[periods["repeat"]].groupby(customer)[amount].mean()
    out["monetary_value"] = repeats.reindex(out.index).fillna(0.0)
    return out.astype(float)
