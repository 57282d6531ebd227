"""Payout snapshots and territory designs in the warehouse, on DuckDB and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import pyarrow as pa
import pytest

from revops.audit import entries, verify
from revops.config import DEFAULT_CONFIG, load_config
from revops.config.models import OperatingModel
from revops.config.planning import CompensationConfig, CompPlan, TerritoryConfig, Tier
from revops.errors import RevOpsError
from revops.metrics import compute
from revops.planning.comp import adjust, lock, run_period, statement
from revops.planning.run import attainment_table
from revops.planning.store import apply_design, load_reps, save_design
from revops.planning.territories import design_territories
from revops.warehouse import Warehouse

T0 = datetime(2024, 1, 1)


def _model() -> OperatingModel:
    plan = CompPlan(
        name="ae",
        ote=120_000,
        base_share=0.5,
        base_rate=0.1,
        tiers=(Tier(from_attainment=0, multiplier=1), Tier(from_attainment=1, multiplier=2)),
    )
    comp = CompensationConfig(plans=(plan,), assignments=({"plan": "ae", "roles": ("ae",)},))
    return load_config(DEFAULT_CONFIG).model.model_copy(update={"compensation": comp})


def _seed(wh: Warehouse) -> None:
    users = {
        "user_id": ["U1", "U2"],
        "name": ["Ada", "Bo"],
        "team": ["NA AE"] * 2,
        "role": ["ae", "ae"],
        "region": ["NA", "NA"],
        "is_active": [True, True],
        "start_date": [date(2020, 1, 6)] * 2,
        "territory_id": ["T1", "T1"],
    }
    territories = {"territory_id": ["T1"], "name": ["NA SMB"], "region": ["NA"], "segment": ["smb"]}
    accounts = {
        "account_id": ["A1", "A2", "A3", "A4"],
        "name": ["a", "b", "c", "d"],
        "region": ["NA"] * 4,
        "segment": ["smb"] * 4,
        "employees": [10, 20, 30, 40],
        "owner_id": ["U1", "U1", "U1", "U2"],
        "created_at": [T0] * 4,
    }
    opps = {
        "opportunity_id": ["O1", "O2"],
        "account_id": ["A1", "A2"],
        "owner_id": ["U1", "U1"],
        "opportunity_type": ["new_business", "new_business"],
        "stage": ["Closed Won"] * 2,
        "amount": [40_000.0, 20_000.0],
        "created_date": [date(2026, 7, 1)] * 2,
        "close_date": [date(2026, 9, 10), date(2026, 9, 20)],
        "is_closed": [True, True],
        "is_won": [True, True],
    }
    quotas = {
        "user_id": ["U1", "U2"],
        "period_start": [date(2026, 9, 1)] * 2,
        "period_end": [date(2026, 9, 30)] * 2,
        "amount": [50_000.0, 50_000.0],
    }
    splits = {"opportunity_id": ["O2", "O2"], "user_id": ["U1", "U2"], "percent": [50.0, 50.0]}
    for name, data in (
        ("territories", territories),
        ("users", users),
        ("accounts", accounts),
        ("opportunities", opps),
        ("quotas", quotas),
        ("opportunity_splits", splits),
    ):
        wh.write(name, pa.table(data))


def _lines(wh: Warehouse) -> pd.DataFrame:
    return wh.execute(wh.table("comp_lines")).sort_values("line_id").reset_index(drop=True)


def test_period_run_adjust_lock(warehouse: Warehouse) -> None:
    # U1: O1 40,000 (100 %) + O2 10,000 (50 % of 20,000) = 50,000 = quota: all at 10 % → 5,000.
    # U2: O2 10,000 → 1,000. Base 5,000 each.
    _seed(warehouse)
    model = _model()
    lines = run_period(warehouse, model, "2026-09", "tester")
    u1 = lines[lines["user_id"] == "U1"]
    assert u1.loc[u1["kind"] == "commission", "amount"].sum() == pytest.approx(5_000)
    assert lines.loc[lines["user_id"] == "U2", "amount"].sum() == pytest.approx(6_000)
    adjust(warehouse, "2026-09", "U1", 250.0, "missed SPIFF", "tester")

    # reprocessing an open period replaces its lines and keeps the adjustments
    run_period(warehouse, model, "2026-09", "tester")
    assert len(_lines(warehouse)) == len(lines)
    st = statement(warehouse, model, "2026-09", "U1")
    assert st.totals["total"] == pytest.approx(5_000 + 5_000 + 250)
    assert st.reconciles
    assert st.reconciliation["expected"].sum() == pytest.approx(50_000)
    runs = warehouse.sql("SELECT runs, status FROM comp_periods")
    assert runs == [(2, "open")]

    lock(warehouse, "2026-09", "tester")
    before = _lines(warehouse)
    with pytest.raises(RevOpsError, match="locked"):
        run_period(warehouse, model, "2026-09", "tester")
    with pytest.raises(RevOpsError, match="locked"):
        adjust(warehouse, "2026-09", "U1", 1.0, "late", "tester")
    with pytest.raises(RevOpsError, match="locked"):
        lock(warehouse, "2026-09", "tester")
    pd.testing.assert_frame_equal(_lines(warehouse), before)
    actions = [e.action for e in entries(warehouse)]
    assert actions == ["comp.processed", "comp.adjusted", "comp.processed", "comp.locked"]
    assert verify(warehouse).ok


def test_adjusting_an_unrun_period_is_refused(warehouse: Warehouse) -> None:
    with pytest.raises(RevOpsError, match="has not been run"):
        adjust(warehouse, "2026-09", "U1", 1.0, "x", "tester")
    with pytest.raises(RevOpsError, match="months"):
        run_period(warehouse, _model(), "2026-Q3", "tester")


def test_design_apply_writes_owners_once(warehouse: Warehouse) -> None:
    _seed(warehouse)
    accounts = warehouse.execute(warehouse.table("accounts"))
    accounts = accounts.assign(potential=accounts["employees"].astype(float), workload=1.0)
    reps = load_reps(warehouse, ("ae",))
    cfg = TerritoryConfig(potential_band=0, workload_band=1, max_moves=None)
    # U1 holds 10 + 20 + 30 = 60, U2 40: moving A1 (10) balances 50 / 50 with one move.
    design = design_territories(accounts, reps, cfg)
    design_id = save_design(warehouse, design, cfg)
    assert apply_design(warehouse, design_id, "tester") == 1
    owners = dict(warehouse.sql("SELECT account_id, owner_id FROM accounts ORDER BY 1"))
    assert owners == {"A1": "U2", "A2": "U1", "A3": "U1", "A4": "U2"}
    with pytest.raises(RevOpsError, match="already applied"):
        apply_design(warehouse, design_id, "tester")
    # a design made before the owners changed is stale
    old_id = save_design(warehouse, design, cfg)
    with pytest.raises(RevOpsError, match="stale"):
        apply_design(warehouse, old_id, "tester")
    assert [e.action for e in entries(warehouse)] == ["territory.applied"]


def test_attainment_split_aware_and_the_metric(warehouse: Warehouse) -> None:
    # Split-aware (revops quota attainment): U1 40,000 + 50 % of 20,000 = 50,000 / 50,000 = 1.0;
    # U2 10,000 / 50,000 = 0.2. The dictionary metric credits the owner in full:
    # U1 (40,000 + 20,000) / 50,000 = 1.2.
    _seed(warehouse)
    model = _model()
    table = attainment_table(warehouse, model, "2026-09").set_index("user_id")
    assert table.loc["U1", "attainment"] == pytest.approx(1.0)
    assert table.loc["U2", "attainment"] == pytest.approx(0.2)
    metric = compute(
        warehouse,
        model,
        "quota_attainment",
        by=["owner"],
        grain="month",
        start=date(2026, 9, 1),
        end=date(2026, 10, 1),
    )
    u1 = metric[metric["owner"] == "U1"]
    assert u1["value"].tolist() == pytest.approx([1.2])


def test_periods_lock_in_order(warehouse: Warehouse) -> None:
    _seed(warehouse)
    model = _model()
    run_period(warehouse, model, "2026-08", "tester")
    run_period(warehouse, model, "2026-09", "tester")
    with pytest.raises(RevOpsError, match="lock comp period 2026-08 first"):
        lock(warehouse, "2026-09", "tester")
    lock(warehouse, "2026-08", "tester")
    lock(warehouse, "2026-09", "tester")
    # an earlier period cannot be (re)run once a later one is locked
    with pytest.raises(RevOpsError, match="2026-08 is locked, so the earlier 2026-07"):
        run_period(warehouse, model, "2026-07", "tester")
