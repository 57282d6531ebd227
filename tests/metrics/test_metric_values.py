"""Every metric of examples/revops.yaml on the hand-worked funnel (funnel_case.py), on DuckDB and
PostgreSQL alike: both backends must give exactly these numbers."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from funnel_case import load

from revops.config import OperatingModel, load_config
from revops.metrics import compute, compute_all
from revops.warehouse import Warehouse

JAN, FEB, MAR, APR, MAY, AUG = (
    dt.date(2024, 1, 1),
    dt.date(2024, 2, 1),
    dt.date(2024, 3, 1),
    dt.date(2024, 4, 1),
    dt.date(2024, 5, 1),
    dt.date(2024, 8, 1),
)
NAN = math.nan
SHIPPED: OperatingModel = load_config(Path(__file__).parents[2] / "examples" / "revops.yaml").model

# grain=month, {period: value}. Arithmetic from the table in funnel_case.py.
MONTHLY: dict[str, dict[dt.date, float]] = {
    "leads": {JAN: 4, FEB: 4},  # P1-P4 | P5-P8
    "mqls": {JAN: 3, FEB: 5, MAR: 1},  # P1 P2 P9 | P3 P5(twice, once) P6 P7 P8 | P4
    "sals": {JAN: 1, FEB: 2},  # P1 | P2 P5
    "sqls": {FEB: 4, MAY: 2},  # P1 P2 P5 P8 | P6 P3
    "opportunity_persons": {FEB: 1},  # P1 enters Opportunity on 02-15
    "customer_persons": {MAR: 1, AUG: 1},  # P1 on 03-10 | P2 on 08-20
    "opportunities_created": {JAN: 3, FEB: 3, MAR: 1},  # O1-O3 | O4-O6 | O7
    "pipeline_created": {JAN: 8000, FEB: 8500, MAR: 2500},  # 1000+2000+5000 | 3000+4000+1500
    "won_deals": {FEB: 1, MAR: 3},  # O1 | O3 O4 O7 (O5 is open, not closed)
    "closed_deals": {FEB: 2, MAR: 4},  # O1 O2 | O3 O4 O6 O7
    "bookings": {FEB: 1000, MAR: 10500},  # O1 | 5000+3000+2500
    "closed_amount": {FEB: 3000, MAR: 12000},  # 1000+2000 | 5000+3000+1500+2500
    "win_rate": {FEB: 1 / 2, MAR: 3 / 4},
    "win_rate_by_value": {FEB: 1000 / 3000, MAR: 10500 / 12000},
    "avg_deal_size": {FEB: 1000 / 1, MAR: 10500 / 3},
    # O1 Jan 10 -> Feb 20 = 41 days | O3 45, O4 43, O7 24 days
    "sales_cycle_days": {FEB: 41, MAR: (45 + 43 + 24) / 3},
    # open_opportunities * win_rate * avg_deal_size / sales_cycle_days: Feb and Mar closed deals
    # but none open is due then (0); April has O5 due but nothing closed, so no win rate: NULL.
    "sales_velocity": {FEB: 0.0, MAR: 0.0, APR: NAN},
    # Jan: P1 P2 P3 convert, P4's MQL is 64 days later | Feb: P5 P6 P7 P8 all convert
    "lead_to_mql": {JAN: 3 / 4, FEB: 4 / 4},
    # Jan: P1 P2 of P1 P2 P9 | Feb: P5 P6 of P3 P5 P6 P7 P8 (P3 too late, P8's SQL came
    # before its MQL) | Mar: P4 never
    "mql_to_sql": {JAN: 2 / 3, FEB: 2 / 5, MAR: 0.0},
    # Feb: P1 of P1 P2 P5 P8 (P2's Customer is 192 days later) | May: neither P3 nor P6
    "sql_to_won": {FEB: 1 / 4, MAY: 0.0},
    "marketing_spend": {JAN: 300, FEB: 350, MAR: 400},  # 100+200 | 300+50 | 400 (C3)
    "open_opportunities": {APR: 1},  # O5, the one open deal, expected to close Apr 30
}

# grain=None: one number over all time.
OVERALL: dict[str, float] = {
    "leads": 8,
    "mqls": 9,  # P1 P2 P3 P4 P5 P6 P7 P8 P9
    "sals": 3,
    "sqls": 6,
    "opportunity_persons": 1,
    "customer_persons": 2,
    "opportunities_created": 7,
    "pipeline_created": 19000,
    "won_deals": 4,
    "closed_deals": 6,
    "bookings": 11500,
    "closed_amount": 15000,
    "win_rate": 4 / 6,
    "win_rate_by_value": 11500 / 15000,
    "avg_deal_size": 11500 / 4,
    "sales_cycle_days": (41 + 45 + 43 + 24) / 4,
    "sales_velocity": 1 * (4 / 6) * (11500 / 4) / ((41 + 45 + 43 + 24) / 4),
    "lead_to_mql": 7 / 8,
    "mql_to_sql": 4 / 9,  # P1 P2 P5 P6 of nine MQL persons
    "sql_to_won": 1 / 6,
    "marketing_spend": 1050,
    "open_opportunities": 1,
}

# The foundation's funnel dictionary; later engines hand-work their own metrics in their tests.
FUNNEL_METRICS = tuple(MONTHLY)
MODEL = SHIPPED.model_copy(
    update={"metrics": tuple(m for m in SHIPPED.metrics if m.name in FUNNEL_METRICS)}
)


@pytest.fixture
def wh(warehouse: Warehouse) -> Warehouse:
    load(warehouse)
    return warehouse


def rows(df: pd.DataFrame) -> list[tuple[Any, ...]]:
    """Keys and value of each row (`rows` and `missing` are asserted where they matter)."""
    return [tuple(r) for r in df.drop(columns=["rows", "missing"]).itertuples(index=False)]


def assert_rows(df: pd.DataFrame, expected: list[tuple[Any, ...]]) -> None:
    got = rows(df)
    assert [g[:-1] for g in got] == [e[:-1] for e in expected]
    for g, e in zip(got, expected, strict=True):
        if isinstance(e[-1], float) and math.isnan(e[-1]):
            assert math.isnan(g[-1]), g
        else:
            assert g[-1] == pytest.approx(e[-1], rel=1e-12), g


def test_every_funnel_metric_is_worked_out_by_hand() -> None:
    assert set(MONTHLY) == set(OVERALL) == set(FUNNEL_METRICS)
    assert set(FUNNEL_METRICS) <= {m.name for m in SHIPPED.metrics}


@pytest.mark.parametrize("name", list(MONTHLY))
def test_monthly(wh: Warehouse, name: str) -> None:
    df = compute(wh, MODEL, name)
    assert list(df.columns) == ["period", "value", "rows", "missing"]
    assert_rows(df, sorted(MONTHLY[name].items()))


@pytest.mark.parametrize("name", list(OVERALL))
def test_all_time(wh: Warehouse, name: str) -> None:
    df = compute(wh, MODEL, name, grain=None)
    assert list(df.columns) == ["value", "rows", "missing"]
    assert_rows(df, [(OVERALL[name],)])


def test_compute_all_is_the_whole_dictionary(wh: Warehouse) -> None:
    df = compute_all(wh, MODEL)
    assert list(df.columns) == ["metric", "period", "value", "rows", "missing"]
    expected = [(n, p, v) for n, by_p in MONTHLY.items() for p, v in sorted(by_p.items())]
    assert_rows(df, expected)
    overall = compute_all(wh, MODEL, grain=None)
    assert list(overall.columns) == ["metric", "value", "rows", "missing"]
    assert_rows(overall, list(OVERALL.items()))


def test_cut_by_channel(wh: Warehouse) -> None:
    assert_rows(
        compute(wh, MODEL, "leads", by=["channel"]),
        [
            (JAN, "events", 1), (JAN, "organic", 1), (JAN, "paid_search", 2),
            (FEB, "events", 2), (FEB, "organic", 1), (FEB, "paid_search", 1),
        ],
    )  # fmt: skip
    # Spend reaches its channel through campaign_spend.campaign; C3 has no campaign row.
    assert_rows(
        compute(wh, MODEL, "marketing_spend", by=["channel"]),
        [
            (JAN, "paid_search", 300),
            (FEB, "events", 300),
            (FEB, "paid_search", 50),
            (MAR, None, 400),
        ],
    )
    # Conversion metrics take their dimensions from the base event's person; P9 has none.
    assert_rows(
        compute(wh, MODEL, "mql_to_sql", by=["channel"]),
        [
            (JAN, "paid_search", 1.0), (JAN, None, 0.0),
            (FEB, "events", 1 / 3), (FEB, "organic", 0.0), (FEB, "paid_search", 1.0),
            (MAR, "organic", 0.0),
        ],
    )  # fmt: skip
    # won: O1 paid_search, O3 O4 events, O7 organic; closed adds O2 and O6 (paid_search)
    assert_rows(
        compute(wh, MODEL, "win_rate", by=["channel"], grain=None),
        [("events", 1.0), ("organic", 1.0), ("paid_search", 1 / 3)],
    )


def test_cut_by_segment_through_relations(wh: Warehouse) -> None:
    # lifecycle_history -> person -> account -> segment; P4 and P8 have no account, P9 no person
    assert_rows(
        compute(wh, MODEL, "mqls", by=["segment"]),
        [
            (JAN, "mid_market", 1), (JAN, "smb", 1), (JAN, None, 1),
            (FEB, "enterprise", 2), (FEB, "mid_market", 1), (FEB, "smb", 1), (FEB, None, 1),
            (MAR, None, 1),
        ],
    )  # fmt: skip
    # opportunities -> account -> segment; O7's account A9 does not exist.
    # mid_market closed O2 (lost) only: no won row, so the win rate is 0, not missing.
    assert_rows(
        compute(wh, MODEL, "win_rate", by=["segment"], grain=None),
        [("enterprise", 1 / 2), ("mid_market", 0.0), ("smb", 1.0), (None, 1.0)],
    )
    assert_rows(
        compute(wh, MODEL, "bookings", by=["segment"], grain=None),
        [("enterprise", 5000), ("smb", 4000), (None, 2500)],
    )


def test_cut_by_region_through_relations(wh: Warehouse) -> None:
    # opportunities -> owner (users) -> region: O1 O3 U1 NA, O2 O5 O7 U2 EMEA, O4 O6 U3 APAC
    assert_rows(
        compute(wh, MODEL, "opportunities_created", by=["region"]),
        [(JAN, "EMEA", 1), (JAN, "NA", 2), (FEB, "APAC", 2), (FEB, "EMEA", 1), (MAR, "EMEA", 1)],
    )
    assert_rows(
        compute(wh, MODEL, "sales_velocity", by=["region"], grain=None),
        [
            # Only EMEA has an open deal (O5): 1 open * 1/2 (O7 won, O2 lost) * 2500 / 24 days
            # (O7); APAC and NA have none open, so 0.
            ("APAC", 0.0),
            ("EMEA", 1 * 0.5 * 2500 / 24),
            ("NA", 0.0),
        ],
    )
    # persons -> account -> region, with a second dimension in the same cut
    assert_rows(
        compute(wh, MODEL, "lead_to_mql", by=["region", "channel"], grain=None),
        [
            ("APAC", "events", 1.0), ("APAC", "organic", 1.0), ("EMEA", "paid_search", 1.0),
            ("NA", "events", 1.0), ("NA", "paid_search", 1.0),
            (None, "events", 1.0), (None, "organic", 0.0),
        ],
    )  # fmt: skip


def test_fiscal_quarters_start_in_february(wh: Warehouse) -> None:
    nov23, feb24, may24 = dt.date(2023, 11, 1), FEB, MAY
    assert MODEL.company.fiscal_year_start_month == 2
    assert_rows(compute(wh, MODEL, "leads", grain="quarter"), [(nov23, 4), (feb24, 4)])
    # Feb+Mar MQLs: P3 P5 P6 P7 P8 P4
    assert_rows(compute(wh, MODEL, "mqls", grain="quarter"), [(nov23, 3), (feb24, 6)])
    assert_rows(compute(wh, MODEL, "sqls", grain="quarter"), [(feb24, 4), (may24, 2)])
    assert_rows(
        compute(wh, MODEL, "marketing_spend", grain="quarter"), [(nov23, 300), (feb24, 750)]
    )
    assert_rows(compute(wh, MODEL, "mql_to_sql", grain="quarter"), [(nov23, 2 / 3), (feb24, 2 / 6)])
    assert_rows(
        compute(wh, MODEL, "sales_velocity", grain="quarter"),
        [(feb24, 1 * (4 / 6) * (11500 / 4) / (153 / 4))],  # O5 is due Apr 30, in Feb–Apr
    )
    assert_rows(compute(wh, MODEL, "leads", grain="year"), [(dt.date(2023, 2, 1), 4), (feb24, 4)])


def test_weeks_start_on_monday_and_days_are_dates(wh: Warehouse) -> None:
    mondays = ["2024-01-01", "2024-01-08", "2024-01-15", "2024-01-22",
               "2024-01-29", "2024-02-12", "2024-02-19", "2024-02-26"]  # fmt: skip
    assert_rows(
        compute(wh, MODEL, "leads", grain="week"),
        [(dt.date.fromisoformat(m), 1) for m in mondays],
    )
    assert_rows(
        compute(wh, MODEL, "won_deals", grain="day"),
        [(dt.date(2024, 2, 20), 1), (dt.date(2024, 3, 5), 1), (dt.date(2024, 3, 15), 1),
         (dt.date(2024, 3, 25), 1)],
    )  # fmt: skip


def test_start_is_inclusive_and_end_exclusive(wh: Warehouse) -> None:
    # timestamps: P2 at Jan 10 09:00 is in, P6 at Feb 14 15:00 is out
    window = {"start": dt.date(2024, 1, 10), "end": dt.date(2024, 2, 14)}
    assert_rows(compute(wh, MODEL, "leads", **window), [(JAN, 3), (FEB, 1)])
    # dates: O1 closes on the first day (in), O4 on the end day (out)
    window = {"start": dt.date(2024, 2, 20), "end": dt.date(2024, 3, 15)}
    assert_rows(compute(wh, MODEL, "won_deals", **window), [(FEB, 1), (MAR, 1)])
    assert_rows(compute(wh, MODEL, "bookings", grain=None, **window), [(6000,)])
    got = compute_all(wh, MODEL, grain=None, **window)
    assert got.set_index("metric").loc["won_deals", "value"] == 2
    # closed in the window: O1 and O3 only (O2 closed before it, O6 after)
    assert got.set_index("metric").loc["closed_amount", "value"] == 1000 + 5000
