"""Same journeys, same credits, bit for bit, however DuckDB's threads split the work.

Enough touches (several row groups of 122,880 rows) that DuckDB aggregates and windows in
parallel with 4 threads, and amounts with cents, whose float sums round by order. Every
model whose credits involve a sum of floats (time decay; Markov and Shapley, journey and
channel sums) and the totals and sourced/influenced amounts the reports read, are computed
several times: each run's bytes must equal the first's. With plain float sums (before
warehouse.exact) the totals of such data differed between runs in the last bit.
"""

from __future__ import annotations

import math

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from reference import journey_paths

from revops.attribution.credit import fit
from revops.attribution.credit_expr import credits_expr
from revops.attribution.performance import sourced_influenced
from revops.attribution.run import Attribution
from revops.attribution.scope import Scope
from revops.config.attribution import AttributionConfig
from revops.warehouse import Warehouse
from revops.warehouse.exact import exact_sum

CFG = AttributionConfig(direct_channels=("direct",), time_decay_half_life_days=7.0)
CHANNELS = np.array(["email", "webinar", "paid_search", "direct", "events", "social"])
RUNS = 3


def _journeys(n_conversions: int, seed: int = 7) -> pd.DataFrame:
    """Converting journeys of 1..12 touches over 90 days, numbered as journeys.py numbers
    them, with revenue in cents and campaigns (some missing)."""
    rng = np.random.default_rng(seed)
    n = rng.integers(1, 13, n_conversions)
    conv = np.repeat(np.arange(n_conversions), n)
    starts = np.concatenate([[0], np.cumsum(n)[:-1]])
    pos = np.arange(len(conv)) - np.repeat(starts, n)
    # times ascend over the whole frame, so within each journey with `pos` (ties break by
    # touchpoint_id, which ascends too)
    at = pd.Timestamp("2025-12-01") + pd.to_timedelta(
        np.sort(rng.integers(0, 90 * 86400, len(conv))), unit="s"
    )
    channel = CHANNELS[rng.integers(0, len(CHANNELS), len(conv))]
    revenue = np.round(rng.uniform(100, 90_000, n_conversions), 2)
    campaign = np.where(rng.random(len(conv)) < 0.2, None, np.char.add("cmp-", channel))
    ids = np.char.add("c", np.char.zfill(conv.astype(str), 7))
    return pd.DataFrame(
        {
            "conversion_id": ids,
            "entity_id": ids,
            "person_id": ids,
            "account_id": ids,
            "touchpoint_id": np.char.add("t", np.char.zfill(np.arange(len(conv)).astype(str), 8)),
            "channel": channel,
            "campaign_id": campaign,
            "occurred_at": at,
            "converted_at": pd.Timestamp("2026-03-01"),
            "converted": True,
            "revenue": revenue[conv],
            "pos": pos,
            "n": np.repeat(n, n),
            "is_lead": pos == 0,
            "is_opp": pos == np.repeat(n, n) - 1,
        }
    )


@pytest.fixture(scope="module")
def setup() -> tuple[Warehouse, ibis.Table, pd.DataFrame]:
    con = ibis.duckdb.connect(threads=4)
    frame = _journeys(40_000)
    assert len(frame) > 2 * 122_880  # several row groups: parallel scans and aggregates
    table = con.create_table("journeys", frame)
    return Warehouse(con, "duckdb://"), table, frame


def _bytes(t: pa.Table) -> list[bytes]:
    """The float columns' values as bytes: their bits, not their printed digits (the rows'
    order and keys are fixed by the query's ORDER BY)."""
    return [
        col.combine_chunks().to_numpy(zero_copy_only=False).tobytes()
        for col in t.columns
        if pa.types.is_floating(col.type)
    ]


@pytest.mark.parametrize("model", ["time_decay", "markov", "shapley", "w_shaped"])
def test_credits_and_totals_are_the_same_bits_every_run(
    setup: tuple[Warehouse, ibis.Table, pd.DataFrame], model: str
) -> None:
    wh, table, frame = setup
    fitted = fit(journey_paths(frame), model, CFG) if model in ("markov", "shapley") else None
    expr = credits_expr(table, model, CFG, fitted)
    order = ["conversion_id", "touchpoint_id"]
    seen_credits, seen_totals = set(), set()
    for _ in range(RUNS):
        credits = wh.to_arrow(expr.order_by(order))
        res = Attribution(Scope.of(CFG, "opportunity", (model,)), expr, wh, 0, 0, fitted)
        seen_credits.add(tuple(_bytes(credits)))
        seen_totals.add(tuple(_bytes(pa.Table.from_pandas(res.totals))))
    assert len(seen_credits) == 1
    assert len(seen_totals) == 1
    totals = res.totals
    assert totals["conversions"].sum() == pytest.approx(40_000, rel=1e-12)


def test_sourced_and_influenced_amounts_are_the_same_bits_every_run(
    setup: tuple[Warehouse, ibis.Table, pd.DataFrame],
) -> None:
    _, table, frame = setup
    seen = {tuple(_bytes(pa.Table.from_pandas(sourced_influenced(table)))) for _ in range(RUNS)}
    assert len(seen) == 1
    first = frame[frame["pos"] == 0]
    want = first.groupby("channel")["revenue"].sum()
    got = sourced_influenced(table).set_index("channel")["sourced_amount"]
    assert got.to_dict() == pytest.approx(want.to_dict(), rel=1e-12)


def test_exact_sum_is_order_independent_where_a_float_sum_is_not() -> None:
    """The property itself, on one column in two orders whose float sums differ (1e16 + 1
    rounds the 1 away; 1e16 - 1e16 + 1 keeps it): the exact sums are the same bits, and the
    true sum's."""
    con = ibis.duckdb.connect(threads=1)
    orders = ([1e16, 1.0, -1e16, 0.1, 0.2, 0.3], [0.3, 0.2, 0.1, -1e16, 1e16, 1.0])
    assert sum(orders[0]) != sum(orders[1])  # the float sums do differ
    bits = set()
    for values in orders:
        t = con.create_table("v", pd.DataFrame({"x": values}), overwrite=True)
        bits.add(con.to_pyarrow(t.aggregate(s=exact_sum(t.x)))["s"][0].as_py())
    assert len(bits) == 1
    assert bits.pop() == pytest.approx(math.fsum(orders[0]), rel=1e-15)
