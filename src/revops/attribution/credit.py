"""Credits per touch for any model: the rows stored in `attribution_credits`.

Rule-based models weight each converting journey's touches (rules.py). The data-driven models
are fitted on all journeys (converting and not) at channel level, then each conversion is
shared among the distinct channels of its own journey in proportion to the model's channel
weight, and a channel's share is split equally over its touches in that journey:

* Shapley: equal weights per distinct channel. For v(S) = conversions of journeys whose channel
  set is a subset of S this is exactly each journey's Shapley share.
* Markov: weights are the channels' removal effects (of conversions for `credit`, of value for
  `revenue_credit`).

Those shares place credit on touches; the model decides how much each channel gets. So every
channel's touch credits are then scaled to sum to the model's own channel credit
(`conversions` for `credit`, `value` for `revenue_credit`, of MarkovResult or ShapleyResult):
summed per channel the stored rows are the chain's (or the Shapley values') figures, which
`revops attribution run` prints. For exact Shapley the scale is 1; for Markov a conversion's
credits sum to about, not exactly, 1, and the total over all conversions is still their
number. A channel the chain credits but that has no touch in a converting journey (it only
leads walks towards converting states) has nowhere to put its credit: `unplaced` names it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from revops.attribution import rules
from revops.attribution.counts import FitCounts
from revops.attribution.markov import MarkovResult, markov, markov_counts
from revops.attribution.paths import Paths
from revops.attribution.shapley import ShapleyResult, shapley, shapley_counts
from revops.config.attribution import DATA_DRIVEN_MODELS, RULE_MODELS, AttributionConfig

CREDIT_COLUMNS = [
    "conversion_id",
    "entity_id",
    "person_id",
    "account_id",
    "touchpoint_id",
    "channel",
    "campaign_id",
    "occurred_at",
    "converted_at",
]


def _rule_weights(conv: pd.DataFrame, model: str, cfg: AttributionConfig) -> np.ndarray:
    out = np.empty(len(conv))
    ch = conv["channel"].astype(str).to_numpy()
    days = conv["days_before"].to_numpy(dtype=np.float64)
    is_lead = conv["is_lead"].to_numpy(dtype=bool)
    is_opp = conv["is_opp"].to_numpy(dtype=bool)
    starts = np.flatnonzero(conv["pos"].to_numpy() == 0)
    ends = np.append(starts[1:], len(conv))
    for a, b in zip(starts, ends, strict=True):
        lead = np.flatnonzero(is_lead[a:b])
        opp = np.flatnonzero(is_opp[a:b])
        t = rules.Touches(
            list(ch[a:b]),
            days[a:b],
            int(lead[0]) if len(lead) else None,
            int(opp[0]) if len(opp) else None,
        )
        out[a:b] = rules.weights(model, t, cfg)
    return out


def _channel_weighted(conv: pd.DataFrame, weight: Callable[[str], float]) -> np.ndarray:
    """Per-touch credits: each journey's distinct channels share 1 by `weight`, split per touch."""
    ch = conv["channel"].astype(str)
    key = conv["conversion_id"]
    touches_of = conv.groupby([key, ch], sort=False)["pos"].transform("size").to_numpy()
    w = ch.map(weight).astype(float).to_numpy()
    first = ~pd.DataFrame({"k": key, "c": ch}).duplicated().to_numpy()
    total = pd.Series(np.where(first, w, 0.0)).groupby(key.to_numpy()).transform("sum").to_numpy()
    n_distinct = pd.Series(first.astype(float)).groupby(key.to_numpy()).transform("sum")
    equal = 1.0 / n_distinct.to_numpy()
    share = np.where(total > 0, w / np.where(total > 0, total, 1.0), equal)
    return np.asarray(share / touches_of, dtype=np.float64)


def fit(
    data: Paths | FitCounts, model: str, cfg: AttributionConfig
) -> MarkovResult | ShapleyResult | None:
    """The channel-level fit of a data-driven model over every journey, converted or not: their
    counts as the warehouse makes them (counts.fit_counts) or their paths (hand-made journeys,
    tests); None for rule-based models."""
    sampling = (cfg.shapley_exact_max_channels, cfg.shapley_samples, cfg.seed)
    if isinstance(data, FitCounts):
        if model == "markov":
            return markov_counts(data)
        if model == "shapley":
            return shapley_counts(data, *sampling)
        return None
    if model == "markov":
        return markov(data, cfg.markov_order)
    if model == "shapley":
        return shapley(data, *sampling)
    return None


def credits(
    journeys: pd.DataFrame,
    model: str,
    cfg: AttributionConfig,
    fitted: MarkovResult | ShapleyResult | None = None,
) -> pd.DataFrame:
    """Per-touch credits of `model` for every converting journey. A rule-based model's credits
    of each conversion sum to 1; a data-driven model's sum per channel to its channel credits
    (`fitted`, its `fit`)."""
    conv = journeys[journeys["converted"].astype(bool)].reset_index(drop=True)
    if model in RULE_MODELS:
        w = v = _rule_weights(conv, model, cfg)
    elif model in DATA_DRIVEN_MODELS:
        if fitted is None:
            raise ValueError(f"credits of {model!r} need its fit")
        if isinstance(fitted, MarkovResult):
            effects = dict(zip(fitted.channels, fitted.removal_effects, strict=True))
            values = dict(zip(fitted.channels, fitted.value_removal_effects, strict=True))
            w = _channel_weighted(conv, lambda c: float(effects.get(c, 0.0)))
            v = _channel_weighted(conv, lambda c: float(values.get(c, 0.0)))
        else:
            w = v = _channel_weighted(conv, lambda c: 1.0)
    else:
        raise ValueError(f"unknown attribution model {model!r}")
    revenue = v * conv["revenue"].to_numpy(dtype=np.float64)
    if isinstance(fitted, MarkovResult | ShapleyResult):
        w = _to_channel_totals(conv["channel"], w, _totals(fitted, "conversions"))
        revenue = _to_channel_totals(conv["channel"], revenue, _totals(fitted, "value"))
    out = conv[CREDIT_COLUMNS].copy()
    out["model"] = model
    out["credit"] = w
    out["revenue_credit"] = revenue
    return out


def _totals(fitted: MarkovResult | ShapleyResult, which: str) -> dict[str, float]:
    values = getattr(fitted, which)
    return {c: float(v) for c, v in zip(fitted.channels, values, strict=True)}


def _to_channel_totals(
    channel: pd.Series, share: np.ndarray, totals: dict[str, float]
) -> np.ndarray:
    """`share` rescaled so each channel's touches sum to its total (0 where it has no share)."""
    key = channel.astype(str).to_numpy()
    sums = pd.Series(share).groupby(key).transform("sum").to_numpy()
    target = pd.Series(key).map(totals).fillna(0.0).to_numpy(dtype=np.float64)
    scaled = share * target / np.where(sums > 0, sums, 1.0)
    return np.asarray(np.where(sums > 0, scaled, 0.0), dtype=np.float64)


def unplaced(
    credited: Mapping[str, float], fitted: MarkovResult | ShapleyResult
) -> dict[str, float]:
    """Channels the model credits (conversions) that no stored touch carries, with the amount;
    `credited`: the conversions the stored touches carry per channel (`Placed.by`'s)."""
    out = {}
    for c, total in _totals(fitted, "conversions").items():
        if total > 0 and float(credited.get(c, 0.0)) == 0.0:
            out[c] = total
    return out
