"""Properties: on any stage history, the hygiene flags' per-deal figures and stage conversion
equal a plain-Python replay.

The queries read the per-deal figures (the current stage's entry, close-date pushes, the last
activity) from the open deals' rows only, the usual stage times in a query of their own (the
engine's path) and each deal's final kind from a window; the replay reads every row of every
deal, so a restriction that dropped or mixed in another deal's rows shows here. Deals closed
or not yet created on the as-of date, activities of other deals and ties in time are drawn
on purpose. DuckDB in memory, so many examples run fast.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any

import ibis
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from revops.config.pipeline import PipelineConfig
from revops.pipeline.analytics import PipelineTables, stage_conversion
from revops.pipeline.hygiene import deal_flags, usual_stage_days
from revops.pipeline.stages import cutoff
from revops.warehouse import Batch, Warehouse

STAGES = PipelineConfig()
NAMES = [s.name for s in STAGES.stages]
DAY0 = datetime(2026, 1, 1)
RANK = {name: i for i, name in enumerate(STAGES.open_stages)} | {
    name: len(STAGES.open_stages) for name in STAGES.won_stages
}

Row = tuple[str, str, datetime, date | None, str]  # deal, stage, changed_at, close, history_id

history_row = st.tuples(
    st.integers(0, 5),  # deal
    st.sampled_from(NAMES),
    st.integers(0, 30 * 24),  # hours after DAY0 (ties between rows happen)
    st.one_of(st.none(), st.integers(0, 60)),  # close date, days after DAY0
)
activity = st.tuples(st.integers(0, 6), st.integers(0, 40 * 24))  # deal 6 has no history


@pytest.fixture(scope="module")
def mem() -> Iterator[Warehouse]:
    with Warehouse.connect(":memory:") as wh:
        yield wh


def _load(wh: Warehouse, rows: list[Row], acts: list[tuple[str, datetime]]) -> PipelineTables:
    deals = sorted({r[0] for r in rows} | {a[0] for a in acts})
    opps = {
        "opportunity_id": deals,
        "owner_id": ["u"] * len(deals),
        "opportunity_type": ["new_business"] * len(deals),
        "created_date": [DAY0.date()] * len(deals),
        "is_closed": [False] * len(deals),
        "next_step": ["call"] * len(deals),
    }
    hist = {
        "history_id": [r[4] for r in rows],
        "opportunity_id": [r[0] for r in rows],
        "stage": [r[1] for r in rows],
        "changed_at": [r[2] for r in rows],
        "amount": pa.array([1000.0] * len(rows), pa.float64()),
        "close_date": pa.array([r[3] for r in rows], pa.date32()),
    }
    activities = {
        "activity_id": [f"a{i:03d}" for i in range(len(acts))],
        "opportunity_id": [a[0] for a in acts],
        "occurred_at": pa.array([a[1] for a in acts], pa.timestamp("us")),
    }
    wh.write_many(
        [
            Batch("opportunities", pa.table(opps), "replace"),
            Batch("opportunity_stage_history", pa.table(hist), "replace"),
            Batch("activities", pa.table(activities), "replace"),
        ]
    )
    return PipelineTables.read(wh.table)


def _known(rows: list[Row], day: date) -> dict[str, list[Row]]:
    """Each deal's rows written by the end of `day`, in the CRM's order."""
    out: dict[str, list[Row]] = {}
    for r in sorted(rows, key=lambda r: (r[2], r[4])):
        if r[2] < cutoff(day):
            out.setdefault(r[0], []).append(r)
    return out


def _entries(deal_rows: list[Row]) -> list[Row]:
    return [r for i, r in enumerate(deal_rows) if i == 0 or deal_rows[i - 1][1] != r[1]]


def _replay_flags(
    rows: list[Row], acts: list[tuple[str, datetime]], day: date
) -> dict[str, tuple[datetime, int, date | None, datetime | None]]:
    """Per deal open on `day`: (current stage entered at, pushes, first close, last activity)."""
    out = {}
    for deal, known in _known(rows, day).items():
        if known[-1][1] not in STAGES.open_stages:
            continue
        closes = [r[3] for r in known]
        pushes = sum(1 for a, b in pairwise(closes) if a is not None and b is not None and b > a)
        seen = [at for d, at in acts if d == deal and at < cutoff(day)]
        out[deal] = (_entries(known)[-1][2], pushes, closes[0], max(seen, default=None))
    return out


def _replay_conversion(rows: list[Row], day: date) -> dict[str, tuple[int, int, int, int]]:
    """Per open stage: (entered, advanced, lost, pending), each deal's first entry counted."""
    counts: dict[str, list[int]] = {}
    for known in _known(rows, day).values():
        entries = _entries(known)
        final = entries[-1][1]
        for i, e in enumerate(entries):
            stage = e[1]
            if stage not in STAGES.open_stages or any(x[1] == stage for x in entries[:i]):
                continue
            later = [RANK[x[1]] for x in entries[i + 1 :] if x[1] in RANK]
            advanced = bool(later) and max(later) > RANK[stage]
            c = counts.setdefault(stage, [0, 0, 0, 0])
            c[0] += 1
            c[1] += advanced
            c[2] += (not advanced) and final in STAGES.lost_stages
            c[3] += (not advanced) and final in STAGES.open_stages
    return {s: (c[0], c[1], c[2], c[3]) for s, c in counts.items()}


