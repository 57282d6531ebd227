"""Running metrics: compiled SQL (cached), executed on the warehouse, returned as DataFrames.

Compilation depends only on the operating model, the arguments and the SQL dialect — never on
the data — because it runs against the *declared* tables of the data model. So the SQL is
cached per (dialect, model, arguments): compiling the whole dictionary through Ibis costs about
as much as running it at demo scale, and reports ask for the same numbers again and again.
`metric_sql` returns exactly the text `compute` executes.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any, NamedTuple

import ibis
import ibis.expr.schema as sch
import ibis.expr.types as ir
import pandas as pd

from revops.config.models import Grain, OperatingModel
from revops.metrics.compiler import compile_dictionary, compile_metric
from revops.warehouse import Warehouse, schema

_IBIS_TYPES = {
    "string": "string",
    "int": "int64",
    "float": "float64",
    "bool": "boolean",
    "date": "date",
    "timestamp": "timestamp",
}


Extras = tuple[tuple[str, tuple[tuple[str, str], ...]], ...]


@cache
def declared_table(name: str) -> ir.Table:
    """An unbound Ibis table with the declared schema of `name`: enough to compile SQL."""
    t = schema.table(name)
    return ibis.table({c.name: _IBIS_TYPES[c.type] for c in t.columns}, name=name)


def _tables(extras: Extras) -> Callable[[str], ir.Table]:
    """Declared tables plus the custom columns the live warehouse has on them."""
    added = dict(extras)

    def table(name: str) -> ir.Table:
        if name not in added:
            return declared_table(name)
        t = schema.table(name)
        cols = {c.name: _IBIS_TYPES[c.type] for c in t.columns}
        return ibis.table({**cols, **dict(added[name])}, name=name)

    return table


def custom_columns(wh: Warehouse) -> Extras:
    """(table, ((column, type), …)) for every column a canonical table has in the warehouse but
    not in the data model: custom fields, added by source mappings (ALTER TABLE ADD COLUMN)."""
    present = wh.columns()
    declared = {t.name: set(t.column_names) for t in schema.TABLES}
    tables = sorted(t for t, cols in present.items() if t in declared and cols - declared[t])
    out = []
    for name in tables:
        live = wh.con.table(name).schema()
        extra = tuple((c, str(live[c])) for c in live.names if c not in declared[name])
        out.append((name, extra))
    return tuple(out)


class _Compiled(NamedTuple):
    """A compiled query: its SQL text and the Ibis schema of its result."""

    sql: str
    schema: sch.Schema


# The model is frozen and shared (see `revops.config.loader.model_of`), so a model's identity is
# a stable cache key. A dump of it keys the compiled queries, so an equal model loaded from
# another text (or rebuilt by a test) shares them; `_DUMPS` holds the model it was made from,
# so its id is not reused while the entry lives.
_DUMPS: dict[int, tuple[OperatingModel, str]] = {}
_COMPILED: dict[tuple[Any, ...], _Compiled] = {}
_MAX_MODELS, _MAX_QUERIES = 8, 512


def _model_key(model: OperatingModel) -> str:
    """The model's JSON dump, computed once per model object (~1 ms, 80 kB)."""
    hit = _DUMPS.get(id(model))
    if hit is not None and hit[0] is model:
        return hit[1]
    if len(_DUMPS) >= _MAX_MODELS:
        del _DUMPS[next(iter(_DUMPS))]
    key = model.model_dump_json()
    _DUMPS[id(model)] = (model, key)
    return key


def _cached(key: tuple[Any, ...], build: Callable[[], ir.Table], dialect: str) -> _Compiled:
    """The compiled query for `key`, built and compiled to SQL on the first call only."""
    hit = _COMPILED.get(key)
    if hit is None:
        expr = build()
        hit = _Compiled(str(ibis.to_sql(expr, dialect=dialect)), expr.schema())
        if len(_COMPILED) >= _MAX_QUERIES:
            del _COMPILED[next(iter(_COMPILED))]
        _COMPILED[key] = hit
    return hit


