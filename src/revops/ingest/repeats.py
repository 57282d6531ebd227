"""Ids a file repeats: the last row of each key is loaded, and every earlier one is reported.

An export that holds one record twice is either a join gone wrong upstream or a change log;
either way the person loading it must hear about it. Loading both would break the primary key,
quarantining both would lose the record, so the last row wins (what a change log means) and
the superseded rows are counted and named, never dropped in silence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

IntArray = npt.NDArray[np.int64]

SAMPLE = 10  # ids named in the report; the count covers them all


@dataclass(frozen=True)
class Repeats:
    """The superseded rows (positions in the validated table) and a sample to show people."""

    superseded: IntArray
    sample: tuple[tuple[str, tuple[int, ...]], ...]  # (id, its row numbers in the file)


def find_repeats(good: pa.Table, keys: tuple[str, ...], row_numbers: IntArray) -> Repeats:
    """Rows of `good` whose key a later row repeats. `row_numbers[i]` is row i's number in
    the file, for the sample."""
    if good.num_rows == 0 or _all_distinct(good, keys):
        return Repeats(np.zeros(0, np.int64), ())
    marked = good.select(list(keys)).append_column("__pos", pa.array(np.arange(good.num_rows)))
    last = marked.group_by(list(keys), use_threads=False).aggregate([("__pos", "max")])
    if last.num_rows == good.num_rows:
        return Repeats(np.zeros(0, np.int64), ())
    keep = np.zeros(good.num_rows, dtype=np.bool_)
    keep[last.column("__pos_max").to_numpy()] = True
    superseded = np.flatnonzero(~keep).astype(np.int64)
    return Repeats(superseded, _sample(good, keys, row_numbers, superseded))


def _all_distinct(data: pa.Table, keys: tuple[str, ...]) -> bool:
    """Whether no key repeats, by counting distinct values of a one-column key: a hash set,
    far smaller than grouping every row (a 3M-row file: 330 MB) for the usual file with none."""
    if len(keys) != 1:
        return False
    return int(pc.count_distinct(data.column(keys[0]), mode="all").as_py()) == data.num_rows


def _sample(
    good: pa.Table, keys: tuple[str, ...], row_numbers: IntArray, superseded: IntArray
) -> tuple[tuple[str, tuple[int, ...]], ...]:
    ids = _key_text(good, keys)
    first = list(dict.fromkeys(ids.take(pa.array(superseded)).to_pylist()))[:SAMPLE]
    hit = np.flatnonzero(pc.is_in(ids, value_set=pa.array(first, pa.string())).to_numpy(False))
    rows: dict[str, list[int]] = {k: [] for k in first}
    for pos in hit.tolist():
        rows[ids[pos].as_py()].append(int(row_numbers[pos]))
    return tuple((k, tuple(v)) for k, v in rows.items())


def _key_text(good: pa.Table, keys: tuple[str, ...]) -> pa.Array:
    parts = [pc.cast(good.column(k), pa.string()).combine_chunks() for k in keys]
    if len(parts) == 1:
        return parts[0]
    return pc.binary_join_element_wise(*parts, "/", null_handling="replace")
