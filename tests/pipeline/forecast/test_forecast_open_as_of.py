"""Property: the replay's open deals off the prepared history (`evidence.open_as_of`, one table
with each open interval's deal columns, pushes and close) are `pipeline_as_of`'s open rows, with
the pushes and close a plain-Python reading of the same stage history gives.

Pushes by definition: the deal's history rows written at or before the row's own timestamp (in
(changed_at, history_id) order, the CRM's) whose close date is later than the row before it.
The close: the deal's last row in a closed stage. Ties in time happen here on purpose.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from itertools import pairwise

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from revops.config.pipeline import PipelineConfig
from revops.pipeline import SNAPSHOT_COLUMNS, pipeline_as_of
from revops.pipeline.forecast.evidence import OPEN_COLUMNS, open_as_of, prepare
from revops.warehouse import Batch, Warehouse

STAGES = PipelineConfig()
NAMES = [s.name for s in STAGES.stages]
DAY0 = datetime(2026, 1, 1)
CLOSED = {*STAGES.won_stages, *STAGES.lost_stages}

row = st.tuples(
    st.integers(0, 4),  # deal
    st.sampled_from(NAMES),
    st.integers(0, 40 * 24),  # hours after DAY0 (ties between rows happen)
    st.one_of(st.none(), st.integers(1, 50).map(lambda k: k * 1000.0)),
    st.one_of(st.none(), st.integers(0, 60)),  # close date, days after DAY0
)


@pytest.fixture(scope="module")
def mem() -> Iterator[Warehouse]:
    with Warehouse.connect(":memory:") as wh:
        yield wh


Row = tuple[str, str, datetime, float | None, date | None, str]


def _pushes(rows: list[Row], deal: str, at: datetime) -> int:
    mine = sorted((r for r in rows if r[0] == deal), key=lambda r: (r[2], r[5]))
    n = 0
    for before, now in pairwise(mine):
        if now[2] <= at and before[4] is not None and now[4] is not None and now[4] > before[4]:
            n += 1
    return n


def _close(rows: list[Row], deal: str) -> tuple[object, object, object]:
    closed = [r for r in rows if r[0] == deal and r[1] in CLOSED]
    if not closed:
        return pd.NaT, pd.NaT, None
    last = max(closed, key=lambda r: (r[2], r[5]))
    final = last[4] if last[4] is not None else last[2].date()
    return pd.Timestamp(last[2]), pd.Timestamp(final), last[1] in STAGES.won_stages


@settings(max_examples=40, deadline=None)
@given(
    history=st.lists(row, min_size=1, max_size=25),
    days=st.lists(st.integers(-1, 42), min_size=1, max_size=5),
)
def test_open_as_of_is_pipeline_as_of_with_pushes_and_close(
    mem: Warehouse,
    history: list[tuple[int, str, int, float | None, int | None]],
    days: list[int],
) -> None:
    rows: list[Row] = [
        (
            f"o{deal}",
            stage,
            DAY0 + timedelta(hours=h),
            amount,
            None if c is None else DAY0.date() + timedelta(days=c),
            f"h{i:03d}",
        )
        for i, (deal, stage, h, amount, c) in enumerate(history)
    ]
    deals = sorted({r[0] for r in rows} - {"o4"})  # o4's history has no deal: left out
    opps = {
        "opportunity_id": deals,
        "account_id": [f"a{d}" for d in deals],
        "owner_id": [f"u{d}" for d in deals],
        "opportunity_type": ["new_business"] * len(deals),
        "stage": ["Prospecting"] * len(deals),
        "created_date": [DAY0.date()] * len(deals),
        "close_date": [DAY0.date()] * len(deals),
        "is_closed": [False] * len(deals),
        "is_won": [False] * len(deals),
    }
    hist = {
        "history_id": [r[5] for r in rows],
        "opportunity_id": [r[0] for r in rows],
        "stage": [r[1] for r in rows],
        "changed_at": [r[2] for r in rows],
        "amount": pa.array([r[3] for r in rows], pa.float64()),
        "close_date": pa.array([r[4] for r in rows], pa.date32()),
    }
    mem.write_many(
        [
            Batch("opportunities", pa.table(opps), "replace"),
            Batch("opportunity_stage_history", pa.table(hist), "replace"),
        ]
    )
    history_t, opps_t = mem.table("opportunity_stage_history"), mem.table("opportunities")
    dates = sorted({DAY0.date() + timedelta(days=d) for d in days})
    order = ["as_of", "opportunity_id"]
    got = mem.execute(open_as_of(prepare(history_t, opps_t, STAGES), dates, STAGES).order_by(order))
    plain = mem.execute(
        pipeline_as_of(history_t, opps_t, dates, STAGES, open_only=True).order_by(order)
    )
    assert list(got.columns) == list(OPEN_COLUMNS)
    pd.testing.assert_frame_equal(got[list(SNAPSHOT_COLUMNS)], plain, check_exact=True)
    pushes = [
        _pushes(rows, d, at) for d, at in zip(got["opportunity_id"], got["changed_at"], strict=True)
    ]
    assert got["pushes"].tolist() == pushes
    for deal, closed_at, final, won in zip(
        got["opportunity_id"], got["_closed_at"], got["_final"], got["_won"], strict=True
    ):
        want = _close(rows, deal)
        assert (pd.Timestamp(closed_at), pd.Timestamp(final)) == want[:2]
        assert (None if pd.isna(won) else bool(won)) == want[2]
