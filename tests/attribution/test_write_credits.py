"""`write_credit_tables` stores what a plain reading of its contract says: the rows of every
(model, conversion type) it is not given are kept, those it is given replace theirs, and a
scope given twice keeps, per (model, conversion, touch), the row given last.

It skips the warehouse's last-row-per-key pass when no scope comes twice (its keys are then
unique); a scope given twice must still get that pass, not a failed write or repeated rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any

import ibis
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from revops.attribution.credit import CREDIT_COLUMNS
from revops.attribution.run import AttributionError, Placed, store_placed, write_credit_tables
from revops.attribution.scope import Scope
from revops.config.attribution import AttributionConfig, ConversionType
from revops.warehouse import Warehouse
from revops.warehouse.warehouse import Batch, WarehouseError

CFG = AttributionConfig()
MODELS = ("w_shaped", "linear", "markov")
KINDS: tuple[ConversionType, ...] = ("opportunity", "closed_won", "mql")
AT = dt.datetime(2026, 3, 1)

# one batch: a scope and the (conversion, touch, credit) rows given for it
batch = st.tuples(
    st.sampled_from(MODELS),
    st.sampled_from(KINDS),
    st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 8).map(lambda x: x / 8)),
        max_size=8,
        unique_by=lambda r: (r[0], r[1]),
    ),
)
runs = st.lists(st.lists(batch, min_size=1, max_size=4), min_size=1, max_size=3)


@pytest.fixture(scope="module")
def wh() -> Iterator[Warehouse]:
    with Warehouse.connect(":memory:") as warehouse:
        yield warehouse


def _rows(model: str, conversion: ConversionType, rows: list[tuple[int, int, float]]) -> pa.Table:
    """Credit rows as `Placed.rows` gives them (CREDIT_COLUMNS, model, credit, revenue_credit)."""
    data: dict[str, list[Any]] = {c: [] for c in CREDIT_COLUMNS}
    for conv, touch, _ in rows:
        data["conversion_id"].append(f"{conversion}:O{conv}")
        data["entity_id"].append(f"P{conv}")
        data["person_id"].append(f"P{conv}")
        data["account_id"].append(None)
        data["touchpoint_id"].append(f"T{touch}")
        data["channel"].append("email")
        data["campaign_id"].append(None)
        data["occurred_at"].append(AT)
        data["converted_at"].append(AT)
    credit = [c for _, _, c in rows]
    types = {"occurred_at": pa.timestamp("us"), "converted_at": pa.timestamp("us")}
    table = pa.table({c: pa.array(v, types.get(c, pa.string())) for c, v in data.items()})
    table = table.append_column("model", pa.array([model] * len(rows), pa.string()))
    return table.append_column("credit", pa.array(credit, pa.float64())).append_column(
        "revenue_credit", pa.array([2 * c for c in credit], pa.float64())
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(runs)
def test_stored_credits_are_the_last_given_per_scope(
    wh: Warehouse, runs: list[list[tuple[str, ConversionType, list[tuple[int, int, float]]]]]
) -> None:
    with wh.transaction() as run:  # each example starts from an empty table
        run('DELETE FROM "attribution_credits"')
    expected: dict[tuple[str, str, str], tuple[str, float, float]] = {}
    for batches in runs:
        given_scopes = {(model, kind) for model, kind, _ in batches}
        expected = {k: v for k, v in expected.items() if (k[0], v[0]) not in given_scopes}
        tables = []
        for model, kind, rows in batches:
            tables.append((Scope.of(CFG, kind, (model,)), _rows(model, kind, rows)))
            for conv, touch, credit in rows:
                expected[(model, f"{kind}:O{conv}", f"T{touch}")] = (kind, credit, 2 * credit)
        added = sum(len(rows) for _, _, rows in batches)
        assert write_credit_tables(wh, tables, CFG) == added
        stored = wh.sql(
            "SELECT model, conversion_id, touchpoint_id, conversion_type, credit, revenue_credit "
            'FROM "attribution_credits"'
        )
        got = {(m, c, t): (k, cr, rv) for m, c, t, k, cr, rv in stored}
        assert len(got) == len(stored)  # no key stored twice
        assert got == expected


def _placed(model: str, conversion: ConversionType, rows: list[tuple[int, int, float]]) -> Placed:
    """Credits as `place` leaves them: an Ibis table of `_rows`' columns plus `pos`, not read."""
    data = _rows(model, conversion, rows)
    data = data.append_column("pos", pa.array(range(len(rows)), pa.int64()))
    return Placed(Scope.of(CFG, conversion, (model,)), ibis.memtable(data), len(rows), 0, None)


