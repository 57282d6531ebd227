"""Hand-worked MRR, waterfall, retention, cohorts and unit economics on both backends, through
the engine and through the metric dictionary (see revenue_book.py for the arithmetic)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from revenue_book import JAN25, load_book

from revops.config import load_config
from revops.config.models import OperatingModel
from revops.metrics import compute
from revops.revenue import build_revenue, mrr
from revops.revenue.cohorts import cohort_counts, cohort_table
from revops.revenue.retention import retention
from revops.revenue.run import fetch, revenue_range
from revops.revenue.unit_economics import bounded_ltv, dictionary_costs, unit_economics
from revops.revenue.unit_economics import compute as compute_economics
from revops.revenue.waterfall import waterfall
from revops.warehouse import Warehouse

CONFIG = Path(__file__).parents[2] / "examples" / "revops.yaml"
BASE = load_config(CONFIG).model


def _model(**econ: object) -> OperatingModel:
    data = BASE.model_dump(mode="json")
    data["revenue"]["unit_economics"].update(econ)
    return OperatingModel.model_validate(data)


MODEL = _model(gross_margin=0.8, cac_window_months=1, churn_window_months=1)


def _acquisition(wh: Warehouse) -> None:
    """Sales cost of Jan 2025 and E's new-business win, so the dictionary's CAC has its inputs."""
    day = dt.date(2025, 1, 10)
    wh.write("sales_costs", pa.table({"cost_date": [JAN25], "category": ["salaries"],
                                      "amount": [500.0]}))  # fmt: skip
    wh.write(
        "opportunities",
        pa.table(
            {
                "opportunity_id": ["OE"], "account_id": ["E"], "owner_id": ["U1"],
                "opportunity_type": ["new_business"], "stage": ["Closed Won"],
                "amount": [480.0], "created_date": [day], "close_date": [day],
                "is_closed": [True], "is_won": [True],
            }
        ),
    )  # fmt: skip


@pytest.fixture
def book(warehouse: Warehouse) -> Warehouse:
    load_book(warehouse)
    _acquisition(warehouse)
    run = build_revenue(warehouse, MODEL)
    assert (run.first_month, run.last_month) == (dt.date(2024, 1, 1), JAN25)
    return warehouse


def _metric(wh: Warehouse, name: str, month: dt.date = JAN25) -> float:
    nxt = dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)
    frame = compute(wh, MODEL, name, grain="month", start=month, end=nxt)
    assert len(frame) == 1, frame
    return float(frame["value"].iloc[0])


def test_a_waterfall_month_with_all_five_movements(book: Warehouse) -> None:
    wf = fetch(book, waterfall(book.table("mrr_monthly")))
    jan = wf[wf["month"] == JAN25].iloc[0]
    assert jan["opening_arr"] == pytest.approx(4560.0)
    assert jan["new"] == pytest.approx(480.0)
    assert jan["expansion"] == pytest.approx(600.0)
    assert jan["contraction"] == pytest.approx(-960.0)
    assert jan["churn"] == pytest.approx(-960.0)
    assert jan["reactivation"] == pytest.approx(1080.0)
    assert jan["closing_arr"] == pytest.approx(4800.0)
    assert int(jan["customers"]) == 4
    moves = fetch(book, book.table("arr_movements").filter(lambda t: t.month == JAN25))
    got = dict(
        zip(moves["account_id"], zip(moves["movement"], moves["amount"], strict=True), strict=True)
    )
    assert got == {
        "A": ("expansion", 600.0),
        "B": ("contraction", -960.0),
        "C": ("churn", -960.0),
        "D": ("reactivation", 1080.0),
        "E": ("new", 480.0),
    }


def test_movement_metrics_in_the_dictionary(book: Warehouse) -> None:
    expected = {
        "mrr": 400.0,
        "arr": 4800.0,
        "opening_arr": 4560.0,
        "new_arr": 480.0,
        "expansion_arr": 600.0,
        "contraction_arr": -960.0,
        "churned_arr": -960.0,
        "reactivation_arr": 1080.0,
    }
    for name, value in expected.items():
        assert _metric(book, name) == pytest.approx(value), name
    assert _metric(book, "mrr", dt.date(2024, 3, 1)) == pytest.approx(440.0)  # F never counts
    # D is live at 2024-06-30 (its last billed day is the month end) and gone in July
    assert _metric(book, "mrr", dt.date(2024, 6, 1)) == pytest.approx(440.0)
    assert _metric(book, "mrr", dt.date(2024, 7, 1)) == pytest.approx(380.0)


def test_nrr_grr_and_churn_rates_for_a_small_book(book: Warehouse) -> None:
    assert _metric(book, "nrr") == pytest.approx(360 / 440)
    assert _metric(book, "grr") == pytest.approx(280 / 440)
    assert _metric(book, "logo_churn_rate") == pytest.approx(1 / 3)
    assert _metric(book, "revenue_churn_rate") == pytest.approx(1920 / 4560)  # (B 80 + C 80)/380
    engine = fetch(book, retention(book.table("mrr_monthly")))
    jan = engine[engine["month"] == JAN25].iloc[0]
    assert jan["nrr"] == pytest.approx(360 / 440)
    assert jan["grr"] == pytest.approx(280 / 440)
    assert jan["logo_churn_rate"] == pytest.approx(1 / 3)
    assert jan["revenue_churn_rate"] == pytest.approx(160 / 380)


def test_cohort_tables_by_start_month_and_segment(book: Warehouse) -> None:
    counts = fetch(book, cohort_counts(book.table("mrr_monthly"), book.table("accounts")))
    logo = cohort_table(counts, "logo")
    jan24 = logo.loc[dt.date(2024, 1, 1)]
    assert jan24["size"] == 4
    assert [jan24[str(k)] for k in (0, 5, 6, 11, 12)] == pytest.approx([1, 1, 0.75, 0.75, 0.75])
    revenue = cohort_table(counts, "revenue")
    assert revenue.loc[dt.date(2024, 1, 1), "size"] == pytest.approx(440.0)
    assert revenue.loc[dt.date(2024, 1, 1), "6"] == pytest.approx(380 / 440)
    assert revenue.loc[dt.date(2024, 1, 1), "12"] == pytest.approx(360 / 440)
    assert revenue.loc[JAN25, "0"] == pytest.approx(1.0)
    assert revenue.loc[JAN25, "1"] != revenue.loc[JAN25, "1"]  # NaN: not observable yet
    smb = cohort_table(counts, "logo", segment="smb")
    assert smb.loc[dt.date(2024, 1, 1), "size"] == 3  # A, C, D
    assert smb.loc[dt.date(2024, 1, 1), "12"] == pytest.approx(2 / 3)  # A and D live


def _ltv(margin: float, churn: float, months: int = 60, discount: float = 0.10) -> float:
    """The bounded LTV summed month by month, as a person would on paper."""
    return sum(
        margin * (1 - churn) ** (m - 1) / (1 + discount) ** (m / 12) for m in range(1, months + 1)
    )


LTV = _ltv(100 * 0.8, 1 / 3)  # ≈ 234.4: 240 unbounded, less a discount of 10% a year


def test_bounded_ltv_by_hand() -> None:
    churn = pd.Series([1 / 3, 0.0, 0.02, np.nan])
    out = bounded_ltv(pd.Series([80.0, 80.0, 80.0, 80.0]), churn, 60, 0.10)
    assert out[0] == pytest.approx(LTV)
    assert 234 < LTV < 235
    # Nobody churned: 60 discounted months, not infinity. 2% a month: well under 80 / 0.02.
    assert out[1] == pytest.approx(_ltv(80, 0.0))
    assert out[1] < 60 * 80
    assert out[2] == pytest.approx(_ltv(80, 0.02))
    assert out[2] < 80 / 0.02
    assert np.isnan(out[3])  # unknown churn stays unknown
    assert bounded_ltv(pd.Series([10.0]), pd.Series([0.0]), 12, 0.0)[0] == pytest.approx(120)


def test_unit_economics_by_hand(book: Warehouse) -> None:
    # Jan 2025: ARPA 400/4 = 100; churn 1/3; LTV over 60 months at 10% a year ≈ 234.4 (240 if
    # unbounded and undiscounted: 100 x 0.8 / (1/3)). CAC, the dictionary's:
    # (1,000 campaign + 500 sales_costs) / 1 new customer (E's new-business win) = 1,500;
    # payback 1,500/(40 x 0.8) with E's 40 of new MRR (D is a reactivation).
    assert _metric(book, "ltv") == pytest.approx(LTV)
    assert _metric(book, "cac_payback_months") == pytest.approx(1500 / 32)
    assert _metric(book, "ltv_to_cac") == pytest.approx(LTV / 1500)
    assert _metric(book, "cac") == pytest.approx(1500)  # one CAC: the engine's is the dictionary's


def test_unit_economics_read_from_the_columns_it_uses_equal_the_whole_frames(
    book: Warehouse,
) -> None:
    """`unit_economics` hands `compute` five columns with datetime64 months, not the whole
    mrr_monthly frame with a date object per row and month: the same figures, bit for bit."""
    first, last = revenue_range(book)
    monthly = book.to_arrow(mrr.monthly(book.table("subscriptions"), mrr.calendar(first, last)))
    got = unit_economics(book, monthly, MODEL, first, last).to_pandas()
    costs = dictionary_costs(book, MODEL)
    whole = compute_economics(
        monthly.to_pandas(), costs, MODEL.revenue.unit_economics, mrr.months(first, last)
    )
    whole = whole.replace([np.inf, -np.inf], np.nan)
    pd.testing.assert_frame_equal(got, whole, check_exact=True, check_dtype=False)


def test_cac_is_unknown_without_sales_cost_data(warehouse: Warehouse) -> None:
    load_book(warehouse)  # campaign spend, but no sales_costs rows
    build_revenue(warehouse, MODEL)
    econ = fetch(warehouse, warehouse.table("unit_economics"))
    jan = econ[econ["month"] == JAN25].iloc[0]
    assert jan[["cac", "cac_payback_months", "ltv_to_cac"]].isna().all()
    assert jan["ltv"] == pytest.approx(LTV)  # LTV needs no cost data