def _none(v: Any) -> Any:
    return None if v is None or pd.isna(v) else v


@settings(max_examples=30, deadline=None)
@given(
    history=st.lists(history_row, min_size=1, max_size=30),
    acts=st.lists(activity, max_size=12),
    day=st.integers(-1, 32),
)
def test_flags_and_conversion_match_replay(
    mem: Warehouse,
    history: list[tuple[int, str, int, int | None]],
    acts: list[tuple[int, int]],
    day: int,
) -> None:
    rows = [
        (
            f"o{deal}",
            stage,
            DAY0 + timedelta(hours=h),
            None if c is None else DAY0.date() + timedelta(days=c),
            f"h{i:03d}",
        )
        for i, (deal, stage, h, c) in enumerate(history)
    ]
    events = [(f"o{deal}", DAY0 + timedelta(hours=h)) for deal, h in acts]
    t = _load(mem, rows, events)
    as_of = DAY0.date() + timedelta(days=day)

    # the engine's path (usual stage times read first) equals the one query
    usual = ibis.memtable(mem.to_arrow(usual_stage_days(t, STAGES, as_of)))
    wide = mem.execute(deal_flags(t, STAGES, as_of, usual)).sort_values("opportunity_id")
    alone = mem.execute(deal_flags(t, STAGES, as_of)).sort_values("opportunity_id")
    pd.testing.assert_frame_equal(wide.reset_index(drop=True), alone.reset_index(drop=True))

    end = cutoff(as_of)
    got = {
        r["opportunity_id"]: (
            end - timedelta(days=r["days_in_stage"]),
            int(r["pushes"]),
            _none(r["first_close_date"]),
            _none(r["last_activity_at"]),
        )
        for r in wide.to_dict("records")
    }
    want = _replay_flags(rows, events, as_of)
    assert set(got) == set(want)
    for deal, (entered, pushes, first, last) in want.items():
        g_entered, g_pushes, g_first, g_last = got[deal]
        assert abs(g_entered - entered) < timedelta(milliseconds=1), deal
        assert g_pushes == pushes, deal
        assert (None if g_first is None else pd.Timestamp(g_first).date()) == first, deal
        assert (None if g_last is None else pd.Timestamp(g_last).to_pydatetime()) == last, deal

    conv = mem.execute(stage_conversion(t, STAGES, as_of))
    got_conv = {
        r["stage"]: (int(r["entered"]), int(r["advanced"]), int(r["lost"]), int(r["pending"]))
        for r in conv.to_dict("records")
    }
    assert got_conv == _replay_conversion(rows, as_of)
