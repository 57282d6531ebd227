"""The rows behind a number: the records a simple or conversion metric counts over a period.

A drill-down must list exactly the rows the figure was computed from, so this reuses the
compiler's own row selection (`_Context.base_rows`: the window on the metric's time column, a
stock's last or first point, the metric's filter; then `with_dimensions`: the `where` filter,
its names resolved like dimensions) and only skips the aggregation. A ratio or derived metric
has no rows of its own: its components (`leaf_tables`) are drilled instead. Each row also gets
the record's owner (the table's `owner` dimension), so the record rule can hide rows.
"""

from __future__ import annotations

import datetime as dt

import ibis.expr.types as ir
import pandas as pd

from revops.config.models import ConversionMetric, OperatingModel, SimpleMetric
from revops.metrics.compiler import _Context, check_dimensions, leaf_tables, lookup
from revops.metrics.errors import MetricError
from revops.metrics.results import _tables, custom_columns
from revops.warehouse import Warehouse, schema

OWNER = "_owner"


def drillable(model: OperatingModel, name: str) -> bool:
    """Whether `name` has rows of its own (simple or conversion), rather than components."""
    return isinstance(lookup(model, name), SimpleMetric | ConversionMetric)


def components(model: OperatingModel, name: str) -> list[str]:
    """The simple and conversion metrics a ratio or derived metric is computed from."""
    return [leaf for leaf, _ in leaf_tables(model, name)]


def rows_expr(
    wh: Warehouse,
    model: OperatingModel,
    name: str,
    *,
    start: dt.date | None,
    end: dt.date | None,
    where: str | None = None,
) -> tuple[str, ir.Table]:
    """(base table, the rows `name` aggregates over [start, end) with `where`) as Ibis."""
    metric = lookup(model, name)
    if not isinstance(metric, SimpleMetric | ConversionMetric):
        parts = ", ".join(components(model, name))
        raise MetricError(f"metric {name!r} is a {metric.type} metric: drill into {parts}")
    tables = _tables(custom_columns(wh))
    check_dimensions(model, name, (), tables, where)
    if isinstance(metric, SimpleMetric):
        table, time, row_filter = metric.measure.table, metric.measure.time_column, metric.filter
        over_time = metric.over_time
    else:
        table, time, row_filter = metric.base.table, metric.base.time_column, metric.base.filter
        over_time = "flow"
    owner = "owner" in schema.table(table).dimensions and "owner" not in tables(table).columns
    ctx = _Context(model, tables, ("owner",) if owner else (), None, start, end, where=where)
    rows, _ = ctx.base_rows(metric, table, time, row_filter, over_time)
    keep = {c: rows[c] for c in rows.columns}
    frame = ctx.with_dimensions(metric, table, rows, keep)
    if owner:
        frame = frame.rename({OWNER: "owner"})
    return table, frame.order_by(frame[time].desc())


def rows_behind(
    wh: Warehouse,
    model: OperatingModel,
    name: str,
    *,
    start: dt.date | None,
    end: dt.date | None,
    where: str | None = None,
) -> tuple[str, pd.DataFrame]:
    """(base table, its rows behind metric `name`), newest first, with an `_owner` column."""
    table, expr = rows_expr(wh, model, name, start=start, end=end, where=where)
    out: pd.DataFrame = wh.execute(expr)
    return table, out.reset_index(drop=True)
