"""Markov-chain attribution, solved exactly: removal effects from an absorbing chain.

The chain follows ChannelAttribution (Altomare; Anderl et al. 2014) state for state, so the two
answer the same question:

* states of order k are windows of k consecutive channels of a path (a path shorter than k is
  one state, the whole path); consecutive identical states of a path collapse into one (so at
  order 1, `a > a > b` is `a > b`);
* every path adds its `conversions + nulls` to each transition start -> s1 -> ... -> sm, then
  `conversions` to sm -> (conversion) and `nulls` to sm -> (null);
* removing a channel sends every state containing it to (null);
* removal effect RE_c = 1 - P(conversion | c removed) / P(conversion); credits are the removal
  effects normalized to sum 1, times the total conversions. ChannelAttribution estimates
  RE_c by simulation as the share of simulated converting walks that visit c, which is the same
  quantity: a walk converts with c removed exactly when it converts without visiting c.
* conversion value: a walk that converts from state s carries the mean value per conversion of
  the paths that end in s (ChannelAttribution draws it from their empirical distribution, whose
  mean that is), so value removal effects use the reward P(s -> conversion) x mean value(s).

Here P(conversion) is not simulated: with Q the transient-to-transient probabilities and r the
one-step conversion probabilities, x = (I - Q)^-1 r is solved with a sparse LU, once for the
full chain and once per removed channel. ChannelAttribution also cuts simulated walks at the
longest observed path; the exact answer has no such truncation, which moves results by far less
than its seed-to-seed spread.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.sparse.linalg import splu

from revops.attribution.counts import START, FitCounts
from revops.attribution.paths import Paths

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
I32Array = NDArray[np.int32]


@dataclass(frozen=True)
class Chain:
    """An absorbing chain: states 0 = (start), 1..n-1 = channel windows; then conversion, null."""

    counts: sp.csr_matrix  # transient x (transient + conversion + null) transition counts
    contains: NDArray[np.bool_]  # transient state x channel: the window holds the channel
    value_per_conversion: FloatArray  # mean conversion value of paths ending in each state

    @property
    def n_transient(self) -> int:
        return int(self.counts.shape[0])


@dataclass(frozen=True)
class MarkovResult:
    """Per-channel removal effects and credits (conversions and value)."""

    channels: tuple[str, ...]
    order: int
    n_states: int
    conversion_probability: float
    removal_effects: FloatArray
    conversions: FloatArray
    value_removal_effects: FloatArray
    value: FloatArray


def _window_codes(paths: Paths, order: int) -> tuple[IntArray, I32Array]:
    """Each window's code (base n_channels + 1, the extra digit pads short windows) and path."""
    n_ch = len(paths.channels)
    lengths = paths.lengths
    ids = np.arange(len(paths), dtype=np.int32)
    if order == 1:
        return paths.codes, np.repeat(ids, lengths)
    nwin = np.maximum(lengths - order + 1, 1)
    path_of = np.repeat(ids, nwin)
    first_win = np.cumsum(nwin) - nwin
    start = paths.offsets[:-1][path_of] + (np.arange(int(nwin.sum())) - first_win[path_of])
    wlen = np.minimum(lengths, order)[path_of]
    last = len(paths.codes) - 1
    code = np.zeros(len(start), dtype=np.int64)
    for j in range(order):
        tok = np.where(j < wlen, paths.codes[np.minimum(start + j, last)], n_ch)
        code = code * (n_ch + 1) + tok
    return code, path_of


def _dense_ids(code: IntArray) -> tuple[IntArray, I32Array]:
    """Sorted distinct codes and each code's index among them (a counting pass when small)."""
    top = int(code.max()) + 1 if len(code) else 1
    if top > 50_000_000:
        uniq, inverse = np.unique(code, return_inverse=True)
        return uniq, inverse.astype(np.int32)
    present = np.zeros(top, dtype=bool)
    present[code] = True
    ids = (np.cumsum(present) - 1).astype(np.int32)
    return np.flatnonzero(present).astype(np.int64), ids[code]


def _counts(parts: list[tuple[I32Array, I32Array, FloatArray]], n_t: int) -> sp.csr_matrix:
    """Summed transition counts from (rows, cols, weights) parts; a dense bincount per part when
    the matrix is small (no concatenated copies of the millions of transitions), COO otherwise."""
    width = n_t + 2
    if n_t * width <= 4_000_000:
        dense = np.zeros(n_t * width)
        for rows, cols, vals in parts:
            dense += np.bincount(rows * width + cols, vals, minlength=n_t * width)
        return sp.csr_matrix(dense.reshape(n_t, width))
    rows, cols, vals = (np.concatenate([p[i] for p in parts]) for i in range(3))
    counts = sp.coo_matrix((vals, (rows, cols)), shape=(n_t, width)).tocsr()
    counts.sum_duplicates()
    return counts


