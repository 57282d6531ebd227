"""Sums and averages of floating-point columns do not depend on the order rows are added in.

A database adds a DOUBLE column in whatever order it reads rows or its threads finish (DuckDB's
row groups at 10x demo scale), and float addition is not associative: the same seed gave
different last digits from run to run. The metric layer sums such columns as exact decimals, so
the same values give the same figure bit for bit, on every backend and in any order.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from pathlib import Path

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from revops.config import load_config
from revops.metrics import compute
from revops.metrics.compiler import aggregate
from revops.warehouse import Warehouse

MODEL = load_config(Path(__file__).parents[2] / "examples" / "revops.yaml").model
DAY = dt.date(2024, 3, 5)
# Money as stored: amounts with cents, from refunds to large deals.
money = st.decimals(-1_000_000, 10_000_000, places=2).map(float)


def _spend(amounts: list[float]) -> pa.Table:
    """campaign_spend rows holding `amounts` in this order (one campaign each, one day)."""
    return pa.table(
        {
            "campaign_id": [f"c{i}" for i in range(len(amounts))],
            "spend_date": [DAY] * len(amounts),
            "amount": amounts,
        }
    )


def _marketing_spend(wh: Warehouse, amounts: list[float]) -> float:
    """The dictionary's marketing_spend (a sum of campaign_spend.amount) over `amounts`."""
    wh.write("campaign_spend", _spend(amounts), mode="replace")
    return _value(wh)


def _value(wh: Warehouse) -> float:
    return float(compute(wh, MODEL, "marketing_spend", grain=None)["value"].iloc[0])


def test_sum_is_the_same_in_either_order(warehouse: Warehouse) -> None:
    # In floats (0.1 + 0.2) + 0.3 is 0.6000000000000001 and (0.3 + 0.2) + 0.1 is 0.6: a float
    # sum reading rows in insertion order gave these two answers.
    forward = _marketing_spend(warehouse, [0.1, 0.2, 0.3])
    backward = _marketing_spend(warehouse, [0.3, 0.2, 0.1])
    assert forward == backward == 0.6


@settings(max_examples=40)
@given(st.lists(money, min_size=1, max_size=60), st.randoms(use_true_random=False))
def test_sum_and_average_ignore_row_order(amounts: list[float], rnd: random.Random) -> None:
    shuffled = amounts.copy()
    rnd.shuffle(shuffled)
    with Warehouse.connect(":memory:") as wh:
        figures = []
        for order in (amounts, shuffled):
            wh.write("campaign_spend", _spend(order), mode="replace")
            t = wh.table("campaign_spend")
            figures.append(
                wh.execute(
                    t.aggregate(
                        total=aggregate(t, "sum", "amount"), mean=aggregate(t, "avg", "amount")
                    )
                ).iloc[0]
            )
    (total, mean), (total2, mean2) = (tuple(f) for f in figures)
    assert (total, mean) == (total2, mean2)  # bit for bit
    # The values to 15 decimal places, summed exactly: within a rounding of the exact float sum.
    exact = math.fsum(amounts)
    assert math.isclose(total, exact, rel_tol=1e-15, abs_tol=1e-12)
    assert math.isclose(mean, exact / len(amounts), rel_tol=1e-15, abs_tol=1e-12)


def test_sum_over_many_row_groups_is_stable() -> None:
    """More rows than one DuckDB row group (122,880), read by several threads: the figure is
    the same on every run and within a rounding of the exact sum."""
    rnd = random.Random(7)
    amounts = [round(rnd.uniform(0, 50_000), 2) for _ in range(400_000)]
    with Warehouse.connect(":memory:") as wh:
        wh.sql("SET threads = 4")
        wh.write("campaign_spend", _spend(amounts), mode="replace")
        runs = {_value(wh) for _ in range(10)}
    assert len(runs) == 1
    assert math.isclose(runs.pop(), math.fsum(amounts), rel_tol=1e-15)