def _metric_query(
    dialect: str,
    model: OperatingModel,
    name: str,
    by: tuple[str, ...],
    grain: Grain | None,
    start: dt.date | None,
    end: dt.date | None,
    where: str | None,
    extras: Extras,
) -> _Compiled:
    def build(start: dt.date | None, end: dt.date | None) -> ir.Table:
        expr = compile_metric(
            model, name, _tables(extras), by=by, grain=grain, start=start, end=end, where=where
        )
        keys = (["period"] if grain else []) + list(by)
        return expr.order_by(keys) if keys else expr

    key = ("metric", dialect, _model_key(model), name, by, grain, where, extras)
    return _windowed(key, build, dialect, start, end)


def _dictionary_query(
    dialect: str,
    model: OperatingModel,
    grain: Grain | None,
    start: dt.date | None,
    end: dt.date | None,
    only: tuple[str, ...] | None = None,
) -> _Compiled:
    def build(start: dt.date | None, end: dt.date | None) -> ir.Table:
        return compile_dictionary(
            model, declared_table, grain=grain, start=start, end=end, only=only
        )

    key = ("dictionary", dialect, _model_key(model), grain, only)
    return _windowed(key, build, dialect, start, end)


# A query over a window is compiled once per shape (which bounds it has), with these stand-in
# dates, and each window's own dates are written into its SQL text: reports ask for the same
# metric over this period and the one before, and compiling costs far more than the text
# substitution (the whole dictionary: ~1.5 s of CPU per compile). The dates are ones no
# company's data or filter holds, so a leftover 18th- or 19th-century year in the text shows a
# bound the substitution missed, or a date Ibis derived from a stand-in (a bound shifted by a
# window, say 1789-07-14 minus 90 days, which is no stand-in's year); that query is then
# compiled with its own dates. A number such as 1800 in a filter only costs that compile.
_STAND_INS = (dt.date(1789, 7, 14), dt.date(1791, 9, 3))
_LEFTOVER_YEAR = re.compile(r"\b1[78]\d\d\b")


def _windowed(
    key: tuple[Any, ...],
    build: Callable[[dt.date | None, dt.date | None], ir.Table],
    dialect: str,
    start: dt.date | None,
    end: dt.date | None,
) -> _Compiled:
    """The compiled query for `key` over start ≤ time < end, from its shape's compilation."""
    lo = None if start is None else _STAND_INS[0]
    hi = None if end is None else _STAND_INS[1]
    shape = _cached((*key, lo, hi), lambda: build(lo, hi), dialect)
    sql = shape.sql
    for stand_in, day in ((lo, start), (hi, end)):
        if stand_in is not None and day is not None:
            for old, new in zip(_literals(stand_in), _literals(day), strict=True):
                sql = sql.replace(old, new)
    if _LEFTOVER_YEAR.search(sql):
        return _cached((*key, start, end), lambda: build(start, end), dialect)
    return _Compiled(sql, shape.schema)


def _literals(day: dt.date) -> tuple[str, ...]:
    """The texts Ibis writes for `day` as a DATE or midnight TIMESTAMP literal (DuckDB,
    PostgreSQL, Spark)."""
    y, m, d = day.year, day.month, day.day
    return (
        f"MAKE_DATE({y}, {m}, {d})",
        f"MAKE_TIMESTAMP({y}, {m}, {d}, 0, 0, 0.0)",
        f"'{dt.datetime.combine(day, dt.time.min).isoformat()}'",
    )