def build_chain(paths: Paths, order: int) -> Chain:
    """Transition counts of the order-k chain, built with array operations only."""
    if order < 1:
        raise ValueError("order must be at least 1")
    n_ch = len(paths.channels)
    code, path_of = _window_codes(paths, order)
    used = (paths.conversions + paths.nulls) > 0
    keep = used[path_of]
    keep[1:] &= (path_of[1:] != path_of[:-1]) | (code[1:] != code[:-1])
    code, path_of = code[keep], path_of[keep]
    del keep
    uniq, state = _dense_ids(code)
    del code
    state += 1
    n_t = len(uniq) + 1
    first = np.ones(len(state), dtype=bool)
    first[1:] = path_of[1:] != path_of[:-1]
    last = np.ones(len(state), dtype=bool)
    last[:-1] = first[1:]
    src = np.empty_like(state)
    src[0] = 0
    src[1:] = state[:-1]
    src[first] = 0
    del first
    end_state, end_path = state[last], path_of[last]
    full = np.full(len(end_state), n_t, dtype=np.int32)
    counts = _counts(
        [
            (src, state, (paths.conversions + paths.nulls)[path_of]),
            (end_state, full, paths.conversions[end_path]),
            (end_state, full + 1, paths.nulls[end_path]),
        ],
        n_t,
    )
    vpc = _per_conversion(end_state, paths.conversions[end_path], paths.value[end_path], n_t)
    return Chain(counts, _contains(uniq, n_t, n_ch, order), vpc)


def chain_of(counts: FitCounts) -> Chain:
    """The chain `build_chain` makes of the paths, from the warehouse's counts of the same
    journeys' moves and ends (`counts.fit_counts`): the same states in the same order, and the
    same whole-number counts."""
    n_ch = len(counts.channels)
    uniq = np.unique(counts.dst)
    n_t = len(uniq) + 1
    state = (np.searchsorted(uniq, counts.dst) + 1).astype(np.int32)
    src = np.where(counts.src == START, 0, np.searchsorted(uniq, counts.src) + 1).astype(np.int32)
    end_state = (np.searchsorted(uniq, counts.end) + 1).astype(np.int32)
    full = np.full(len(end_state), n_t, dtype=np.int32)
    matrix = _counts(
        [
            (src, state, counts.moves),
            (end_state, full, counts.end_conversions),
            (end_state, full + 1, counts.end_nulls),
        ],
        n_t,
    )
    return Chain(
        matrix,
        _contains(uniq, n_t, n_ch, counts.order),
        _per_conversion(end_state, counts.end_conversions, counts.end_value, n_t),
    )


def _contains(uniq: IntArray, n_t: int, n_ch: int, order: int) -> NDArray[np.bool_]:
    """Transient state x channel: the state's window holds the channel (state 0 is the start)."""
    contains = np.zeros((n_t, n_ch + 1), dtype=bool)
    rest = uniq.copy()
    for _ in range(order):
        contains[np.arange(1, n_t), rest % (n_ch + 1)] = True
        rest //= n_ch + 1
    return contains[:, :n_ch]


def _per_conversion(
    end_state: I32Array, conversions: FloatArray, value: FloatArray, n_t: int
) -> FloatArray:
    """Mean conversion value of the journeys ending in each state."""
    conv_by_state = np.bincount(end_state, conversions, minlength=n_t)
    value_by_state = np.bincount(end_state, value, minlength=n_t)
    safe = np.where(conv_by_state > 0, conv_by_state, 1.0)
    return np.asarray(np.where(conv_by_state > 0, value_by_state / safe, 0.0), dtype=np.float64)


def _absorption(q: sp.csr_matrix, rewards: list[FloatArray], keep: NDArray[np.bool_]) -> FloatArray:
    """x[0] for x = (I - Q') ^-1 r per reward r, where Q' sends removed states to null."""
    d = sp.diags(keep.astype(np.float64))
    a = (sp.identity(q.shape[0], format="csc") - d @ q @ d).tocsc()
    lu = splu(a)
    rhs = np.column_stack([r * keep for r in rewards])
    return np.asarray(lu.solve(rhs)[0], dtype=np.float64)


def _normalized(effects: FloatArray, total: float) -> FloatArray:
    s = float(effects.sum())
    return effects / s * total if s > 0 else np.zeros_like(effects)


def markov(paths: Paths, order: int = 1) -> MarkovResult:
    """Exact removal effects and credits of the order-k Markov model over `paths`."""
    chain = build_chain(paths, order)
    total = (float(paths.conversions.sum()), float(paths.value.sum()))
    return solve(chain, paths.channels, order, *total)


def markov_counts(counts: FitCounts) -> MarkovResult:
    """`markov` over the warehouse's counts of the journeys instead of their paths."""
    chain = chain_of(counts)
    return solve(chain, counts.channels, counts.order, counts.conversions, counts.value)


def solve(
    chain: Chain, channels: tuple[str, ...], order: int, conversions: float, value: float
) -> MarkovResult:
    """Removal effects of every channel in `chain`, and credits that share out the total
    `conversions` and `value` in their proportions."""
    counts = chain.counts
    n_t = chain.n_transient
    out = np.asarray(counts.sum(axis=1)).ravel()
    inv = sp.diags(np.divide(1.0, out, out=np.zeros_like(out), where=out > 0))
    probs = (inv @ counts).tocsr()
    q = probs[:, :n_t].tocsr()
    r = probs[:, n_t].toarray().ravel()
    rewards = [r, r * chain.value_per_conversion]
    everything = np.ones(n_t, dtype=bool)
    base = _absorption(q, rewards, everything)
    n_ch = len(channels)
    removed = np.zeros((n_ch, 2))
    for c in range(n_ch):
        removed[c] = _absorption(q, rewards, ~chain.contains[:, c])
    with np.errstate(invalid="ignore", divide="ignore"):
        effects = np.where(base > 0, 1.0 - removed / base, 0.0)
    effects = np.clip(effects, 0.0, None)
    return MarkovResult(
        channels=channels,
        order=order,
        n_states=n_t - 1,
        conversion_probability=float(base[0]),
        removal_effects=effects[:, 0],
        conversions=_normalized(effects[:, 0], conversions),
        value_removal_effects=effects[:, 1],
        value=_normalized(effects[:, 1], value),
    )
