"""The Fellegi–Sunter match probability judged on labelled pairs it never saw."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from revops.identity.calibration import labelled, match_calibration


def test_labels_by_hand() -> None:
    pairs = pa.table(
        {
            "left_id": ["b", "a", "c"],
            "right_id": ["a", "c", "d"],
            "match_probability": [0.9, 0.2, 0.6],
        }
    )
    y, p, order = labelled(pairs, {("a", "b"), ("c", "d")})
    assert y.tolist() == [1.0, 0.0, 1.0]  # (b, a) is the truth pair (a, b)
    assert p.tolist() == [0.9, 0.2, 0.6]
    assert len(set(order.tolist())) == 3


def test_recalibrated_on_the_match_weight_by_hand() -> None:
    # Three comparison patterns: weight 5 (never one person), 17 (one pair in four is: the
    # namesakes) and 42 (always). At 17 and 42 the probability is within 1e-5 of 1, so the raw
    # model says "sure" to namesakes. The map is fitted on the first half (by the hash of the
    # left id) and must give each weight its rate there: 0, the namesakes' rate, 1.
    weights = [5.0, 17.0, 42.0] * 200
    truth = {
        (f"a{i:03d}", f"b{i:03d}")
        for i, w in enumerate(weights)
        if w == 42 or (w == 17 and i % 4 == 1)
    }
    pairs = pa.table(
        {
            "left_id": [f"a{i:03d}" for i in range(600)],
            "right_id": [f"b{i:03d}" for i in range(600)],
            "match_weight": weights,
            "match_probability": [1 / (1 + 2**-w) for w in weights],
        }
    )
    rep = match_calibration("hand", pairs, truth)
    y, _, order = labelled(pairs, truth)
    first = np.argsort(order, kind="stable")[:300]
    w = np.array(weights)[first]
    namesakes = float(y[first][w == 17].mean())  # by counting, independent of the fit
    assert rep.recalibrated
    assert rep.fitted_on == "match weight"
    assert rep.recalibrator.method == "isotonic"
    assert rep.recalibrator([5.0, 17.0, 42.0]).tolist() == pytest.approx([0.0, namesakes, 1.0])
    assert rep.ece_after < rep.ece
    assert rep.brier_after < rep.brier
    assert "isotonic on the match weight" in rep.summary()


def test_kept_means_the_probability_stands() -> None:
    # A calibrated probability is not mended: the table after is the table before, in
    # probabilities (never the weights the map would have taken).
    weights = [-20.0, 20.0] * 100
    pairs = pa.table(
        {
            "left_id": [f"a{i:03d}" for i in range(200)],
            "right_id": [f"b{i:03d}" for i in range(200)],
            "match_weight": weights,
            "match_probability": [1 / (1 + 2**-w) for w in weights],
        }
    )
    truth = {(f"a{i:03d}", f"b{i:03d}") for i in range(200) if weights[i] > 0}
    rep = match_calibration("kept", pairs, truth)
    assert not rep.recalibrated
    assert rep.table_after.equals(rep.table)
    assert rep.ece_after == rep.ece < 1e-5
