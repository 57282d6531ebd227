"""Every metric of the shipped dictionary, computed alone, equals the same metric inside the
whole-dictionary query (`compute_all`'s fused scans), on DuckDB and PostgreSQL.

The batch shares one scan per table and reads ratios off it, the metric alone runs its own
query; a report built from one and the CLI from the other must still show one number. The
windows include months where filtered metrics (churned logos, stage skips, SLA clocks on empty
tables) match no row, where the two paths once disagreed (n/a in the batch, 0 alone).
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pandas as pd
import pytest
from funnel_case import load

from revops.config import load_config
from revops.config.models import Grain
from revops.metrics import MetricError, compute, compute_all
from revops.warehouse import Warehouse

MODEL = load_config(Path(__file__).parents[2] / "examples" / "revops.yaml").model

WINDOWS: list[tuple[Grain | None, dt.date | None, dt.date | None]] = [
    (None, dt.date(2024, 4, 1), dt.date(2024, 5, 1)),  # a month with no funnel event but SQLs
    ("month", None, None),
]


def _same(alone: pd.DataFrame, batch: pd.DataFrame, keys: list[str], name: str) -> None:
    a = alone.set_index(keys) if keys else alone
    b = batch.drop(columns="metric").set_index(keys) if keys else batch.drop(columns="metric")
    assert list(a.index) == list(b.index), name
    for (_, x), (_, y) in zip(a.iterrows(), b.iterrows(), strict=True):
        if math.isnan(x["value"]):
            assert math.isnan(y["value"]), (name, x.to_dict(), y.to_dict())
        else:
            assert y["value"] == pytest.approx(x["value"], rel=1e-12), name
        assert x["missing"] == y["missing"], name


@pytest.mark.parametrize("window", WINDOWS, ids=lambda w: f"{w[0]}-{w[1]}")
def test_each_metric_alone_equals_the_batch(
    warehouse: Warehouse, window: tuple[Grain | None, dt.date | None, dt.date | None]
) -> None:
    load(warehouse)
    grain, start, end = window
    batch = compute_all(warehouse, MODEL, grain=grain, start=start, end=end)
    keys = ["period"] if grain else []
    for metric in MODEL.metrics:
        alone = compute(warehouse, MODEL, metric.name, grain=grain, start=start, end=end)
        mine = batch[batch["metric"] == metric.name].reset_index(drop=True)
        _same(alone, mine, keys, metric.name)
    if grain is None:  # one row per metric, even where nothing matched
        assert list(batch["metric"]) == [m.name for m in MODEL.metrics]


def test_a_ratio_over_a_window_with_no_numerator_row_is_zero(warehouse: Warehouse) -> None:
    """1–15 Feb 2024 closes O2 (lost, 2,000) and wins nothing: bookings over no rows is $0, so
    win rate by value is 0 / 2,000 = 0, alone and in the batch, not n/a."""
    load(warehouse)
    start, end = dt.date(2024, 2, 1), dt.date(2024, 2, 15)
    alone = compute(warehouse, MODEL, "win_rate_by_value", grain=None, start=start, end=end)
    batch = compute_all(warehouse, MODEL, grain=None, start=start, end=end)
    assert alone["value"].tolist() == [0.0]
    assert batch.loc[batch["metric"] == "win_rate_by_value", "value"].tolist() == [0.0]


@pytest.mark.parametrize("window", WINDOWS, ids=lambda w: f"{w[0]}-{w[1]}")
def test_a_part_of_the_dictionary_equals_the_same_rows_of_the_whole(
    warehouse: Warehouse, window: tuple[Grain | None, dt.date | None, dt.date | None]
) -> None:
    """`only` trims the fused scans to what the named metrics need: a ratio whose components
    are not named, a derived metric over two scans, a conversion and a plain count must come
    out exactly as they do in the whole dictionary, in dictionary order."""
    load(warehouse)
    grain, start, end = window
    only = ["sales_velocity", "win_rate", "lead_to_mql", "mqls"]
    whole = compute_all(warehouse, MODEL, grain=grain, start=start, end=end)
    part = compute_all(warehouse, MODEL, grain=grain, start=start, end=end, only=only)
    order = [m.name for m in MODEL.metrics if m.name in only]
    assert list(dict.fromkeys(part["metric"])) == order
    keys = ["period"] if grain else []
    for name in only:
        _same(
            whole[whole["metric"] == name].drop(columns="metric").reset_index(drop=True),
            part[part["metric"] == name].reset_index(drop=True),
            keys,
            name,
        )


def test_a_part_naming_an_unknown_metric_is_refused(warehouse: Warehouse) -> None:
    with pytest.raises(MetricError, match="unknown metric 'bokings'"):
        compute_all(warehouse, MODEL, only=["bookings", "bokings"])


@pytest.mark.parametrize("grain", ["month", "quarter"])
def test_the_demo_dictionary_equals_each_metric_alone(
    demo_run: tuple[Path, str], grain: Grain
) -> None:
    """On the session's demo warehouse (every table filled: revenue stocks, quality snapshots,
    SLA clocks, credits, quotas, backtests), the whole dictionary in one query, with one scan
    per table and time column (flows and stocks together), equals each metric's own query:
    same buckets, same values, missing stays missing."""
    wh = Warehouse.connect(demo_run[0] / "revops.duckdb", create=False)
    try:
        batch = compute_all(wh, MODEL, grain=grain)
        for metric in MODEL.metrics:
            alone = compute(wh, MODEL, metric.name, grain=grain)
            mine = batch[batch["metric"] == metric.name].reset_index(drop=True)
            _same(alone, mine, ["period"], metric.name)
        stocks = [m.name for m in MODEL.metrics if m.over_time != "flow"]
        assert batch[batch["metric"].isin(stocks)]["value"].notna().sum() > 50
    finally:
        wh.close()
