"""The path counts the warehouse computes are the paths Python built from every touch, and the
counts the data-driven models are fitted on (counts.fit_counts: the chain's moves and ends, the
conversions per channel set) are the ones those paths give.

On generated companies (persons in accounts, touches on a handful of instants so that many tie,
MQL entries and won, lost and open opportunities), `path_counts` gives, for every conversion
type and both levels, the same distinct paths with the same conversions, nulls and value as
the per-journey paths of reference.py, the same channel numbering, and so the same Markov and
Shapley figures: conversion credits identical to the bit (the counts are whole numbers), value
credits to 1e-12 (revenue is summed per path in the warehouse, in another order). `fit_counts`
gives, at Markov orders 1 and 2, the very chain `build_chain` makes of those paths (the same
states, the same transition counts to the bit) and the same channel sets, so the same figures.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import counted, journey_paths

from revops.attribution import counts as counts_module
from revops.attribution.counts import START, fit_counts
from revops.attribution.journeys import build_journeys, load_inputs, path_counts
from revops.attribution.markov import build_chain, chain_of, markov, markov_counts
from revops.attribution.shapley import shapley, shapley_counts
from revops.config.attribution import AttributionConfig, ConversionType, Lookback
from revops.warehouse import Warehouse
from revops.warehouse.schema import table
from revops.warehouse.warehouse import arrow_schema

CHANNELS = ["email", "webinar", "paid_search", "direct", "events"]
DAY0 = dt.datetime(2026, 1, 1)
# few instants: touches of one person often share one, so the touchpoint_id breaks the tie
instant = st.integers(0, 6).map(lambda k: DAY0 + dt.timedelta(days=10 * k))
touch = st.tuples(st.integers(0, 5), instant, st.sampled_from(CHANNELS))
opportunity = st.tuples(
    st.integers(0, 5),  # person
    st.integers(0, 6),  # created, in tens of days
    st.integers(0, 4),  # then closed, in tens of days
    st.sampled_from(["won", "lost", "open"]),
    st.integers(1, 9_999).map(lambda a: a / 7),  # amounts whose sums round differently
)
company = st.fixed_dictionaries(
    {
        "touches": st.lists(touch, min_size=1, max_size=30),
        "ids": st.permutations(range(30)),
        "mql": st.dictionaries(st.integers(0, 5), st.integers(0, 60), max_size=6),
        "opportunities": st.lists(opportunity, max_size=6),
    }
)


MQL_COLUMNS = ("transition_id", "person_id", "to_stage", "changed_at")
OPPORTUNITY_COLUMNS = (
    "opportunity_id",
    "account_id",
    "person_id",
    "opportunity_type",
    "amount",
    "created_date",
    "close_date",
    "is_closed",
    "is_won",
)


def _load(wh: Warehouse, c: dict[str, Any]) -> None:
    persons = [
        {"person_id": f"P{i}", "account_id": f"A{i % 3}", "created_at": DAY0 + dt.timedelta(i * 9)}
        for i in range(6)
    ]
    touches = [
        {
            "touchpoint_id": f"T{c['ids'][k]:02d}",
            "person_id": f"P{p}",
            "occurred_at": at,
            "channel": ch,
            "touch_type": "web_visit",
        }
        for k, (p, at, ch) in enumerate(c["touches"])
    ]
    mql = [
        {
            "transition_id": f"L{p}",
            "person_id": f"P{p}",
            "to_stage": "MQL",
            "changed_at": DAY0 + dt.timedelta(days=day),
        }
        for p, day in c["mql"].items()
    ]
    opps = [
        {
            "opportunity_id": f"O{k}",
            "account_id": f"A{p % 3}",
            "person_id": f"P{p}",
            "opportunity_type": "new_business",
            "amount": amount,
            "created_date": (DAY0 + dt.timedelta(days=10 * made)).date(),
            "close_date": (DAY0 + dt.timedelta(days=10 * (made + later))).date(),
            "is_closed": status != "open",
            "is_won": status == "won",
        }
        for k, (p, made, later, status, amount) in enumerate(c["opportunities"])
    ]
    for name, rows, example in [
        ("persons", persons, persons[0]),
        ("touchpoints", touches, touches[0]),
        ("lifecycle_history", mql, dict.fromkeys(MQL_COLUMNS)),
        ("opportunities", opps, dict.fromkeys(OPPORTUNITY_COLUMNS)),
    ]:
        stored = arrow_schema(table(name))
        schema = pa.schema([stored.field(col) for col in example])
        wh.write(name, pa.Table.from_pylist(rows, schema), "replace")


def _same_fits(new: object, old: object) -> None:
    for name in ("conversions", "removal_effects", "std_error"):
        if hasattr(new, name):
            assert np.array_equal(getattr(new, name), getattr(old, name)), name
    for name in ("value", "value_removal_effects"):
        if hasattr(new, name):
            # sums of revenue come in any order from the warehouse's threads: a channel whose
            # value is 0 may come out as a residue of 1e-13 of the others' hundreds
            want = np.asarray(getattr(old, name), dtype=float)
            scale = max(1.0, float(np.abs(want).max(initial=0.0)))
            np.testing.assert_allclose(getattr(new, name), want, rtol=1e-12, atol=1e-12 * scale)


@pytest.fixture(scope="module")
def wh() -> Iterator[Warehouse]:
    """One warehouse for every example: each replaces the four tables journeys read."""
    with Warehouse.connect(":memory:") as warehouse:
        yield warehouse


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(company)
def test_pushed_down_path_counts_equal_the_python_paths(wh: Warehouse, c: dict[str, Any]) -> None:
    _load(wh, c)
    inp = load_inputs(wh)
    for level in ("person", "account"):
        lookback = Lookback(mql=45, opportunity=45, closed_won=45)
        cfg = AttributionConfig(level=level, lookback_days=lookback)
        conversions: tuple[ConversionType, ...] = ("mql", "opportunity", "closed_won")
        for conversion in conversions:
            new = path_counts(inp, conversion, cfg)
            everything = build_journeys(inp, conversion, cfg, converted_only=False)
            old = journey_paths(everything)
            assert new.channels == old.channels
            got, want = counted(new), counted(old)
            assert got.keys() == want.keys()
            for path, (conv, nulls, value) in want.items():
                assert got[path][:2] == (conv, nulls)
                assert got[path][2] == pytest.approx(value, rel=1e-12)
            for order in (1, 2):
                ordered = cfg.model_copy(update={"markov_order": order})
                counts = fit_counts(inp, conversion, ordered)
                assert counts.channels == old.channels
                assert (counts.conversions, counts.nulls) == (
                    old.conversions.sum(),
                    old.nulls.sum(),
                )
                if not len(old):
                    continue
                want, got = build_chain(old, order), chain_of(counts)
                assert (want.counts != got.counts).nnz == 0
                assert np.array_equal(want.contains, got.contains)
                np.testing.assert_allclose(
                    got.value_per_conversion, want.value_per_conversion, rtol=1e-12
                )
                if old.conversions.sum():
                    _same_fits(markov(new, order), markov(old, order))
                    _same_fits(markov_counts(counts), markov(old, order))
                    _same_fits(shapley_counts(counts), shapley(old))
            if old.conversions.sum():
                _same_fits(shapley(new), shapley(old))


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(company)
def test_counts_in_buckets_are_the_journeys_counts(wh: Warehouse, c: dict[str, Any]) -> None:
    """Journeys counted in buckets of entities (as at scale on DuckDB), at both levels, add up
    to the counts a plain reading of every journey gives (`_plain_counts`), and to the very
    counts of one query over them all: the same moves, ends and channel sets, the value to
    the bit. At the account level a bucket holds an account's persons' touches: one that split
    an account's journeys by person would lose touches."""
    _load(wh, c)
    inp = load_inputs(wh)
    for level in ("person", "account"):
        for order in (1, 2):
            lookback = Lookback(opportunity=45, closed_won=45)
            cfg = AttributionConfig(level=level, markov_order=order, lookback_days=lookback)
            for conversion in ("opportunity", "closed_won"):
                whole = fit_counts(inp, conversion, cfg)
                saved = counts_module.TOUCHPOINTS_PER_BUCKET
                counts_module.TOUCHPOINTS_PER_BUCKET = 4  # up to 30 touchpoints: up to 8 buckets
                try:
                    split = fit_counts(inp, conversion, cfg)
                finally:
                    counts_module.TOUCHPOINTS_PER_BUCKET = saved
                assert _canonical(split) == _canonical(whole)
                journeys = build_journeys(inp, conversion, cfg, converted_only=False)
                want = _plain_counts(journeys, split.channels, order)
                got = _counted(split)
                assert got.keys() == want.keys()
                for part, plain in want.items():
                    assert got[part].keys() == plain.keys(), part
                    for key, figures in plain.items():
                        assert got[part][key][:-1] == figures[:-1], (part, key)
                        assert got[part][key][-1] == pytest.approx(figures[-1], rel=1e-12)