def _stored(wh: Warehouse) -> dict[tuple[str, str, str], tuple[str, float, float]]:
    stored = wh.sql(
        "SELECT model, conversion_id, touchpoint_id, conversion_type, credit, revenue_credit "
        'FROM "attribution_credits"'
    )
    got = {(m, c, t): (k, cr, rv) for m, c, t, k, cr, rv in stored}
    assert len(got) == len(stored)  # no key stored twice
    return got


distinct_batches = st.lists(batch, min_size=1, max_size=4, unique_by=lambda b: (b[0], b[1]))


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.lists(distinct_batches, min_size=1, max_size=3))
def test_placed_credits_are_stored_in_the_warehouse_as_given(
    warehouse: Warehouse,
    runs: list[list[tuple[str, ConversionType, list[tuple[int, int, float]]]]],
) -> None:
    """`store_placed` writes inside the warehouse (`Warehouse.replace_where`) what
    `write_credit_tables` writes from Arrow: the given scopes' rows, every other scope's kept,
    and the run's conversion type, level and lookback on every new row."""
    wh = warehouse
    with wh.transaction() as run:
        run('DELETE FROM "attribution_credits"')
    expected: dict[tuple[str, str, str], tuple[str, float, float]] = {}
    for batches in runs:
        given_scopes = {(model, kind) for model, kind, _ in batches}
        expected = {k: v for k, v in expected.items() if (k[0], v[0]) not in given_scopes}
        for model, kind, rows in batches:
            for conv, touch, credit in rows:
                expected[(model, f"{kind}:O{conv}", f"T{touch}")] = (kind, credit, 2 * credit)
        placed = [_placed(model, kind, rows) for model, kind, rows in batches]
        assert store_placed(wh, placed, CFG) == sum(len(rows) for _, _, rows in batches)
        assert _stored(wh) == expected
    lookback = {k: Scope.of(CFG, k, ("linear",)).lookback_days for k in KINDS}
    for kind, level, days in wh.sql(
        'SELECT DISTINCT conversion_type, level, lookback_days FROM "attribution_credits"'
    ):
        assert (level, days) == (CFG.level, lookback[kind])


def test_a_failed_store_changes_nothing(warehouse: Warehouse) -> None:
    """Credits that repeat a key fail on the table's key, and the earlier credits stay whole:
    the kept rows, the emptied table and the insert are one transaction."""
    first = [_placed("linear", "opportunity", [(0, 0, 0.5), (0, 1, 0.5)])]
    assert store_placed(warehouse, first, CFG) == 2
    before = _stored(warehouse)
    repeated = [_placed("linear", "opportunity", [(1, 0, 0.5), (1, 0, 0.5)])]
    with pytest.raises(WarehouseError, match="nothing was changed"):
        store_placed(warehouse, repeated, CFG)
    assert _stored(warehouse) == before
    twice = [_placed("linear", "mql", [(0, 0, 1.0)]), _placed("linear", "mql", [(1, 0, 1.0)])]
    with pytest.raises(AttributionError, match="stored once"):
        store_placed(warehouse, twice, CFG)


def test_a_hook_that_reads_the_credits_is_given_their_rows(wh: Warehouse) -> None:
    """Where a write hook reads `attribution_credits`, the credits are read out and written
    as a batch (`Warehouse.replace_where`), so the hook sees every new row and the rows of
    other scopes are kept all the same."""
    seen: list[int] = []

    def hook(batches: Sequence[Batch]) -> list[Batch]:
        seen.extend(b.data.num_rows for b in batches if b.table == "attribution_credits")
        return []

    hook.reads = {"attribution_credits"}  # type: ignore[attr-defined]
    with wh.transaction() as run:
        run('DELETE FROM "attribution_credits"')
    assert store_placed(wh, [_placed("linear", "mql", [(0, 0, 1.0)])], CFG) == 1
    wh.write_hooks.append(hook)
    try:
        placed = [_placed("w_shaped", "closed_won", [(0, 0, 0.5), (0, 1, 0.5)])]
        stored = store_placed(wh, placed, CFG)
    finally:
        wh.write_hooks.remove(hook)
    assert stored == 2
    assert seen == [3]  # the batch: the kept row and the two new ones
    assert set(_stored(wh)) == {
        ("linear", "mql:O0", "T0"),
        ("w_shaped", "closed_won:O0", "T0"),
        ("w_shaped", "closed_won:O0", "T1"),
    }
