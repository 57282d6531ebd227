"""The data quality scorecard: completeness, validity, uniqueness and match rate per field.

One aggregate query per table measures every column (on DuckDB, the distinct counts column by
column: `_distinct_count`); the result is stored in
`quality_snapshots` under the snapshot date, so running the scorecard daily (or after each
load) builds the trend. Rates are derived from stored counts, never stored themselves, which is
what lets the metric dictionary's `dq_*` ratios re-aggregate them over any period.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa

from revops.config.models import OperatingModel
from revops.quality.check import (
    CheckReport,
    Violation,
    check_table,
    checks_by_table,
    rule_counts,
    table_results,
)
from revops.quality.rules import RuleCheck, all_checks, count_true, counted, filled
from revops.warehouse import Warehouse, schema
from revops.warehouse.parts import in_part

COUNTS = ("rows", "filled", "valid", "distinct_values")

# The most distinct values one pass of `_distinct_count` is meant to hold in DuckDB's hash
# table: about 27 MB of it for timestamps (measured 2026-12-06: 4.74M distinct occurred_at held
# 257 MB in one pass at 10x, 54 bytes a value), the size of the largest count at 1x.
PASS_VALUES = 500_000


def _validity_checks(model: OperatingModel) -> dict[tuple[str, str], list[RuleCheck]]:
    """Value rules per (table, field); 'required' rules measure completeness, not validity."""
    out: dict[tuple[str, str], list[RuleCheck]] = {}
    for c in all_checks(model, model.quality.scorecard.tables):
        if not c.rule.startswith("required"):
            out.setdefault((c.table, c.field), []).append(c)
    return out


def _measure_table(
    wh: Warehouse,
    name: str,
    checks: dict[tuple[str, str], list[RuleCheck]],
    check_rules: list[RuleCheck] | None = None,
) -> tuple[pd.DataFrame, list[Violation] | None]:
    """The table's scorecard counts and, given `check_rules` (`check.checks_by_table`'s for
    it), their `check` results, counted in the same scan of the table (the distinct counts
    apart on DuckDB: `_distinct_count`)."""
    t = wh.table(name)
    # A warehouse created before a column was added to the data model simply lacks it.
    columns = [c for c in schema.table(name).column_names if c in t.columns]
    # Each value of a key the database enforces is there once: its distinct count is its
    # filled count, and counting it would hold the largest hash table of the table.
    key = wh.enforced_key(name)
    apart = wh.backend == "duckdb"
    # below PASS_VALUES rows no column can need a second pass: no estimate is made
    estimate = apart and int(wh.execute(t.count())) > PASS_VALUES
    aggs: dict[str, ir.Value] = {"n": t.count()}
    for i, col in enumerate(columns):
        has = filled(t, col)  # as the rules write it, so DuckDB shares it with theirs
        aggs[f"f{i}"] = count_true(_filled_on_duckdb(t, col) if apart else has)
        if apart:
            aggs[f"s{i}"] = t[col].count()  # set (non-null); more than filled if blanks
            if estimate and key != (col,):
                aggs[f"e{i}"] = t[col].approx_nunique()  # a few KB (HyperLogLog)
        elif key != (col,):
            aggs[f"d{i}"] = t[col].nunique(where=has)
        rules = checks.get((name, col))
        if rules:
            broken = ibis.literal(False)
            for r in rules:
                broken = broken | r.violation(t).fill_null(False)
            aggs[f"v{i}"] = count_true(has & ~broken)
    if check_rules is not None:
        aggs.update(rule_counts(t, check_rules))
    got = wh.execute(t.aggregate(**aggs)).iloc[0]
    rows = []
    for i, col in enumerate(columns):
        valid = got.get(f"v{i}")
        filled_count = counted(got[f"f{i}"])
        if key == (col,):
            distinct = filled_count
        elif apart:
            blanks = int(got[f"s{i}"]) > filled_count
            passes = _passes(got.get(f"e{i}"))
            distinct = _distinct_count(wh, t, col, blanks=blanks, passes=passes)
        else:
            distinct = counted(got[f"d{i}"])
        rows.append(
            {
                "table_name": name,
                "field_name": col,
                "rows": int(got["n"]),
                "filled": filled_count,
                "valid": None if valid is None else counted(valid),
                "distinct_values": distinct,
            }
        )
    counts = pd.DataFrame(rows).astype(dict.fromkeys(COUNTS, "Int64"))
    return counts, None if check_rules is None else table_results(wh, name, check_rules, got)


def _filled_on_duckdb(t: ir.Table, col: str) -> ir.BooleanValue:
    """`rules.filled`, with a first test that spares most rows the TRIM: DuckDB orders
    strings by their bytes, so a value at or above '!' starts with a byte above every
    whitespace character TRIM removes, and is filled; only the others are trimmed (the OR
    stops at its first true side). Trimming every value was most of the scan's CPU: 1.3 s
    against 0.19 s for touchpoints.touchpoint_id at 10x (2026-12-06). Not on PostgreSQL,
    whose collations need not order strings by their bytes."""
    c = t[col]
    if not c.type().is_string():
        return filled(t, col)
    return c.notnull() & ((c >= "!") | (c.strip() != ""))


def _passes(estimate: Any) -> int:
    """How many passes `_distinct_count` makes for a column of about `estimate` distinct
    values (None: not estimated, the table has too few rows to need more than one)."""
    if estimate is None or pd.isna(estimate):
        return 1
    return max(1, math.ceil(int(estimate) / PASS_VALUES))


def _distinct_count(wh: Warehouse, t: ir.Table, col: str, *, blanks: bool, passes: int = 1) -> int:
    """How many distinct filled values `col` holds, in statements of its own.

    DuckDB keeps the hash table of every COUNT(DISTINCT) of a statement until the statement
    ends and cannot spill them, so counting every column in the table's one scan held them all
    at once (643 MB at 10x); one column at a time holds only the largest, which still grows
    with the data (257 MB for the 4.74M timestamps of touchpoints.occurred_at at 10x,
    2026-12-06), and a memory_limit below it fails the query. With `passes` above 1 the
    values are split by their hash into that many parts, counted one part a statement and
    summed: equal values hash alike (DuckDB's own grouping relies on it), so each distinct
    value is counted in exactly one part, and a pass holds about 1/`passes` of the table.
    Without blank strings (`blanks` false) every set value is filled, so the filter, a TRIM
    of every row, is left out: the count is the same.
    """
    total = 0
    for part in range(passes):
        s = t if passes == 1 else t.filter(in_part(t[col], part, passes))
        total += int(wh.execute(s[col].nunique(where=filled(s, col) if blanks else None)) or 0)
    return total


def measure(wh: Warehouse, model: OperatingModel) -> pd.DataFrame:
    """The scorecard counts for every field of the scorecard tables, as of now."""
    checks = _validity_checks(model)
    return _scored(model, [_measure_table(wh, name, checks)[0] for name in _tables(model)])


def measure_and_check(wh: Warehouse, model: OperatingModel) -> tuple[pd.DataFrame, CheckReport]:
    """`measure` and `check.check` (every table) together: a scorecard table's rule
    violations are counted in the scan that measures it, rather than in a second scan of the
    same rows (the quality report shows both). The same figures as the two run apart."""
    checks = _validity_checks(model)
    rules = checks_by_table(model)
    frames: list[pd.DataFrame] = []
    results: dict[str, list[Violation]] = {}
    for name in _tables(model):
        frame, found = _measure_table(wh, name, checks, rules.get(name))
        frames.append(frame)
        if found is not None:
            results[name] = found
    violations: list[Violation] = []
    for name, table_rules in rules.items():
        violations += results[name] if name in results else check_table(wh, name, table_rules)
    return _scored(model, frames), CheckReport(tuple(violations))


def _tables(model: OperatingModel) -> tuple[str, ...]:
    return model.quality.scorecard.tables


def _scored(model: OperatingModel, frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The tables' counts with their flags and rates."""
    sc = model.quality.scorecard
    df = pd.concat(frames, ignore_index=True)
    refs = df["table_name"] + "." + df["field_name"]
    keys = {f"{t}.{schema.table(t).primary_key[0]}" for t in sc.tables}
    keys = {k for k in keys if len(schema.table(k.split(".")[0]).primary_key) == 1}
    df["expect_unique"] = refs.isin(keys | set(sc.unique))
    df["is_match_field"] = refs.isin(set(sc.match))
    return with_rates(df)


def with_rates(df: pd.DataFrame) -> pd.DataFrame:
    """Add completeness, validity, uniqueness and match_rate (NaN where undefined)."""
    out = df.copy()

    def ratio(num: pd.Series, den: pd.Series) -> pd.Series:
        d = den.astype("float64")
        return num.astype("float64") / d.where(d > 0)

    out["completeness"] = ratio(out["filled"], out["rows"])
    out["validity"] = ratio(out["valid"], out["filled"])
    out["uniqueness"] = ratio(out["distinct_values"], out["filled"]).where(out["expect_unique"])
    out["match_rate"] = out["completeness"].where(out["is_match_field"])
    return out


def take_snapshot(
    wh: Warehouse,
    model: OperatingModel,
    *,
    snapshot_date: dt.date | None = None,
    now: dt.datetime | None = None,
) -> pd.DataFrame:
    """Measure and store today's scorecard (re-running on the same day replaces it)."""
    return store(wh, measure(wh, model), snapshot_date=snapshot_date, now=now)


def store(
    wh: Warehouse,
    df: pd.DataFrame,
    *,
    snapshot_date: dt.date | None = None,
    now: dt.datetime | None = None,
) -> pd.DataFrame:
    """Store `df` (`measure`'s counts) as today's scorecard (re-running on the same day
    replaces it)."""
    at = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    day = snapshot_date or at.date()
    data = pa.table(
        {
            "snapshot_date": pa.array([day] * len(df), pa.date32()),
            "table_name": pa.array(df["table_name"].tolist(), pa.string()),
            "field_name": pa.array(df["field_name"].tolist(), pa.string()),
            **{c: pa.Array.from_pandas(df[c], type=pa.int64()) for c in COUNTS},
            "expect_unique": pa.array(df["expect_unique"].tolist(), pa.bool_()),
            "is_match_field": pa.array(df["is_match_field"].tolist(), pa.bool_()),
            "taken_at": pa.array([at] * len(df), pa.timestamp("us")),
        }
    )
    wh.write("quality_snapshots", data, "upsert")
    return df.assign(snapshot_date=day)


# The scorecard's overall rates and the dictionary metric each one is.
RATE_METRICS = {
    "completeness": "dq_completeness",
    "validity": "dq_validity",
    "uniqueness": "dq_uniqueness",
    "match_rate": "dq_match_rate",
}


def trend(wh: Warehouse, model: OperatingModel) -> pd.DataFrame:
    """Overall completeness, validity, uniqueness and match rate per snapshot date: the
    dictionary's dq_* metrics by day, so the trend, the report's tiles and `revops metrics show`
    are one number (NaN where a rate has no denominator, never 0)."""
    from revops.metrics import compute

    out: pd.DataFrame | None = None
    for key, name in RATE_METRICS.items():
        df = compute(wh, model, name, grain="day")
        df = df[["period", "value"]].rename(columns={"period": "snapshot_date", "value": key})
        out = df if out is None else out.merge(df, on="snapshot_date", how="outer")
    assert out is not None
    return out.sort_values("snapshot_date").reset_index(drop=True)


def latest(wh: Warehouse) -> pd.DataFrame:
    """The most recent stored snapshot, one row per table and field, with its rates."""
    s = wh.table("quality_snapshots")
    last = s.filter(s.snapshot_date == s.snapshot_date.max())
    df = wh.execute(last.order_by(["table_name", "field_name"]))
    if df.empty:
        return df
    return with_rates(df.astype(dict.fromkeys(COUNTS, "Int64")))
