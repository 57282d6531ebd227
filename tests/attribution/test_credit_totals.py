"""Per-touch credits of the data-driven models are the models' own channel credits.

Summed per channel, the stored `credit` of Markov (order 1 and 2) and Shapley (exact and
sampled) rows equals the model's `conversions` and `revenue_credit` its `value`, to 1e-9, on
random journey sets; a channel the chain credits without any touch in a converting journey is
named by `unplaced`, and together the two account for every conversion.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import journey_paths

from revops.attribution.credit import CREDIT_COLUMNS, credits, fit, unplaced
from revops.attribution.markov import MarkovResult, markov
from revops.attribution.paths import Paths
from revops.config.attribution import AttributionConfig

CHANNELS = ["email", "webinar", "paid_search", "direct", "events"]

journey = st.tuples(
    st.lists(st.sampled_from(CHANNELS), min_size=1, max_size=6),
    st.booleans(),
    st.integers(1, 50_000),
)


def _frame(journeys: list[tuple[list[str], bool, int]]) -> pd.DataFrame:
    """The journeys table `credits` reads: one row per touch, `pos` 0 on each journey's first."""
    rows = []
    for j, (channels, converted, revenue) in enumerate(journeys):
        for pos, channel in enumerate(channels):
            rows.append(
                {
                    "conversion_id": f"c{j}",
                    "entity_id": f"e{j}",
                    "person_id": f"p{j}",
                    "account_id": None,
                    "touchpoint_id": f"t{j}-{pos}",
                    "channel": channel,
                    "campaign_id": None,
                    "occurred_at": pd.Timestamp("2026-01-01") + pd.Timedelta(days=pos),
                    "converted_at": pd.Timestamp("2026-02-01"),
                    "converted": converted,
                    "revenue": float(revenue) if converted else 0.0,
                    "pos": pos,
                }
            )
    frame = pd.DataFrame(rows)
    assert set(CREDIT_COLUMNS) <= set(frame.columns)
    return frame


def _per_channel(stored: pd.DataFrame, column: str) -> dict[str, float]:
    return {str(k): float(v) for k, v in stored.groupby("channel")[column].sum().items()}


def _check(frame: pd.DataFrame, model: str, cfg: AttributionConfig) -> None:
    fitted = fit(journey_paths(frame), model, cfg)
    assert fitted is not None
    stored = credits(frame, model, cfg, fitted)
    conversions = _per_channel(stored, "credit")
    value = _per_channel(stored, "revenue_credit")
    lost = unplaced(conversions, fitted)
    for channel, conv, val in zip(fitted.channels, fitted.conversions, fitted.value, strict=True):
        if channel in lost:
            assert conversions.get(channel, 0.0) == 0.0
            continue
        assert conversions.get(channel, 0.0) == pytest.approx(float(conv), abs=1e-9)
        assert value.get(channel, 0.0) == pytest.approx(float(val), abs=1e-9 * max(1.0, val))
    n_conv = int(frame.loc[frame["pos"] == 0, "converted"].sum())
    assert sum(conversions.values()) + sum(lost.values()) == pytest.approx(n_conv, abs=1e-9)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(journey, min_size=1, max_size=40).filter(lambda js: any(c for _, c, _ in js)))
def test_markov_and_shapley_touch_credits_sum_to_the_channel_credits(
    journeys: list[tuple[list[str], bool, int]],
) -> None:
    frame = _frame(journeys)
    for order in (1, 2):
        _check(frame, "markov", AttributionConfig(markov_order=order))
    _check(frame, "shapley", AttributionConfig())
    _check(frame, "shapley", AttributionConfig(shapley_exact_max_channels=2, shapley_samples=50))


def test_against_the_chain_by_hand() -> None:
    """A > B converts (100), A alone does not, B alone converts (50): the chain gives A 2/3 and
    B 4/3 conversions, A 50 and B 100 of value (tests/attribution/test_markov.py); the stored
    touches carry exactly that, though journey A > B alone would split 1/3 : 2/3."""
    frame = _frame([(["A", "B"], True, 100), (["A"], False, 0), (["B"], True, 50)])
    chain = markov(Paths.from_lists([["A", "B"], ["A"], ["B"]], [1, 0, 1], [0, 1, 0], [100, 0, 50]))
    stored = credits(frame, "markov", AttributionConfig(), chain)
    assert _per_channel(stored, "credit") == pytest.approx(
        dict(zip(chain.channels, chain.conversions, strict=True)), abs=1e-12
    )
    assert _per_channel(stored, "credit") == pytest.approx({"A": 2 / 3, "B": 4 / 3}, abs=1e-12)
    assert _per_channel(stored, "revenue_credit") == pytest.approx({"A": 50, "B": 100}, abs=1e-9)
    assert isinstance(fit(journey_paths(frame), "markov", AttributionConfig()), MarkovResult)


def test_a_channel_only_on_the_way_is_named_unplaced() -> None:
    """C only ever appears before A in journeys that do not convert, yet the chain sends walks
    from C to A, which converts elsewhere: C has a removal effect and no converting touch."""
    frame = _frame([(["C", "A"], False, 0), (["A"], True, 10), (["A"], False, 0)])
    fitted = fit(journey_paths(frame), "markov", AttributionConfig())
    stored = credits(frame, "markov", AttributionConfig(), fitted)
    assert isinstance(fitted, MarkovResult)
    lost = unplaced(_per_channel(stored, "credit"), fitted)
    assert set(lost) == {"C"}
    assert lost["C"] > 0
    assert float(stored["credit"].sum()) + lost["C"] == pytest.approx(1.0)
    assert np.all(stored["channel"] == "A")
