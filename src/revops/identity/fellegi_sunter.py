"""Fellegi-Sunter: match weights from m and u probabilities, m and λ estimated by EM.

For each compared field and level, m = P(level | the pair is one entity) and u = P(level | two
entities); under conditional independence a pair's Bayes factor is the product of m/u over its
fields, and its match weight is log2 of the prior odds λ/(1-λ) times that factor.

u comes from random record pairs, which are nearly all non-matches. m cannot be sampled, so it is
estimated by EM, one session per blocking rule as Splink does: pairs found by a rule all agree on
that rule's fields, so a session estimates m only for the other fields (those of the rule would
look perfectly reliable). λ is then the population prior over all n(n-1)/2 pairs, found by EM on
λ alone with the unblocked pairs taken as non-matches. EM runs on distinct comparison patterns
with counts, so a million pairs cost a few hundred pattern updates per iteration.

EM alone can make a closer level count for less than a farther one: on records with few real
duplicates it takes some other structure for "match", and an exact last name came out at -10
bits, exact agreement counted as evidence against a match. `fit` repairs each comparison after
EM (pooling adjacent violating levels, as isotonic regression does) so that its weight
never falls as similarity rises, and marks the comparisons it changed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
LevelArray = npt.NDArray[np.int8]
BoolArray = npt.NDArray[np.bool_]
_FLOOR = 1e-6


@dataclass(frozen=True)
class ComparisonParams:
    """m and u of one field, indexed by level (0 = different … last = exact)."""

    field: str
    labels: tuple[str, ...]
    m: tuple[float, ...]
    u: tuple[float, ...]
    repaired: bool = False  # `fit` pooled levels whose fitted weights fell as similarity rose

    @property
    def weights(self) -> tuple[float, ...]:
        """log2(m/u) per level: the evidence each level adds to a pair's match weight."""
        return tuple(float(np.log2(m / u)) for m, u in zip(self.m, self.u, strict=True))


@dataclass(frozen=True)
class FellegiSunterParams:
    comparisons: tuple[ComparisonParams, ...]
    lambda_: float  # prior probability that two random records are one entity
    iterations: int  # EM iterations, summed over sessions
    converged: bool  # every session met the tolerance within max_iterations

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> FellegiSunterParams:
        data = json.loads(text)
        comps = tuple(
            ComparisonParams(
                c["field"],
                tuple(c["labels"]),
                tuple(c["m"]),
                tuple(c["u"]),
                bool(c.get("repaired", False)),  # fits stored before the guard lack it
            )
            for c in data["comparisons"]
        )
        return cls(comps, data["lambda_"], data["iterations"], data["converged"])


def exact_u(codes: IntArray) -> float:
    """P(two random records with values agree exactly), from value counts: Σc(c-1) / n(n-1)."""
    counts = np.bincount(codes[codes >= 0]).astype(np.float64)
    n = counts.sum()
    return float((counts * (counts - 1)).sum() / (n * (n - 1))) if n > 1 else 0.0


def estimate_u(
    levels: LevelArray, n_levels: Sequence[int], exact: Sequence[float] | None = None
) -> list[FloatArray]:
    """Level frequencies among random pairs, add-one smoothed so no level is impossible.

    With `exact` (from `exact_u`), the top level's u is that exact figure and the sample only
    shares the rest among the other levels: agreement on a rare value (a date of birth) is too
    rare for a sample of pairs to measure well, while value counts give it precisely.
    """
    out = []
    for f, n in enumerate(n_levels):
        col = levels[:, f]
        counts = np.bincount(col[col >= 0], minlength=n).astype(np.float64) + 1.0
        if exact is None:
            out.append(counts / counts.sum())
            continue
        top = min(max(exact[f], _FLOOR), 1 - _FLOOR)
        rest = counts[:-1] / counts[:-1].sum() * (1 - top)
        out.append(np.append(rest, top))
    return out


def initial_m(n_levels: int) -> FloatArray:
    """A prior guess where closer levels are likelier among matches: ∝ 4^level."""
    raw = 4.0 ** np.arange(n_levels)
    return np.asarray(raw / raw.sum(), dtype=np.float64)