def _run(wh: Warehouse, query: _Compiled) -> pd.DataFrame:
    """Execute compiled SQL, typed by its Ibis schema as `Warehouse.execute` would type it.

    On DuckDB the text goes straight to the connection: wrapping it in `con.sql(...)` for Ibis
    to execute makes Ibis describe the query, then parse and regenerate the whole SQL text
    with sqlglot, which costs more than DuckDB takes to run the dictionary at demo scale.
    """
    if wh.backend == "postgres":  # given the schema, Ibis need not describe the query first
        return wh.execute(wh.con.sql(query.sql, schema=query.schema))
    if wh.backend != "duckdb":
        return wh.execute(wh.con.sql(query.sql))
    from ibis.backends.duckdb.converter import DuckDBPandasData

    table = wh.con.con.sql(query.sql).to_arrow_table()
    # as Ibis' DuckDB backend does: columns with nulls through Python objects, so a NULL
    # stays None (not NaN) before the schema's conversion
    df = pd.DataFrame(
        {
            name: col.to_pylist() if col.null_count else col.to_pandas()
            for name, col in zip(table.column_names, table.columns, strict=True)
        }
    )
    return DuckDBPandasData.convert_table(df, query.schema)


def metric_sql(
    wh: Warehouse,
    model: OperatingModel,
    name: str,
    *,
    by: Sequence[str] = (),
    grain: Grain | None = "month",
    start: dt.date | None = None,
    end: dt.date | None = None,
    where: str | None = None,
) -> str:
    """The SQL `compute` runs for these arguments, in the warehouse's own dialect.

    Cutting or filtering (`by`, `where`) reads the live table schemas first, so a custom column
    the warehouse has is usable; the plain metric compiles against the data model alone.
    """
    return _metric_compiled(wh, model, name, by, grain, start, end, where).sql


def _metric_compiled(
    wh: Warehouse,
    model: OperatingModel,
    name: str,
    by: Sequence[str],
    grain: Grain | None,
    start: dt.date | None,
    end: dt.date | None,
    where: str | None,
) -> _Compiled:
    extras = custom_columns(wh) if by or where else ()
    return _metric_query(wh.dialect, model, name, tuple(by), grain, start, end, where, extras)


def compute(
    wh: Warehouse,
    model: OperatingModel,
    name: str,
    *,
    by: Sequence[str] = (),
    grain: Grain | None = "month",
    start: dt.date | None = None,
    end: dt.date | None = None,
    where: str | None = None,
) -> pd.DataFrame:
    """Metric `name` as a DataFrame (period?, *by, value, rows, missing), sorted by period then
    dimensions. `value` is NaN where it is unknown (no denominator, no cost data, every row
    without a value), never 0; `missing` counts the rows that had no value."""
    query = _metric_compiled(wh, model, name, by, grain, start, end, where)
    return frame(_run(wh, query))


def compute_all(
    wh: Warehouse,
    model: OperatingModel,
    *,
    grain: Grain | None = "month",
    start: dt.date | None = None,
    end: dt.date | None = None,
    only: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Every metric of the dictionary (or the `only` ones) in long format: metric, period (with
    a grain), value, rows and missing (see `compute`).

    One query for the whole dictionary (see `compile_dictionary`), in dictionary order.
    """
    names = None if only is None else tuple(only)
    return frame(_run(wh, _dictionary_query(wh.dialect, model, grain, start, end, names)))


def frame(df: pd.DataFrame) -> pd.DataFrame:
    """Normalise a result: `period` as datetime.date, missing dimensions as None, float values,
    integer missing counts and nullable integer row counts."""
    out = df.reset_index(drop=True)
    if "period" in out.columns:
        out["period"] = pd.to_datetime(out["period"]).dt.date
    for col in out.columns:
        if col not in ("period", "value", "metric", "rows", "missing"):
            out[col] = out[col].astype(object).where(out[col].notna(), None)
    out["value"] = out["value"].astype("float64")
    if "missing" in out.columns:
        out["missing"] = out["missing"].fillna(0).astype("int64")
    if "rows" in out.columns:
        out["rows"] = out["rows"].astype("Int64")
    return out
