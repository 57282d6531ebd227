"""Brier, ECE and the reliability table by hand; recalibration only out of time, only when off."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from revops.models.calibration import assess, brier, chance_ece, ece, reliability


def test_brier_ece_and_reliability_by_hand() -> None:
    # Four rows at 0.15 (one of them happened) and four at 0.85 (three happened):
    # bin 0.1–0.2 predicted 0.15, observed 0.25; bin 0.8–0.9 predicted 0.85, observed 0.75.
    p = [0.15] * 4 + [0.85] * 4
    y = [1, 0, 0, 0, 1, 1, 1, 0]
    # Brier: (0.85² + 3 × 0.15² + 3 × 0.15² + 0.85²) / 8 = (1.445 + 0.135) / 8 = 0.1975
    assert brier(y, p) == pytest.approx(0.1975)
    table = reliability(y, p)
    assert list(table["range"]) == ["0.1–0.2", "0.8–0.9"]
    assert list(table["rows"]) == [4, 4]
    assert table["observed"].tolist() == pytest.approx([0.25, 0.75])
    assert table["gap"].tolist() == pytest.approx([0.10, -0.10])
    # ECE: half the rows 0.10 off, half 0.10 off → 0.10
    assert ece(y, p) == pytest.approx(0.10)
    # A probability of exactly 1 sits in the top bin.
    assert list(reliability([1], [1.0])["range"]) == ["0.9–1.0"]


def test_a_calibrated_model_is_kept() -> None:
    rng = np.random.default_rng(5)
    p = rng.uniform(0, 1, 20_000)
    y = (rng.uniform(0, 1, 20_000) < p).astype(float)
    rep = assess("fair", y, p, np.arange(len(p)))
    assert rep.ece < 0.02
    assert not rep.recalibrated
    assert rep.brier < rep.base_brier
    assert "kept" in rep.summary()


def test_an_overconfident_model_is_mended_on_the_earlier_half() -> None:
    # The truth is p; the model says p², far too low at the middle (0.5 → 0.25).
    rng = np.random.default_rng(6)
    p = rng.uniform(0, 1, 20_000)
    y = (rng.uniform(0, 1, 20_000) < p).astype(float)
    rep = assess("squashed", y, p**2, np.arange(len(p)))
    assert rep.ece > 0.1
    assert rep.recalibrated
    assert rep.recalibrator.method == "isotonic"
    assert rep.ece_after < 0.02
    assert rep.brier_after < rep.brier
    assert rep.rows_calibration == rep.rows_evaluation == 10_000
    # The mapping learned on the first half lifts 0.25 back to about 0.5.
    assert rep.recalibrator([0.25])[0] == pytest.approx(0.5, abs=0.05)
    assert not rep.still_miscalibrated
    assert "approximate" not in rep.summary()
    small = assess("small", y[:400], (p**2)[:400], np.arange(400))
    assert small.recalibrator.method == "platt"


def test_a_model_whose_miscalibration_drifts_is_said_to_stay_off() -> None:
    # The earlier half says p² (mended up), the later half says p (so the mended map now
    # overshoots: 0.25 is mapped to about 0.5 where the truth is 0.25).
    rng = np.random.default_rng(7)
    truth = rng.uniform(0, 1, 20_000)
    y = (rng.uniform(0, 1, 20_000) < truth).astype(float)
    said = np.concatenate([truth[:10_000] ** 2, truth[10_000:]])
    rep = assess("drifting", y, said, np.arange(20_000))
    assert rep.recalibrated
    assert rep.ece_after > 0.1
    assert rep.still_miscalibrated
    assert "only approximate rates" in rep.summary()


def test_noise_on_a_small_slice_is_not_mended() -> None:
    # A calibrated model on 300 rows shows an ECE of several points by chance alone.
    rng = np.random.default_rng(8)
    p = rng.uniform(0, 1, 600)
    y = (rng.uniform(0, 1, 600) < p).astype(float)
    rep = assess("small but fair", y, p, np.arange(600))
    assert rep.ece_chance > 0.04
    assert not rep.recalibrated


def test_the_split_follows_time_not_row_order() -> None:
    # The later half (by `order`) is all ones; it is the one scored, whatever the row order.
    y = np.array([1.0, 0.0] * 50)
    order = np.where(y == 1, 1, 0)
    rep = assess("t", y, np.full(100, 0.5), order)
    assert rep.table["observed"].tolist() == [1.0]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1), st.booleans()), min_size=1, max_size=200))
def test_ece_is_a_weighted_mean_gap(rows: list[tuple[float, bool]]) -> None:
    p = np.array([r[0] for r in rows])
    y = np.array([float(r[1]) for r in rows])
    value = ece(y, p)
    assert 0 <= value <= 1
    table = reliability(y, p)
    assert table["rows"].sum() == len(rows)
    assert value <= table["gap"].abs().max() + 1e-12


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(0.0, 1.0), min_size=1, max_size=300),
    st.integers(0, 2**32 - 1),
)
def test_chance_ece_is_the_ece_of_draws_from_the_model(probs: list[float], seed: int) -> None:
    """The per-bin counting in `chance_ece` gives, draw for draw, exactly what `ece` gives:
    the 95th percentile of the ECE over outcomes drawn from the probabilities themselves."""
    p = np.asarray(probs)
    rng = np.random.default_rng(seed)
    sims = [ece((rng.uniform(size=p.size) < p).astype(float), p) for _ in range(25)]
    assert chance_ece(p, seed=seed, draws=25) == float(np.quantile(sims, 0.95))
