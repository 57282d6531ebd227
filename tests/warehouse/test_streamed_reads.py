"""`Warehouse.to_arrow_streamed` gives the rows `to_arrow` gives, in the same order.

Attribution stores its credits in the order this read returns them (ordered by conversion and
position), so a streamed read that lost, repeated or reordered a batch would change the stored
table. Checked on DuckDB, where the read streams, with batches of one to a few rows, against a
plain-Python reading of the table sorted the same way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from revops.warehouse import Warehouse

row = st.fixed_dictionaries(
    {
        "k": st.integers(0, 5),
        "name": st.one_of(st.none(), st.text(alphabet="abc", max_size=4)),
        "at": st.one_of(
            st.none(),
            st.integers(0, 10**6).map(lambda s: dt.datetime(2026, 1, 1) + dt.timedelta(seconds=s)),
        ),
        "x": st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False)),
    }
)
SCHEMA = pa.schema(
    [
        ("k", pa.int64()),
        ("name", pa.string()),
        ("at", pa.timestamp("us")),
        ("x", pa.float64()),
        ("i", pa.int64()),
    ]
)


@pytest.fixture(scope="module")
def wh() -> Iterator[Warehouse]:
    with Warehouse.connect(":memory:") as warehouse:
        yield warehouse


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(row, max_size=40), size=st.integers(1, 7))
def test_streamed_read_is_the_plain_read(wh: Warehouse, rows: list[dict], size: int) -> None:
    data = pa.Table.from_pylist([{**r, "i": i} for i, r in enumerate(rows)], SCHEMA)
    t = wh.con.create_table("streamed", data, overwrite=True)
    expr = t.order_by(["k", "i"]).drop("i")
    got = wh.to_arrow_streamed(expr, rows=size)
    assert got.equals(wh.to_arrow(expr))
    want = [{c: r[c] for c in ("k", "name", "at", "x")} for r in sorted(data.to_pylist(), key=_key)]
    assert got.to_pylist() == want
    assert all(b.num_rows <= size for b in got.to_batches())


def _key(r: dict) -> tuple[int, int]:
    return r["k"], r["i"]
