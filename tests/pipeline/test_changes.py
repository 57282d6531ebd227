"""pipeline_changes and the dictionary metrics that read it, on the hand-worked case.

Rows after each deal's first (pipeline_case.py), all history:
  o1  Jan 11 → Discovery (10 d in Prospecting) · Jan 21 → Solution (10 d) · Feb 1 push Mar 1 →
      Mar 15 (14 d, no stage change) · Feb 20 → Closed Won (30 d in Solution, skips 2)
  o2  Jan 25 → Proposal (20 d, skips 2) · Feb 14 → Discovery (20 d, regression) · Mar 6 →
      Closed Lost (20 d)
  o3  Feb 11 → Discovery (10 d) · Mar 1 push Mar 1 → Apr 15 (45 d) · Mar 20 push → May 31 (46 d)
  o4  Apr 5 → Discovery (35 d in Prospecting)
  o5  Mar 10 → Closed Won (59 d, skips 4)
Stage moves out of open stages: 9; skips 3; regressions 1; pushes 3; mean stay 214 / 9 days.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from pipeline_case import load

from revops.config import DEFAULT_CONFIG, load_config
from revops.metrics import compute
from revops.pipeline.engine import PipelineEngine
from revops.warehouse import Warehouse

MODEL = load_config(DEFAULT_CONFIG).model
approx = pytest.approx


@pytest.fixture
def wh(warehouse: Warehouse) -> Warehouse:
    load(warehouse)
    assert PipelineEngine(warehouse, MODEL.pipeline).build_changes() == 12
    return warehouse


def test_changes_rows(wh: Warehouse) -> None:
    df = wh.execute(wh.table("pipeline_changes")).sort_values("changed_at")
    o2 = df[df.opportunity_id == "o2"]
    assert list(o2.to_stage) == ["Proposal", "Discovery", "Closed Lost"]
    assert list(o2.is_skip) == [True, False, False]
    assert list(o2.is_regression) == [False, True, False]
    assert list(o2.days_in_stage) == [approx(20.0)] * 3
    o3 = df[df.opportunity_id == "o3"]
    assert list(o3.is_push) == [False, True, True]
    assert list(o3.days_pushed) == [0, 45, 46]
    assert pd.isna(o3.days_in_stage.iloc[1])  # a push is not a stage change
    won = df[(df.opportunity_id == "o1") & (df.to_stage == "Closed Won")].iloc[0]
    # entered Solution Jan 21; the Feb 1 push does not restart the clock
    assert (won.days_in_stage, won.stages_skipped) == (approx(30.0), 2)
    # rebuilding replaces, never appends
    assert PipelineEngine(wh, MODEL.pipeline).build_changes() == 12
    assert wh.count("pipeline_changes") == 12


def _all(wh: Warehouse, metric: str, **kw: object) -> float:
    return float(compute(wh, MODEL, metric, grain=None, **kw)["value"].iloc[0])  # type: ignore[arg-type]


def test_dictionary_metrics_all_time(wh: Warehouse) -> None:
    assert _all(wh, "stage_moves") == 9
    assert _all(wh, "stage_skips") == 3
    assert _all(wh, "stage_regressions") == 1
    assert _all(wh, "close_date_pushes") == 3
    assert _all(wh, "skip_rate") == approx(3 / 9)
    assert _all(wh, "regression_rate") == approx(1 / 9)
    # (10 + 10 + 30) + (20 + 20 + 20) + 10 + 35 + 59 = 214 days over 9 stays
    assert _all(wh, "avg_days_in_stage") == approx(214 / 9)


def test_dictionary_metrics_by_month_and_owner(wh: Warehouse) -> None:
    df = compute(wh, MODEL, "stage_moves", grain="month")
    got = {pd.Timestamp(p).date(): v for p, v in zip(df["period"], df["value"], strict=True)}
    # Jan: o1 ×2, o2 → Proposal | Feb: o3, o2 back, o1 won | Mar: o2 lost, o5 won | Apr: o4
    assert got == {
        dt.date(2026, 1, 1): 3,
        dt.date(2026, 2, 1): 3,
        dt.date(2026, 3, 1): 2,
        dt.date(2026, 4, 1): 1,
    }
    df = compute(wh, MODEL, "skip_rate", by=["owner"], grain=None)
    got_owner = dict(zip(df["owner"], df["value"], strict=True))
    # u1: o1 (3 moves, 1 skip), o4 (1), o5 (1, a skip) → 2 / 5; u2: o2 (3, 1 skip), o3 (1) → 1 / 4
    assert got_owner == {"u1": approx(2 / 5), "u2": approx(1 / 4)}


def test_changes_agree_with_point_in_time_analytics(wh: Warehouse) -> None:
    """The table and `skips_and_regressions` classify moves the same way (independent code)."""
    from revops.pipeline.analytics import PipelineTables, skips_and_regressions

    t = PipelineTables.read(wh.table)
    per_stage = wh.execute(skips_and_regressions(t, MODEL.pipeline, dt.date(2026, 12, 31)))
    moves = int(per_stage["moves"].sum())
    skips, regressions = int(per_stage["skips"].sum()), int(per_stage["regressions"].sum())
    assert (moves, skips, regressions) == (9, 3, 1)
