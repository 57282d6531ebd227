"""Candidate pairs counted by comparison pattern: what a Fellegi-Sunter fit reads of them.

EM and the prior λ see the pairs only through how many show each pattern of levels, and which
blocking keys a pair shares (a session per rule: `dedupe.fit_candidates`). So the pairs can
be compared a batch at a time and counted by (levels, keys shared), and the fit run on the
counts (`fellegi_sunter.fit(counts=…)`), with the same result: memory follows the batch and
the patterns, not the pairs. The fit made when a table's first records arrive
(`duplicate_rules`) held the ~4M pairs of 20,000 sampled accounts of the 10x demo at once
(+860 MB); they show 17 distinct rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from revops.config.dedupe import DedupeSettings
from revops.identity.blocking import IntArray, streamed_pairs
from revops.identity.compare import LevelArray, comparison_matrix

# Pairs compared at a time: each costs some 100 bytes of comparison temporaries (codes, masks,
# value pairs per field). The first accounts fit of the 10x demo (20,000 sampled records,
# ~4M pairs) grew the load by +860 MB with all pairs at once, +62 MB at 262,144 a batch and
# +39 MB at 65,536 (most of it the u sample's 200,000 pairs), CPU no higher (2026-12-06).
PAIR_BATCH = 1 << 16


@dataclass(frozen=True)
class PairTally:
    """Distinct (levels, keys shared) rows of candidate pairs and how many pairs show each."""

    levels: LevelArray  # (rows, compared fields)
    shared: npt.NDArray[np.bool_]  # (rows, blocking rules): the pair agrees on the rule's key
    counts: IntArray

    @property
    def pairs(self) -> int:
        return int(self.counts.sum())


def key_codes(keys: pa.Table, n_rules: int) -> list[IntArray]:
    """Per blocking rule each record's key code (-1: no key): equal codes, same key."""
    out = []
    for i in range(n_rules):
        enc = pc.dictionary_encode(keys.column(f"k{i}").combine_chunks())
        out.append(pc.fill_null(enc.indices, -1).to_numpy().astype(np.int64))
    return out


def shared_keys(codes: list[IntArray], left: IntArray, right: IntArray) -> npt.NDArray[np.bool_]:
    """(pairs, rules): whether the pair has the same key under each rule (whatever its block's
    size: a pair another rule found still agrees on this one)."""
    cols = [(c[left] == c[right]) & (c[left] >= 0) for c in codes]
    return np.stack(cols, axis=1) if cols else np.zeros((len(left), 0), dtype=np.bool_)


def count(
    levels: LevelArray, shared: npt.NDArray[np.bool_], counts: IntArray | None = None
) -> PairTally:
    """The pairs (`levels`, `shared`) counted by distinct row (each standing for `counts`
    pairs when given, as when merging tallies)."""
    radix = int(levels.max()) + 2 if levels.size else 1
    code = np.zeros(len(levels), dtype=np.int64)
    for f in range(levels.shape[1]):
        code = code * radix + (levels[:, f].astype(np.int64) + 1)
    for r in range(shared.shape[1]):
        code = code * 2 + shared[:, r]
    _, first, inverse = np.unique(code, return_index=True, return_inverse=True)
    weights = None if counts is None else counts.astype(np.float64)
    summed = np.bincount(inverse.reshape(-1), weights=weights, minlength=len(first))
    return PairTally(levels[first], shared[first], summed.astype(np.int64))


def pair_tally(
    encoded: list[tuple[IntArray, list[str]]],
    settings: DedupeSettings,
    keys: pa.Table,
    *,
    batch_rows: int = PAIR_BATCH,
) -> PairTally:
    """The tally of the candidate pairs of the records `keys` (`block_keys`) and `encoded`
    (`prepare`) describe, compared `batch_rows` pairs at a time (`blocking.streamed_pairs`)."""
    kinds = [c.kind for c in settings.comparisons]
    codes = key_codes(keys, len(settings.blocking))
    empty = PairTally(
        np.zeros((0, len(kinds)), np.int8),
        np.zeros((0, len(codes)), np.bool_),
        np.zeros(0, np.int64),
    )
    parts = [empty]
    for left, right in streamed_pairs(keys, settings.max_block_size, batch_rows):
        levels = comparison_matrix(encoded, kinds, left, right)
        parts.append(count(levels, shared_keys(codes, left, right)))
        if len(parts) > 64:  # distinct rows are few: merging keeps the list short
            parts = [_merged(parts)]
    return _merged(parts)


def _merged(parts: list[PairTally]) -> PairTally:
    """Tallies of disjoint pair sets as one."""
    return count(
        np.concatenate([p.levels for p in parts]),
        np.concatenate([p.shared for p in parts]),
        np.concatenate([p.counts for p in parts]),
    )
