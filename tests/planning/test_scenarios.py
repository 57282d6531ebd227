"""Two territory designs side by side, with figures worked by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from revops.planning.scenarios import compare_by_rep, compare_summary, disruption

# R1 owns a10, a20, a30 (60), R2 owns a40 (40). Design A moves a10 to R2 (the optimum, one
# move); design B is greedy LPT: a40 → R1, a30 → R2, a20 → R2, a10 → R1 (three moves).
CURRENT = {"a10": "R1", "a20": "R1", "a30": "R1", "a40": "R2"}
POTENTIAL = {"a10": 10.0, "a20": 20.0, "a30": 30.0, "a40": 40.0}
REPS = pd.DataFrame({"user_id": ["R1", "R2"], "region": ["NA", "NA"]})


def _design(owner: dict[str, str]) -> pd.DataFrame:
    rows = [
        (a, "NA", CURRENT[a], owner[a], POTENTIAL[a], 1.0, owner[a] != CURRENT[a])
        for a in sorted(CURRENT)
    ]
    cols = ["account_id", "region", "current_owner_id", "owner_id", "potential", "workload"]
    return pd.DataFrame(rows, columns=[*cols, "moved"])


A = _design({"a10": "R2", "a20": "R1", "a30": "R1", "a40": "R2"})
B = _design({"a10": "R1", "a20": "R2", "a30": "R2", "a40": "R1"})


def test_disruption_per_rep_by_hand() -> None:
    a = disruption(A, REPS).set_index("user_id")
    # A: R1 keeps a20, a30 and loses a10 (10); R2 keeps a40 and gains a10
    assert a.loc["R1", ["kept", "lost", "gained", "changed"]].tolist() == [2, 1, 0, 1]
    assert a.loc["R2", ["kept", "lost", "gained", "changed"]].tolist() == [1, 0, 1, 1]
    assert a.loc["R1", ["potential_before", "potential_after", "potential_lost"]].tolist() == [
        60,
        50,
        10,
    ]
    b = disruption(B, REPS).set_index("user_id")
    # B: R1 keeps a10, loses a20 + a30 (50), gains a40 (40); R2 keeps nothing, loses a40,
    # gains a20 + a30: both reps end at 50 as in A, but each lives with three changes
    assert b.loc["R1", ["kept", "lost", "gained", "changed"]].tolist() == [1, 2, 1, 3]
    assert b.loc["R2", ["kept", "lost", "gained", "changed"]].tolist() == [0, 1, 2, 3]
    assert b.loc["R1", ["potential_lost", "potential_gained"]].tolist() == [50, 40]


def test_summary_and_side_by_side() -> None:
    summary = compare_summary({"A": A, "B": B}, REPS).set_index("design")
    assert summary["moved"].tolist() == [1, 3]
    assert summary["potential_max_min_before"].tolist() == pytest.approx([1.5, 1.5])
    assert summary["potential_max_min_after"].tolist() == pytest.approx([1.0, 1.0])
    assert summary["potential_cv_after"].tolist() == pytest.approx([0.0, 0.0])
    side = compare_by_rep({"A": A, "B": B}, REPS).set_index("user_id")
    assert side.loc["R1", ["potential_before", "changed A", "changed B"]].tolist() == [60, 1, 3]
    assert side.loc["R2", ["potential_after A", "potential_after B"]].tolist() == [50, 50]


def test_a_rep_without_accounts_shows_zeros() -> None:
    reps = pd.concat([REPS, pd.DataFrame({"user_id": ["R3"], "region": ["NA"]})])
    row = disruption(A, reps).set_index("user_id").loc["R3"]
    assert row[["kept", "lost", "gained", "changed", "potential_after"]].tolist() == [0] * 5
