"""Quota setting, potential and capacity, checked against hand-worked figures."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from revops.config.planning import PotentialConfig
from revops.errors import RevOpsError
from revops.planning.capacity import capacity_plan, hires_needed, measured_productivity
from revops.planning.periods import months_between, parse_period, ramp_fraction
from revops.planning.potential import account_potential
from revops.planning.quotas import bottom_up, capacity, prorated_quota, reconcile, top_down

RAMP = (0.0, 0.25, 0.5, 0.75)
REPS = pd.DataFrame(
    {
        "user_id": ["A", "B", "C"],
        "region": ["NA", "NA", "EMEA"],
        "start_date": [date(2021, 3, 1), date(2026, 6, 10), date(2026, 9, 1)],
    }
)


def test_parse_period() -> None:
    assert parse_period("2026-09") == (date(2026, 9, 1), date(2026, 9, 30))
    assert parse_period("2026-Q3") == (date(2026, 7, 1), date(2026, 9, 30))
    assert parse_period("2026") == (date(2026, 1, 1), date(2026, 12, 31))
    with pytest.raises(RevOpsError, match="not YYYY-MM"):
        parse_period("2026-13")
    # fiscal year starting in February, named by its start year: FY2026 = Feb 2026 – Jan 2027
    assert parse_period("2026-Q3", 2) == (date(2026, 8, 1), date(2026, 10, 31))
    assert parse_period("2026-Q4", 2) == (date(2026, 11, 1), date(2027, 1, 31))
    assert parse_period("2026", 2) == (date(2026, 2, 1), date(2027, 1, 31))


@given(
    year=st.integers(0, 9999),
    form=st.sampled_from(["{y:04d}-{m:02d}", "{y:04d}-Q{q}", "{y:04d}"]),
    month=st.integers(1, 12),
    q=st.integers(1, 4),
    fiscal_start=st.integers(1, 12),
)
def test_any_four_digit_period_parses_or_is_refused_in_one_line(
    year: int, form: str, month: int, q: int, fiscal_start: int
) -> None:
    """Schemathesis sent the comp statement route `0000-01` and got a 500 (year 0 is no date);
    `9999-12` ends in a month that has no successor. Every period of the accepted shapes now
    either gives its days or a RevOpsError naming it."""
    text = form.format(y=year, m=month, q=q)
    if 1000 <= year <= 8999:
        start, end = parse_period(text, fiscal_start)
        assert start <= end
    else:
        with pytest.raises(RevOpsError, match=f"period '{text}' is outside the years"):
            parse_period(text, fiscal_start)


def test_ramp_fraction() -> None:
    start = date(2026, 6, 10)
    assert ramp_fraction(start, date(2026, 5, 1), RAMP) == 0.0  # not yet started
    assert ramp_fraction(start, date(2026, 6, 1), RAMP) == 0.0  # month 1
    assert ramp_fraction(start, date(2026, 7, 1), RAMP) == 0.25  # month 2
    assert ramp_fraction(start, date(2026, 10, 1), RAMP) == 1.0  # month 5: ramped
    assert ramp_fraction(None, date(2026, 10, 1), RAMP) == 1.0


def test_top_down_with_ramp_by_hand() -> None:
    # Q3 2026 = Jul, Aug, Sep; ramp 0 / 25 / 50 / 75 % in tenure months 1–4.
    # A (veteran): 1 + 1 + 1 = 3.  B (starts Jun 10): Jul m2 .25 + Aug m3 .5 + Sep m4 .75 = 1.5.
    # C (starts Sep 1): Sep m1 = 0.  Total 4.5 → A 300k × 3/4.5 = 200k, B 100k, C 0.
    start, end = parse_period("2026-Q3")
    q = top_down(300_000, REPS, start, end, RAMP).set_index("user_id")
    assert q["capacity"].tolist() == [3.0, 1.5, 0.0]
    assert q.loc["A", "quota"] == pytest.approx(200_000)
    assert q.loc["B", "quota"] == pytest.approx(100_000)
    assert q.loc["C", "quota"] == 0


def test_top_down_rejects_bad_targets() -> None:
    start, end = parse_period("2026-09")
    with pytest.raises(RevOpsError, match="positive"):
        top_down(0, REPS, start, end, RAMP)
    only_new = REPS[REPS["user_id"] == "C"]
    with pytest.raises(RevOpsError, match="no rep carries quota capacity"):
        top_down(1_000, only_new, start, end, RAMP)


def test_bottom_up_and_reconciliation_by_hand() -> None:
    # Potential A 1.2M, B 0.6M, C none; capture 25 %/year; a quarter is 3/12 of a year:
    # A 1.2M × .25 × 3/12 = 75k, B 37.5k, C 0. Top-down 300k → gap A 200k − 75k = 125k.
    start, end = parse_period("2026-Q3")
    bottom = bottom_up(REPS, pd.Series({"A": 1_200_000.0, "B": 600_000.0}), 0.25, start, end)
    assert bottom["quota"].tolist() == pytest.approx([75_000, 37_500, 0])
    rec = reconcile(top_down(300_000, REPS, start, end, RAMP), bottom).set_index("user_id")
    assert rec.loc["A", "gap"] == pytest.approx(125_000)
    assert rec.loc["TOTAL", "bottom_up"] == pytest.approx(112_500)
    assert rec.loc["TOTAL", "ratio"] == pytest.approx(300_000 / 112_500)


def test_prorated_quota() -> None:
    # A quarterly 92-day quota of 92,000 gives September (30 days) 30,000; a monthly one counts
    # whole; a row outside the month counts nothing.
    quotas = pd.DataFrame(
        {
            "user_id": ["A", "B", "B"],
            "period_start": [date(2026, 7, 1), date(2026, 9, 1), date(2026, 10, 1)],
            "period_end": [date(2026, 9, 30), date(2026, 9, 30), date(2026, 10, 31)],
            "amount": [92_000.0, 50_000.0, 70_000.0],
        }
    )
    q = prorated_quota(quotas, date(2026, 9, 1), date(2026, 9, 30))
    assert q["A"] == pytest.approx(30_000)
    assert q["B"] == pytest.approx(50_000)


def test_capacity_and_hires_by_hand() -> None:
    # Two veterans, no attrition, 10k per ramped rep-month, 3 months (Jan–Mar): 60k.
    # Target 80k: a hire starting Jan ramps 0, .25, .5 → 7.5k; 2 hires → 15k (75k < 80k);
    # 3 hires → 82.5k ≥ 80k. So 3 hires.
    months = months_between(date(2027, 1, 1), date(2027, 3, 31))
    vets: list[date | None] = [date(2020, 1, 1), date(2021, 1, 1)]
    plan = capacity_plan(vets, months, RAMP, 0.0, 10_000)
    assert plan["capacity"].sum() == pytest.approx(60_000)
    assert hires_needed(80_000, vets, months, RAMP, 0.0, 10_000) == 3
    assert hires_needed(50_000, vets, months, RAMP, 0.0, 10_000) == 0


def test_attrition_discounts_later_months() -> None:
    # 1 rep, annual attrition 36 % → month 12 survival (0.64)^(12/12) = .64; month 6 = .8.
    months = months_between(date(2027, 1, 1), date(2028, 1, 31))
    plan = capacity_plan([None], months, RAMP, 0.36, 1.0)
    assert plan["ramped_reps"].iloc[6] == pytest.approx(0.8)
    assert plan["ramped_reps"].iloc[12] == pytest.approx(0.64)


def test_unreachable_target_is_an_error() -> None:
    months = months_between(date(2027, 1, 1), date(2027, 1, 31))
    with pytest.raises(RevOpsError, match="out of reach"):
        hires_needed(1e9, [], months, RAMP, 0.0, 1.0)  # a new hire carries 0 in month 1


def test_measured_productivity() -> None:
    # 2 ramped reps × 6 months = 12 FTE-months; 1.2M booked → 100k per rep-month.
    months = months_between(date(2026, 1, 1), date(2026, 6, 30))
    assert measured_productivity(1.2e6, [None, None], months, RAMP) == pytest.approx(100_000)


def test_potential_by_hand() -> None:
    # smb base: 2 smb accounts, 60k won over 2 years → 60k / (2 × 2) = 15k per account-year.
    # enterprise has no wins → fallback 250k. Size (elasticity 1, employees only): s1 has
    # 40 employees, median of (40, 10) = 25 → 1.6; s2 10/25 = 0.4. e1 alone → 1.
    accounts = pd.DataFrame(
        {
            "account_id": ["s1", "s2", "e1"],
            "region": ["NA"] * 3,
            "segment": ["smb", "smb", "enterprise"],
            "employees": [40, 10, 5000],
            "annual_revenue": [None, None, None],
            "owner_id": ["R1"] * 3,
        }
    )
    won = pd.DataFrame({"account_id": ["s1", "s2"], "amount": [50_000.0, 10_000.0]})
    cfg = PotentialConfig(lookback_days=730, employee_weight=1.0, elasticity=1.0)
    out = account_potential(accounts, won, cfg, {"smb": 1, "enterprise": 4}).set_index("account_id")
    assert out.loc["s1", "potential"] == pytest.approx(15_000 * 1.6)
    assert out.loc["s2", "potential"] == pytest.approx(15_000 * 0.4)
    assert out.loc["e1", "potential"] == pytest.approx(250_000)
    assert out["workload"].tolist() == [1, 1, 4]


def test_capacity_series() -> None:
    start, end = parse_period("2026-09")
    assert capacity(REPS, start, end, RAMP).tolist() == [1.0, 0.75, 0.0]


def test_top_down_follows_potential_by_hand() -> None:
    # Q3 2026 capacity A 3, B 1.5, C 0 (as above); potential A 1.2M, B 0.6M, C 0.9M.
    # α = 1: weights A 3 × 1.2M = 3.6M, B 1.5 × 0.6M = 0.9M, C 0 → A 300k × 3.6/4.5 = 240k,
    # B 60k, C 0. A territory twice as rich, at equal capacity, carries twice the quota.
    start, end = parse_period("2026-Q3")
    pot = pd.Series({"A": 1_200_000.0, "B": 600_000.0, "C": 900_000.0})
    q = top_down(300_000, REPS, start, end, RAMP, pot).set_index("user_id")
    assert q["quota"].tolist() == pytest.approx([240_000, 60_000, 0])
    assert set(q["basis"]) == {"capacity × potential"}
    # α = 0.5 blends with the mean potential of reps with capacity (A, B: 0.9M):
    # A 3 × (0.45M + 0.6M) = 3.15M, B 1.5 × (0.45M + 0.3M) = 1.125M → A 300k × 3.15/4.275.
    half = top_down(300_000, REPS, start, end, RAMP, pot, 0.5).set_index("user_id")
    assert half.loc["A", "quota"] == pytest.approx(300_000 * 3.15 / 4.275)
    # α = 0 is capacity alone: 200k / 100k / 0, as without potential.
    flat = top_down(300_000, REPS, start, end, RAMP, pot, 0.0).set_index("user_id")
    assert flat["quota"].tolist() == pytest.approx([200_000, 100_000, 0])
    # Equal capacity, unequal potential → proportionally unequal quotas.
    veterans = pd.DataFrame(
        {"user_id": ["X", "Y"], "region": ["NA", "NA"], "start_date": [date(2020, 1, 1)] * 2}
    )
    rich = top_down(100_000, veterans, start, end, RAMP, pd.Series({"X": 3.0, "Y": 1.0}))
    assert rich["quota"].tolist() == pytest.approx([75_000, 25_000])


def test_bottom_up_is_ramped_bounded_and_explained_by_hand() -> None:
    # Four ramped reps, a quarter (capacity 3 each), capture 25 %/year:
    # yields = potential × .25 × 3 / 12: W 16k → 1k, X 400k → 25k, Y 480k → 30k, Z 2.304M → 144k.
    # Team yield per capacity month = 200k / 12 ≈ 16,667; × 3 months = 50k a rep.
    # Bounds 0.5–2: floor 25k, ceiling 100k → W raised to 25k, Z capped at 100k, X, Y as yielded.
    start, end = parse_period("2026-Q3")
    reps = pd.DataFrame(
        {
            "user_id": ["W", "X", "Y", "Z"],
            "region": ["NA"] * 4,
            "start_date": [date(2020, 1, 1)] * 4,
        }
    )
    pot = pd.Series({"W": 16_000.0, "X": 400_000.0, "Y": 480_000.0, "Z": 2_304_000.0})
    cap = capacity(reps, start, end, RAMP)
    out = bottom_up(reps, pot, 0.25, start, end, cap, (0.5, 2.0)).set_index("user_id")
    assert out["yield"].tolist() == pytest.approx([1_000, 25_000, 30_000, 144_000])
    assert out["quota"].tolist() == pytest.approx([25_000, 25_000, 30_000, 100_000])
    assert out.loc["W", "basis"].startswith("raised to 0.5×")
    assert out.loc["Z", "basis"].startswith("capped at 2×")
    assert out.loc["Y", "basis"] == "territory yield"
    # A rep still ramping yields (and is held) in proportion to capacity: B (1.5) half of A (3).
    ramped = bottom_up(REPS, pd.Series({"A": 1.2e6, "B": 1.2e6}), 0.25, start, end,
                       capacity(REPS, start, end, RAMP))  # fmt: skip
    assert ramped.set_index("user_id")["quota"].tolist() == pytest.approx([75_000, 37_500, 0])
    rec = reconcile(top_down(300_000, reps, start, end, RAMP, pot), out.reset_index())
    assert "bottom_up_basis" in rec.columns
    assert rec.set_index("user_id").loc["TOTAL", "bottom_up"] == pytest.approx(180_000)
