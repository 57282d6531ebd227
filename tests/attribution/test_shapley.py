"""Shapley values: a case worked by hand, the closed form, and the sampled estimate."""

from __future__ import annotations

import numpy as np
import pytest

from revops.attribution.paths import Paths
from revops.attribution.shapley import coalition_values, exact_shapley, shapley

# Converting journeys by channel set: {A} 10, {A,B} 6, {B,C} 4, {A,B,C} 3 (23 conversions);
# one journey {C} that did not convert (it matters to nothing: v counts conversions).
CASE = Paths.from_lists(
    [["A"], ["A", "B"], ["B", "C", "B"], ["C", "A", "B"], ["C"]],
    [10, 6, 4, 3, 0],
    [0, 0, 0, 0, 5],
    [1000, 600, 400, 300, 0],
)


def test_coalition_values_by_hand() -> None:
    uniq, inverse = CASE.channel_masks()
    v = coalition_values(uniq, np.bincount(inverse, CASE.conversions), 3)
    # masks: bit 0 = A, bit 1 = B, bit 2 = C
    # v(∅)=0 v(A)=10 v(B)=0 v(AB)=16 v(C)=0 v(AC)=10 v(BC)=4 v(ABC)=23
    assert v.tolist() == [0, 10, 0, 16, 0, 10, 4, 23]


def test_exact_values_by_hand() -> None:
    # phi_A = 1/3 (v(A) - 0) + 1/6 (v(AB) - v(B)) + 1/6 (v(AC) - v(C)) + 1/3 (v(ABC) - v(BC))
    #       = 10/3 + 16/6 + 10/6 + 19/3 = 14
    # phi_B = 1/3 (0) + 1/6 (16 - 10) + 1/6 (4 - 0) + 1/3 (23 - 10) = 1 + 2/3 + 13/3 = 6
    # phi_C = 1/3 (0) + 1/6 (10 - 10) + 1/6 (4 - 0) + 1/3 (23 - 16) = 2/3 + 7/3 = 3
    res = shapley(CASE)
    assert res.exact
    assert dict(zip(res.channels, res.conversions, strict=True)) == pytest.approx(
        {"A": 14, "B": 6, "C": 3}, abs=1e-12
    )
    assert dict(zip(res.channels, res.value, strict=True)) == pytest.approx(
        {"A": 1400, "B": 600, "C": 300}, abs=1e-9
    )
    assert res.conversions.sum() == pytest.approx(23)


def test_twelve_channels_match_the_closed_form() -> None:
    # v is a sum of unanimity games, so each journey's conversions split equally over its set
    rng = np.random.default_rng(5)
    channels = [f"c{i}" for i in range(12)]
    paths = [list(rng.choice(channels, int(rng.integers(1, 6)))) for _ in range(400)]
    conv = rng.integers(0, 3, 400).astype(float)
    res = shapley(Paths.from_lists(paths, conv))
    expected = dict.fromkeys(channels, 0.0)
    for p, c in zip(paths, conv, strict=True):
        for ch in set(p):
            expected[ch] += c / len(set(p))
    got = dict(zip(res.channels, res.conversions, strict=True))
    assert got == pytest.approx(expected, abs=1e-9)


def test_direct_formula_on_a_non_additive_game() -> None:
    # glove game: v = 1 when the coalition holds channel 0 and one of 1, 2 -> (2/3, 1/6, 1/6)
    v = np.array([0, 0, 0, 1, 0, 1, 0, 1], dtype=float)
    assert exact_shapley(v, 3) == pytest.approx([2 / 3, 1 / 6, 1 / 6])


def test_sampled_estimate_states_its_error() -> None:
    res = shapley(CASE, exact_max=0, samples=3000, seed=1)
    assert not res.exact
    assert res.samples == 3000
    exact = {"A": 14.0, "B": 6.0, "C": 3.0}
    for ch, est, se in zip(res.channels, res.conversions, res.std_error, strict=True):
        assert se > 0
        assert abs(est - exact[ch]) < 4 * se
    assert res.conversions.sum() == pytest.approx(23)  # every permutation credits each journey
