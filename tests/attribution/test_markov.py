"""Markov removal effects: by hand, against brute force, and against ChannelAttribution."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from revops.attribution.markov import markov
from revops.attribution.paths import Paths

# A > B converts (value 100); A alone does not; B alone converts (value 50).
# start->A 2/3, start->B 1/3, A->B 1/2, A->null 1/2, B->conv 1.
# P(conv) = 2/3 * 1/2 + 1/3 = 2/3; without A: 1/3 (RE 1/2); without B: 0 (RE 1).
# Credits of 2 conversions: A 0.5/1.5 * 2 = 2/3, B 4/3. Value: mean 75 per conversion from B,
# so value removal effects are the same and 150 splits 50 / 100.
HAND = Paths.from_lists([["A", "B"], ["A"], ["B"]], [1, 0, 1], [0, 1, 0], [100, 0, 50])


def test_hand_worked_chain() -> None:
    res = markov(HAND, 1)
    assert res.conversion_probability == pytest.approx(2 / 3, abs=1e-12)
    assert dict(zip(res.channels, res.removal_effects, strict=True)) == pytest.approx(
        {"A": 0.5, "B": 1.0}, abs=1e-12
    )
    assert dict(zip(res.channels, res.conversions, strict=True)) == pytest.approx(
        {"A": 2 / 3, "B": 4 / 3}, abs=1e-12
    )
    assert dict(zip(res.channels, res.value, strict=True)) == pytest.approx(
        {"A": 50, "B": 100}, abs=1e-9
    )


def test_repeated_touches_collapse_like_channelattribution() -> None:
    doubled = Paths.from_lists([["A", "A", "B"], ["A"], ["B", "B"]], [1, 0, 1], [0, 1, 0])
    assert markov(doubled, 1).removal_effects == pytest.approx(markov(HAND, 1).removal_effects)


def _brute_force(paths: list[list[str]], conv: list[float], null: list[float], order: int):
    """Removal effects by plain loops and fixed-point iteration, sharing no code with markov."""
    counts: dict[tuple, dict[tuple, float]] = {}
    for path, c, n in zip(paths, conv, null, strict=True):
        if c + n == 0:  # a path seen neither converting nor not adds nothing
            continue
        wins = [tuple(path[i : i + order]) for i in range(max(len(path) - order + 1, 1))]
        states = [w for i, w in enumerate(wins) if i == 0 or w != wins[i - 1]]
        seq = [("<start>",), *states]
        for a, b in itertools.pairwise(seq):
            counts.setdefault(a, {})[b] = counts.get(a, {}).get(b, 0) + c + n
        end = counts.setdefault(seq[-1], {})
        end[("<conv>",)] = end.get(("<conv>",), 0) + c
        end[("<null>",)] = end.get(("<null>",), 0) + n

    def p_conv(removed: str | None) -> float:
        x = dict.fromkeys(counts, 0.0)
        for _ in range(1000):
            new = {}
            for s, out in counts.items():
                total = sum(out.values())
                acc = 0.0
                for t, w in out.items():
                    if t == ("<conv>",):
                        acc += w / total
                    elif t != ("<null>",) and removed not in t:
                        acc += w / total * x[t]
                new[s] = acc
            x = new
        return x[("<start>",)]

    base = p_conv(None)
    channels = sorted({ch for p in paths for ch in p})
    return {ch: 1 - p_conv(ch) / base for ch in channels}


@pytest.mark.parametrize("order", [1, 2, 3])
def test_matches_brute_force(order: int) -> None:
    rng = np.random.default_rng(order)
    paths = [list(rng.choice(list("abcd"), int(rng.integers(1, 6)))) for _ in range(60)]
    conv = [float(rng.integers(0, 3)) for _ in paths]
    null = [float(rng.integers(0, 3)) for _ in paths]
    res = markov(Paths.from_lists(paths, conv, null), order)
    expected = _brute_force(paths, conv, null, order)
    got = dict(zip(res.channels, res.removal_effects, strict=True))
    assert got == pytest.approx(expected, abs=1e-9)
    assert res.conversions.sum() == pytest.approx(sum(conv))