def _plain_counts(
    journeys: pd.DataFrame, channels: tuple[str, ...], order: int
) -> dict[str, dict[Any, tuple[float, ...]]]:
    """The moves, ends and channel sets of every journey, read one journey at a time in plain
    Python: its order-k windows (k channel codes in base len(channels) + 1, padded past the
    end), repeats collapsed, each move from the previous window (START first), the last
    window its end, the set of its channels its mask. Figures: (count, value) of moves,
    (conversions, nulls, value) of ends, (conversions, value) of masks, all summed."""
    pad = len(channels)
    number = {ch: i for i, ch in enumerate(channels)}
    moves: dict[Any, list[float]] = {}
    ends: dict[Any, list[float]] = {}
    masks: dict[Any, list[float]] = {}
    for _, j in journeys.groupby("conversion_id", sort=False):
        codes = [number[ch] for ch in j.sort_values("pos")["channel"]]
        won = bool(j["converted"].iloc[0])
        value = float(j["revenue"].iloc[0]) if won else 0.0
        starts = [0, *range(1, len(codes) - order + 1)]
        windows: list[int] = []
        for i in starts:
            digits = [codes[i + t] if i + t < len(codes) else pad for t in range(order)]
            code = 0
            for d in digits:
                code = code * (pad + 1) + d
            if not windows or windows[-1] != code:
                windows.append(code)
        for src, dst in zip([START, *windows[:-1]], windows, strict=True):
            moves.setdefault((src, dst), [0.0])[0] += 1
        end = ends.setdefault(windows[-1], [0.0, 0.0, 0.0])
        end[0 if won else 1] += 1
        end[2] += value
        mask = 0
        for d in codes:
            mask |= 1 << d
        seen = masks.setdefault(mask, [0.0, 0.0])
        seen[0] += won
        seen[1] += value
    return {
        "moves": {k: (*v, 0.0) for k, v in moves.items()},
        "ends": {k: tuple(v) for k, v in ends.items()},
        "masks": {k: tuple(v) for k, v in masks.items()},
    }


