"""Hand-worked comp statements: tiers with an accelerator, clawback, splits, SPIFFs, draws."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pandas as pd
import pytest

from revops.config.planning import (
    ActivityMeasure,
    CompensationConfig,
    CompPlan,
    Draw,
    RevenueMeasure,
    Spiff,
    Tier,
)
from revops.errors import RevOpsError
from revops.planning.comp.book import RevenueBook
from revops.planning.comp.engine import LINE_COLUMNS, PeriodInputs, process_period, reconcile

SEP = (date(2026, 9, 1), date(2026, 9, 30))
USERS = pd.DataFrame(
    {"user_id": ["U1", "U2"], "role": ["ae", "ae"], "start_date": [date(2020, 1, 6)] * 2}
)
TIERS = (
    Tier(from_attainment=0.0, multiplier=0.5),  # decelerator below 50 %
    Tier(from_attainment=0.5, multiplier=1.0),
    Tier(from_attainment=1.0, multiplier=1.5),  # accelerator above 100 %
)


def _comp(**plan: object) -> CompensationConfig:
    fields: dict[str, object] = {
        "name": "ae",
        "ote": 120_000,
        "base_share": 0.5,
        "base_rate": 0.10,
        "tiers": TIERS,
    }
    fields.update(plan)
    return CompensationConfig(
        plans=(CompPlan.model_validate(fields),),
        assignments=({"plan": "ae", "roles": ("ae",)},),
    )


def _deals(rows: list[tuple[str, str, str, float, date, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        rows,
        columns=["opportunity_id", "account_id", "owner_id", "amount", "close_date", "segment"],
    ).assign(opportunity_type="new_business")


def _inputs(
    deals: pd.DataFrame,
    *,
    period: tuple[date, date] = SEP,
    quotas: dict[str, float] | None = None,
    splits: pd.DataFrame | None = None,
    churns: list[tuple[str, date]] = (),  # type: ignore[assignment]
    prior: pd.DataFrame | None = None,
) -> PeriodInputs:
    return PeriodInputs(
        period_start=period[0],
        period_end=period[1],
        deals=deals,
        splits=splits
        if splits is not None
        else pd.DataFrame(columns=["opportunity_id", "user_id", "percent"]),
        quotas=pd.Series(quotas or {"U1": 100_000.0, "U2": 100_000.0}),
        reps=USERS,
        churns=pd.DataFrame(churns, columns=["account_id", "churn_date"]),
        prior_lines=prior if prior is not None else pd.DataFrame(columns=LINE_COLUMNS),
    )


def _mine(lines: pd.DataFrame, user: str = "U1") -> pd.DataFrame:
    return lines[lines["user_id"] == user].reset_index(drop=True)


def test_tiered_statement_with_accelerator_and_clawback() -> None:
    # Quota 100,000, base rate 10 %; tiers 0–50 % × 0.5, 50–100 % × 1.0, 100 %+ × 1.5.
    # D1 40,000 (Sep 5):  0 → 40k, all tier 1:      40,000 × 5 %  = 2,000
    # D2 50,000 (Sep 12): 40k → 50k tier 1:         10,000 × 5 %  =   500
    #                     50k → 90k tier 2:         40,000 × 10 % = 4,000
    # D3 30,000 (Sep 20): 90k → 100k tier 2:        10,000 × 10 % = 1,000
    #                     100k → 120k tier 3 (acc): 20,000 × 15 % = 3,000
    # commission = 10,500. D0 (Aug 10, account A0) earned 1,000 commission + 500 SPIFF in
    # August; A0 churns Sep 30, 51 days after close (window 90) → clawback −1,500.
    # D9 (May 1, account A9) churns Sep 15, 137 days after close: outside the window, kept.
    # base = 120,000 × 0.5 / 12 = 5,000.  total = 10,500 − 1,500 + 5,000 = 14,000.
    deals = _deals(
        [
            ("D0", "A0", "U1", 20_000, date(2026, 8, 10), "smb"),
            ("D9", "A9", "U1", 10_000, date(2026, 5, 1), "smb"),
            ("D1", "A1", "U1", 40_000, date(2026, 9, 5), "smb"),
            ("D2", "A2", "U1", 50_000, date(2026, 9, 12), "smb"),
            ("D3", "A3", "U1", 30_000, date(2026, 9, 20), "smb"),
        ]
    )
    prior = pd.DataFrame(
        [
            {
                "line_id": "a",
                "period_start": date(2026, 8, 1),
                "user_id": "U1",
                "kind": "commission",
                "opportunity_id": "D0",
                "amount": 1_000.0,
            },
            {
                "line_id": "b",
                "period_start": date(2026, 8, 1),
                "user_id": "U1",
                "kind": "spiff",
                "opportunity_id": "D0",
                "amount": 500.0,
            },
            {
                "line_id": "c",
                "period_start": date(2026, 5, 1),
                "user_id": "U1",
                "kind": "commission",
                "opportunity_id": "D9",
                "amount": 500.0,
            },
        ],
        columns=LINE_COLUMNS,
    )
    churns = [("A0", date(2026, 9, 30)), ("A9", date(2026, 9, 15))]
    lines = _mine(
        process_period(_inputs(deals, churns=churns, prior=prior), _comp(clawback_days=90), USERS)
    )
    com = lines[lines["kind"] == "commission"]
    got = zip(
        com["opportunity_id"], com["tier"], com["credited_amount"], com["amount"], strict=True
    )
    assert list(got) == [
        ("D1", 1, 40_000, 2_000),
        ("D2", 1, 10_000, 500),
        ("D2", 2, 40_000, 4_000),
        ("D3", 2, 10_000, 1_000),
        ("D3", 3, 20_000, 3_000),
    ]
    assert com["rate"].tolist() == pytest.approx([0.05, 0.05, 0.10, 0.10, 0.15])
    claw = lines[lines["kind"] == "clawback"]
    assert claw["opportunity_id"].tolist() == ["D0"]
    assert claw["amount"].tolist() == [-1_500]
    assert lines.loc[lines["kind"] == "base", "amount"].tolist() == [5_000]
    assert lines["amount"].sum() == pytest.approx(14_000)
    # reconciliation: credited bookings = 40k + 50k + 30k = bookings × 100 %
    no_splits = pd.DataFrame(columns=["opportunity_id", "user_id", "percent"])
    recon = reconcile(lines, deals, no_splits, SEP, ("new_business",), "U1")
    assert recon["expected"].sum() == 120_000
    assert (recon["diff"] == 0).all()


def test_clawback_is_not_taken_twice() -> None:
    deals = _deals([("D0", "A0", "U1", 20_000, date(2026, 8, 10), "smb")])
    prior = pd.DataFrame(
        [
            {
                "line_id": "a",
                "period_start": date(2026, 8, 1),
                "user_id": "U1",
                "kind": "commission",
                "opportunity_id": "D0",
                "amount": 1_000.0,
            },
            {
                "line_id": "b",
                "period_start": date(2026, 8, 1),
                "user_id": "U1",
                "kind": "clawback",
                "opportunity_id": "D0",
                "amount": -1_000.0,
            },
        ],
        columns=LINE_COLUMNS,
    )
    inputs = _inputs(deals, churns=[("A0", date(2026, 9, 3))], prior=prior)
    lines = _mine(process_period(inputs, _comp(clawback_days=90), USERS))
    assert "clawback" not in set(lines["kind"])


def test_split_credit() -> None:
    # D4 10,000 split 60/40: U1 credited 6,000, U2 4,000; single tier at 10 %: 600 and 400.
    deals = _deals([("D4", "A4", "U1", 10_000, date(2026, 9, 8), "smb")])
    splits = pd.DataFrame(
        {"opportunity_id": ["D4", "D4"], "user_id": ["U1", "U2"], "percent": [60.0, 40.0]}
    )
    comp = _comp(tiers=(Tier(from_attainment=0, multiplier=1),))
    lines = process_period(_inputs(deals, splits=splits), comp, USERS)
    com = lines[lines["kind"] == "commission"].set_index("user_id")
    assert com.loc["U1", "credited_amount"] == 6_000
    assert com.loc["U2", "credited_amount"] == 4_000
    assert com.loc["U1", "amount"] == 600
    assert com.loc["U2", "amount"] == 400
    recon = reconcile(lines, deals, splits, SEP, ("new_business",))
    assert recon["expected"].sum() == 10_000  # bookings × (60 % + 40 %)
    assert (recon["diff"] == 0).all()


def test_splits_over_the_limit_are_rejected() -> None:
    deals = _deals([("D4", "A4", "U1", 10_000, date(2026, 9, 8), "smb")])
    splits = pd.DataFrame(
        {"opportunity_id": ["D4", "D4"], "user_id": ["U1", "U2"], "percent": [70.0, 40.0]}
    )
    with pytest.raises(RevOpsError, match="D4: split credits add up to 110%"):
        process_period(_inputs(deals, splits=splits), _comp(), USERS)


def test_spiff_within_and_outside_dates() -> None:
    # SPIFF 1,000 per enterprise deal closed Sep 10–Sep 30.
    # D1 enterprise Sep 5: outside the dates. D2 enterprise Sep 12: inside → 1,000.
    # D3 smb Sep 20: inside the dates but fails the condition.
    spiff = Spiff(
        name="ent_push",
        start=date(2026, 9, 10),
        end=date(2026, 9, 30),
        amount=1_000,
        when=({"field": "segment", "op": "eq", "value": "enterprise"},),
    )
    deals = _deals(
        [
            ("D1", "A1", "U1", 1_000, date(2026, 9, 5), "enterprise"),
            ("D2", "A2", "U1", 1_000, date(2026, 9, 12), "enterprise"),
            ("D3", "A3", "U1", 1_000, date(2026, 9, 20), "smb"),
        ]
    )
    lines = _mine(process_period(_inputs(deals), _comp(spiffs=(spiff,)), USERS))
    spiffs = lines[lines["kind"] == "spiff"]
    assert spiffs["opportunity_id"].tolist() == ["D2"]
    assert spiffs["amount"].tolist() == [1_000]


def test_recoverable_draw_is_recovered_later() -> None:
    # Draw 3,000 a month, recoverable; single tier at 10 %.
    # August: 10,000 booked → 1,000 earned → draw top-up 2,000 (balance 2,000).
    # September: 60,000 booked → 6,000 earned; 3,000 above the draw → recover min(2,000,
    # 3,000) = 2,000. Variable paid in September = 6,000 − 2,000 = 4,000.
    comp = _comp(tiers=(Tier(from_attainment=0, multiplier=1),), draw=Draw(amount=3_000))
    deals = _deals(
        [
            ("D1", "A1", "U1", 10_000, date(2026, 8, 20), "smb"),
            ("D2", "A2", "U1", 60_000, date(2026, 9, 20), "smb"),
        ]
    )
    aug = process_period(_inputs(deals, period=(date(2026, 8, 1), date(2026, 8, 31))), comp, USERS)
    aug_u1 = _mine(aug)
    assert aug_u1.loc[aug_u1["kind"] == "draw", "amount"].tolist() == [2_000]
    sep = _mine(process_period(_inputs(deals, prior=aug), comp, USERS))
    assert sep.loc[sep["kind"] == "draw_recovery", "amount"].tolist() == [-2_000]
    assert "draw" not in set(sep["kind"])
    variable = sep.loc[sep["kind"] != "base", "amount"].sum()
    assert variable == 4_000


def test_non_recoverable_draw_is_never_recovered() -> None:
    comp = _comp(
        tiers=(Tier(from_attainment=0, multiplier=1),),
        draw=Draw(amount=3_000, recoverable=False),
    )
    deals = _deals(
        [
            ("D1", "A1", "U1", 10_000, date(2026, 8, 20), "smb"),
            ("D2", "A2", "U1", 60_000, date(2026, 9, 20), "smb"),
        ]
    )
    aug = process_period(_inputs(deals, period=(date(2026, 8, 1), date(2026, 8, 31))), comp, USERS)
    sep = _mine(process_period(_inputs(deals, prior=aug), comp, USERS))
    assert "draw_recovery" not in set(sep["kind"])
    assert sep.loc[sep["kind"] != "base", "amount"].sum() == 6_000


def test_ramped_plan_quota_without_quota_rows() -> None:
    # No quotas row: annual 1,200,000 / 12 = 100,000 × ramp month 2 (0.5) = 50,000.
    # A 50,000 deal fills tiers 1 (25,000 × 5 %) and 2 (25,000 × 10 %) → 3,750.
    users = pd.DataFrame({"user_id": ["U3"], "role": ["ae"], "start_date": [date(2026, 8, 17)]})
    deals = _deals([("D1", "A1", "U3", 50_000, date(2026, 9, 9), "smb")])
    comp = _comp(annual_quota=1_200_000, ramp=(0.25, 0.5, 0.75))
    inputs = PeriodInputs(
        SEP[0],
        SEP[1],
        deals,
        pd.DataFrame(columns=["opportunity_id", "user_id", "percent"]),
        pd.Series(dtype=float),
        users,
        pd.DataFrame(columns=["account_id", "churn_date"]),
        pd.DataFrame(columns=LINE_COLUMNS),
    )
    lines = process_period(inputs, comp, users)
    com = lines[lines["kind"] == "commission"]
    assert com["amount"].sum() == pytest.approx(3_750)


# -- quarter plans: advances, true-up, caps ------------------------------------------------------
# Q3 2026 = Jul–Sep (fiscal year from January). U1's quarter quota 300,000 (quotas table);
# base rate 10 %, tiers 0–50 % × 0.5, 50–100 % × 1, 100 %+ × 1.5, advances at 50 %.
Q3_DEALS = [
    ("D1", "A1", "U1", 100_000, date(2026, 7, 10), "smb"),
    ("D2", "A2", "U1", 150_000, date(2026, 8, 20), "smb"),
    ("D3", "A3", "U1", 110_000, date(2026, 9, 15), "smb"),
]
MONTHS = [
    (date(2026, 7, 1), date(2026, 7, 31)),
    (date(2026, 8, 1), date(2026, 8, 31)),
    (date(2026, 9, 1), date(2026, 9, 30)),
]
QUOTA_ROWS = pd.DataFrame(
    {
        "user_id": ["U1", "U2"],
        "period_start": [date(2026, 7, 1)] * 2,
        "period_end": [date(2026, 9, 30)] * 2,
        "amount": [300_000.0, 300_000.0],
    }
)


def _quarter(
    comp: CompensationConfig,
    deals: pd.DataFrame,
    splits: pd.DataFrame | None = None,
    churns: list[tuple[str, date]] = (),  # type: ignore[assignment]
) -> list[pd.DataFrame]:
    """Run Jul, Aug and Sep in order, each seeing the months before as prior lines."""
    out: list[pd.DataFrame] = []
    for month in MONTHS:
        prior = pd.concat(out, ignore_index=True) if out else None
        base = _inputs(deals, period=month, splits=splits, churns=churns, prior=prior)
        inputs = replace(base, quota_rows=QUOTA_ROWS)
        out.append(process_period(inputs, comp, USERS))
    return out


def _sum(lines: pd.DataFrame, kind: str, user: str = "U1") -> float:
    mine = lines[(lines["user_id"] == user) & (lines["kind"] == kind)]
    return round(float(mine["amount"].sum()), 2)


def test_quarter_with_advances_and_a_true_up_by_hand() -> None:
    # Jul: D1 100k → advance 100k × 10 % × 50 % = 5,000.  Aug: D2 150k → advance 7,500.
    # Sep, the quarter's last month: the tiers run over the quarter's 360k against 300k:
    #   D1   0 → 100k tier 1 (× 0.5): 100k × 5 % = 5,000
    #   D2 100 → 150k tier 1: 50k × 5 % = 2,500;  150 → 250k tier 2: 100k × 10 % = 10,000
    #   D3 250 → 300k tier 2: 50k × 10 % = 5,000;  300 → 360k tier 3: 60k × 15 % = 9,000
    # commission 31,500; true-ups D1 −5,000, D2 −7,500 → September's variable pay 19,000, and the
    # quarter's 5,000 + 7,500 + 19,000 = 31,500: what the tiers say, whatever the month split.
    comp = _comp(plan_period="quarter", advance_share=0.5)
    jul, aug, sep = _quarter(comp, _deals(Q3_DEALS))
    assert _sum(jul, "advance") == 5_000
    assert _sum(jul, "commission") == 0
    assert _sum(aug, "advance") == 7_500
    assert _sum(sep, "commission") == 31_500
    assert _sum(sep, "true_up") == -12_500
    per_deal = sep[sep["user_id"] == "U1"].groupby("opportunity_id")["amount"].sum()
    assert per_deal.to_dict() == {"D1": 0.0, "D2": 5_000.0, "D3": 14_000.0}
    variable = sum(
        _sum(m, k) for m in (jul, aug, sep) for k in ("advance", "commission", "true_up")
    )
    assert variable == 31_500
    assert "tier 3 (100%–∞ of quota 300,000.00) × 1.5" in set(sep["note"])
    # Base pay is monthly whatever the plan period: 120,000 × 50 % / 12.
    assert _sum(jul, "base") == _sum(sep, "base") == 5_000


def test_capped_deal_and_period_cap_by_hand() -> None:
    # Deal cap 13,000: D3 earned 14,000 → cap −1,000 on D3 (D2 12,500 is under it).
    comp = _comp(plan_period="quarter", advance_share=0.5, deal_cap=13_000)
    *_, sep = _quarter(comp, _deals(Q3_DEALS))
    cap = sep[sep["kind"] == "cap"]
    assert cap["opportunity_id"].tolist() == ["D3"]
    assert cap["amount"].tolist() == [-1_000]
    assert "deal cap 13,000.00" in cap["note"].iloc[0]
    # Period cap 1× variable at target: 120,000 × 50 % × 3 / 12 = 15,000 a quarter. The quarter
    # earned 31,500 → cap −16,500 in September; the quarter pays exactly 15,000.
    comp = _comp(plan_period="quarter", advance_share=0.5, period_cap=1.0)
    jul, aug, sep = _quarter(comp, _deals(Q3_DEALS))
    assert _sum(sep, "cap") == -16_500
    paid = sum(_sum(m, k) for m in (jul, aug, sep) for k in ("advance", "commission", "true_up"))
    assert paid + _sum(sep, "cap") == 15_000
    # A cap of 0.5× (7,500) stops the advances too: August's 7,500 would make 12,500.
    comp = _comp(plan_period="quarter", advance_share=0.5, period_cap=0.5)
    jul, aug, sep = _quarter(comp, _deals(Q3_DEALS))
    assert _sum(aug, "cap") == -5_000
    total = sum(
        _sum(m, k) for m in (jul, aug, sep) for k in ("advance", "commission", "true_up", "cap")
    )
    assert total == 7_500


def test_split_deal_in_a_quarter_plan() -> None:
    # D2 split 60/40 with U2: U1 credited 90k, U2 60k. U1's quarter: 100k + 90k + 110k = 300k:
    #   D1 0 → 100k × 5 % = 5,000; D2 100 → 150k × 5 % = 2,500, 150 → 190k × 10 % = 4,000;
    #   D3 190 → 300k × 10 % = 11,000 → 22,500. U2: 60k, all tier 1: 60k × 5 % = 3,000.
    splits = pd.DataFrame(
        {"opportunity_id": ["D2", "D2"], "user_id": ["U1", "U2"], "percent": [60.0, 40.0]}
    )
    comp = _comp(plan_period="quarter", advance_share=0.5)
    _, aug, sep = _quarter(comp, _deals(Q3_DEALS), splits)
    assert _sum(aug, "advance", "U2") == 60_000 * 0.05  # advance on its 40 %: 3,000
    assert _sum(sep, "commission") == 22_500
    assert _sum(sep, "commission", "U2") == 3_000
    assert _sum(sep, "true_up", "U2") == -3_000


def test_clawback_after_advance_and_true_up() -> None:
    # A1 churns Sep 30, 82 days after D1 closed (window 90): D1 paid a 5,000 advance in July,
    # then 5,000 commission − 5,000 true-up in September → 5,000 is clawed back.
    comp = _comp(plan_period="quarter", advance_share=0.5, clawback_days=90)
    *_, sep = _quarter(comp, _deals(Q3_DEALS), churns=[("A1", date(2026, 9, 30))])
    claw = sep[sep["kind"] == "clawback"]
    assert claw["opportunity_id"].tolist() == ["D1"]
    assert claw["amount"].tolist() == [-5_000]


MEETINGS = ActivityMeasure(
    name="meetings_held", activity_type="meeting", weight=1.0, target_per_month=12
)


def test_sdr_meetings_plan_by_hand() -> None:
    # SDR S1: OTE 90,000, base 65 % → variable 31,500 a year, 7,875 a quarter; one measure,
    # meetings held, target 12 a month = 36 in Q3; tiers 0–50 % × 0.5, 50–100 % × 1, 100 %+ × 1.5.
    # July 10 meetings, August 15, September 20 (plus 5 calls and a meeting in October that do
    # not count) → 45 of 36 = 125 %: 0.5 × 0.5 + 0.5 × 1 + 0.25 × 1.5 = 1.125 → 8,859.375.
    # Nothing is paid before the quarter's last month; the SDR owns no deals.
    plan = CompPlan(
        name="sdr",
        ote=90_000,
        base_share=0.65,
        bookings_weight=0,
        plan_period="quarter",
        tiers=TIERS,
        activity_measures=(MEETINGS,),
    )
    comp = CompensationConfig(plans=(plan,), assignments=({"plan": "sdr", "users": ("S1",)},))
    users = pd.DataFrame({"user_id": ["S1"], "role": ["sdr"], "start_date": [date(2020, 1, 6)]})
    when = (
        [date(2026, 7, 3)] * 10 + [date(2026, 8, 3)] * 15 + [date(2026, 9, 3)] * 20
        + [date(2026, 10, 1)]
    )  # fmt: skip
    acts = pd.DataFrame(
        {
            "user_id": "S1",
            "activity_type": ["meeting"] * len(when) + ["call"] * 5,
            "outcome": None,
            "occurred_at": pd.to_datetime(when + [date(2026, 9, 4)] * 5),
        }
    )
    deals = _deals([("D1", "A1", "U1", 10_000, date(2026, 9, 2), "smb")])
    out = []
    for month in MONTHS:
        prior = pd.concat(out, ignore_index=True) if out else None
        base = _inputs(deals, period=month, prior=prior)
        out.append(process_period(replace(base, reps=users, activities=acts), comp, users))
    jul, aug, sep = out
    assert _sum(jul, "commission", "S1") == _sum(aug, "commission", "S1") == 0
    pay = sep[(sep["kind"] == "commission") & (sep["user_id"] == "S1")]
    assert len(pay) == 1
    assert pay["credited_amount"].iloc[0] == 45
    assert pay["amount"].iloc[0] == pytest.approx(7_875 * 1.125, abs=0.01)
    assert "meetings_held: 45 meetings of 36 (125%)" in pay["note"].iloc[0]
    assert _sum(sep, "base", "S1") == pytest.approx(90_000 * 0.65 / 12)


def test_measure_weights_must_add_up() -> None:
    with pytest.raises(ValueError, match=r"add up to 1\.5, not 1"):
        CompPlan(
            name="x",
            ote=1,
            base_rate=0.1,
            activity_measures=(
                {"name": "m", "activity_type": "meeting", "weight": 0.5, "target_per_month": 1},
            ),
        )


def _book() -> RevenueBook:
    """Q3 2026 by hand. CSM C1 looks after A1, A2, A3 and A5; AM M1 owns A1, A2 and A5.
    ARR at the end of June → September: A1 100k → 130k (expansion +30k in August), A2 60k → 50k
    (contraction in July), A3 40k → 40k, A5 new in August (25k: not in the starting book);
    A4 (CSM C2) churns. Expansions in June and October fall outside the quarter."""
    accounts = pd.DataFrame(
        {
            "account_id": ["A1", "A2", "A3", "A4", "A5"],
            "owner_id": ["M1", "M1", "U9", "U9", "M1"],
            "csm_id": ["C1", "C1", "C1", "C2", "C1"],
        }
    )
    arr = [
        ("A1", "2026-06-01", 100_000), ("A1", "2026-07-01", 100_000),
        ("A1", "2026-08-01", 130_000), ("A1", "2026-09-01", 130_000),
        ("A2", "2026-06-01", 60_000), ("A2", "2026-07-01", 50_000),
        ("A2", "2026-08-01", 50_000), ("A2", "2026-09-01", 50_000),
        ("A3", "2026-06-01", 40_000), ("A3", "2026-09-01", 40_000),
        ("A4", "2026-06-01", 10_000), ("A4", "2026-09-01", 0),
        ("A5", "2026-08-01", 25_000), ("A5", "2026-09-01", 25_000),
    ]  # fmt: skip
    moves = [
        ("A1", "2026-06-01", "expansion", 7_000), ("A1", "2026-08-01", "expansion", 30_000),
        ("A1", "2026-10-01", "expansion", 5_000), ("A2", "2026-07-01", "contraction", -10_000),
        ("A4", "2026-09-01", "churn", -10_000), ("A5", "2026-08-01", "new", 25_000),
    ]  # fmt: skip
    return RevenueBook(
        accounts,
        pd.DataFrame(arr, columns=["account_id", "month", "arr"]).assign(
            month=lambda f: pd.to_datetime(f["month"]).dt.date
        ),
        pd.DataFrame(moves, columns=["account_id", "month", "movement", "amount"]).assign(
            month=lambda f: pd.to_datetime(f["month"]).dt.date
        ),
    )


def test_am_and_csm_plans_on_the_book_by_hand() -> None:
    # CSM plan (the example's csm_retention): OTE 110,000, base 80 % → 5,500 variable a quarter;
    # tiers 0–90 % × 0, 90–100 % × 10, 100 %+ × 2 (nothing below 90 % of target).
    #   GRR: starting book A1 + A2 + A3 = 200k; kept min(130, 100) + 50 + 40 = 190k → 95.0 %,
    #        of 95 % = 100 % → 0.1 × 10 = 1.0 × 5,500 × 60 % = 3,300.00
    #   NRR: 130 + 50 + 40 = 220k → 110.0 %, of 105 % = 104.76 % → 1 + 0.047619 × 2 = 1.095238
    #        × 5,500 × 40 % = 2,409.52
    # AM plan: OTE 180,000, base 60 % → 18,000 variable a quarter; half on expansion ARR of the
    #   book (A1, A2, A5): 30k (the August expansion only) of 8,000 × 3 = 24,000 → 125 %
    #   → 0.5 × 0.5 + 0.5 × 1 + 0.25 × 1.5 = 1.125 × 18,000 × 50 % = 10,125.00
    # CSM C3 has no accounts: NRR and GRR are undefined, paid nothing, and the line says so.
    csm = CompPlan(
        name="csm",
        ote=110_000,
        base_share=0.8,
        bookings_weight=0,
        plan_period="quarter",
        tiers=(
            Tier(from_attainment=0.0, multiplier=0.0),
            Tier(from_attainment=0.9, multiplier=10.0),
            Tier(from_attainment=1.0, multiplier=2.0),
        ),
        revenue_measures=(
            RevenueMeasure(
                name="gross_retention", metric="grr", book="csm", weight=0.6, target=0.95
            ),
            RevenueMeasure(name="net_retention", metric="nrr", book="csm", weight=0.4, target=1.05),
        ),
    )
    am = CompPlan(
        name="am",
        ote=180_000,
        base_share=0.6,
        opportunity_types=("expansion",),
        annual_quota=480_000,
        bookings_weight=0.5,
        plan_period="quarter",
        tiers=TIERS,
        revenue_measures=(
            RevenueMeasure(name="expansion", metric="expansion_arr", weight=0.5, target=8_000),
        ),
    )
    comp = CompensationConfig(
        plans=(csm, am),
        assignments=({"plan": "csm", "roles": ("csm",)}, {"plan": "am", "roles": ("am",)}),
    )
    users = pd.DataFrame(
        {"user_id": ["C1", "C3", "M1"], "role": ["csm", "csm", "am"],
         "start_date": [date(2020, 1, 6)] * 3}
    )  # fmt: skip
    deals = _deals([("D1", "A1", "U9", 10_000, date(2026, 9, 2), "smb")])
    base = _inputs(deals, period=MONTHS[2], quotas={})
    lines = process_period(replace(base, reps=users, book=_book()), comp, users)
    pay = lines[lines["kind"] == "commission"].set_index(["user_id", "note"])["amount"]
    c1 = lines[(lines["user_id"] == "C1") & (lines["kind"] == "commission")]
    assert c1["amount"].tolist() == pytest.approx([3_300.00, 2_409.52])
    assert c1["credited_amount"].tolist() == pytest.approx([0.95, 1.10])
    assert "GRR 95.0% on 3 accounts" in c1["note"].iloc[0]
    assert "NRR 110.0% on 3 accounts" in c1["note"].iloc[1]
    m1 = lines[(lines["user_id"] == "M1") & (lines["kind"] == "commission")]
    assert m1["amount"].tolist() == pytest.approx([10_125.00])
    assert m1["credited_amount"].iloc[0] == 30_000
    assert "expansion ARR 30,000.00" in m1["note"].iloc[0]
    c3 = lines[(lines["user_id"] == "C3") & (lines["kind"] == "commission")]
    assert c3["amount"].tolist() == [0.0, 0.0]
    assert c3["credited_amount"].isna().all()  # missing, not 0
    assert "undefined, no ARR on the book" in c3["note"].iloc[0]
    assert len(pay) == 5
    # before the quarter's last month nothing is measured
    july = process_period(replace(_inputs(deals, period=MONTHS[0], quotas={}), reps=users,
                                  book=_book()), comp, users)  # fmt: skip
    assert july[july["kind"] == "commission"].empty
