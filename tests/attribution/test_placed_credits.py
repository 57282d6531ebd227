"""Credits placed and summed in the warehouse (placed.py) are the pandas path's (credit.py).

On generated companies (test_path_counts' strategy: touches on a handful of instants so that
many tie, single-touch journeys, direct touches, lead and opportunity milestones), at both
levels and for every conversion type, every model's per-touch credits from the warehouse equal
credit.credits': to the bit for the rule models weighed by journey shape, to 1e-13 for time
decay (its normalising sum is exact there, numpy's pairwise here), to 1e-9 for the data-driven
models (exact sums against pandas'). The sums per channel and campaign are `Attribution.by`'s
and each exactly math.fsum of its credits; the sourced and influenced conversions are those
counted in plain Python from the journeys (`_sourced_influenced`). On the hand-worked case
the W-shaped credits are the figures worked out by hand, on every backend.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from case import load
from hypothesis import HealthCheck, given, settings
from test_path_counts import _load as load_company
from test_path_counts import company

from revops.attribution.credit import credits, fit
from revops.attribution.journeys import build_journeys, load_inputs
from revops.attribution.placed import (
    SHAPE_KEYS,
    credit_sums,
    credits_expr,
    sourced_influenced,
    touches_table,
)
from revops.attribution.run import Attribution, journeys_for
from revops.attribution.scope import Scope
from revops.config.attribution import (
    DATA_DRIVEN_MODELS,
    MODELS,
    AttributionConfig,
    ConversionType,
    Lookback,
)
from revops.warehouse import Warehouse

KEY = ["conversion_id", "touchpoint_id"]


def _compare(wh: Warehouse, conversion: ConversionType, cfg: AttributionConfig) -> None:
    """Every model's warehouse credits, sums and sourced/influenced against the pandas path."""
    inp = load_inputs(wh)
    journeys = build_journeys(inp, conversion, cfg)
    if journeys.empty:
        return
    counts = journeys_for(inp, conversion, cfg).counts
    table = touches_table(inp, conversion, cfg)
    for model in MODELS:
        fitted = fit(counts, model, cfg) if model in DATA_DRIVEN_MODELS else None
        want = credits(journeys, model, cfg, fitted).sort_values(KEY, ignore_index=True)
        expr = credits_expr(wh, table, model, cfg, fitted)
        got = wh.to_arrow(expr).to_pandas().sort_values(KEY, ignore_index=True)
        assert got[[*KEY, "channel", "model"]].equals(want[[*KEY, "channel", "model"]])
        for col in ("credit", "revenue_credit"):
            if model in SHAPE_KEYS:
                assert np.array_equal(got[col], want[col]), (model, col)
            else:
                tol = 1e-13 if model == "time_decay" else 1e-9
                np.testing.assert_allclose(got[col], want[col], rtol=tol, atol=tol, err_msg=model)
        res = Attribution(Scope.of(cfg, conversion, (model,)), want, 0, 0, fitted)
        for by in ("channel", "campaign"):
            sums = credit_sums(wh, expr, by)
            _same_sums(sums, res.by(by))
            _exact_sums(sums, got, by)
    for by in ("channel", "campaign"):
        a = sourced_influenced(wh, table, by).set_index(by).sort_index()
        b = _sourced_influenced(journeys, by).set_index(by).sort_index()
        pd.testing.assert_frame_equal(a[b.columns], b, check_dtype=False, rtol=1e-12)