def _patterns(levels: LevelArray, counts: IntArray | None = None) -> tuple[LevelArray, FloatArray]:
    """Distinct rows of the level matrix and how often each occurs; with `counts`, each row
    stands for that many pairs (a `pair_tally`). Rows come in lexicographic order either way,
    and the summed counts are whole numbers, so a tally gives the same patterns and counts, bit
    for bit, as the pairs it counted."""
    if levels.shape[1] == 0:
        total = float(len(levels)) if counts is None else float(counts.sum())
        return levels[:1], np.array([total])
    shifted = levels.astype(np.int64) + 1
    radix = int(shifted.max()) + 1
    code = np.zeros(len(levels), dtype=np.int64)
    for f in range(levels.shape[1]):
        code = code * radix + shifted[:, f]
    if counts is None:
        _, first, found = np.unique(code, return_index=True, return_counts=True)
        return levels[first], found.astype(np.float64)
    _, first, inverse = np.unique(code, return_index=True, return_inverse=True)
    summed = np.bincount(inverse.reshape(-1), weights=counts, minlength=len(first))
    return levels[first], summed.astype(np.float64)


def _log_factor(patterns: LevelArray, probs: Sequence[FloatArray]) -> FloatArray:
    """Σ over fields of log(prob[level]); null levels contribute nothing."""
    total = np.zeros(len(patterns))
    for f, p in enumerate(probs):
        col = patterns[:, f]
        total += np.where(col >= 0, np.log(p[np.maximum(col, 0)]), 0.0)
    return total


def _posterior(log_bf: FloatArray, lam: float) -> FloatArray:
    logit = np.log(lam) - np.log1p(-lam) + log_bf
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(logit, -700, 700))), dtype=np.float64)


def em_session(
    levels: LevelArray,
    u: Sequence[FloatArray],
    m0: Sequence[FloatArray],
    lam0: float,
    *,
    max_iterations: int,
    tolerance: float,
    counts: IntArray | None = None,
) -> tuple[list[FloatArray], float, int, bool]:
    """EM for m and λ with u held fixed, over the pairs (rows) and fields (columns) given
    (each row standing for `counts` pairs when given: see `_patterns`).

    Returns (m per field, λ among these pairs, iterations, converged).
    """
    patterns, freq = _patterns(levels, counts)
    log_u = _log_factor(patterns, u)
    m = [np.asarray(x, dtype=np.float64).copy() for x in m0]
    lam = float(lam0)
    for iteration in range(1, max_iterations + 1):
        post = _posterior(_log_factor(patterns, m) - log_u, lam)
        weight = freq * post
        new_lam = float(np.clip(weight.sum() / freq.sum(), _FLOOR, 1 - _FLOOR))
        new_m = []
        for f, old in enumerate(m):
            col = patterns[:, f]
            known = col >= 0
            mass = np.bincount(col[known], weights=weight[known], minlength=len(old))
            if mass.sum() <= 0:
                new_m.append(old)
                continue
            mass = np.maximum(mass / mass.sum(), _FLOOR)
            new_m.append(mass / mass.sum())
        change = max(
            [abs(new_lam - lam)]
            + [float(np.abs(a - b).max()) for a, b in zip(new_m, m, strict=True)]
        )
        m, lam = new_m, new_lam
        if change < tolerance:
            return m, lam, iteration, True
    return m, lam, max_iterations, False


def population_lambda(
    levels: LevelArray,
    m: Sequence[FloatArray],
    u: Sequence[FloatArray],
    total_pairs: int,
    *,
    max_iterations: int = 200,
    tolerance: float = 1e-9,
    counts: IntArray | None = None,
) -> float:
    """EM on λ alone over all `total_pairs`, the pairs blocking left out counted as non-matches
    (rows of `levels` standing for `counts` pairs when given: see `_patterns`)."""
    n_pairs = len(levels) if counts is None else int(counts.sum())
    patterns, freq = _patterns(levels, counts)
    log_bf = _log_factor(patterns, m) - _log_factor(patterns, u)
    lam = max(min(n_pairs / max(total_pairs, 1) / 2, 0.5), 1.0 / max(total_pairs, 2))
    for _ in range(max_iterations):
        new = float((freq * _posterior(log_bf, lam)).sum() / max(total_pairs, 1))
        new = min(max(new, 1.0 / (10.0 * max(total_pairs, 1))), 1 - _FLOOR)
        if abs(new - lam) <= tolerance * max(lam, 1e-12):
            return new
        lam = new
    return lam


