"""A batch's repeated primary keys: the sorted neighbour check agrees with a distinct count.

`_repeats_any` replaced a hashed distinct count (which held several times a million-key column)
on every write; whether a batch repeats a key must not change, or a write would skip the
last-row-per-key pass it needs, or keep the rows it should drop.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from revops.warehouse.warehouse import _last_per_key, _repeats_any

values = {
    "string": (st.text(alphabet="ab ", max_size=3), pa.string()),
    "int": (st.integers(-3, 3), pa.int64()),
    "float": (st.floats(allow_infinity=False, width=32), pa.float64()),
}


@settings(max_examples=150, deadline=None)
@given(data=st.data(), kind=st.sampled_from(sorted(values)), chunks=st.integers(1, 3))
def test_repeats_any_is_a_distinct_count(data: st.DataObject, kind: str, chunks: int) -> None:
    strategy, typ = values[kind]
    rows = data.draw(st.lists(st.one_of(st.none(), strategy), min_size=1, max_size=8))
    cut = len(rows) // chunks or 1
    column = pa.chunked_array(
        [pa.array(rows[i : i + cut], typ) for i in range(0, len(rows), cut)], typ
    )
    distinct = pc.count_distinct(column, mode="all").as_py()
    assert _repeats_any(column) == (distinct != len(column))
    table = pa.table({"k": column, "n": pa.array(range(len(rows)), pa.int64())})
    kept = _last_per_key(table, ("k",))
    assert kept.num_rows == distinct
