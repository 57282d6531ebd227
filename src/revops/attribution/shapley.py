"""Shapley-value attribution over channel sets.

Characteristic function (Zhao, Mahboobi & Bagheri, "Shapley value methods for attribution
modeling in online advertising", 2018, following Dalessandro et al. 2012): for a coalition S of
channels, v(S) is the conversions (or conversion value) of the journeys whose set of channels
is a subset of S. The Shapley value of channel i is

    phi_i = sum over S not containing i of |S|! (n - |S| - 1)! / n! * (v(S + i) - v(S)).

Exact: conversions are summed per exact channel set, a zeta (subset-sum) transform over the 2^n
masks gives v for every coalition, and the weighted marginal contributions are summed with
array operations; fast up to about 16 channels. Beyond `exact_max` channels, random
permutations are sampled: in one permutation a journey's conversions go to whichever of its
channels comes last (the one that completes its set), the estimate is the mean over
permutations and its standard error is reported per channel. Either way the values sum to the
total conversions (the efficiency axiom), since every journey is credited exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import factorial

import numpy as np
from numpy.typing import NDArray

from revops.attribution.counts import FitCounts
from revops.attribution.paths import Paths

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class ShapleyResult:
    channels: tuple[str, ...]
    exact: bool
    conversions: FloatArray
    value: FloatArray
    std_error: FloatArray  # per channel, of `conversions`; zeros when exact
    samples: int  # permutations drawn; 0 when exact


def coalition_values(masks: IntArray, weights: FloatArray, n: int) -> FloatArray:
    """v(S) for every mask S of n channels: the sum of `weights` of masks that are subsets of S."""
    v = np.bincount(masks, weights, minlength=1 << n).astype(np.float64)
    idx = np.arange(1 << n)
    for i in range(n):
        has = (idx >> i) & 1 == 1
        v[has] += v[idx[has] ^ (1 << i)]
    return v


def exact_shapley(v: FloatArray, n: int) -> FloatArray:
    """Shapley values of the game with coalition values `v` (length 2^n)."""
    idx = np.arange(1 << n)
    size = np.zeros(1 << n, dtype=np.int64)
    for i in range(n):
        size += (idx >> i) & 1
    coef = np.array([factorial(s) * factorial(n - s - 1) / factorial(n) for s in range(n)])
    phi = np.zeros(n)
    for i in range(n):
        without = idx[(idx >> i) & 1 == 0]
        phi[i] = float(np.sum(coef[size[without]] * (v[without | (1 << i)] - v[without])))
    return phi


def _sampled(
    masks: IntArray, weights: FloatArray, n: int, samples: int, seed: int
) -> tuple[FloatArray, FloatArray]:
    """Mean and standard error of per-permutation credits (columns: one per weight vector)."""
    rng = np.random.default_rng(seed)
    bits = ((masks[:, None] >> np.arange(n)) & 1).astype(bool)
    draws = np.zeros((samples, n, weights.shape[1]))
    for k in range(samples):
        pos = rng.permutation(n)  # pos[c] = place of channel c in the permutation
        last = np.argmax(np.where(bits, pos[None, :], -1), axis=1)
        for j in range(weights.shape[1]):
            draws[k, :, j] = np.bincount(last, weights[:, j], minlength=n)
    mean = draws.mean(axis=0)
    se = draws.std(axis=0, ddof=1) / np.sqrt(samples) if samples > 1 else np.zeros_like(mean)
    return mean, se


def shapley(paths: Paths, exact_max: int = 14, samples: int = 2000, seed: int = 0) -> ShapleyResult:
    """Shapley credits per channel: exact up to `exact_max` channels, sampled beyond."""
    uniq, inverse = paths.channel_masks()
    conv = np.bincount(inverse, paths.conversions, minlength=len(uniq)).astype(np.float64)
    value = np.bincount(inverse, paths.value, minlength=len(uniq)).astype(np.float64)
    return shapley_sets(paths.channels, uniq, conv, value, exact_max, samples, seed)


def shapley_counts(
    counts: FitCounts, exact_max: int = 14, samples: int = 2000, seed: int = 0
) -> ShapleyResult:
    """`shapley` over the warehouse's conversions per channel set instead of the paths."""
    return shapley_sets(
        counts.channels,
        counts.masks,
        counts.mask_conversions,
        counts.mask_value,
        exact_max,
        samples,
        seed,
    )


def shapley_sets(
    channels: tuple[str, ...],
    uniq: IntArray,
    conv: FloatArray,
    value: FloatArray,
    exact_max: int = 14,
    samples: int = 2000,
    seed: int = 0,
) -> ShapleyResult:
    """Shapley credits from the conversions and value of each distinct channel set (`uniq`,
    ascending bitmasks over `channels`)."""
    n = len(channels)
    if n <= exact_max:
        dense = uniq.astype(np.int64)
        phi_c = exact_shapley(coalition_values(dense, conv, n), n)
        phi_v = exact_shapley(coalition_values(dense, value, n), n)
        zeros = np.zeros(n)
        return ShapleyResult(channels, True, phi_c, phi_v, zeros, 0)
    mean, se = _sampled(uniq, np.column_stack([conv, value]), n, samples, seed)
    return ShapleyResult(channels, False, mean[:, 0], mean[:, 1], se[:, 0], samples)
