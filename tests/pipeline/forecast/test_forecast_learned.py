"""Learned stage probabilities from a hand-made history, and manual probabilities that survive;
the warehouse's aggregate (`Replay.learned`) is pandas' (`weighted.learn`) on any history."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta

import pandas as pd
import pyarrow as pa
import pytest
from forecast_case import USERS, _rows, example_model, load_team
from hypothesis import given, settings
from hypothesis import strategies as st

from revops.pipeline.forecast.adjustments import set_probability
from revops.pipeline.forecast.data import load
from revops.pipeline.forecast.methods import open_parts
from revops.pipeline.forecast.periods import parse_period
from revops.pipeline.forecast.replay import current_rows, replay
from revops.pipeline.forecast.snapshots import read_snapshot, take_snapshots
from revops.pipeline.forecast.weighted import learn, learned_probability
from revops.warehouse import Batch, Warehouse

MODEL = example_model()
Q = parse_period("2026Q1", 2)  # 2026-02-01 … 2026-04-30: 13 weekly snapshots Feb 1 … Apr 26
J20 = datetime(2026, 1, 20, 9)
A29 = date(2026, 4, 29)
# Every deal sits in one stage through all 13 snapshots, due Apr 29:
#   A Proposal 100 → won Apr 29;  B Proposal 300 → lost Apr 29
#   C Discovery 50 → won Apr 29;  D Discovery 50 → won May 10 (after the quarter: a 0 label)
# Proposal: amount-weighted 100 / (100 + 300) = 0.25 (by count 13 / 26 = 0.5)
# Discovery: 50 / (50 + 50) = 0.5
HAND = [
    (
        "A",
        "r1",
        "new_business",
        [("Proposal", J20, 100.0, A29), ("Closed Won", datetime(2026, 4, 29, 9), 100.0, A29)],
    ),
    (
        "B",
        "r1",
        "new_business",
        [("Proposal", J20, 300.0, A29), ("Closed Lost", datetime(2026, 4, 29, 9), 300.0, A29)],
    ),
    (
        "C",
        "r2",
        "new_business",
        [("Discovery", J20, 50.0, A29), ("Closed Won", datetime(2026, 4, 29, 9), 50.0, A29)],
    ),
    (
        "D",
        "r2",
        "new_business",
        [
            ("Discovery", J20, 50.0, A29),
            ("Closed Won", datetime(2026, 5, 10, 9), 50.0, date(2026, 5, 10)),
        ],
    ),
]


def test_learned_stage_probabilities(warehouse: Warehouse) -> None:
    opp, hist = _rows(HAND)
    warehouse.write_many(
        [
            Batch("users", pa.table(USERS)),
            Batch("opportunities", opp),
            Batch("opportunity_stage_history", hist),
        ]
    )
    data = load(warehouse, MODEL)
    past = replay(warehouse, MODEL, data, [Q])
    rows, _ = past.read()
    assert len(rows) == 4 * 13
    learned = learn(rows, min_deals=1)
    # The warehouse's aggregate of the replay it holds is pandas' on the rows read out.
    for min_deals in (1, 3):
        mine, theirs = past.learned([Q], min_deals), learn(rows, min_deals)
        assert mine is not None
        assert mine.keys() == theirs.keys()
        for keys, cells in theirs.items():
            got = mine[keys][list(cells.columns)].reset_index(drop=True)
            pd.testing.assert_frame_equal(got, cells, check_exact=True)
    by_stage = learned[("stage",)].set_index("stage")
    assert by_stage.loc["Proposal", "probability"] == pytest.approx(0.25)
    assert by_stage.loc["Proposal", "count_probability"] == pytest.approx(0.5)
    assert by_stage.loc["Discovery", "probability"] == pytest.approx(0.5)
    fine = learned[("opportunity_type", "stage", "due_in_period", "phase")]
    assert set(fine["phase"]) == {"early", "mid", "late"}
    assert fine[fine.stage == "Proposal"]["probability"].tolist() == pytest.approx([0.25] * 3)
    probs = learned_probability(rows, learned, MODEL.pipeline)
    assert sorted(set(probs.round(6))) == [0.25, 0.5]
    # With more deals required per cell than there are, every cell falls back to the default.
    thin = learned_probability(rows, learn(rows, min_deals=3), MODEL.pipeline)
    assert sorted(set(thin.round(6))) == [0.2, 0.6]


def _same_learned(wh: Warehouse, min_deals: int) -> None:
    """`Replay.learned` of Q equals `learn` on the replay's rows read out, to the last bit."""
    data = load(wh, MODEL)
    past = replay(wh, MODEL, data, [Q])
    rows, _ = past.read()
    mine = past.learned([Q], min_deals)
    if rows.empty:
        assert mine is None
        return
    theirs = learn(rows, min_deals)
    assert mine is not None
    assert mine.keys() == theirs.keys()
    for keys, cells in theirs.items():
        got = mine[keys][list(cells.columns)].reset_index(drop=True)
        pd.testing.assert_frame_equal(got, cells, check_exact=True)


