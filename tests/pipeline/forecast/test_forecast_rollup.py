"""Roll-up of the hand-worked team (see forecast_case) with a manager adjustment beside the call."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from functools import partial

import pandas as pd
import pyarrow as pa
import pytest
from forecast_case import USERS, _rows, example_model, load_team
from hypothesis import example, given, settings
from hypothesis import strategies as st

from revops.audit import entries, verify
from revops.pipeline.forecast import ForecastInputError, adjust, forecast_rollup, parse
from revops.pipeline.forecast.adjustments import adjustments_frame
from revops.pipeline.forecast.data import human_inputs_until, latest_data_date, states
from revops.pipeline.forecast.rollup import counting, deal_calls, rollup
from revops.warehouse import Batch, Warehouse

AS_OF = date(2026, 3, 15)
MODEL = example_model()


def _cell(out: pd.DataFrame, level: str, subject: str, typ: str, cat: str) -> pd.Series:
    hit = out[
        (out.level == level)
        & (out.subject_id == subject)
        & (out.opportunity_type == typ)
        & (out.category == cat)
    ]
    assert len(hit) == 1, (level, subject, typ, cat)
    return hit.iloc[0]


def test_rollup_by_level_with_adjustment(
    warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    # set for this test only: a leaked REVOPS_USER made later CLI tests act as a viewer
    monkeypatch.setenv("REVOPS_USER", "forecast-tester")
    load_team(warehouse)
    period = parse(MODEL, "2026Q1")
    assert (period.start, period.end) == (date(2026, 2, 1), date(2026, 4, 30))
    # m1 thinks r2's best case is really 3k, and says why; made before the as-of date.
    adjust(
        warehouse,
        period=period,
        level="rep",
        subject_id="r2",
        category="best_case",
        amount=3_000,
        note="expansion budget frozen",
        actor="m1",
        opportunity_type="all",
        at=datetime(2026, 3, 14, 12),
    )
    # An adjustment made after the as-of date must not show in the roll-up as of Mar 15.
    adjust(
        warehouse,
        period=period,
        level="company",
        subject_id="all",
        category="commit",
        amount=1.0,
        note="later",
        actor="vp",
        at=datetime(2026, 3, 20, 12),
    )
    out = forecast_rollup(warehouse, MODEL, period, AS_OF)
    # rep r1: closed d1 10k, commit d2 20k; d6 lost, d7 created after the as-of date.
    assert _cell(out, "rep", "r1", "all", "closed").call == 10_000
    assert _cell(out, "rep", "r1", "all", "commit").call == 20_000
    assert _cell(out, "rep", "r1", "all", "pipeline").call == 0
    # rep r2: best case d3 8k (expansion), pipeline d4 5k; d5 is due next quarter.
    r2_best = _cell(out, "rep", "r2", "all", "best_case")
    assert r2_best.call == 8_000
    assert r2_best.adjustment == 3_000
    assert r2_best.adjusted == 3_000
    assert r2_best.note == "expansion budget frozen"
    assert _cell(out, "rep", "r2", "expansion", "best_case").call == 8_000
    assert pd.isna(_cell(out, "rep", "r2", "expansion", "best_case").adjustment)
    assert _cell(out, "rep", "r2", "all", "pipeline").call == 5_000
    # m1 and vp see both reps: closed 10k, commit 20k, best case 8k, pipeline 5k.
    for manager in ("m1", "vp"):
        assert _cell(out, "manager", manager, "all", "closed").call == 10_000
        assert _cell(out, "manager", manager, "all", "best_case").call == 8_000
        assert _cell(out, "manager", manager, "all", "pipeline").call == 5_000
    # regions follow the rep: NA = r1, EMEA = r2.
    assert _cell(out, "region", "NA", "all", "commit").call == 20_000
    assert _cell(out, "region", "EMEA", "all", "best_case").call == 8_000
    assert _cell(out, "region", "EMEA", "new_business", "pipeline").call == 5_000
    company = _cell(out, "company", "all", "all", "commit")
    assert company.call == 20_000
    assert pd.isna(company.adjustment)  # the Mar 20 adjustment came after the as-of date
    later = forecast_rollup(warehouse, MODEL, period, date(2026, 3, 21))
    assert _cell(later, "company", "all", "all", "commit").adjusted == 1.0
    # The data ends on Mar 20 (d7's first row); a manager typing a number in long after that
    # is adjusting the present, so the view as of the data's last date shows it, Mar 15 not.
    assert latest_data_date(warehouse) == date(2026, 3, 20)
    adjust(
        warehouse,
        period=period,
        level="company",
        subject_id="all",
        category="commit",
        amount=2.0,
        note="typed in after the export",
        actor="vp",
        at=datetime(2026, 12, 1, 9),
    )
    present = forecast_rollup(warehouse, MODEL, period, date(2026, 3, 20))
    assert _cell(present, "company", "all", "all", "commit").adjusted == 2.0
    past = forecast_rollup(warehouse, MODEL, period, AS_OF)
    assert pd.isna(_cell(past, "company", "all", "all", "commit").adjustment)
    # Both adjustments are in the audit log, which still verifies.
    assert [e.action for e in entries(warehouse)][-3:] == ["forecast.adjusted"] * 3
    assert verify(warehouse).ok


def test_adjustment_needs_a_note_and_a_known_subject(warehouse: Warehouse) -> None:
    load_team(warehouse)
    period = parse(MODEL, "2026Q1")
    common = {"period": period, "category": "commit", "amount": 1.0, "actor": "m1"}
    with pytest.raises(ForecastInputError, match="note"):
        adjust(warehouse, level="rep", subject_id="r1", note=" ", **common)  # type: ignore[arg-type]
    with pytest.raises(ForecastInputError, match="no user"):
        adjust(warehouse, level="rep", subject_id="nobody", note="x", **common)  # type: ignore[arg-type]
    with pytest.raises(ForecastInputError, match="region"):
        adjust(warehouse, level="region", subject_id="MARS", note="x", **common)  # type: ignore[arg-type]
    assert warehouse.count("forecast_adjustments") == 0


@pytest.fixture(scope="module")
def mem() -> Iterator[Warehouse]:
    with Warehouse.connect(":memory:") as wh:
        yield wh


J20 = datetime(2026, 1, 20, 9)
STAGES = ["Prospecting", "Discovery", "Solution", "Proposal", "Negotiation"]
STAGES += ["Closed Won", "Closed Lost"]
# Close dates anywhere around 2026Q1 (Feb 1 … Apr 30: days 12 … 100 after Jan 20), its first
# and last days and the days either side of them often, or none.
CLOSE = st.one_of(st.none(), st.integers(0, 150), st.sampled_from([11, 12, 100, 101]))
step = st.tuples(
    st.sampled_from(STAGES),
    st.integers(0, 110),
    st.one_of(st.none(), st.integers(1, 9).map(lambda k: k * 1000.0)),
    CLOSE,
)
deal = st.tuples(
    st.sampled_from(["new_business", "expansion", "renewal"]),
    st.lists(step, min_size=1, max_size=4),
)


@settings(max_examples=30, deadline=None)
@given(deals=st.lists(deal, min_size=1, max_size=8), as_of=st.integers(0, 120))
# Won on the quarter's last day and open due on it, as of a day after both.
@example(
    deals=[
        ("new_business", [("Proposal", 0, 1000.0, 100), ("Closed Won", 90, 1000.0, 100)]),
        ("expansion", [("Negotiation", 5, 2000.0, 100)]),
    ],
    as_of=95,
)
def test_rollup_reads_only_the_deals_that_count_and_is_the_plain_rollup(
    mem: Warehouse,
    deals: list[tuple[str, list[tuple[str, int, float | None, int | None]]]],
    as_of: int,
) -> None:
    """The warehouse keeps the deals `deal_calls` counts (won or open, due in the period); the
    roll-up is the one of every deal's state read whole and counted in pandas."""
    made = []
    for i, (kind, steps) in enumerate(deals):
        walk = [
            (
                stage,
                J20 + timedelta(days=at),
                amount,
                None if close is None else J20.date() + timedelta(days=close),
            )
            for stage, at, amount, close in sorted(steps, key=lambda s: s[1])
        ]
        made.append((f"h{i}", ("r1", "r2")[i % 2], kind, walk))
    opp, hist = _rows(made)  # type: ignore[arg-type]
    mem.write_many(
        [
            Batch("users", pa.table(USERS), "replace"),
            Batch("opportunities", opp, "replace"),
            Batch("opportunity_stage_history", hist, "replace"),
        ]
    )
    period = parse(MODEL, "2026Q1")
    day = J20.date() + timedelta(days=as_of)
    every = states(mem, MODEL, [day], open_only=False)
    narrowed = states(mem, MODEL, [day], open_only=False, narrow=partial(counting, period=period))
    expect = deal_calls(every, period).reset_index(drop=True)
    got = deal_calls(narrowed, period).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expect, check_exact=True)
    assert len(narrowed) == len(expect)  # nothing read that the calls leave out
    until = human_inputs_until(day, latest_data_date(mem))
    plain = rollup(
        deal_calls(every, period), pd.DataFrame(USERS), adjustments_frame(mem), period, until
    )
    pd.testing.assert_frame_equal(forecast_rollup(mem, MODEL, period, day), plain, check_exact=True)
