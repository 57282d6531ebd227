"""Running metrics: compiled SQL (cached), executed on the warehouse, returned as DataFrames.

Compilation depends only on the operating model, the arguments and the SQL dialect — never on
the data — because it runs against the *declared* tables of the data model. So the SQL is
cached per (dialect, model, arguments): compiling the whole dictionary through Ibis costs about
as much as running it at demo scale, and reports ask for the same numbers again and again.
`metric_sql` returns exactly the text `compute` executes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from functools import cache, lru_cache

import ibis
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


@lru_cache(maxsize=256)
def _metric_sql(
    dialect: str,
    model_json: str,
    name: str,
    by: tuple[str, ...],
    grain: Grain | None,
    start: dt.date | None,
    end: dt.date | None,
    where: str | None = None,
    extras: Extras = (),
) -> str:
    model = OperatingModel.model_validate_json(model_json)
    expr = compile_metric(
        model, name, _tables(extras), by=by, grain=grain, start=start, end=end, where=where
    )
    keys = (["period"] if grain else []) + list(by)
    return str(ibis.to_sql(expr.order_by(keys) if keys else expr, dialect=dialect))


@lru_cache(maxsize=64)
def _dictionary_sql(
    dialect: str, model_json: str, grain: Grain | None, start: dt.date | None, end: dt.date | None
) -> str:
    model = OperatingModel.model_validate_json(model_json)
    expr = compile_dictionary(model, declared_table, grain=grain, start=start, end=end)
    return str(ibis.to_sql(expr, dialect=dialect))


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
    extras = custom_columns(wh) if by or where else ()
    return _metric_sql(
        wh.dialect, model.model_dump_json(), name, tuple(by), grain, start, end, where, extras
    )


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
    sql = metric_sql(wh, model, name, by=by, grain=grain, start=start, end=end, where=where)
    return frame(wh.execute(wh.con.sql(sql)))


def compute_all(
    wh: Warehouse,
    model: OperatingModel,
    *,
    grain: Grain | None = "month",
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> pd.DataFrame:
    """Every metric of the dictionary in long format: metric, period (with a grain), value,
    rows and missing (see `compute`).

    One query for the whole dictionary (see `compile_dictionary`), in dictionary order.
    """
    sql = _dictionary_sql(wh.dialect, model.model_dump_json(), grain, start, end)
    return frame(wh.execute(wh.con.sql(sql)))


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