@pytest.fixture(scope="module")
def mem() -> Iterator[Warehouse]:
    with Warehouse.connect(":memory:") as wh:
        yield wh


Step = tuple[str, int, float | None, int]  # stage, day, amount, close day (after Jan 20)
OPEN = ["Prospecting", "Discovery", "Solution", "Proposal", "Negotiation"]
step = st.tuples(
    st.sampled_from([*OPEN, "Closed Won", "Closed Lost"]),
    st.integers(0, 110),  # days after Jan 20: Q's weeks are Feb 1 … Apr 26
    st.one_of(st.none(), st.integers(1, 9).map(lambda k: k * 1000.0)),
    st.integers(0, 150),  # close date, days after Jan 20 (due in Q or not)
)
deal = st.tuples(
    st.sampled_from(["new_business", "expansion", "renewal"]),
    st.lists(step, min_size=1, max_size=5),
)


@settings(max_examples=30, deadline=None)
@given(deals=st.lists(deal, min_size=1, max_size=6), min_deals=st.integers(1, 3))
def test_learned_is_pandas_learn_on_any_history(
    mem: Warehouse, deals: list[tuple[str, list[Step]]], min_deals: int
) -> None:
    """Deals that move between stages, phases and due dates within the quarter, so a deal sits
    in several cells of a key set and one cell of a coarser set holds it several times."""
    made = []
    for i, (kind, steps) in enumerate(deals):
        walk = [
            (stage, J20 + timedelta(days=at), amount, J20.date() + timedelta(days=close))
            for stage, at, amount, close in sorted(steps, key=lambda s: s[1])
        ]
        made.append((f"h{i}", ("r1", "r2")[i % 2], kind, walk))
    opp, hist = _rows(made)
    mem.write_many(
        [
            Batch("users", pa.table(USERS), "replace"),
            Batch("opportunities", opp, "replace"),
            Batch("opportunity_stage_history", hist, "replace"),
        ]
    )
    _same_learned(mem, min_deals)


def test_manual_probability_survives_a_stage_change(warehouse: Warehouse) -> None:
    load_team(warehouse)
    set_probability(
        warehouse,
        opportunity_id="d2",
        probability=35,
        note="champion left",
        actor="m1",
        at=datetime(2026, 3, 10, 12),
    )
    # The CRM moves d2 back to Proposal (60%) on Mar 12 and the opportunities are reloaded.
    opp = pa.table({"opportunity_id": ["d2"], "stage": ["Proposal"], "probability": [60.0]})
    row = {
        "history_id": ["d2-9"],
        "opportunity_id": ["d2"],
        "stage": ["Proposal"],
        "changed_at": [datetime(2026, 3, 12, 9)],
        "amount": [20_000.0],
        "close_date": [date(2026, 4, 20)],
        "forecast_category": ["best_case"],
        "probability": [60.0],
    }
    warehouse.write_many(
        [Batch("opportunities", opp), Batch("opportunity_stage_history", pa.table(row))]
    )
    data = load(warehouse, MODEL)
    as_of = date(2026, 3, 15)
    rows, _x = current_rows(warehouse, MODEL, data, Q, as_of)
    d2 = rows.set_index("opportunity_id").loc["d2"]
    assert d2["stage"] == "Proposal"
    assert d2["manual_probability"] == pytest.approx(0.35)
    parts = open_parts(rows, MODEL.forecast, MODEL.pipeline, None, None, None)
    # new business due in Q1: d2 20k × 0.35 (manual, not Proposal's 0.6) + d4 5k × 0.2 = 8,000
    assert parts["stage_default"]["new_business"] == pytest.approx(8_000)
    # Before the override was set it does not apply.
    early, _ = current_rows(warehouse, MODEL, data, Q, date(2026, 3, 9))
    assert early.set_index("opportunity_id")["manual_probability"].isna().all()
    # Snapshots store the probability in force: the manual one.
    take_snapshots(warehouse, MODEL, [as_of], data.overrides)
    snap = read_snapshot(warehouse, as_of).set_index("opportunity_id")
    assert snap.loc["d2", "probability"] == pytest.approx(35.0)
    assert snap.loc["d4", "probability"] == pytest.approx(20.0)
    take_snapshots(warehouse, MODEL, [as_of], data.overrides)  # idempotent per date
    assert len(read_snapshot(warehouse, as_of)) == len(snap)
