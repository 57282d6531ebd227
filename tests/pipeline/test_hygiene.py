"""Pipeline hygiene on the hand-worked case (pipeline_case.py): every rule firing and not firing,
the evidence a rep reads, and the per-rep scorecard, on DuckDB and PostgreSQL.

Open on AS_OF (Mar 31, cutoff Apr 1 00:00): o3 (u2), o4 (u1), o7 (u2). Worked per rule:
  close_date_past   o4 closes Mar 20: 11 days past → fires. o7 closes Mar 31: 0 days → not.
  no_activity (14)  o3 last touched Feb 15 10:00 → 44.583 days idle → fires (the Apr 2 call is
                    after the as-of date). o4 (Mar 25 09:00) 6.625, o7 (Mar 28) 3.625 → not.
  missing_amount    o4 has none on Mar 31 (30k only from Apr 5) → fires; o3, o7 have one.
  missing_next_step o3 has none and is still open → fires; o4, o7 have one.
  stuck_in_stage    p90 of completed stays, min 2 samples: Discovery [10, 20] → 19 days; o3 has
                    been there 48.625 days → fires. Prospecting [10, 10, 20, 59] → 47.3; o4
                    (30.625) and o7 (11.625) → not.
  pushed (≥ 2)      o3 pushed twice → fires; o4, o7 never.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from pipeline_case import AS_OF, load

from revops.config.pipeline import PipelineConfig
from revops.pipeline.analytics import PipelineTables
from revops.pipeline.hygiene import (
    RULES,
    deal_flags,
    flag_rows,
    scorecard,
    usual_stage_days,
    with_evidence,
)
from revops.warehouse import Warehouse

approx = pytest.approx


def _config(**hygiene: Any) -> PipelineConfig:
    base: dict[str, Any] = {
        "no_activity": {"days": 14},
        "stuck_in_stage": {"percentile": 90, "multiple": 1.0, "min_samples": 2},
        "pushed_close_date": {"min_pushes": 2},
    }
    for rule, settings in hygiene.items():
        base[rule] = {**base.get(rule, {}), **settings}
    return PipelineConfig.model_validate({"hygiene": base})


@pytest.fixture
def t(warehouse: Warehouse) -> PipelineTables:
    load(warehouse)
    return PipelineTables.read(warehouse.table)


def _fired(wh: Warehouse, t: PipelineTables, cfg: PipelineConfig) -> dict[str, set[str]]:
    wide = wh.execute(deal_flags(t, cfg, AS_OF))
    return {rule: set(wide.loc[wide[rule].astype(bool), "opportunity_id"]) for rule in RULES}


def test_each_rule_fires_on_the_worked_deals(warehouse: Warehouse, t: PipelineTables) -> None:
    assert _fired(warehouse, t, _config()) == {
        "close_date_past": {"o4"},
        "no_activity": {"o3"},
        "missing_amount": {"o4"},
        "missing_next_step": {"o3"},
        "stuck_in_stage": {"o3"},
        "pushed_close_date": {"o3"},
    }


def test_thresholds_stop_each_rule(warehouse: Warehouse, t: PipelineTables) -> None:
    cfg = _config(
        close_date_past={"grace_days": 11},  # 11 days past is not more than 11
        no_activity={"days": 45},  # 44.583 idle days
        stuck_in_stage={"min_samples": 3},  # Discovery has 2 completed stays: no usual time
        pushed_close_date={"min_pushes": 3},
        missing_amount={"enabled": False},
        missing_next_step={"enabled": False},
    )
    assert _fired(warehouse, t, cfg) == {rule: set() for rule in RULES}
    # multiple: 48.625 days is more than 2.5 × 19 = 47.5 but not 2.6 × 19 = 49.4
    assert _fired(warehouse, t, _config(stuck_in_stage={"multiple": 2.5}))["stuck_in_stage"] == {
        "o3"
    }
    assert not _fired(warehouse, t, _config(stuck_in_stage={"multiple": 2.6}))["stuck_in_stage"]


def test_usual_stage_days(warehouse: Warehouse, t: PipelineTables) -> None:
    df = warehouse.execute(usual_stage_days(t, _config(), AS_OF))
    got = {r["stage"]: (r["usual_days"], r["samples"]) for r in df.to_dict("records")}
    assert got["Discovery"] == (approx(19.0), 2)
    assert got["Prospecting"] == (approx(47.3), 4)


def test_flag_rows_and_evidence(warehouse: Warehouse, t: PipelineTables) -> None:
    cfg = _config()
    flags = with_evidence(warehouse.execute(flag_rows(deal_flags(t, cfg, AS_OF), cfg)))
    got = {(r["opportunity_id"], r["rule"]): r["evidence"] for r in flags.to_dict("records")}
    assert got == {
        ("o4", "close_date_past"): "close date 2026-03-20 is 11 days past",
        ("o4", "missing_amount"): "no amount",
        ("o3", "no_activity"): "last activity 2026-02-15, 45 days ago (limit 14)",
        ("o3", "missing_next_step"): "next step is empty",
        ("o3", "stuck_in_stage"): "49 days in Discovery; usual is 19.0 days",
        ("o3", "pushed_close_date"): "close date pushed 2 times (from 2026-03-01 to 2026-05-31)",
    }
    idle = flags[(flags.rule == "no_activity")].iloc[0]
    assert (idle.value, idle.threshold) == (approx(44 + 14 / 24), 14.0)


def test_scorecard(warehouse: Warehouse, t: PipelineTables) -> None:
    cfg = _config()
    df = warehouse.execute(scorecard(deal_flags(t, cfg, AS_OF), cfg))
    rows = {r["owner_id"]: r for r in df.to_dict("records")}
    # u1: o4 only (no amount → 0 value), flagged by close_date_past and missing_amount.
    u1 = rows["u1"]
    assert (u1["open_deals"], u1["open_value"], u1["flagged_deals"]) == (1, 0.0, 1)
    assert (u1["clean_share"], u1["value_at_risk"]) == (0.0, 0.0)
    assert (u1["close_date_past"], u1["missing_amount"], u1["no_activity"]) == (1, 1, 0)
    # u2: o3 (8k, four flags) and o7 (4k, clean) → half clean, 8k at risk.
    u2 = rows["u2"]
    assert (u2["open_deals"], u2["open_value"], u2["flagged_deals"]) == (2, 12_000.0, 1)
    assert (u2["clean_share"], u2["value_at_risk"]) == (0.5, 8_000.0)
    assert [u2[r] for r in RULES] == [0, 1, 0, 1, 1, 1]
    # worst first
    assert list(df["owner_id"]) == ["u1", "u2"]


def test_disabled_rules_leave_the_scorecard(warehouse: Warehouse, t: PipelineTables) -> None:
    cfg = _config(missing_next_step={"enabled": False}, no_activity={"enabled": False})
    df = warehouse.execute(scorecard(deal_flags(t, cfg, AS_OF), cfg))
    assert "missing_next_step" not in df.columns
    assert "no_activity" not in df.columns
    u2 = df[df.owner_id == "u2"].iloc[0]
    assert u2.flagged_deals == 1  # o3 is still stuck and pushed


def test_all_rules_off_gives_no_flags(warehouse: Warehouse, t: PipelineTables) -> None:
    cfg = _config(**{rule: {"enabled": False} for rule in RULES})
    flags = warehouse.execute(flag_rows(deal_flags(t, cfg, AS_OF), cfg))
    assert len(flags) == 0
    assert isinstance(with_evidence(flags), pd.DataFrame)
