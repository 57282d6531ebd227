"""Property: on any stage history, the point-in-time snapshot equals a plain-Python replay.

The replay is the definition written as directly as possible: for each date and each deal, take
the last history row written before the end of that day (ties broken by history_id, as the CRM
orders them) and count it when its stage is open. DuckDB in memory, so many examples run fast.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from revops.config.pipeline import PipelineConfig
from revops.pipeline import pipeline_as_of
from revops.pipeline.stages import cutoff
from revops.warehouse import Batch, Warehouse

STAGES = PipelineConfig()
NAMES = [s.name for s in STAGES.stages]
DAY0 = datetime(2026, 1, 1)

row = st.tuples(
    st.integers(0, 4),  # deal
    st.sampled_from(NAMES),
    st.integers(0, 40 * 24),  # hours after DAY0 (ties between rows happen)
    st.one_of(st.none(), st.integers(1, 50).map(lambda k: k * 1000.0)),
)


@pytest.fixture(scope="module")
def mem() -> Iterator[Warehouse]:
    with Warehouse.connect(":memory:") as wh:
        yield wh


def _replay(
    rows: list[tuple[str, str, datetime, float | None, str]], day: date
) -> tuple[int, float]:
    end = cutoff(day)
    last: dict[str, tuple[datetime, str, str, float | None]] = {}
    for opp, stage, at, amount, hid in rows:
        if at < end and (opp not in last or (at, hid) > last[opp][:2]):
            last[opp] = (at, hid, stage, amount)
    open_rows = [v for v in last.values() if v[2] in STAGES.open_stages]
    return len(open_rows), sum(v[3] or 0.0 for v in open_rows)


@settings(max_examples=40, deadline=None)
@given(
    history=st.lists(row, min_size=1, max_size=25),
    days=st.lists(st.integers(-1, 42), min_size=1, max_size=5),
)
def test_snapshot_matches_replay(
    mem: Warehouse, history: list[tuple[int, str, int, float | None]], days: list[int]
) -> None:
    rows = [
        (f"o{deal}", stage, DAY0 + timedelta(hours=h), amount, f"h{i:03d}")
        for i, (deal, stage, h, amount) in enumerate(history)
    ]
    deals = sorted({r[0] for r in rows})
    opps = {
        "opportunity_id": deals,
        "account_id": ["a"] * len(deals),
        "owner_id": ["u"] * len(deals),
        "opportunity_type": ["new_business"] * len(deals),
        "stage": ["Prospecting"] * len(deals),
        "created_date": [DAY0.date()] * len(deals),
        "close_date": [DAY0.date()] * len(deals),
        "is_closed": [False] * len(deals),
        "is_won": [False] * len(deals),
    }
    hist = {
        "history_id": [r[4] for r in rows],
        "opportunity_id": [r[0] for r in rows],
        "stage": [r[1] for r in rows],
        "changed_at": [r[2] for r in rows],
        "amount": pa.array([r[3] for r in rows], pa.float64()),
    }
    mem.write_many(
        [
            Batch("opportunities", pa.table(opps), "replace"),
            Batch("opportunity_stage_history", pa.table(hist), "replace"),
        ]
    )
    dates = sorted({DAY0.date() + timedelta(days=d) for d in days})
    snap = pipeline_as_of(
        mem.table("opportunity_stage_history"), mem.table("opportunities"), dates, STAGES
    )
    snap = snap.filter(snap.is_open)
    got_df = mem.execute(
        snap.group_by("as_of").aggregate(n=snap.count(), v=snap.amount.fill_null(0.0).sum())
    )
    got = {
        (d.date() if hasattr(d, "date") else d): (int(n), float(v))
        for d, n, v in zip(got_df["as_of"], got_df["n"], got_df["v"], strict=True)
    }
    for day in dates:
        want_n, want_v = _replay(rows, day)
        got_n, got_v = got.get(day, (0, 0.0))
        assert got_n == want_n, day
        assert got_v == pytest.approx(want_v), day
