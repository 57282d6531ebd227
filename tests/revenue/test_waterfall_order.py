"""The ARR waterfall's figures are the same bits whatever order the warehouse holds its rows in
(the same seed gives the same report), and each is the sum of its rows (`sums.exact_sum`: to
within the few ulps its decimal casts round by, not always fsum's bits)."""

from __future__ import annotations

import datetime as dt
import math

import ibis
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from revops.revenue.waterfall import MOVEMENTS, waterfall

JAN, FEB = dt.date(2026, 1, 1), dt.date(2026, 2, 1)
# cents of MRR, as the engine stores them: sums of such values are where float order shows
money = st.integers(min_value=0, max_value=10_000_000).map(lambda c: c / 100)


CON = ibis.duckdb.connect()
CON.raw_sql("SET threads = 1")  # one thread adds the rows in the order they are held


def _figures(rows: list[dict[str, object]]) -> pd.DataFrame:
    table = CON.create_table("mrr_monthly", pd.DataFrame(rows), overwrite=True)
    return CON.to_pyarrow(waterfall(table)).to_pandas().set_index("month")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(money, money), min_size=2, max_size=60), st.randoms())
def test_the_waterfall_is_the_same_in_any_row_order(
    pairs: list[tuple[float, float]], rnd: object
) -> None:
    rows = [
        {"account_id": f"a{i}", "month": FEB, "first_month": JAN, "prior_mrr": p, "mrr": m}
        for i, (p, m) in enumerate(pairs)
    ]
    shuffled = list(rows)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    a, b = _figures(rows), _figures(list(reversed(shuffled)))
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    feb = a.loc[FEB]
    assert feb["opening_arr"] == pytest.approx(math.fsum(p for p, _ in pairs) * 12, rel=1e-14)
    assert feb["closing_arr"] == pytest.approx(math.fsum(m for _, m in pairs) * 12, rel=1e-14)
    assert sum(1 for _, m in pairs if m > 0) == feb["customers"]
    assert set(MOVEMENTS) <= set(a.columns)
