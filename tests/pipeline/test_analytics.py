"""Pipeline analytics on the hand-worked case in pipeline_case.py, on DuckDB and PostgreSQL.

Each expected number is worked out in the comment above it from the case's docstring.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
import pytest
from pipeline_case import AS_OF, load

from revops.config.pipeline import PipelineConfig
from revops.errors import RevOpsError
from revops.pipeline.analytics import (
    PipelineTables,
    coverage,
    coverage_total,
    open_pipeline,
    pipeline_created,
    pipeline_over_time,
    sales_velocity,
    skips_and_regressions,
    stage_conversion,
    time_in_stage,
    weekly_dates,
    win_rates,
)
from revops.pipeline.stages import close_date_pushes, require_declared, undeclared_stages
from revops.warehouse import Warehouse

STAGES = PipelineConfig()
approx = pytest.approx


def _day(value: Any) -> date:
    return pd.Timestamp(value).date()


def _run(wh: Warehouse, expr: Any) -> pd.DataFrame:
    return wh.execute(expr)


def _by(df: pd.DataFrame, key: str) -> dict[Any, dict[Any, Any]]:
    return {row[key]: row for row in df.to_dict("records")}


@pytest.fixture
def t(warehouse: Warehouse) -> PipelineTables:
    load(warehouse)
    return PipelineTables.read(warehouse.table)


def test_win_rates_deal_size_and_cycle(warehouse: Warehouse, t: PipelineTables) -> None:
    r = _run(warehouse, win_rates(t, STAGES, AS_OF)).iloc[0]
    # Closed by Mar 31: o1 won 12k (Feb 20), o5 won 5k (Mar 10), o2 lost 20k (Mar 6).
    assert (r.closed, r.won) == (3, 2)
    assert r.win_rate == approx(2 / 3)
    # by value: 17k won of 37k closed; average deal 17k / 2.
    assert (r.closed_value, r.won_value) == (37_000.0, 17_000.0)
    assert r.win_rate_value == approx(17 / 37)
    assert r.avg_deal_size == approx(8_500.0)
    # Cycle in whole days, creation date to the day of the win row (as the dictionary counts):
    # o1 Jan 1 → Feb 20 = 50 days, o5 Jan 10 → Mar 10 = 59 days. Mean = median = 54.5;
    # p90 (linear interpolation) = 50 + 0.9 × 9 = 58.1.
    assert r.cycle_days_mean == approx(54.5)
    assert r.cycle_days_median == approx(54.5)
    assert r.cycle_days_p90 == approx(58.1)


def test_win_rates_since_and_by_region(warehouse: Warehouse, t: PipelineTables) -> None:
    # Closed from Mar 1: o2 lost 20k and o5 won 5k → 1 of 2, 5k of 25k.
    r = _run(warehouse, win_rates(t, STAGES, AS_OF, since=date(2026, 3, 1))).iloc[0]
    assert (r.closed, r.won, r.win_rate, r.win_rate_value) == (2, 1, 0.5, approx(0.2))
    # Region is the owner's: u1 (NA) closed o1, o5, both won; u2 (EMEA) lost o2.
    rows = _by(_run(warehouse, win_rates(t, STAGES, AS_OF, by=["region"])), "region")
    assert (rows["NA"]["closed"], rows["NA"]["win_rate"]) == (2, 1.0)
    assert (rows["EMEA"]["closed"], rows["EMEA"]["win_rate"]) == (1, 0.0)
    assert pd.isna(rows["EMEA"]["avg_deal_size"])


def test_win_rates_are_point_in_time(warehouse: Warehouse, t: PipelineTables) -> None:
    # On Feb 28 only o1 had closed (won Feb 20): o2 (Mar 6) and o5 (Mar 10) were still open.
    r = _run(warehouse, win_rates(t, STAGES, date(2026, 2, 28))).iloc[0]
    assert (r.closed, r.won, r.won_value) == (1, 1, 12_000.0)


def test_sales_velocity_uses_open_deals(warehouse: Warehouse, t: PipelineTables) -> None:
    r = _run(warehouse, sales_velocity(t, STAGES, AS_OF)).iloc[0]
    # Open on Mar 31: o3 (8k), o4 (no amount), o7 (4k) = 3 deals, 12k. o4's Apr 5 move and o6
    # (created Apr 10) are not known yet.
    assert (r.open_deals, r.open_value) == (3, 12_000.0)
    # 3 open × 2/3 win rate × 8,500 average deal ÷ 54.5 days = 17,000 / 54.5 per day.
    assert r.velocity_per_day == approx(17_000 / 54.5)
    assert r.velocity_per_day == approx(311.9266055)


def test_open_pipeline_by_owner(warehouse: Warehouse, t: PipelineTables) -> None:
    rows = _by(_run(warehouse, open_pipeline(t, STAGES, AS_OF, by=["owner"])), "owner")
    # u1: o4 (no amount: its value is unknown, reported missing, never 0); u2: o3 8k + o7 4k.
    got = {k: (v["open_deals"], v["open_value"], v["open_missing_amount"]) for k, v in rows.items()}
    assert got["u2"] == (2, 12_000.0, 0)
    assert got["u1"][0] == 1
    assert got["u1"][2] == 1
    assert got["u1"][1] != got["u1"][1]  # NaN


def test_stage_conversion(warehouse: Warehouse, t: PipelineTables) -> None:
    rows = _by(_run(warehouse, stage_conversion(t, STAGES, AS_OF)), "stage")
    got = {s: (r["entered"], r["advanced"], r["lost"], r["pending"]) for s, r in rows.items()}
    assert got == {
        # all six known deals entered Prospecting; o1, o2 (skip to Proposal), o3, o5 (to Won)
        # advanced; o4 and o7 are still there.
        "Prospecting": (6, 4, 0, 2),
        # o1 advanced; o2 entered Discovery by regression and lost from it; o3 still there.
        "Discovery": (3, 1, 1, 1),
        # o1 skipped from Solution straight to Closed Won: that is advancing.
        "Solution": (1, 1, 0, 0),
        # o2 fell back to Discovery and was lost without ever getting past Proposal.
        "Proposal": (1, 0, 1, 0),
    }
    assert rows["Prospecting"]["conversion"] == approx(4 / 6)
    assert rows["Prospecting"]["resolved_conversion"] == approx(1.0)
    assert rows["Discovery"]["conversion"] == approx(1 / 3)
    assert rows["Discovery"]["resolved_conversion"] == approx(0.5)
    assert rows["Proposal"]["conversion"] == 0.0


def test_time_in_stage(warehouse: Warehouse, t: PipelineTables) -> None:
    rows = _by(_run(warehouse, time_in_stage(t, STAGES, AS_OF)), "stage")
    p = rows["Prospecting"]
    # Completed stays: o1 10, o2 20, o3 10, o5 59 days → sorted 10, 10, 20, 59.
    # median 15, mean 24.75, p75 = 20 + 0.25 × 39 = 29.75, p90 = 20 + 0.7 × 39 = 47.3.
    assert p["stays"] == 4
    assert (p["median_days"], p["mean_days"]) == (approx(15.0), approx(24.75))
    assert (p["p75_days"], p["p90_days"]) == (approx(29.75), approx(47.3))
    # Still there at the end of Mar 31: o4 since Mar 1 09:00 (30.625 days) and o7 since
    # Mar 20 09:00 (11.625 days) → median 21.125.
    assert p["in_stage_now"] == 2
    assert p["current_median_days"] == approx(21.125)
    d = rows["Discovery"]
    # o1 10 days, o2 20 days (Feb 14 → Mar 6); o3 since Feb 11 09:00 = 48.625 days. o4's
    # Discovery entry (Apr 5) is not known on Mar 31. o3's two pushes are not stage changes.
    assert (d["stays"], d["median_days"], d["p90_days"]) == (2, approx(15.0), approx(19.0))
    assert (d["in_stage_now"], d["current_median_days"]) == (1, approx(48.625))
    # Solution: o1 Jan 21 → Feb 20 = 30 days, the close-date push on Feb 1 does not split it.
    assert (rows["Solution"]["stays"], rows["Solution"]["mean_days"]) == (1, approx(30.0))
    assert rows["Proposal"]["mean_days"] == approx(20.0)


def test_skips_and_regressions(warehouse: Warehouse, t: PipelineTables) -> None:
    rows = _by(_run(warehouse, skips_and_regressions(t, STAGES, AS_OF)), "stage")
    got = {
        s: (r["moves"], r["skips"], r["stages_skipped"], r["regressions"]) for s, r in rows.items()
    }
    assert got == {
        # out of Prospecting: o1, o3 one step; o2 → Proposal skips 2; o5 → Won skips 4.
        "Prospecting": (4, 2, 6, 0),
        # o1 → Solution; o2 → Closed Lost (losing is neither a skip nor a regression).
        "Discovery": (2, 0, 0, 0),
        # o1 → Closed Won skips Proposal and Negotiation.
        "Solution": (1, 1, 2, 0),
        # o2 went back to Discovery.
        "Proposal": (1, 0, 0, 1),
    }
    assert rows["Prospecting"]["skip_rate"] == 0.5
    assert rows["Proposal"]["regression_rate"] == 1.0


def test_close_date_pushes(warehouse: Warehouse, t: PipelineTables) -> None:
    rows = _by(_run(warehouse, close_date_pushes(t.history, AS_OF)), "opportunity_id")
    # o1: Mar 1 → Mar 15 is a push; its close on Feb 20 moves the date earlier (not a push).
    # o3: Mar 1 → Apr 15 → May 31, two pushes, 91 days in all.
    assert {k: v["pushes"] for k, v in rows.items() if v["pushes"]} == {"o1": 1, "o3": 2}
    assert rows["o3"]["days_pushed"] == 91
    assert _day(rows["o3"]["first_close_date"]) == date(2026, 3, 1)
    # On Mar 10 only o3's first push (Mar 1) had happened.
    early = _by(_run(warehouse, close_date_pushes(t.history, date(2026, 3, 10))), "opportunity_id")
    assert early["o3"]["pushes"] == 1


def test_coverage(warehouse: Warehouse, t: PipelineTables) -> None:
    rows = _by(_run(warehouse, coverage(t, STAGES, AS_OF)), "user_id")
    # Q1 quotas (the Q2 quota of u1 does not contain Mar 31).
    # u1: 30k − booked 17k (o1 12k + o5 5k) = 13k remaining; open closing in Q1: o4, no
    #     amount → open pipeline unknown (never 0), so no coverage.
    # u2: 10k − 0 = 10k remaining; open closing in Q1: o7 4k (o3 closes May 31) → 0.4.
    # m1: manages u1 and u2, who hold quotas: shown, left out of the total.
    got = {
        u: (r["quota"], r["booked"], r["remaining"], r["open_pipeline"], r["in_total"])
        for u, r in rows.items()
    }
    u1 = got.pop("u1")
    assert u1[3] != u1[3]  # NaN: o4's amount is missing
    assert u1[:3] + u1[4:] == (30_000.0, 17_000.0, 13_000.0, True)
    assert rows["u1"]["coverage"] != rows["u1"]["coverage"]
    assert got == {
        "u2": (10_000.0, 0.0, 10_000.0, 4_000.0, True),
        "m1": (40_000.0, 0.0, 40_000.0, 0.0, False),
    }
    assert rows["u2"]["coverage"] == approx(0.4)
    total = _run(warehouse, coverage_total(coverage(t, STAGES, AS_OF))).iloc[0]
    # 4k open ÷ (13k + 10k) remaining.
    assert (total.quota, total.remaining, total.open_pipeline) == (40_000.0, 23_000.0, 4_000.0)
    assert total.coverage == approx(4 / 23)


def test_coverage_of_the_next_quota_period(warehouse: Warehouse, t: PipelineTables) -> None:
    # As of Mar 31 evening, Q1 has no selling day left; quota_day Apr 1 picks the Q2 quotas:
    # only u1 holds one (50k). Nothing booked in Q2 yet; u1's open deals as of Mar 31 (o4, close
    # Mar 20, no amount) close outside Q2 → open pipeline 0. u2's o3 (8k, May 31) has no quota.
    rows = _by(_run(warehouse, coverage(t, STAGES, AS_OF, date(2026, 4, 1))), "user_id")
    assert set(rows) == {"u1"}
    r = rows["u1"]
    assert (r["quota"], r["booked"], r["remaining"], r["open_pipeline"]) == (
        50_000.0,
        0.0,
        50_000.0,
        0.0,
    )


def test_pipeline_created(warehouse: Warehouse, t: PipelineTables) -> None:
    df = _run(warehouse, pipeline_created(t, STAGES, AS_OF, grain="month"))
    got = {_day(r["period"]): (r["created"], r["created_value"]) for r in df.to_dict("records")}
    # First-row amounts: Jan o1 10k + o2 20k + o5 5k; Feb o3 8k; Mar o4 (none) + o7 4k.
    # o6 (Apr 10) is after the as-of date.
    assert got == {
        date(2026, 1, 1): (3, 35_000.0),
        date(2026, 2, 1): (1, 8_000.0),
        date(2026, 3, 1): (2, 4_000.0),
    }


def test_pipeline_over_time_by_stage(warehouse: Warehouse, t: PipelineTables) -> None:
    expr = pipeline_over_time(t, STAGES, [AS_OF, date(2026, 4, 30)])
    df = _run(warehouse, expr)
    got = {(_day(r["as_of"]), r["key"]): (r["deals"], r["value"]) for r in df.to_dict("records")}
    assert got == {
        # Mar 31: o4 (no amount) and o7 4k in Prospecting; o3 8k in Discovery.
        (AS_OF, "Prospecting"): (2, 4_000.0),
        (AS_OF, "Discovery"): (1, 8_000.0),
        # Apr 30: o4 moved to Discovery with 30k; o6 was created (6k).
        (date(2026, 4, 30), "Prospecting"): (2, 10_000.0),
        (date(2026, 4, 30), "Discovery"): (2, 38_000.0),
    }


def test_undeclared_stage_is_named(warehouse: Warehouse, t: PipelineTables) -> None:
    stages = PipelineConfig.model_validate(
        {"stages": [s.model_dump() for s in STAGES.stages if s.name != "Proposal"]}
    )
    names = list(_run(warehouse, undeclared_stages(t.history, stages))["stage"])
    assert names == ["Proposal"]
    with pytest.raises(RevOpsError, match="'Proposal'"):
        require_declared(names)
    require_declared(list(_run(warehouse, undeclared_stages(t.history, STAGES))["stage"]))


def test_bad_dimension_and_grid() -> None:
    t = PipelineTables.read(lambda name: None)
    with pytest.raises(RevOpsError, match="cannot cut pipeline analytics by channel"):
        win_rates(t, STAGES, AS_OF, by=["channel"])
    assert weekly_dates(date(2026, 1, 1), date(2026, 1, 15)) == [
        date(2026, 1, 1),
        date(2026, 1, 8),
        date(2026, 1, 15),
    ]
    with pytest.raises(RevOpsError):
        weekly_dates(date(2026, 2, 1), date(2026, 1, 1))


def test_dictionary_pipeline_metrics(warehouse: Warehouse) -> None:
    """The dictionary's current-state pipeline metrics on the same case (today's CRM rows)."""
    from revops.config import DEFAULT_CONFIG, load_config
    from revops.metrics import compute

    load(warehouse)
    model = load_config(DEFAULT_CONFIG).model
    # Open now: o3 8k (u2), o4 30k (u1), o6 6k (u1), o7 4k (u2).
    assert compute(warehouse, model, "open_opportunities", grain=None)["value"].iloc[0] == 4
    assert compute(warehouse, model, "open_pipeline", grain=None)["value"].iloc[0] == 48_000.0
    cov = compute(warehouse, model, "pipeline_coverage", by=["owner"], grain=None)
    got = dict(zip(cov["owner"], cov["value"], strict=True))
    # u1: 36k open / (30k + 50k quota − 17k booked); u2: 12k / (10k − 0); m1 has no deals.
    assert got["u1"] == approx(36 / 63)
    assert got["u2"] == approx(1.2)
    assert got["m1"] == 0.0
    # velocity, all time: 4 open × 2/3 × 8,500 / 54.5 days, the cycle `pipeline metrics` shows
    # too: creation → close_date, o1 Jan 1 → Feb 20 = 50, o5 Jan 10 → Mar 10 = 59.
    vel = compute(warehouse, model, "sales_velocity", grain=None)["value"].iloc[0]
    assert vel == approx(4 * (2 / 3) * 8_500 / 54.5)
