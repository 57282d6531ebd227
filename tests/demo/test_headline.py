"""The demo company looks like a real SaaS business: its headline figures, read from the metric
dictionary (not recomputed here), fall in the ranges public benchmark surveys report, and its
bookings by type reconcile with its ARR movements.

Ranges (cited in `revops.demo`): NRR 100-125% and GRR 85-95% (SaaS Capital 2019 retention
benchmarks, KeyBanc Capital Markets 2019 SaaS survey), LTV:CAC 3-6x (the 3:1 rule, surveys'
~3-5x), new-business win rate 20-35%. The company is the default `revops demo` one (scale 1,
seed 7), loaded through ingestion; the revenue engine builds its ARR and unit-economics tables.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from revops.config import load_config
from revops.demo import generate
from revops.ingest import load_file
from revops.metrics import compute
from revops.revenue import build_revenue
from revops.revenue.run import INPUT_TABLES
from revops.warehouse import Warehouse

MODEL = load_config(Path(__file__).parents[2] / "examples" / "revops.yaml").model
LAST_YEAR = (dt.date(2025, 11, 1), dt.date(2026, 10, 31))  # the demo's last twelve months


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    wh = Warehouse.connect(":memory:")
    needed = INPUT_TABLES | {"opportunities", "sales_costs", "campaign_spend"}
    for f in generate(tmp_path_factory.mktemp("headline"), scale=1.0, seed=7):
        if f.table in needed:
            assert load_file(wh, f.path, f.table, f.preset).quarantined == 0, f.table
    build_revenue(wh, MODEL)
    return wh


def _at_end(wh: Warehouse, name: str) -> float:
    """A stock read at the last month of the data, as the dictionary computes it."""
    frame = compute(wh, MODEL, name, grain="month", end=LAST_YEAR[1])
    assert frame["period"].iloc[-1] == dt.date(2026, 10, 1)
    return float(frame["value"].iloc[-1])


def _last_year(wh: Warehouse, name: str, where: str | None = None) -> float:
    start, end = LAST_YEAR
    frame = compute(wh, MODEL, name, grain=None, start=start, end=end, where=where)
    return float(frame["value"].iloc[0])


def test_retention_is_in_the_surveyed_range(company: Warehouse) -> None:
    assert 1.00 <= _at_end(company, "nrr") <= 1.25
    assert 0.85 <= _at_end(company, "grr") <= 0.95


def test_ltv_to_cac_is_in_the_healthy_band(company: Warehouse) -> None:
    assert 3.0 <= _at_end(company, "ltv_to_cac") <= 6.0


def test_cac_has_real_cost_inputs(company: Warehouse) -> None:
    sales = _last_year(company, "sales_cost")
    marketing = _last_year(company, "marketing_spend")
    arr = _at_end(company, "arr")
    # an efficient go-to-market: S&M a fifth of ARR or more, at most Bessemer's ~50% of revenue
    assert 0.15 <= (sales + marketing) / arr <= 0.5
    assert _last_year(company, "cac") > 0


def test_new_business_win_rate_is_in_the_benchmark_range(company: Warehouse) -> None:
    rate = _last_year(company, "win_rate", where="opportunity_type == 'new_business'")
    assert 0.20 <= rate <= 0.35


def test_bookings_by_type_reconcile_with_arr_movements(company: Warehouse) -> None:
    start, end = LAST_YEAR
    bookings = compute(
        company, MODEL, "bookings", by=["opportunity_type"], grain=None, start=start, end=end
    ).set_index("opportunity_type")["value"]
    # annual subscriptions: a new logo's deal amount is its first ARR, an expansion deal's its
    # added ARR; months of close vs first invoice and win-backs keep it from the cent
    assert bookings["new_business"] == pytest.approx(_last_year(company, "new_arr"), rel=0.10)
    assert bookings["expansion"] == pytest.approx(_last_year(company, "expansion_arr"), rel=0.10)
