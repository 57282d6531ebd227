"""PipelineEngine (what the CLI and the report call) on both backends, on the hand-worked case."""

from __future__ import annotations

from datetime import date

import pytest
from pipeline_case import AS_OF, load

from revops.config.pipeline import PipelineConfig
from revops.errors import RevOpsError
from revops.pipeline.engine import PipelineEngine
from revops.warehouse import Warehouse

approx = pytest.approx


@pytest.fixture
def engine(warehouse: Warehouse) -> PipelineEngine:
    load(warehouse)
    return PipelineEngine(warehouse, PipelineConfig())


def test_snapshot_frames(engine: PipelineEngine) -> None:
    assert engine.latest_day() == date(2026, 4, 10)  # o6's creation is the newest row
    by_stage = engine.snapshot(AS_OF)
    assert list(by_stage["stage"]) == ["Prospecting", "Discovery"]  # in configured order
    assert list(by_stage["value"]) == [4_000.0, 8_000.0]
    # no probability in these history rows: the stage defaults, 10% and 20%
    assert list(by_stage["weighted_value"]) == [approx(400.0), approx(1_600.0)]
    assert list(by_stage["share"]) == [approx(1 / 3), approx(2 / 3)]
    by_region = engine.snapshot(AS_OF, "region")
    assert dict(zip(by_region["region"], by_region["value"], strict=True)) == {
        "EMEA": 12_000.0,  # u2: o3, o7
        "NA": 0.0,  # u1: o4 without amount
    }
    assert set(engine.deals(AS_OF)["opportunity_id"]) == {"o3", "o4", "o7"}


def test_metrics_bundle(engine: PipelineEngine) -> None:
    m = engine.metrics(AS_OF)
    assert m.since == date(2025, 3, 31)
    assert m.velocity["velocity_per_day"].iloc[0] == approx(17_000 / 54.5)
    assert dict(zip(m.coverage["user_id"], m.coverage["name"], strict=True))["u2"] == "Ugo Two"
    assert m.coverage_total["coverage"].iloc[0] == approx(4 / 23)


def test_hygiene_bundle(engine: PipelineEngine) -> None:
    h = engine.hygiene(AS_OF, rep="u2")
    assert list(h.scorecard["rep"]) == ["Ugo Two"]
    assert set(h.flags["opportunity_id"]) == {"o3"}
    assert h.flags["evidence"].str.len().min() > 0


def test_over_time_and_created(engine: PipelineEngine) -> None:
    weekly = engine.over_time(date(2026, 3, 24), AS_OF)  # Mar 24 and Mar 31
    mar24 = weekly[weekly["as_of"] == "2026-03-24"]
    # Mar 24: o3 Discovery 8k; o4 (no amount) and o7 4k in Prospecting
    assert dict(zip(mar24["key"], mar24["value"], strict=True)) == {
        "Discovery": 8_000.0,
        "Prospecting": 4_000.0,
    }
    created = engine.created(AS_OF, grain="quarter")
    assert list(created["created"]) == [6]  # all six known deals in Q1 2026


def test_undeclared_stage_fails_at_open(warehouse: Warehouse) -> None:
    load(warehouse)
    stages = PipelineConfig.model_validate(
        {"stages": [s.model_dump() for s in PipelineConfig().stages if s.name != "Solution"]}
    )
    with pytest.raises(RevOpsError, match="'Solution'"):
        PipelineEngine(warehouse, stages)
