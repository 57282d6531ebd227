"""Credits per touch for any model: the rows stored in `attribution_credits`.

Rule-based models weight each converting journey's touches (rules.py). The data-driven models
are fitted on all journeys (converting and not) at channel level, then each conversion is
shared among the distinct channels of its own journey in proportion to the model's channel
weight, and a channel's share is split equally over its touches in that journey:

* Shapley: equal weights per distinct channel. For v(S) = conversions of journeys whose channel
  set is a subset of S this is exactly each journey's Shapley share, so per-channel sums of the
  stored credits equal the Shapley values.
* Markov: weights are the channels' removal effects. The stored credits of a conversion sum to 1
  like every model's, and their per-channel sums are close to, but not the same as, the chain's
  own per-channel credits (`MarkovResult.conversions`), which `revops attribution run` prints.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa

from revops.attribution import rules
from revops.attribution.markov import MarkovResult, markov
from revops.attribution.paths import Paths
from revops.attribution.shapley import ShapleyResult, shapley
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


def journey_paths(journeys: pd.DataFrame) -> Paths:
    """One path per journey (channels in time order), converted or not, with its revenue."""
    heads = journeys[journeys["pos"] == 0]
    offsets = np.flatnonzero(journeys["pos"].to_numpy() == 0)
    arr = pa.ListArray.from_arrays(
        pa.array(np.append(offsets, len(journeys)), pa.int32()),
        pa.array(journeys["channel"].astype(str).to_numpy(), pa.string()),
    )
    converted = heads["converted"].to_numpy(dtype=bool)
    return Paths.from_arrow(
        arr,
        converted.astype(np.float64),
        (~converted).astype(np.float64),
        np.where(converted, heads["revenue"].to_numpy(dtype=np.float64), 0.0),
    )


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
    journeys: pd.DataFrame, model: str, cfg: AttributionConfig
) -> MarkovResult | ShapleyResult | None:
    """The channel-level fit of a data-driven model (None for rule-based models)."""
    if model == "markov":
        return markov(journey_paths(journeys), cfg.markov_order)
    if model == "shapley":
        return shapley(journey_paths(journeys), cfg.shapley_exact_max_channels, cfg.shapley_samples)
    return None


def credits(
    journeys: pd.DataFrame,
    model: str,
    cfg: AttributionConfig,
    fitted: MarkovResult | ShapleyResult | None = None,
) -> pd.DataFrame:
    """Per-touch credits of `model` for every converting journey; each conversion sums to 1."""
    conv = journeys[journeys["converted"].astype(bool)].reset_index(drop=True)
    if model in RULE_MODELS:
        w = _rule_weights(conv, model, cfg)
    elif model in DATA_DRIVEN_MODELS:
        fitted = fitted or fit(journeys, model, cfg)
        if isinstance(fitted, MarkovResult):
            effects = dict(zip(fitted.channels, fitted.removal_effects, strict=True))
            w = _channel_weighted(conv, lambda c: float(effects.get(c, 0.0)))
        else:
            w = _channel_weighted(conv, lambda c: 1.0)
    else:
        raise ValueError(f"unknown attribution model {model!r}")
    out = conv[CREDIT_COLUMNS].copy()
    out["model"] = model
    out["credit"] = w
    out["revenue_credit"] = w * conv["revenue"].to_numpy(dtype=np.float64)
    return out
