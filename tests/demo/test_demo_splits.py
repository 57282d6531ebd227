"""The demo's co-sold deals: a Salesforce OpportunitySplit export, loaded through the normal
ingest path, and credited by the comp statements."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from revops.context import RevOps
from revops.demo import generate
from revops.planning.comp.engine import idle_plans
from revops.planning.comp.store import run_period

CONFIG = Path(__file__).parents[2] / "examples" / "revops.yaml"


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RevOps, pd.DataFrame]]:
    folder = tmp_path_factory.mktemp("splits_demo")
    ro = RevOps.open(CONFIG, str(folder / "wh.duckdb"))
    files = generate(folder / "demo", scale=0.05, seed=7)
    for f in files:
        ro.load(f.path, f.table, f.preset)
    (export,) = [f for f in files if f.table == "opportunity_splits"]
    try:
        yield ro, pd.read_csv(export.path, dtype=str)
    finally:
        ro.close()


def test_the_export_is_salesforce_opportunity_split(loaded: tuple[RevOps, pd.DataFrame]) -> None:
    ro, export = loaded
    assert list(export.columns) == ["OpportunityId", "SplitOwnerId", "SplitPercentage"]
    stored = ro.warehouse.execute(ro.warehouse.table("opportunity_splits"))
    assert len(stored) == len(export) > 0
    # revenue splits: every co-sold deal's shares add up to 100, two AEs, the owner first
    assert set(stored.groupby("opportunity_id")["percent"].sum()) == {100.0}
    assert set(stored.groupby("opportunity_id").size()) == {2}
    opps = ro.warehouse.execute(ro.warehouse.table("opportunities"))
    users = ro.warehouse.execute(ro.warehouse.table("users"))
    assert set(stored["user_id"].map(users.set_index("user_id")["role"])) == {"ae"}
    split = opps[opps["opportunity_id"].isin(stored["opportunity_id"])]
    assert set(split["opportunity_type"]) <= {"new_business", "expansion"}
    # a realistic share of deals: a few percent overall, more among big ones
    share = split["opportunity_id"].nunique() / len(opps)
    assert 0.01 < share < 0.15


def test_comp_credits_both_split_holders(loaded: tuple[RevOps, pd.DataFrame]) -> None:
    ro, _ = loaded
    wh = ro.warehouse
    splits = wh.execute(wh.table("opportunity_splits"))
    opps = wh.execute(wh.table("opportunities"))
    won = opps[opps["is_won"] & opps["opportunity_id"].isin(splits["opportunity_id"])]
    deal = won.sort_values(["close_date", "opportunity_id"]).iloc[-1]
    period = f"{pd.Timestamp(deal['close_date']):%Y-%m}"
    lines = run_period(wh, ro.model, period, "test")
    mine = lines[lines["opportunity_id"] == deal["opportunity_id"]]
    shares = splits[splits["opportunity_id"] == deal["opportunity_id"]].set_index("user_id")
    # each split holder is credited its share of the deal's amount, on its own lines
    credited = mine.groupby("user_id")[["credit_pct", "credited_amount"]].max()
    assert set(credited.index) == set(shares.index)
    for uid, row in credited.iterrows():
        pct = float(shares.at[uid, "percent"])
        assert row["credit_pct"] == pytest.approx(pct)
        assert row["credited_amount"] == pytest.approx(float(deal["amount"]) * pct / 100)


def test_the_demo_pays_its_sdrs_aes_and_csms_and_says_it_has_no_am(
    loaded: tuple[RevOps, pd.DataFrame],
) -> None:
    # The example operating model has a plan per role (SDR, AE, AM, CSM). The demo company
    # has SDRs, AEs and CSMs but no account managers (its AEs sell expansion too), so at a
    # quarter's end every plan but the AM one pays, each rep by the plan of their role, and
    # the AM plan is said to pay no one (it is worked by hand in tests/planning).
    ro, _ = loaded
    wh = ro.warehouse
    lines = run_period(wh, ro.model, "2026-09", "test")
    users = wh.execute(wh.table("users").select("user_id", "role"))
    role = users.set_index("user_id")["role"]
    paid = lines[lines["amount"] != 0]
    by_plan = paid.groupby("plan")["user_id"].agg(lambda u: set(role[list(set(u))]))
    assert by_plan.to_dict() == {
        "ae_standard": {"ae"},
        "csm_retention": {"csm"},
        "sdr_meetings": {"sdr"},
    }
    assert "am" not in set(users["role"])
    assert idle_plans(users, ro.model.compensation) == [
        "plan am_growth pays no one: no user has role am"
    ]
