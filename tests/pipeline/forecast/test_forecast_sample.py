"""The win models' training pool: every snapshot row up to `win_model.max_training_rows`, above
it a seeded sample stratified by outcome, the same rows for the same seed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from random import Random

import numpy as np
import pandas as pd
import pytest
from forecast_case import example_model, load_synthetic
from hypothesis import given, settings
from hypothesis import strategies as st

from revops.config.models import OperatingModel
from revops.pipeline.forecast import replay as replay_module
from revops.pipeline.forecast.data import load
from revops.pipeline.forecast.replay import (
    POOL_COLUMNS,
    batches,
    finished_quarters,
    replay,
    sample_ranks,
    snapshot_days,
)
from revops.pipeline.forecast.weighted import learn
from revops.warehouse import Warehouse


@given(
    losses=st.integers(0, 5_000),
    wins=st.integers(0, 5_000),
    cap=st.integers(100, 6_000),
    seed=st.integers(0, 2**32 - 1),
)
def test_sample_ranks_keep_each_outcome_s_share(
    losses: int, wins: int, cap: int, seed: int
) -> None:
    counts = {False: losses, True: wins}
    total = losses + wins
    if total == 0:
        return
    ranks = sample_ranks(counts, cap, seed)
    again = sample_ranks(counts, cap, seed)
    for won, n in counts.items():
        r = ranks[won]
        np.testing.assert_array_equal(r, again[won])  # same seed, same rows
        assert len(r) == (min(n, max(1, cap * n // total)) if n else 0)
        assert len(np.unique(r)) == len(r)
        assert (np.diff(r) > 0).all()
        assert ((r >= 0) & (r < max(n, 1))).all()
    assert sum(len(r) for r in ranks.values()) <= cap + 1


def _with_cap(cap: int | None, seed: int = 7) -> OperatingModel:
    model = example_model()
    wm = model.forecast.win_model.model_copy(update={"max_training_rows": cap, "seed": seed})
    return model.model_copy(
        update={"forecast": model.forecast.model_copy(update={"win_model": wm})}
    )


def _pool(wh: Warehouse, model: OperatingModel) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    data = load(wh, model)
    past = replay(wh, model, data, finished_quarters(data, model))
    rows, x = past.pool()
    return rows, x, past.pool_rows


def _keys(rows: pd.DataFrame) -> list[tuple[object, object]]:
    return list(zip(rows["as_of"], rows["opportunity_id"], strict=True))


def test_pool_is_every_row_up_to_the_cap_and_a_seeded_sample_above(
    any_warehouse: Warehouse,
) -> None:
    """On each backend (Spark too: the replay's counts, sample and reads are its queries)."""
    warehouse = any_warehouse
    load_synthetic(warehouse)
    full, x_full, n = _pool(warehouse, _with_cap(None))
    assert len(full) == n > 300
    # At or above the pool's size the cap changes nothing.
    same, x_same, _ = _pool(warehouse, _with_cap(n))
    pd.testing.assert_frame_equal(same, full, check_exact=True)
    pd.testing.assert_frame_equal(x_same, x_full, check_exact=True)
    # Below it: a sample of the same rows with the same features, each outcome its share.
    cap = n // 3
    a, x_a, _ = _pool(warehouse, _with_cap(cap))
    b, x_b, _ = _pool(warehouse, _with_cap(cap))
    pd.testing.assert_frame_equal(a, b, check_exact=True)  # same seed, same rows
    pd.testing.assert_frame_equal(x_a, x_b, check_exact=True)
    wins = int(full["won_in_period"].sum())
    assert int(a["won_in_period"].sum()) == max(1, cap * wins // n)
    assert len(a) == max(1, cap * wins // n) + max(1, cap * (n - wins) // n)
    by_key = dict(zip(_keys(full), range(len(full)), strict=True))
    at = [by_key[k] for k in _keys(a)]
    assert at == sorted(at)  # in the pool's (as-of date, deal) order
    expect = x_full.iloc[at].set_axis(x_a.index)
    pd.testing.assert_frame_equal(x_a, expect, check_exact=True)
    other, _, _ = _pool(warehouse, _with_cap(cap, seed=8))
    assert _keys(other) != _keys(a)
    # The learned rates the warehouse aggregates are pandas' on the same rows, on each backend.
    model = example_model()
    data = load(warehouse, model)
    past = replay(warehouse, model, data, finished_quarters(data, model))
    last = past.quarters[-4:]
    rows, _ = past.read([d for q in last for d in q.weeks()])
    mine, theirs = past.learned(last, 3), learn(rows, 3)
    assert mine is not None
    for keys, cells in theirs.items():
        got = mine[keys][list(cells.columns)].reset_index(drop=True)
        pd.testing.assert_frame_equal(got, cells, check_exact=True)


@given(
    counts=st.lists(st.integers(0, 50), max_size=40),
    limit=st.integers(1, 120),
    shuffle=st.randoms(use_true_random=False),
)
def test_batches_are_greedy_runs_of_whole_days_in_date_order(
    counts: list[int], limit: int, shuffle: Random
) -> None:
    """A plain reading: walk the days in order, start a new run when the next day would take
    the run over `limit`; a day alone may hold more."""
    days = [date(2025, 1, 1) + timedelta(days=7 * i) for i in range(len(counts))]
    per_day = dict(zip(days, counts, strict=True))
    given_days = days[:]
    shuffle.shuffle(given_days)
    got = batches(given_days, per_day, limit)
    expect: list[list[date]] = []
    for d in days:
        n = per_day[d]
        if n == 0:
            continue
        if expect and sum(per_day[e] for e in expect[-1]) + n <= limit:
            expect[-1].append(d)
        else:
            expect.append([d])
    assert got == expect


@pytest.fixture(scope="module")
def synthetic() -> Iterator[tuple[Warehouse, int]]:
    """The synthetic company and its pool's size uncapped."""
    with Warehouse.connect(":memory:") as wh:
        load_synthetic(wh)
        yield wh, _plain_pool(wh, _with_cap(None))[2]


def _plain_pool(wh: Warehouse, model: OperatingModel) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """The pool as one read of every snapshot day, sampled in pandas: each outcome's rows in
    (as-of date, deal) order at the positions `sample_ranks` draws."""
    data = load(wh, model)
    past = replay(wh, model, data, finished_quarters(data, model))
    cfg = model.forecast.win_model
    rows, x = past.read(snapshot_days(past.quarters, cfg.snapshot_days))
    n = len(rows)
    keep = np.ones(n, dtype=bool)
    if cfg.max_training_rows is not None and n > cfg.max_training_rows:
        won = rows["won_in_period"].astype(bool).to_numpy()
        counts = {False: int((~won).sum()), True: int(won.sum())}
        ranks = sample_ranks(counts, cfg.max_training_rows, cfg.seed)
        keep[:] = False
        for outcome in (False, True):
            at = np.flatnonzero(won == outcome)
            keep[at[ranks[outcome]]] = True
    pool = rows.loc[keep, list(POOL_COLUMNS)].reset_index(drop=True)
    return pool, x[keep].reset_index(drop=True), n


@settings(max_examples=8, deadline=None)
@given(chunk=st.integers(1, 4_000), share=st.one_of(st.none(), st.floats(0.05, 1.2)))
def test_pool_read_in_chunks_is_the_plain_pool(
    synthetic: tuple[Warehouse, int], chunk: int, share: float | None
) -> None:
    """Read `chunk` rows at a time (one day alone when it has more), sampled or not, the pool
    holds the rows and features of one read of every snapshot day, in its order and index."""
    wh, n = synthetic
    model = _with_cap(None if share is None else max(100, int(n * share)))
    expect, x_expect, _ = _plain_pool(wh, model)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(replay_module, "CHUNK_ROWS", chunk)
        rows, x, total = _pool(wh, model)
    assert total == n
    pd.testing.assert_frame_equal(rows, expect, check_exact=True)
    pd.testing.assert_frame_equal(x, x_expect, check_exact=True)
