"""Property: on random data a ratio is, row by row, its numerator over its denominator (DuckDB)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from revops.config import load_config
from revops.metrics import compute
from revops.warehouse import Warehouse

MODEL = load_config(Path(__file__).parents[2] / "examples" / "revops.yaml").model

opportunity = st.tuples(
    st.sampled_from(["A1", "A2", "A3", "A4"]),  # A4 is not stored: NULL segment
    st.dates(dt.date(2024, 1, 1), dt.date(2024, 6, 30)),
    st.booleans(),
    st.booleans(),
    st.floats(0, 1e6, allow_nan=False).map(lambda x: round(x, 2)),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(opportunity, min_size=1, max_size=40), st.sampled_from([None, "month"]))
def test_ratio_is_numerator_over_denominator(
    opps: list[tuple[str, dt.date, bool, bool, float]], grain: str | None
) -> None:
    with Warehouse.connect(":memory:") as wh:
        wh.write(
            "accounts",
            pa.table(
                {
                    "account_id": ["A1", "A2", "A3"],
                    "name": ["a", "b", "c"],
                    "segment": ["smb", "smb", "enterprise"],
                    "created_at": [dt.datetime(2023, 1, 1)] * 3,
                }
            ),
        )
        n = len(opps)
        wh.write(
            "opportunities",
            pa.table(
                {
                    "opportunity_id": [f"o{i}" for i in range(n)],
                    "account_id": [o[0] for o in opps],
                    "owner_id": ["u"] * n,
                    "opportunity_type": ["new_business"] * n,
                    "stage": ["x"] * n,
                    "created_date": [o[1] for o in opps],
                    "close_date": [o[1] for o in opps],
                    "is_closed": [o[2] or o[3] for o in opps],
                    "is_won": [o[3] for o in opps],
                    "amount": [o[4] for o in opps],
                }
            ),
        )
        for ratio, num, den in (
            ("win_rate", "won_deals", "closed_deals"),
            ("win_rate_by_value", "bookings", "closed_amount"),
        ):
            kw = {"by": ["segment"], "grain": grain}
            keys = (["period"] if grain else []) + ["segment"]
            got = compute(wh, MODEL, ratio, **kw).set_index(keys)["value"]
            n_ = compute(wh, MODEL, num, **kw).set_index(keys)["value"]
            d_ = compute(wh, MODEL, den, **kw).set_index(keys)["value"]
            # every bucket with a denominator, and no other, has a value
            assert sorted(got.index, key=str) == sorted(d_.index, key=str)
            for key, value in got.items():
                expected = n_.get(key, 0.0) / d_[key] if d_[key] else None
                if expected is None:
                    assert value != value  # NaN
                else:
                    assert abs(value - expected) <= 1e-9 * max(1.0, abs(expected))
