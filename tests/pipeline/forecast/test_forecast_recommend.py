"""The recommended call: chosen per phase on backtest errors, banded by them, judged out of time.

Hand-worked backtest: two quarters (Q1 = Jan–Mar, Q2 = Apr–Jun 2026), one as-of date in each
third of the quarter, two methods, actual 100 in Q1 and 200 in Q2.

    Q1 early: a 80 (−20%), b 130 (+30%)   blend a+b 105 (+5%)
    Q1 mid:   a 90 (−10%), b 104 (+4%)    blend 97 (−3%)
    Q1 late:  a 99 (−1%),  b 102 (+2%)    blend 100.5 (+0.5%)
    Q2 early: a 160 (−20%), b 260 (+30%)  blend 210 (+5%)
    Q2 mid:   a 180 (−10%), b 208 (+4%)   blend 194 (−3%)
    Q2 late:  a 198 (−1%),  b 204 (+2%)   blend 201 (+0.5%)

Early: the blend (5%) beats a (20%) and b (30%); mid: blend 3% < b 4% < a 10%; late: blend 0.5%.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from revops.pipeline.forecast.recommend import candidates, choose, recommend, walk_forward

Q1, Q2 = (date(2026, 1, 1), date(2026, 3, 31)), (date(2026, 4, 1), date(2026, 6, 30))
DAYS = {Q1: (date(2026, 1, 5), date(2026, 2, 10), date(2026, 3, 20))}
DAYS[Q2] = (date(2026, 4, 5), date(2026, 5, 10), date(2026, 6, 20))
A = (80.0, 90.0, 99.0)
B = (130.0, 104.0, 102.0)


def weekly() -> pd.DataFrame:
    rows = []
    for (start, end), scale, label in ((Q1, 1.0, "2026Q1"), (Q2, 2.0, "2026Q2")):
        for i, day in enumerate(DAYS[(start, end)]):
            for method, values in (("a", A), ("b", B)):
                f = values[i] * scale
                actual = 100.0 * scale
                rows.append((start, end, label, day, method, f, actual, (f - actual) / actual))
    cols = ["period_start", "period_end", "quarter", "as_of", "method", "forecast", "actual"]
    out = pd.DataFrame(rows, columns=[*cols, "error_pct"])
    out["abs_pct_error"] = out["error_pct"].abs()
    return out


def test_blend_and_phase_by_hand() -> None:
    cands = candidates(weekly())
    assert set(cands["method"]) == {"a", "b", "a+b"}
    assert list(cands.drop_duplicates("as_of")["phase"][:3]) == ["early", "mid", "late"]
    picks = choose(cands, (0.1, 0.9))
    assert {p: c.method for p, c in picks.items()} == {"early": "a+b", "mid": "a+b", "late": "a+b"}
    early = picks["early"]
    assert early.mape == pytest.approx(0.05)
    assert early.bias == pytest.approx(0.05)
    assert early.weeks == 2
    assert early.quarters == 2
    assert early.runner_up == "a"
    assert early.runner_up_mape == pytest.approx(0.20)
    # Both early errors are +5%, so the band is forecast / 1.05 at both ends.
    assert early.band(105.0) == pytest.approx((100.0, 100.0))
    assert "lowest mean absolute error in the early third" in early.reason()


def test_band_from_error_quantiles() -> None:
    w = weekly()
    only_a = candidates(w[w["method"] == "a"])
    mid = choose(only_a, (0.0, 1.0))["mid"]
    # a's mid errors are −10% in both quarters: the actual was forecast / 0.9.
    assert mid.band(90.0) == pytest.approx((100.0, 100.0))
    call = recommend({"a": 180.0, "b": 208.0}, "mid", {"mid": mid})
    assert call is not None
    assert call.forecast == 180.0
    assert call.low == pytest.approx(200.0)
    assert call.high == pytest.approx(200.0)
    assert not call.caveat
    ahead = recommend({"a": 180.0}, "mid", {"mid": mid}, days_ahead=30)
    assert ahead is not None
    assert "starts in 30 day(s)" in ahead.caveat
    assert recommend({"b": 1.0}, "mid", {"mid": mid}) is None
    assert recommend({"a": 1.0}, "late", {"mid": mid}) is None


def test_walk_forward_chooses_on_earlier_quarters_only() -> None:
    rec = walk_forward(weekly(), (0.1, 0.9))
    # Q1 has nothing before it; Q2 is scored with the choice made on Q1 alone.
    assert set(rec["quarter"]) == {"2026Q2"}
    assert list(rec["chosen"]) == ["a+b", "a+b", "a+b"]
    assert list(rec["method"].unique()) == ["recommended"]
    assert rec["error_pct"].to_list() == pytest.approx([0.05, -0.03, 0.005])
    assert rec["abs_pct_error"].mean() == pytest.approx((0.05 + 0.03 + 0.005) / 3)
