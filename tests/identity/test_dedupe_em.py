"""Fellegi-Sunter estimation checked by hand and against an independent per-pair EM."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from revops.config.dedupe import BlockingRule, Comparison, DedupeSettings
from revops.identity import fellegi_sunter as fs
from revops.identity.dedupe import dedupe_frame

FloatArray = np.ndarray


def test_u_from_all_pairs_of_four_records_by_hand() -> None:
    # names ann, ann, bob, null. Exact u from value counts: Σc(c-1)/n(n-1) = (2·1)/(3·2) = 1/3;
    # the sampled pairs (here all six) share the rest among the other levels: only "different".
    records = pa.table({"id": ["a", "b", "c", "d"], "name": ["ann", "ann", "bob", None]})
    settings = DedupeSettings(
        comparisons=(Comparison(field="name", kind="exact"),),
        blocking=(BlockingRule(name="name", keys=("name",)),),
    )
    result = dedupe_frame(records, settings)
    assert np.allclose(result.params.comparisons[0].u, (2 / 3, 1 / 3))


def test_u_without_value_counts_is_the_smoothed_sample_frequency() -> None:
    # levels of six pairs on one 3-level field: 0,0,0,1,2,-1 → counts (3,1,1) + 1 each over 8.
    levels = np.array([[0], [0], [0], [1], [2], [-1]], dtype=np.int8)
    (u,) = fs.estimate_u(levels, [3])
    assert np.allclose(u, (4 / 8, 2 / 8, 2 / 8))
    (u,) = fs.estimate_u(levels, [3], exact=[0.1])
    assert np.allclose(u, (0.9 * 4 / 6, 0.9 * 2 / 6, 0.1))


def _brute_force_em(
    levels: np.ndarray, u: list[FloatArray], m: list[FloatArray], lam: float, iterations: int
) -> tuple[list[FloatArray], float]:
    """EM written pair by pair, with no pattern collapsing: the reference implementation."""
    for _ in range(iterations):
        posts = []
        for row in levels:
            pm, pu = lam, 1 - lam
            for f, level in enumerate(row):
                if level >= 0:
                    pm *= m[f][level]
                    pu *= u[f][level]
            posts.append(pm / (pm + pu))
        lam = sum(posts) / len(posts)
        new_m = []
        for f in range(levels.shape[1]):
            mass = np.zeros(len(m[f]))
            for row, post in zip(levels, posts, strict=True):
                if row[f] >= 0:
                    mass[row[f]] += post
            mass = np.maximum(mass / mass.sum(), 1e-6)
            new_m.append(mass / mass.sum())
        m = new_m
    return m, lam


def test_em_matches_a_brute_force_implementation() -> None:
    rng = np.random.default_rng(3)
    levels = rng.integers(-1, 3, size=(300, 3)).astype(np.int8)
    levels[:60, :] = np.maximum(levels[:60, :], 1)  # some agreement structure
    u = [np.array([0.7, 0.2, 0.1]), np.array([0.5, 0.3, 0.2]), np.array([0.8, 0.15, 0.05])]
    m0 = [fs.initial_m(3) for _ in range(3)]
    m, lam, its, _ = fs.em_session(levels, u, m0, 0.3, max_iterations=7, tolerance=1e-15)
    ref_m, ref_lam = _brute_force_em(levels, u, m0, 0.3, 7)
    assert its == 7
    assert abs(lam - ref_lam) < 1e-9
    for a, b in zip(m, ref_m, strict=True):
        assert np.allclose(a, b, atol=1e-9)


def test_em_recovers_known_m_and_lambda_from_a_synthetic_mixture() -> None:
    rng = np.random.default_rng(11)
    n, lam_true = 40_000, 0.2
    m_true = [np.array([0.05, 0.15, 0.8]), np.array([0.1, 0.9]), np.array([0.02, 0.08, 0.9])]
    u = [np.array([0.85, 0.1, 0.05]), np.array([0.7, 0.3]), np.array([0.9, 0.07, 0.03])]
    is_match = rng.random(n) < lam_true
    cols = []
    for mt, ut in zip(m_true, u, strict=True):
        col = np.where(is_match, rng.choice(len(mt), n, p=mt), rng.choice(len(ut), n, p=ut))
        cols.append(col)
    levels = np.stack(cols, axis=1).astype(np.int8)
    m0 = [fs.initial_m(len(x)) for x in u]
    m, lam, _, converged = fs.em_session(levels, u, m0, 0.5, max_iterations=500, tolerance=1e-8)
    assert converged
    assert abs(lam - lam_true) < 0.01
    for est, truth in zip(m, m_true, strict=True):
        assert np.abs(est - truth).max() < 0.03


def test_population_lambda_counts_unblocked_pairs_as_non_matches() -> None:
    # One pattern with Bayes factor B = 10_000 in 10 of N = 10_000 pairs, the rest unblocked.
    # The fixed point λ = 10·λB/(λB + 1 - λ)/N gives λ(B - 1) + 1 = 10B/N, so λ = 9/9999.
    levels = np.full((10, 1), 1, dtype=np.int8)
    m = [np.array([0.001, 0.999])]
    u = [np.array([0.9999001, 0.0000999])]
    lam = fs.population_lambda(levels, m, u, 10_000)
    assert abs(lam - 9 / 9999) < 1e-8
