"""Backtest arithmetic by hand, the no-leak rule as a property, and a replay on a small company."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest
from forecast_case import example_model, load_synthetic
from hypothesis import given, settings
from hypothesis import strategies as st

from revops.pipeline.forecast.backtest import summarize
from revops.pipeline.forecast.creation import not_yet_created
from revops.pipeline.forecast.engine import run_backtest
from revops.pipeline.forecast.features import training_rows
from revops.pipeline.forecast.periods import parse_period, quarter_of
from revops.warehouse import Warehouse

MODEL = example_model()


def test_mape_and_bias_by_hand() -> None:
    # Actual 100. Weeks forecast 80, 110, 100 → errors −0.2, +0.1, 0:
    # MAPE = (0.2 + 0.1 + 0) / 3 = 0.1; bias = (−0.2 + 0.1 + 0) / 3 = −0.0333…
    # A second quarter (actual 50, forecast 60 once → +0.2) makes overall MAPE (0.3 + 0.2) / 4.
    w = pd.DataFrame(
        {
            "period_start": [date(2026, 2, 1)] * 3 + [date(2026, 5, 1)],
            "quarter": ["2026Q1"] * 3 + ["2026Q2"],
            "as_of": [date(2026, 2, 1), date(2026, 2, 8), date(2026, 2, 15), date(2026, 5, 1)],
            "method": ["category"] * 4,
            "forecast": [80.0, 110.0, 100.0, 60.0],
            "actual": [100.0, 100.0, 100.0, 50.0],
        }
    )
    w["error_pct"] = (w["forecast"] - w["actual"]) / w["actual"]
    w["abs_pct_error"] = w["error_pct"].abs()
    s = summarize(w).set_index("quarter")
    assert s.loc["2026Q1", "mape"] == pytest.approx(0.1)
    assert s.loc["2026Q1", "bias"] == pytest.approx(-0.1 / 3)
    assert s.loc["2026Q2", "bias"] == pytest.approx(0.2)
    assert s.loc["overall", "mape"] == pytest.approx(0.5 / 4)
    assert s.loc["overall", "weeks"] == 4


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.dates(date(2023, 1, 1), date(2027, 1, 1)), min_size=1, max_size=40),
    st.dates(date(2023, 1, 1), date(2027, 1, 1)),
)
def test_training_rows_never_see_the_as_of_date(days: list[date], before: date) -> None:
    quarters = [quarter_of(d, 2) for d in days]
    rows = pd.DataFrame(
        {
            "as_of": pd.to_datetime(days),
            "period_start": pd.to_datetime([q.start for q in quarters]),
            "period_end": pd.to_datetime([q.end for q in quarters]),
        }
    )
    kept = training_rows(rows, before)
    assert (kept["period_end"].dt.date < before).all()
    assert (kept["as_of"].dt.date < before).all()
    # and nothing that satisfies the rule is thrown away
    assert len(kept) == sum(q.end < before for q in quarters)


def test_not_yet_created_by_hand() -> None:
    # Forecast 2026Q1 (Feb 1 …) as of Feb 15: 14 days in. History: 2025Q4 (Nov 1 … Jan 31),
    # whose point 14 days in is Nov 15. Deals created after Nov 15 in 2025Q4:
    #   x1 Nov 20, won Dec 10, 1,000 → counts;  x2 Dec 1, lost;  x3 Jan 5, won Feb 10 (next
    #   quarter) → created, not won in the quarter. x4 created Nov 10 (before the point).
    # created 3, won in quarter 1 (win rate 1/3), size 1,000 → expected 1,000.
    ts = pd.Timestamp
    deals = pd.DataFrame(
        {
            "opportunity_id": ["x1", "x2", "x3", "x4"],
            "opportunity_type": ["new_business"] * 4,
            "created_date": [
                ts("2025-11-20"),
                ts("2025-12-01"),
                ts("2026-01-05"),
                ts("2025-11-10"),
            ],
        }
    )
    closes = pd.DataFrame(
        {
            "opportunity_id": ["x1", "x2", "x3", "x4"],
            "closed_at": [
                ts("2025-12-10 09:00"),
                ts("2025-12-20"),
                ts("2026-02-10"),
                ts("2025-12-01"),
            ],
            "close_date": [ts("2025-12-10"), ts("2025-12-20"), ts("2026-02-10"), ts("2025-12-01")],
            "won": [True, False, True, True],
            "amount": [1_000.0, 500.0, 700.0, 900.0],
            "opportunity_type": ["new_business"] * 4,
        }
    )
    q1 = parse_period("2026Q1", 2)
    q4 = parse_period("2025Q4", 2)
    out = not_yet_created(deals, closes, q1, date(2026, 2, 15), [q4]).iloc[0]
    assert out["created_per_quarter"] == 3
    assert out["in_period_win_rate"] == pytest.approx(1 / 3)
    assert out["avg_won_size"] == 1_000
    assert out["expected"] == 1_000
    # A quarter that had not ended by the as-of date is never used.
    early = not_yet_created(deals, closes, q1, date(2026, 1, 20), [q4])
    assert early["expected"].sum() == 0


def test_backtest_replays_without_leaks(warehouse: Warehouse) -> None:
    load_synthetic(warehouse)
    two = MODEL.forecast.model_copy(update={"backtest_quarters": 2})
    result = run_backtest(warehouse, MODEL.model_copy(update={"forecast": two}))
    w = result.weekly
    assert len(set(w["quarter"])) == 2
    methods = {"category", "stage_default", "stage_learned", "win_model"}
    assert set(w["method"]) == {*methods, "recommended"}
    # The recommendation is chosen on earlier quarters only: none for the first one.
    first = min(w["period_start"])
    assert set(w.loc[w["method"] == "recommended", "period_start"]) == {max(w["period_start"])}
    assert not result.recommended.empty
    assert (result.recommended["period_start"] > first).all()
    # No leak: everything the learned parts saw ended before the quarter's first as-of date.
    seen = pd.to_datetime(w["trained_through"]).dt.date
    assert (seen < w["as_of"]).all()
    assert (seen < w["period_start"]).all()
    assert (w["as_of"] >= w["period_start"]).all()
    assert (w["as_of"] <= w["period_end"]).all()
    assert w["error_pct"].to_numpy() == pytest.approx(
        ((w["forecast"] - w["actual"]) / w["actual"]).to_numpy()
    )
    assert warehouse.count("forecast_backtests") == len(w)
    # The last week of a quarter knows almost everything that closed: the closed-won part
    # alone is at most the actual, and no method is below it.
    last = w[w["as_of"] == w.groupby("quarter")["as_of"].transform("max")]
    assert (last["forecast"] <= 3 * last["actual"]).all()
    assert set(result.summary["quarter"]) == {*w["quarter"], "overall"}
    # forecast_accuracy reads the stored rows of the primary method
    assert (
        warehouse.execute(
            warehouse.table("forecast_backtests").filter(lambda t: t.is_primary).count()
        )
        == (w["method"] == "stage_learned").sum()
    )
    # Only the configured window is stored: another --last shows but leaves the table alone.
    run_backtest(warehouse, MODEL, last=1)
    assert warehouse.count("forecast_backtests") == len(w)
    assert (pd.to_datetime(w["period_end"]) - pd.to_datetime(w["period_start"])).min() >= timedelta(
        days=88
    )
