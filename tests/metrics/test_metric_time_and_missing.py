"""Stocks never summed over time, missing never zero, any column as a dimension or filter, and
one figure per stated period — on the hand-worked funnel (funnel_case.py), DuckDB and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from funnel_case import load
from pydantic import ValidationError

from revops.config import OperatingModel, load_config
from revops.metrics import MetricError, compute, compute_all
from revops.metrics.values import Period, last_full_period, period_value, sum_over_time, tile
from revops.warehouse import Warehouse

MODEL: OperatingModel = load_config(Path(__file__).parents[2] / "examples" / "revops.yaml").model
FEB, MAR, APR, MAY = (dt.date(2024, m, 1) for m in (2, 3, 4, 5))


def run(wh: Warehouse, *statements: str) -> None:
    with wh.transaction() as execute:
        for statement in statements:
            execute(statement)


@pytest.fixture
def wh(warehouse: Warehouse) -> Warehouse:
    load(warehouse)
    return warehouse


def values(df: pd.DataFrame, key: str | None = None) -> dict[Any, float]:
    """{period or dimension value: value}; {None: value} for one figure."""
    key = key or ("period" if "period" in df.columns else None)
    keys = df[key] if key else [None] * len(df)
    return dict(zip(keys, df["value"], strict=True))


# -- stocks and flows ---------------------------------------------------------------------------
def _mrr(wh: Warehouse) -> None:
    """X grows 100 → 200 → 300; Y holds 50 then churns in April. Feb–Apr is one fiscal quarter
    (the example's fiscal year starts in February)."""
    rows = [  # account, month, mrr, prior_mrr
        ("X", FEB, 100.0, 0.0), ("X", MAR, 200.0, 100.0), ("X", APR, 300.0, 200.0),
        ("Y", FEB, 50.0, 40.0), ("Y", MAR, 50.0, 50.0), ("Y", APR, 0.0, 50.0),
    ]  # fmt: skip
    wh.write(
        "mrr_monthly",
        pa.table(
            {
                "account_id": [r[0] for r in rows],
                "month": [r[1] for r in rows],
                "mrr": [r[2] for r in rows],
                "arr": [r[2] * 12 for r in rows],
                "prior_mrr": [r[3] for r in rows],
                "mrr_12m_ago": [0.0] * len(rows),
                "retained_mrr_12m": [0.0] * len(rows),
                "first_month": [FEB] * len(rows),
            }
        ),
    )


def test_a_stock_is_read_at_the_period_end_never_summed(warehouse: Warehouse) -> None:
    _mrr(warehouse)
    assert values(compute(warehouse, MODEL, "arr")) == {FEB: 1800, MAR: 3000, APR: 3600}
    # the quarter's ARR is April's (3600), not Feb + Mar + Apr (8400)
    assert values(compute(warehouse, MODEL, "arr", grain="quarter")) == {FEB: 3600}
    # "all time" is the value at the end of the range
    assert values(compute(warehouse, MODEL, "mrr", grain=None)) == {None: 300}
    assert values(compute(warehouse, MODEL, "mrr", grain=None, end=APR)) == {None: 250}
    # an opening balance is a stock read at the period's first point: Feb's prior MRR x 12
    assert values(compute(warehouse, MODEL, "opening_arr", grain="quarter")) == {FEB: 480}
    # the point is chosen before the filter: only Y had MRR before Feb, so 1 (not X in March)
    assert values(compute(warehouse, MODEL, "opening_logos", grain="quarter")) == {FEB: 1}
    # a flow over a stock is a rate over the period: Y churned in the quarter, of 1 opening
    assert values(compute(warehouse, MODEL, "churned_logos", grain="quarter")) == {FEB: 1}
    assert values(compute(warehouse, MODEL, "logo_churn_rate", grain="quarter")) == {FEB: 1.0}
    # the whole dictionary in one query agrees
    got = compute_all(warehouse, MODEL, grain="quarter").set_index("metric")
    assert got.loc["arr", "value"] == 3600
    assert got.loc["opening_logos", "value"] == 1


def _redeclare(name: str, over_time: str) -> dict[str, Any]:
    data = MODEL.model_dump(mode="json")
    for m in data["metrics"]:
        if m["name"] == name:
            m["over_time"] = over_time
    return data


def test_the_operating_model_refuses_to_sum_a_stock_over_time() -> None:
    # NRR is a ratio of stocks: declared a flow it could be summed over months
    with pytest.raises(ValidationError, match="'nrr' is computed from stocks only"):
        OperatingModel.model_validate(_redeclare("nrr", "flow"))
    # a stock built from flows would sum them inside a point-in-time value
    with pytest.raises(ValidationError, match="'win_rate' is declared a stock"):
        OperatingModel.model_validate(_redeclare("win_rate", "stock_last"))
    data = MODEL.model_dump(mode="json")
    del data["metrics"][0]["over_time"]
    with pytest.raises(ValidationError, match="over_time"):
        OperatingModel.model_validate(data)  # every metric declares it


def test_summing_periods_is_refused_for_a_stock_and_a_ratio() -> None:
    assert sum_over_time(MODEL, "bookings", [1000.0, 2500.0]) == 3500.0
    assert sum_over_time(MODEL, "bookings", [1000.0, None, 2500.0]) is None  # unknown, not less
    with pytest.raises(MetricError, match="'arr' is a stock \\(stock_last\\): it is never summed"):
        sum_over_time(MODEL, "arr", [1.0, 2.0])
    with pytest.raises(MetricError, match="'win_rate' is not a count or a sum"):
        sum_over_time(MODEL, "win_rate", [0.5, 0.5])


def test_every_shipped_metric_declares_its_time_aggregation() -> None:
    stocks = {m.name for m in MODEL.metrics if m.over_time != "flow"}
    assert {"arr", "mrr", "nrr", "grr", "opening_logos", "opening_arr", "ltv"} <= stocks
    assert {"bookings", "new_arr", "churned_arr", "leads", "win_rate"}.isdisjoint(stocks)


# -- missing is never zero -----------------------------------------------------------------------
def test_a_won_deal_without_an_amount_is_missing_not_zero(wh: Warehouse) -> None:
    run(wh, "UPDATE opportunities SET amount = NULL WHERE opportunity_id IN ('O3', 'O7')")
    # March won O3 (no amount), O4 3000, O7 (no amount): the average is over the known one
    march = compute(wh, MODEL, "avg_deal_size", start=MAR, end=APR)
    assert march[["value", "rows", "missing"]].values.tolist() == [[3000.0, 3, 2]]
    overall = compute(wh, MODEL, "avg_deal_size", grain=None)
    assert overall[["value", "rows", "missing"]].values.tolist() == [[2000.0, 4, 2]]
    bookings = compute(wh, MODEL, "bookings", grain=None)
    assert bookings[["value", "missing"]].values.tolist() == [[4000.0, 2]]
    # a ratio reports its inputs' missing rows: 2 won + 2 closed without an amount
    wrv = compute(wh, MODEL, "win_rate_by_value", grain=None)
    assert wrv["missing"].tolist() == [4]
    assert wrv["value"].iloc[0] == pytest.approx(4000 / (1000 + 2000 + 3000 + 1500))


def test_a_sum_over_rows_that_all_lack_the_value_is_unknown(wh: Warehouse) -> None:
    run(wh, "UPDATE opportunities SET amount = NULL WHERE opportunity_id = 'O1'")
    feb = compute(wh, MODEL, "bookings", start=FEB, end=MAR)  # O1 is February's only win
    assert math.isnan(feb["value"].iloc[0])
    assert feb[["rows", "missing"]].values.tolist() == [[1, 1]]
    # … and stays unknown inside a ratio instead of turning into 0
    assert math.isnan(compute(wh, MODEL, "win_rate_by_value", start=FEB, end=MAR)["value"][0])


def test_a_zero_or_missing_denominator_is_na_never_zero_or_infinite(wh: Warehouse) -> None:
    by_month = values(compute(wh, MODEL, "cost_per_sql"))
    assert math.isnan(by_month[dt.date(2024, 1, 1)])  # January spend 300, no SQL at all
    assert by_month[FEB] == pytest.approx(350 / 4)
    # organic has leads (P4, P7) and no spend: its cost per lead is unknown, not free
    cpl = values(compute(wh, MODEL, "cost_per_lead", by=["channel"], grain=None), "channel")
    assert math.isnan(cpl["organic"])
    assert cpl["events"] == pytest.approx(300 / 3)
    assert all(not math.isinf(v) for v in cpl.values())


# -- any column, custom fields, --where ----------------------------------------------------------
def _custom_fields(wh: Warehouse) -> None:
    """Custom fields as a source mapping stores them: real typed columns on canonical tables."""
    statements = [
        "ALTER TABLE opportunities ADD COLUMN sales_region VARCHAR",
        "ALTER TABLE accounts ADD COLUMN tier VARCHAR",
        "UPDATE accounts SET tier = 'gold' WHERE account_id = 'A1'",
        "UPDATE accounts SET tier = 'silver' WHERE account_id IN ('A2', 'A3')",
    ]
    for ids, region in ((("O1", "O3"), "NA-East"), (("O2", "O4", "O6"), "NA-West")):
        listed = ", ".join(f"'{i}'" for i in ids)
        statements.append(
            f"UPDATE opportunities SET sales_region = '{region}' WHERE opportunity_id IN ({listed})"
        )
    run(wh, *statements)


def test_a_custom_column_cuts_and_filters_a_metric(wh: Warehouse) -> None:
    _custom_fields(wh)
    won = compute(wh, MODEL, "won_deals", by=["sales_region"], grain=None)
    assert values(won, "sales_region") == {"NA-East": 2, "NA-West": 1, None: 1}
    # a ratio: each component resolves the column on its own table
    rate = values(compute(wh, MODEL, "win_rate", by=["sales_region"], grain=None), "sales_region")
    assert rate == {"NA-East": 1.0, "NA-West": pytest.approx(1 / 3), None: 1.0}
    # a custom column one relation away (accounts.tier through opportunities.account)
    tier = values(compute(wh, MODEL, "bookings", by=["tier"], grain=None), "tier")
    assert tier == {"gold": 4000, "silver": 5000, None: 2500}
    assert values(compute(wh, MODEL, "bookings", by=["account.tier"], grain=None), "account.tier")
    # --where, in the dictionary's grammar, with dotted paths through relations
    na_west = compute(wh, MODEL, "won_deals", grain=None, where="sales_region == 'NA-West'")
    assert values(na_west) == {None: 1}
    smb = compute(wh, MODEL, "bookings", grain=None, where="account.segment == 'smb'")
    assert values(smb) == {None: 4000}  # A1: O1 1000 + O4 3000
    both = compute(wh, MODEL, "win_rate", by=["region"], grain=None, where="tier in ['silver']")
    # silver: A2 (O2 lost, O5 open) and A3 (O3 won, O6 lost); region via the owner
    assert values(both, "region") == {"APAC": 0.0, "EMEA": 0.0, "NA": 1.0}


def test_where_is_parsed_never_pasted(wh: Warehouse) -> None:
    with pytest.raises(MetricError, match="not a valid expression"):
        compute(wh, MODEL, "leads", where="source == 'x'; DROP TABLE persons")
    with pytest.raises(MetricError, match="only the functions"):
        compute(wh, MODEL, "leads", where="__import__('os') == 1")
    with pytest.raises(MetricError, match="not true/false"):
        compute(wh, MODEL, "leads", where="source")
    with pytest.raises(MetricError, match="persons has no column 'sales_region'; available:"):
        compute(wh, MODEL, "leads", where="sales_region == 'NA'")
    assert wh.count("persons") == 8


# -- one figure per stated period ----------------------------------------------------------------
def test_last_full_period_and_the_one_before() -> None:
    assert last_full_period(dt.date(2024, 5, 15), "month") == Period(APR, MAY, "month")
    quarter = last_full_period(dt.date(2024, 5, 15), "quarter", fiscal_year_start_month=2)
    assert quarter == Period(FEB, MAY, "quarter")
    assert quarter.previous() == Period(dt.date(2023, 11, 1), FEB, "quarter")
    assert last_full_period(dt.date(2024, 5, 1), "month") == Period(APR, MAY, "month")


def test_a_tile_states_its_period_the_previous_one_and_why_a_value_is_missing(
    wh: Warehouse,
) -> None:
    _mrr(wh)
    arr = tile(wh, MODEL, "arr", Period(APR, MAY, "month"))
    assert (arr.current.value, arr.previous.value, arr.change) == (3600, 3000, 600)
    quarter = period_value(wh, MODEL, "arr", Period(FEB, MAY, "quarter"))
    assert quarter.value == 3600
    # no sales_costs rows: the cost is unknown, so CAC is n/a, with the reason
    cac = period_value(wh, MODEL, "cac", Period(MAR, APR, "month"))
    assert cac.value is None
    assert cac.reason == "cac: sales_cost: no sales_costs rows in Mar 2024"
    # a month with nothing won has $0 of bookings (a count or sum over no rows is 0)
    assert period_value(wh, MODEL, "bookings", Period(APR, MAY, "month")).value == 0.0


def test_a_month_without_a_quality_snapshot_is_not_measured(warehouse: Warehouse) -> None:
    # One scorecard snapshot in March: persons.email, 10 rows, 8 filled, 7 valid, 8 distinct.
    # February had none, so every dq_* figure is missing there (not 0 cells scored), and March
    # reads 10 cells, completeness 8/10, validity 7/8, uniqueness 8/8.
    warehouse.write(
        "quality_snapshots",
        pa.table(
            {
                "snapshot_date": [MAR],
                "table_name": ["persons"],
                "field_name": ["email"],
                "rows": pa.array([10], pa.int64()),
                "filled": pa.array([8], pa.int64()),
                "valid": pa.array([7], pa.int64()),
                "distinct_values": pa.array([8], pa.int64()),
                "expect_unique": [True],
                "is_match_field": [False],
                "taken_at": [dt.datetime(2024, 3, 15, 9, 0)],
            }
        ),
    )
    feb, mar = Period(FEB, MAR, "month"), Period(MAR, APR, "month")
    dq = [m.name for m in MODEL.metrics if m.name.startswith("dq_")]
    assert len(dq) == 12
    for name in dq:
        missing = period_value(warehouse, MODEL, name, feb)
        assert missing.value is None, name
        assert missing.reason
        assert "no quality_snapshots rows in Feb 2024" in missing.reason
    got = {name: period_value(warehouse, MODEL, name, mar).value for name in dq}
    assert got["dq_cells"] == 10
    assert got["dq_completeness"] == pytest.approx(0.8)
    assert got["dq_validity"] == pytest.approx(7 / 8)
    assert got["dq_uniqueness"] == pytest.approx(1.0)
    assert got["dq_match_rate"] is None  # no match-link field measured
