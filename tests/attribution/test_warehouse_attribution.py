"""Journeys, credits and the marketing-performance metrics on the hand-worked case, on DuckDB and
PostgreSQL alike (see case.py for the data)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from case import load

from revops.attribution.journeys import build_journeys, load_inputs
from revops.attribution.run import compare, write_credits
from revops.config import load_config
from revops.config.attribution import AttributionConfig
from revops.metrics import compute
from revops.warehouse import Warehouse

MODEL = load_config(Path(__file__).parents[2] / "examples" / "revops.yaml").model
CFG = MODEL.attribution


@pytest.fixture
def wh(warehouse: Warehouse) -> Warehouse:
    load(warehouse)
    return warehouse


def _touches(j, conversion_id: str) -> list[str]:
    return j[j["conversion_id"] == conversion_id]["touchpoint_id"].tolist()


def test_person_journeys_respect_the_lookback(wh: Warehouse) -> None:
    j = build_journeys(load_inputs(wh), "mql", CFG, converted_only=False)
    assert _touches(j, "mql:P1") == ["T1", "T2", "T3"]  # T9, T4 come after the MQL
    assert _touches(j, "mql:P3") == ["T7"]  # T6 is 254 days before: outside 90 days
    assert _touches(j, "mql:none:P2") == ["T5"]  # non-converting journeys end at the last touch
    heads = j[j["pos"] == 0].set_index("conversion_id")["converted"]
    assert heads.to_dict() == {
        "mql:P1": True,
        "mql:P3": True,
        "mql:none:P2": False,
        "mql:none:P4": False,
    }
    p1 = j[j["conversion_id"] == "mql:P1"]
    assert p1["is_lead"].tolist() == [False, True, False]  # T2 is at P1's creation


def test_account_journeys_pool_every_person(wh: Warehouse) -> None:
    cfg = CFG.model_copy(update={"level": "account"})
    j = build_journeys(load_inputs(wh), "mql", cfg)
    # AC1's first MQL is P1's (01-26); P2's direct visit counts for the account
    assert _touches(j, "mql:AC1") == ["T1", "T2", "T5", "T3"]


def test_milestones_and_w_shaped_credits(wh: Warehouse) -> None:
    res = compare(load_inputs(wh), "opportunity", CFG, ["w_shaped"])["w_shaped"]
    c = res.credits.set_index(["conversion_id", "touchpoint_id"])["revenue_credit"]
    # O1: T1 first, T2 lead creation, T9 last touch before the opportunity (30% each), T3 the rest
    assert c["opportunity:O1"].to_dict() == pytest.approx(
        {"T1": 3000, "T2": 3000, "T3": 1000, "T9": 3000}
    )
    # O2: T6 first (0.3); T7 is lead creation and opportunity touch (0.6); 0.1 split over both
    assert c["opportunity:O2"].to_dict() == pytest.approx({"T6": 1750, "T7": 3250})
    assert res.credits.groupby("conversion_id")["credit"].sum().tolist() == pytest.approx([1, 1])
    assert "lookback 365 days" in res.scope.text
    assert "opportunity" in res.scope.text


def _all_time(wh: Warehouse, name: str, by: str | None = None) -> dict[object, float]:
    df = compute(wh, MODEL, name, by=[by] if by else [], grain=None)
    key = df[by] if by else [None] * len(df)
    return {k: v for k, v in zip(key, df["value"], strict=True) if v == v}


def test_marketing_performance_metrics(wh: Warehouse) -> None:
    inputs = load_inputs(wh)
    stored = [
        compare(inputs, c, CFG, ["w_shaped"])["w_shaped"] for c in ("opportunity", "closed_won")
    ]
    assert write_credits(wh, stored, CFG) == 4 + 2 + 5  # O1 4 touches, O2 2, won O1 5
    # pipeline: paid_search 3000 + 3250, webinar 3000 + 1750, email 1000, paid_social 3000
    assert _all_time(wh, "attributed_pipeline", "channel") == pytest.approx(
        {"paid_search": 6250, "webinar": 4750, "email": 1000, "paid_social": 3000}
    )
    # won O1 (lookback 540): T1 T2 T9 30% each, T3 and T4 5% each
    revenue = {"paid_search": 3500, "webinar": 3000, "email": 500, "paid_social": 3000}
    assert _all_time(wh, "attributed_revenue", "channel") == pytest.approx(revenue)
    spend = {"paid_search": 1500, "webinar": 2000, "email": 300, "paid_social": 1200}
    assert _all_time(wh, "roas", "channel") == pytest.approx(
        {ch: revenue[ch] / spend[ch] for ch in spend}
    )
    assert _all_time(wh, "roi", "channel") == pytest.approx(
        {ch: (revenue[ch] - spend[ch]) / spend[ch] for ch in spend}
    )
    assert _all_time(wh, "roas") == {None: pytest.approx(10000 / 5000)}
    assert _all_time(wh, "roi") == {None: pytest.approx(1.0)}
    # sourced cost ratios: 5,000 spend over 4 leads, 2 MQLs, 1 SQL, 2 opportunities
    assert _all_time(wh, "cost_per_lead") == {None: pytest.approx(1250)}
    assert _all_time(wh, "cost_per_lead", "channel") == pytest.approx(
        # paid_social sourced no lead (no value); direct has a lead and no spend: n/a, not 0
        {"paid_search": 1500, "webinar": 2000, "email": 300}
    )
    cpl = compute(wh, MODEL, "cost_per_lead", by=["channel"], grain=None).set_index("channel")
    assert cpl.loc["direct", "value"] != cpl.loc["direct", "value"]  # NaN
    assert _all_time(wh, "cost_per_mql") == {None: pytest.approx(2500)}
    assert _all_time(wh, "cost_per_sql") == {None: pytest.approx(5000)}
    assert _all_time(wh, "cost_per_opportunity") == {None: pytest.approx(2500)}
    # CAC: (5,000 marketing + 4,000 sales) / 1 new customer (AC1)
    assert _all_time(wh, "cac") == {None: pytest.approx(9000)}
    monthly = compute(wh, MODEL, "cac", grain="month")
    values = dict(zip(monthly["period"], monthly["value"], strict=True))
    # March has sales cost but no campaign spend row: the marketing cost is unknown, so n/a
    assert values[dt.date(2024, 3, 1)] != values[dt.date(2024, 3, 1)]


def test_rerun_replaces_the_same_model_and_conversion(wh: Warehouse) -> None:
    inputs = load_inputs(wh)
    first = compare(inputs, "opportunity", CFG, ["w_shaped", "linear"])
    write_credits(wh, list(first.values()), CFG)
    write_credits(wh, [first["w_shaped"]], CFG)
    assert wh.count("attribution_credits") == 12  # 6 w_shaped + 6 linear, none duplicated


def test_config_defaults_validate() -> None:
    cfg = AttributionConfig()
    assert cfg.lookback_days.days("closed_won") == 540
    with pytest.raises(ValueError, match="unknown attribution model"):
        AttributionConfig(default_model="nonsense")


def test_sourced_and_influenced_pipeline(wh: Warehouse) -> None:
    from revops.attribution.placed import sourced_influenced, touches_table

    # O1 (10,000): T1 paid_search first, then webinar, email, paid_social; O2 (5,000): T6
    # webinar first, then paid_search. Sourced adds up to 15,000; influenced counts in full.
    j = touches_table(load_inputs(wh), "opportunity", CFG)
    got = sourced_influenced(wh, j).set_index("channel")
    assert got["sourced"].to_dict() == {
        "paid_search": 1,
        "webinar": 1,
        "email": 0,
        "paid_social": 0,
    }
    assert got["sourced_amount"].to_dict() == pytest.approx(
        {"paid_search": 10000, "webinar": 5000, "email": 0, "paid_social": 0}
    )
    assert got["influenced"].to_dict() == {
        "paid_search": 2,
        "webinar": 2,
        "email": 1,
        "paid_social": 1,
    }
    assert got["influenced_amount"].to_dict() == pytest.approx(
        {"paid_search": 15000, "webinar": 15000, "email": 10000, "paid_social": 10000}
    )


def test_a_channel_without_spend_has_no_return_on_it(wh: Warehouse) -> None:
    """paid_social earned 3,000 of attributed revenue; without its spend rows, its ROAS and ROI
    are n/a (unknown cost), never 0 or infinite, while the other channels keep theirs."""
    inputs = load_inputs(wh)
    stored = [
        compare(inputs, c, CFG, ["w_shaped"])["w_shaped"] for c in ("opportunity", "closed_won")
    ]
    write_credits(wh, stored, CFG)
    with wh.transaction() as execute:
        execute(
            "DELETE FROM campaign_spend WHERE campaign_id IN "
            "(SELECT campaign_id FROM campaigns WHERE channel = 'paid_social')"
        )
    assert _all_time(wh, "attributed_revenue", "channel")["paid_social"] == pytest.approx(3000)
    for name in ("roas", "roi", "cost_per_lead"):
        df = compute(wh, MODEL, name, by=["channel"], grain=None).set_index("channel")["value"]
        assert "paid_social" not in df.index or df["paid_social"] != df["paid_social"], name
        assert all(v != float("inf") for v in df), name
    assert _all_time(wh, "roas", "channel")["paid_search"] == pytest.approx(3500 / 1500)
