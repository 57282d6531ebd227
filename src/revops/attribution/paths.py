"""Channel paths in columnar form: the input of the data-driven models (Markov, Shapley).

A path is a sequence of channel codes; many paths are stored as one flat code array plus
offsets (as Arrow list arrays are), with per-path counts of conversions and non-conversions and
the conversion value. This is the same input ChannelAttribution takes (`path`,
`total_conversions`, `total_null`, `total_conversion_value`), kept as arrays so a million paths
are built and grouped without a Python loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import ArrayLike, NDArray

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Paths:
    """Paths over `channels`: path i is codes[offsets[i]:offsets[i+1]] (each path non-empty)."""

    channels: tuple[str, ...]
    codes: IntArray
    offsets: IntArray
    conversions: FloatArray
    nulls: FloatArray
    value: FloatArray

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> IntArray:
        return np.diff(self.offsets)

    @classmethod
    def from_lists(
        cls,
        paths: Sequence[Sequence[str]],
        conversions: ArrayLike,
        nulls: ArrayLike | None = None,
        value: ArrayLike | None = None,
    ) -> Paths:
        """Paths from Python lists of channel names (small data and tests)."""
        arr = pa.array([list(p) for p in paths], pa.list_(pa.string()))
        return cls.from_arrow(arr, conversions, nulls, value)

    @classmethod
    def from_strings(
        cls,
        paths: Sequence[str] | pa.Array,
        conversions: ArrayLike,
        nulls: ArrayLike | None = None,
        value: ArrayLike | None = None,
        sep: str = ">",
    ) -> Paths:
        """Paths written as ChannelAttribution writes them: `"a > b > c"`."""
        split = pc.split_pattern(pa.array(paths, pa.string()), sep)
        flat = pc.utf8_trim_whitespace(split.flatten())
        arr = pa.ListArray.from_arrays(split.offsets, flat)
        return cls.from_arrow(arr, conversions, nulls, value)

    @classmethod
    def from_arrow(
        cls,
        paths: pa.ListArray | pa.ChunkedArray,
        conversions: ArrayLike,
        nulls: ArrayLike | None = None,
        value: ArrayLike | None = None,
    ) -> Paths:
        """Paths from an Arrow list<string> array; channel codes in order of first appearance."""
        if isinstance(paths, pa.ChunkedArray):
            paths = paths.combine_chunks()
        n = len(paths)
        offsets = np.asarray(paths.offsets, dtype=np.int64)
        offsets = offsets - offsets[0]
        flat = paths.flatten()
        enc = flat.dictionary_encode()
        channels = tuple(str(c) for c in enc.dictionary.to_pylist())
        codes = np.asarray(enc.indices, dtype=np.int64)
        if n and np.any(np.diff(offsets) == 0):
            raise ValueError("every path needs at least one channel")
        zeros = np.zeros(n)
        return cls(
            channels,
            codes,
            offsets,
            np.asarray(conversions, dtype=np.float64),
            zeros if nulls is None else np.asarray(nulls, dtype=np.float64),
            zeros if value is None else np.asarray(value, dtype=np.float64),
        )

    def channel_masks(self) -> tuple[IntArray, IntArray]:
        """Each path's set of channels as a bitmask, and the unique masks' inverse index.

        Returns (unique masks, index of each path's mask in them). Needs at most 62 channels.
        """
        if len(self.channels) > 62:
            raise ValueError("channel sets as bitmasks support at most 62 channels")
        bits = np.left_shift(np.int64(1), self.codes)
        masks = np.bitwise_or.reduceat(bits, self.offsets[:-1]) if len(self) else bits[:0]
        uniq, inverse = np.unique(masks, return_inverse=True)
        return uniq, inverse.astype(np.int64)
