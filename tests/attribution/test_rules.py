"""Every rule-based and milestone model on hand-worked journeys."""

from __future__ import annotations

import numpy as np
import pytest

from revops.attribution.rules import Touches, weights
from revops.config.attribution import RULE_MODELS, AttributionConfig

CFG = AttributionConfig()
# A five-touch journey: the lead is created at touch 1 (B), the opportunity at touch 3 (D).
FIVE = Touches(
    ["A", "B", "C", "D", "direct"], np.array([30.0, 20.0, 14.0, 7.0, 0.0]), lead=1, opp=3
)
M = 0.2 / 3  # a middle share of 0.2 over the three middle touches

EXPECTED = {
    "first_touch": [1, 0, 0, 0, 0],
    "last_touch": [0, 0, 0, 0, 1],
    "last_non_direct": [0, 0, 0, 1, 0],  # the last touch is direct: skip to D
    "linear": [0.2] * 5,
    "position_based": [0.4, M, M, M, 0.4],
    "j_shaped": [0.2, M, M, M, 0.6],
    "inverse_j": [0.6, M, M, M, 0.2],
    "custom": [0.3, 0.4 / 3, 0.4 / 3, 0.4 / 3, 0.3],  # revops.yaml custom_weights 30/40/30
    # half-life 7 days: 2^-(30/7), 2^-(20/7), 2^-2, 2^-1, 2^0, normalized
    "time_decay": [0.0512710, 0.1380112, 0.25, 0.5, 1.0],
    "u_shaped": [0.5, 0.5, 0, 0, 0],  # first touch and lead creation (B)
    "w_shaped": [0.3, 0.3, 0.05, 0.3, 0.05],  # A, B, D; 10% over C and E
    "full_path": [0.225, 0.225, 0.1, 0.225, 0.225],  # A, B, D, E (won); 10% to C
}


@pytest.mark.parametrize("model", RULE_MODELS)
def test_five_touch_journey(model: str) -> None:
    w = weights(model, FIVE, CFG)
    expected = np.array(EXPECTED[model], dtype=float)
    expected = expected / expected.sum()  # only time decay is not already normalized
    assert w == pytest.approx(expected, abs=1e-6)
    assert abs(w.sum() - 1.0) < 1e-12


def test_every_rule_model_has_a_hand_worked_case() -> None:
    assert set(EXPECTED) == set(RULE_MODELS)


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("position_based", [0.5, 0.5]),  # 40/40, middle share split in proportion
        ("j_shaped", [0.25, 0.75]),  # 20:60
        ("inverse_j", [0.75, 0.25]),
        ("u_shaped", [1.0, 0.0]),  # lead unknown: first touch takes both halves
        ("w_shaped", [0.65, 0.35]),  # first+lead 0.6 on A, opp 0.3 on last; 0.1 split evenly
        ("full_path", [0.5, 0.5]),  # 0.45 + 0.05 each
    ],
)
def test_two_touch_journeys(model: str, expected: list[float]) -> None:
    t = Touches(["A", "B"], np.array([3.0, 0.0]))
    assert weights(model, t, CFG) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("model", RULE_MODELS)
def test_a_single_touch_gets_everything(model: str) -> None:
    assert weights(model, Touches(["A"], np.array([0.0])), CFG) == pytest.approx([1.0])


def test_w_shaped_when_milestones_coincide() -> None:
    # lead created and opportunity created on the same touch (C): 0.6 there, 0.3 to A, 0.1 on B
    t = Touches(["A", "B", "C"], np.array([2.0, 1.0, 0.0]), lead=2, opp=2)
    assert weights("w_shaped", t, CFG) == pytest.approx([0.3, 0.1, 0.6])


def test_all_direct_journey_keeps_the_last_touch() -> None:
    t = Touches(["direct", "direct"], np.array([1.0, 0.0]))
    assert weights("last_non_direct", t, CFG) == pytest.approx([0.0, 1.0])


def test_unknown_model_is_refused() -> None:
    with pytest.raises(ValueError, match="not a rule-based"):
        weights("markov", FIVE, CFG)


def test_random_journeys_sum_to_exactly_one() -> None:
    rng = np.random.default_rng(3)
    for _ in range(200):
        n = int(rng.integers(1, 12))
        t = Touches(
            list(rng.choice(["a", "b", "direct"], n)),
            np.sort(rng.uniform(0, 90, n))[::-1],
            lead=int(rng.integers(0, n)),
            opp=int(rng.integers(0, n)),
        )
        for model in RULE_MODELS:
            w = weights(model, t, CFG)
            assert abs(w.sum() - 1.0) < 1e-12
            assert (w >= 0).all()