def _sourced_influenced(journeys: pd.DataFrame, by: str) -> pd.DataFrame:
    """Per channel (campaign), read row by row: a converting journey is sourced by its first
    touch's and influenced by every touch's, each counted once with the journey's revenue."""
    col = "campaign_id" if by == "campaign" else by
    rows: dict[str, dict[str, Any]] = {}
    seen: set[tuple[str, Any]] = set()
    for r in journeys[journeys["converted"].astype(bool)].to_dict("records"):
        key = "(none)" if pd.isna(r[col]) else str(r[col])
        row = rows.setdefault(key, {"sourced": 0, "influenced": 0, "s": [], "i": []})
        if r["pos"] == 0:
            row["sourced"] += 1
            row["s"].append(r["revenue"])
        if (key, r["conversion_id"]) not in seen:
            seen.add((key, r["conversion_id"]))
            row["influenced"] += 1
            row["i"].append(r["revenue"])
    return pd.DataFrame(
        [
            {
                by: key,
                "sourced": row["sourced"],
                "influenced": row["influenced"],
                "sourced_amount": math.fsum(row["s"]),
                "influenced_amount": math.fsum(row["i"]),
            }
            for key, row in rows.items()
        ],
        columns=[by, "sourced", "influenced", "sourced_amount", "influenced_amount"],
    )


def _same_sums(got: pd.DataFrame, want: pd.DataFrame) -> None:
    key = got.columns[0]
    a, b = got.set_index(key).sort_index(), want.set_index(key).sort_index()
    pd.testing.assert_frame_equal(a, b, check_dtype=False, rtol=1e-9, atol=1e-9)


def _exact_sums(sums: pd.DataFrame, credits: pd.DataFrame, by: str) -> None:
    """Each sum is math.fsum of the credits it adds up: exact, whatever the order."""
    col = "campaign_id" if by == "campaign" else by
    groups = credits.fillna({col: "(none)"}).groupby(col)
    for total, column in (("conversions", "credit"), ("revenue", "revenue_credit")):
        exact = groups[column].apply(math.fsum)
        assert sums.set_index(col)[total].to_dict() == exact.to_dict()


@pytest.fixture(scope="module")
def wh() -> Iterator[Warehouse]:
    """One warehouse for every example: each replaces the four tables journeys read."""
    with Warehouse.connect(":memory:") as warehouse:
        yield warehouse


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(company)
def test_warehouse_credits_equal_the_python_rules(wh: Warehouse, c: dict[str, Any]) -> None:
    load_company(wh, c)
    for level in ("person", "account"):
        lookback = Lookback(mql=45, opportunity=45, closed_won=45)
        cfg = AttributionConfig(level=level, lookback_days=lookback, time_decay_half_life_days=3)
        for conversion in ("mql", "opportunity", "closed_won"):
            _compare(wh, conversion, cfg)  # type: ignore[arg-type]


def test_hand_worked_case_on_every_backend(any_warehouse: Warehouse) -> None:
    load(any_warehouse)
    cfg = AttributionConfig()
    table = touches_table(load_inputs(any_warehouse), "opportunity", cfg)
    expr = credits_expr(any_warehouse, table, "w_shaped", cfg)
    got = any_warehouse.to_arrow(expr).to_pandas().set_index(KEY)["revenue_credit"]
    # O1: T1 first, T2 lead creation, T9 last touch before the opportunity (30% each), T3 the rest
    assert got["opportunity:O1"].to_dict() == pytest.approx(
        {"T1": 3000, "T2": 3000, "T3": 1000, "T9": 3000}
    )
    # O2: T6 first (0.3); T7 is lead creation and opportunity touch (0.6); 0.1 split over both
    assert got["opportunity:O2"].to_dict() == pytest.approx({"T6": 1750, "T7": 3250})
    sums = credit_sums(any_warehouse, expr).set_index("channel")["revenue"].to_dict()
    assert sums == pytest.approx(
        {"paid_search": 3000 + 3250, "webinar": 3000 + 1750, "email": 1000, "paid_social": 3000}
    )
    si = sourced_influenced(any_warehouse, table).set_index("channel")
    assert si["sourced"].to_dict() == {"paid_search": 1, "webinar": 1, "email": 0, "paid_social": 0}
    assert si["influenced_amount"].to_dict() == pytest.approx(
        {"paid_search": 15000, "webinar": 15000, "email": 10000, "paid_social": 10000}
    )
    _compare(any_warehouse, "opportunity", cfg)
    if any_warehouse.backend != "spark":  # the same queries on other rows: 60 s more on Spark
        _compare(any_warehouse, "closed_won", cfg)