def fit(
    levels: LevelArray,
    sessions: Sequence[tuple[BoolArray, Sequence[int]]],
    u: Sequence[FloatArray],
    fields: Sequence[str],
    labels: Sequence[tuple[str, ...]],
    total_pairs: int,
    *,
    max_iterations: int,
    tolerance: float,
    counts: IntArray | None = None,
) -> FellegiSunterParams:
    """Estimate m per session (rows, free fields), average per field, make each field's weights
    monotone (`pool_adjacent_violators`), then the prior λ. With `counts`, each row of
    `levels` stands for that many candidate pairs (a `pair_tally`): the fit is the same as on
    the pairs themselves, which need not be held at once."""
    k = len(fields)
    n_pairs = len(levels) if counts is None else int(counts.sum())
    estimates: list[list[FloatArray]] = [[] for _ in range(k)]
    iterations, converged = 0, True
    for rows, free in sessions:
        if not rows.any() or not free:
            continue
        cols = list(free)
        m0 = [initial_m(len(u[f])) for f in cols]
        sub = levels[np.ix_(rows, np.asarray(cols, dtype=np.int64))]
        m, _, its, ok = em_session(
            sub,
            [u[f] for f in cols],
            m0,
            0.5,
            max_iterations=max_iterations,
            tolerance=tolerance,
            counts=None if counts is None else counts[rows],
        )
        iterations += its
        converged = converged and ok
        for f, est in zip(cols, m, strict=True):
            estimates[f].append(est)
    missing = [f for f in range(k) if not estimates[f]]
    if missing and n_pairs:
        # A field in every blocking rule: estimate it over all candidate pairs, with the rest.
        m0 = [initial_m(len(u[f])) for f in range(k)]
        m, _, its, ok = em_session(
            levels, u, m0, 0.5, max_iterations=max_iterations, tolerance=tolerance, counts=counts
        )
        iterations += its
        converged = converged and ok
        for f in missing:
            estimates[f].append(m[f])
    fitted = [
        np.mean(estimates[f], axis=0) if estimates[f] else initial_m(len(u[f])) for f in range(k)
    ]
    m_final = [pool_adjacent_violators(m, np.asarray(u[f])) for f, m in enumerate(fitted)]
    lam = population_lambda(levels, m_final, u, total_pairs, counts=counts)
    comps = tuple(
        ComparisonParams(
            fields[f],
            labels[f],
            tuple(map(float, m_final[f])),
            tuple(map(float, u[f])),
            not np.allclose(m_final[f], fitted[f], rtol=1e-9, atol=0.0),
        )
        for f in range(k)
    )
    return FellegiSunterParams(comps, lam, iterations, converged)


def pool_adjacent_violators(m: FloatArray, u: FloatArray) -> FloatArray:
    """m made so that log2(m/u) never falls from level 0 (different) to the last (exact).

    Levels are pooled left to right: whenever a level's ratio m/u is below the block before
    it, the two are merged into one block whose ratio is Σm/Σu, the Bayes factor the merged
    levels would have as a single level. This is isotonic regression of the ratios weighted by
    u, each level's share of (nearly all non-matching) pairs. Within a block m is shared in
    proportion to u, so every level gets the block's ratio and Σm stays 1 (u is unchanged: it
    is measured on random pairs, not estimated). Since Σm = Σu, the highest ratio is at least
    1, so after pooling the top level never counts against a match.
    """
    blocks: list[tuple[int, float, float]] = []  # (first level, Σm, Σu)
    for i, (mi, ui) in enumerate(zip(m, u, strict=True)):
        start, sm, su = i, float(mi), float(ui)
        while blocks and blocks[-1][1] * su > sm * blocks[-1][2]:  # previous ratio > this one
            start, pm, pu = blocks.pop()
            sm, su = sm + pm, su + pu
        blocks.append((start, sm, su))
    out = np.empty(len(m), dtype=np.float64)
    ends = [b[0] for b in blocks[1:]] + [len(m)]
    for (start, sm, su), end in zip(blocks, ends, strict=True):
        out[start:end] = np.asarray(u[start:end], dtype=np.float64) * (sm / su)
    return out


def is_monotone(params: FellegiSunterParams) -> bool:
    """Whether no comparison's weight falls as its similarity level rises: true of every fit
    `fit` makes, not of fits stored before the guard (see `pool_adjacent_violators`)."""
    return all(
        b >= a - 1e-9
        for comp in params.comparisons
        for a, b in zip(comp.weights, comp.weights[1:], strict=False)
    )


def match_weights(levels: LevelArray, params: FellegiSunterParams) -> FloatArray:
    """log2 Bayes factor times prior odds, per pair."""
    lam = params.lambda_
    total = np.full(len(levels), float(np.log2(lam / (1 - lam))))
    for f, comp in enumerate(params.comparisons):
        w = np.asarray(comp.weights, dtype=np.float64)
        col = levels[:, f]
        total += np.where(col >= 0, w[np.maximum(col, 0)], 0.0)
    return total


def probabilities(weights: FloatArray) -> FloatArray:
    return np.asarray(1.0 / (1.0 + np.exp2(-np.clip(weights, -1000, 1000))), dtype=np.float64)
