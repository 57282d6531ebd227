"""The lifecycle analytics in passes over persons (DuckDB, large histories), against a plain
reading of the history in Python and against the one-statement expressions.

`funnel_frame` and `time_in_stage_frame` split a history of more than PASS_ROWS rows by the
hash of person_id and select the median in buckets (hours, then seconds when an hour holds more
than FETCH_VALUES durations). Both limits are lowered here so that small histories take every
path: many passes, crowded hours, crowded seconds, equal durations, ties on the timestamp.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lifecycle_data import T0, example_lifecycle, history

from revops.lifecycle import analytics, funnel_conversion, time_in_stage_summary
from revops.warehouse import Batch, Warehouse, schema
from revops.warehouse.warehouse import arrow_schema

LIFECYCLE = example_lifecycle()
STAGES = [*LIFECYCLE.stage_names, "Legacy"]  # and one stage the config lacks
FUNNEL = [s.name for s in LIFECYCLE.stages if s.kind == "funnel"]

# offsets in microseconds: few distinct values, so equal durations and equal timestamps are
# common; some whole hours and seconds apart, some a microsecond apart
_OFFSETS = st.sampled_from(
    [0, 1, 999_999, 1_000_000, 3_600_000_000, 3_600_000_001, 86_400_000_000, 90_061_500_000]
)


@st.composite
def _histories(draw: st.DrawFn) -> pa.Table:
    rows: list[dict[str, Any]] = []
    for p in range(draw(st.integers(1, 7))):
        at = draw(st.integers(0, 3)) * 3_600_000_000
        for _ in range(draw(st.integers(1, 6))):
            at += draw(_OFFSETS)
            rows.append(
                {
                    "transition_id": f"t{draw(st.integers(0, 10**6))}-{len(rows)}",
                    "person_id": f"p{p}",
                    "from_stage": None,
                    "to_stage": draw(st.sampled_from(STAGES)),
                    "changed_at": T0 + pd.Timedelta(microseconds=at).to_pytimedelta(),
                }
            )
    draw(st.randoms()).shuffle(rows)
    return pa.Table.from_pylist(rows, schema=arrow_schema(schema.table("lifecycle_history")))


def _decisions(history: pa.Table) -> dict[str, list[dict[str, Any]]]:
    """Each person's transitions in the engine's order: (changed_at, transition_id)."""
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in sorted(history.to_pylist(), key=lambda r: (r["changed_at"], r["transition_id"])):
        out[r["person_id"]].append(r)
    return out


def _epoch(ts: Any) -> float:
    """Seconds since 1970 as SQL's EPOCH gives them: microseconds over 10**6, as a double."""
    micros = (ts - pd.Timestamp(1970, 1, 1).to_pydatetime()) // pd.Timedelta(microseconds=1)
    return int(micros) / 1_000_000


def _median(values: list[float]) -> float:
    """DuckDB's QUANTILE_CONT(0.5): the middle value, or lo * 0.5 + hi * 0.5 between the two
    (not lo + (hi - lo) * 0.5, which differs in the last bit for some pairs)."""
    v = sorted(values)
    lo, hi = v[(len(v) - 1) // 2], v[len(v) // 2]
    return lo * 0.5 + hi * 0.5


def _plain_time_in_stage(history: pa.Table) -> dict[str, tuple[int, int, float, float, int]]:
    """stage -> (entries, exits, median days, mean days, still in stage), in plain Python."""
    stints: dict[str, list[float | None]] = defaultdict(list)
    for rows in _decisions(history).values():
        for r, after in zip(rows, [*rows[1:], None], strict=True):
            days = None
            if after is not None:
                days = (_epoch(after["changed_at"]) - _epoch(r["changed_at"])) / 86_400
            stints[r["to_stage"]].append(days)
    out = {}
    for stage, days in stints.items():
        done = [d for d in days if d is not None]
        median = _median(done) if done else math.nan
        mean = math.fsum(done) / len(done) if done else math.nan
        out[stage] = (len(days), len(done), median, mean, len(days) - len(done))
    return out


def _plain_funnel(history: pa.Table) -> list[tuple[int, int]]:
    """Per funnel step: persons who reached N, and of them those reaching N+1 afterwards."""
    steps = [[0, 0] for _ in FUNNEL[1:]]
    for rows in _decisions(history).values():
        stages = [r["to_stage"] for r in rows]
        for i, (n, after) in enumerate(itertools.pairwise(FUNNEL)):
            if n in stages:
                steps[i][0] += 1
                steps[i][1] += after in stages[stages.index(n) + 1 :]
    return [(a, b) for a, b in steps]


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


@pytest.mark.parametrize("backend", ["duckdb"])  # the passes are DuckDB's (its HASH)
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=_histories(),
    per_pass=st.integers(1, 12),
    fetch=st.sampled_from([1, 2, 3, 10**6]),
)
def test_the_analytics_in_passes_are_the_plain_reading(
    warehouse: Warehouse, rows: pa.Table, per_pass: int, fetch: int
) -> None:
    """Whatever the number of passes and the bucket limit: the same counts, the median
    exactly (QUANTILE_CONT's value to the last bit), the mean within its exact sum's rounding, and
    the same frames (columns, types, order) as the one-statement expressions."""
    warehouse.write_many([Batch("lifecycle_history", rows, "replace")])
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(analytics, "PASS_ROWS", per_pass)
        mp.setattr(analytics, "FETCH_VALUES", fetch)
        funnel = analytics.funnel_frame(warehouse, LIFECYCLE)
        summary = analytics.time_in_stage_frame(warehouse, LIFECYCLE)

    assert list(zip(funnel["reached"], funnel["reached_next"], strict=True)) == _plain_funnel(rows)
    plain = _plain_time_in_stage(rows)
    assert set(summary["stage"]) == set(plain)
    for r in summary.itertuples(index=False):
        entries, exits, median, mean, still = plain[r.stage]
        assert (r.entries, r.exits, r.still_in_stage) == (entries, exits, still), r.stage
        assert _same(r.median_days, median), (r.stage, r.median_days, median)
        # the exact sum holds each duration to 1e-15 days (warehouse.sums.EXACT)
        close = math.isclose(r.mean_days, mean, rel_tol=1e-12, abs_tol=1e-15)
        assert _same(r.mean_days, mean) or close, r.stage

    t = warehouse.table("lifecycle_history")
    one = warehouse.execute(funnel_conversion(t, LIFECYCLE))
    pd.testing.assert_frame_equal(funnel, one, check_exact=True)
    one = warehouse.execute(time_in_stage_summary(t, LIFECYCLE))
    pd.testing.assert_frame_equal(
        summary.drop(columns="mean_days"), one.drop(columns="mean_days"), check_exact=True
    )
    pd.testing.assert_series_equal(summary["mean_days"], one["mean_days"], rtol=1e-12, atol=1e-15)


def test_one_pass_off_duckdb_or_below_the_limit(warehouse: Warehouse) -> None:
    """PostgreSQL (and Spark) sort and spill on their own: no passes there; on DuckDB a
    history of PASS_ROWS rows or fewer is one pass, the plain expressions."""
    rows = history(*[(f"t{i}", f"p{i % 3}", None, "Lead", i) for i in range(5)])
    warehouse.write("lifecycle_history", rows)
    t = warehouse.table("lifecycle_history")
    want = 1 if warehouse.backend != "duckdb" else rows.num_rows
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(analytics, "PASS_ROWS", 1)
        assert analytics._passes(warehouse, t) == want
    assert analytics._passes(warehouse, t) == 1