def _counted(fc: Any) -> dict[str, dict[Any, tuple[float, ...]]]:
    """`fit_counts`' arrays in `_plain_counts`' form (ends summed over the moves into them)."""
    moves = {
        (int(s), int(d)): (float(n), 0.0) for s, d, n in zip(fc.src, fc.dst, fc.moves, strict=True)
    }
    ends: dict[Any, tuple[float, ...]] = {}
    for e, conv, nulls, value in zip(
        fc.end, fc.end_conversions, fc.end_nulls, fc.end_value, strict=True
    ):
        was = ends.get(int(e), (0.0, 0.0, 0.0))
        ends[int(e)] = (was[0] + conv, was[1] + nulls, was[2] + value)
    masks = {
        int(m): (float(conv), float(value))
        for m, conv, value in zip(fc.masks, fc.mask_conversions, fc.mask_value, strict=True)
    }
    return {"moves": moves, "ends": ends, "masks": masks}


def _canonical(fc: Any) -> tuple[object, ...]:
    moves = sorted(zip(fc.src.tolist(), fc.dst.tolist(), fc.moves.tolist(), strict=True))
    ends = zip(
        fc.end.tolist(),
        fc.end_conversions.tolist(),
        fc.end_nulls.tolist(),
        fc.end_value.tolist(),
        strict=True,
    )
    masks = (fc.masks.tolist(), fc.mask_conversions.tolist(), fc.mask_value.tolist())
    return fc.channels, moves, sorted(ends), masks
