"""The Fellegi–Sunter match probability judged on labelled pairs it never saw."""

from __future__ import annotations

import pyarrow as pa

from revops.identity.calibration import labelled


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
