"""revops against ChannelAttribution (Altomare) on the same journeys.

ChannelAttribution estimates Markov removal effects by simulation, so its per-channel results
move between seeds; the exact values must sit inside the range of 10 seeds and within 1% of
their mean. Seeds are 0, 100, …, 900: each run simulates `nfold` folds seeded seed + fold, so
consecutive seeds would share nine of their ten folds and not be independent.

`max_step=100`: by default ChannelAttribution stops a simulated walk after the longest observed
path and counts it as not converting, a truncation of the chain (about 1.4% on this data for
the most frequent channel) that the exact solution does not make. Its heuristic models are
exact and must match ours to 1e-9.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pandas as pd
import pytest

with contextlib.redirect_stdout(io.StringIO()):  # it prints a banner on import
    import ChannelAttribution as ca

from revops.attribution.markov import markov
from revops.attribution.paths import Paths
from revops.attribution.rules import Touches, weights
from revops.config.attribution import AttributionConfig


@pytest.fixture(scope="module")
def journeys() -> pd.DataFrame:
    """2,000 journeys over five channels; journeys with channel e convert more often."""
    rng = np.random.default_rng(11)
    rows = []
    for _ in range(2000):
        p = rng.choice(list("abcde"), int(rng.integers(1, 6)), p=[0.3, 0.25, 0.2, 0.15, 0.1])
        conv = int(rng.random() < 0.2 + 0.3 * ("e" in p))
        rows.append((" > ".join(p), conv, 1 - conv, conv * float(rng.integers(10, 100))))
    df = pd.DataFrame(rows, columns=["path", "conv", "null", "value"])
    return df.groupby("path", as_index=False).sum()


@pytest.mark.parametrize("order", [1, 2])
def test_markov_agrees_with_simulation(journeys: pd.DataFrame, order: int) -> None:
    ours = markov(
        Paths.from_strings(journeys["path"], journeys["conv"], journeys["null"], journeys["value"]),
        order,
    )
    runs = []
    for seed in range(10):
        res = ca.markov_model(
            journeys,
            "path",
            "conv",
            var_null="null",
            order=order,
            nsim_start=1e6,
            max_step=100,
            seed=100 * seed,
            verbose=False,
            flg_pro=False,
        )
        runs.append(res.set_index("channel_name")["total_conversions"])
    sims = pd.concat(runs, axis=1)
    for ch, exact in zip(ours.channels, ours.conversions, strict=True):
        mean = sims.loc[ch].mean()
        assert abs(exact - mean) / mean < 0.01, (ch, exact, mean)
        assert sims.loc[ch].min() <= exact <= sims.loc[ch].max(), (ch, exact, sims.loc[ch].tolist())


def test_heuristic_models_match_exactly(journeys: pd.DataFrame) -> None:
    theirs = ca.heuristic_models(journeys, "path", "conv", var_value="value", flg_pro=False)
    theirs = theirs.set_index("channel_name")
    cfg = AttributionConfig()
    ours: dict[str, dict[str, float]] = {}
    for path, conv, value in zip(
        journeys["path"], journeys["conv"], journeys["value"], strict=True
    ):
        chans = [c.strip() for c in path.split(">")]
        t = Touches(chans, np.zeros(len(chans)))
        for model, col in (("first_touch", "first"), ("last_touch", "last"), ("linear", "linear")):
            for ch, w in zip(chans, weights(model, t, cfg), strict=True):
                acc = ours.setdefault(col, {})
                acc[ch + ":c"] = acc.get(ch + ":c", 0.0) + w * conv
                acc[ch + ":v"] = acc.get(ch + ":v", 0.0) + w * value
    for col in ("first", "last", "linear"):
        for ch in theirs.index:
            assert ours[col][ch + ":c"] == pytest.approx(
                theirs.loc[ch, f"{col}_touch_conversions"], abs=1e-9
            )
            assert ours[col][ch + ":v"] == pytest.approx(
                theirs.loc[ch, f"{col}_touch_value"], abs=1e-9
            )
