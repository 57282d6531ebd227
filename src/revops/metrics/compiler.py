"""Compile a metric of the dictionary into one Ibis expression.

Every metric becomes a single query the database runs — simple metrics an aggregate, ratio and
derived metrics a union of their components' aggregates regrouped by period and dimensions,
conversion metrics a windowed self-join — so nothing but the final rows ever reaches Python and
the same code serves DuckDB and PostgreSQL. The result always has the columns `period` (only
when a grain is given), the requested dimensions in the order asked, and `value` (float64).
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
from collections.abc import Sequence
from typing import Any

import ibis
import ibis.expr.types as ir

from revops.config.models import (
    ConversionMetric,
    DerivedMetric,
    Grain,
    Metric,
    OperatingModel,
    RatioMetric,
    SimpleMetric,
)
from revops.metrics import dimensions, periods
from revops.metrics.errors import MetricError
from revops.metrics.expressions import (
    compile_filter,
    compile_metric_expr,
    compile_predicate,
    compile_row,
    names,
)
from revops.metrics.graph import check_references, references
from revops.warehouse import schema
from revops.warehouse.sums import exact_mean, exact_sum

Tables = dimensions.Tables


def lookup(model: OperatingModel, name: str) -> Metric:
    """The metric called `name`, as a MetricError listing the known ones when there is none."""
    try:
        return model.metric(name)
    except KeyError as exc:
        raise MetricError(exc.args[0]) from None


def supported_dimensions(model: OperatingModel, name: str) -> tuple[str, ...]:
    """The named dimensions `name` is featured with: declared in the config and resolvable.

    Any other column reachable through the data model's relations can cut it too (see
    `dimensions.resolve`); this is the short list reports and `metrics list` offer.
    """
    metric = lookup(model, name)
    if isinstance(metric, SimpleMetric):
        possible = set(dimensions.resolvable(metric.measure.table))
    elif isinstance(metric, ConversionMetric):
        possible = set(dimensions.resolvable(metric.base.table))
    else:
        sets = [set(supported_dimensions(model, ref)) for ref in references(metric)]
        possible = set.intersection(*sets) if sets else set()
    return tuple(d for d in metric.dimensions if d in possible)


def base_table(metric: SimpleMetric | ConversionMetric) -> str:
    return metric.measure.table if isinstance(metric, SimpleMetric) else metric.base.table


def leaf_tables(model: OperatingModel, name: str) -> list[tuple[str, str]]:
    """(metric, table) of every simple/conversion metric `name` is computed from."""
    metric = lookup(model, name)
    if isinstance(metric, SimpleMetric | ConversionMetric):
        return [(metric.name, base_table(metric))]
    out: list[tuple[str, str]] = []
    for ref in references(metric):
        out += [leaf for leaf in leaf_tables(model, ref) if leaf not in out]
    return out


_RESERVED = ("period", "value", "rows", "missing", "metric")


def check_dimensions(
    model: OperatingModel,
    name: str,
    by: Sequence[str],
    tables: Tables | None = None,
    where: str | None = None,
) -> None:
    """Raise MetricError unless every dimension in `by` and every column `where` names resolves
    on every table `name` is computed from (with the columns `tables` has), once each."""
    columns = _columns(tables)
    if len(set(by)) != len(by):
        raise MetricError(f"metric {name!r}: a dimension is repeated in {list(by)}")
    bad = [d for d in by if d in _RESERVED]
    if bad:
        raise MetricError(f"metric {name!r}: {bad[0]!r} is a result column, not a dimension")
    wanted = list(by) + (names(where, metric=name, paths=True) if where else [])
    for leaf, table in leaf_tables(model, name):
        for d in wanted:
            try:
                dimensions.resolve(table, d, columns)
            except KeyError as exc:
                via = f" (through {leaf!r})" if leaf != name else ""
                raise MetricError(f"metric {name!r}{via} cannot use {d!r}: {exc.args[0]}") from None


def _columns(tables: Tables | None) -> dimensions.Columns:
    if tables is None:
        return lambda t: schema.table(t).column_names
    return lambda t: tuple(tables(t).columns)


def zero_when_empty(metric: Metric) -> bool:
    """Whether a bucket with no rows means 0 (counts and sums) rather than 'no value'.

    A simple metric may declare `no_rows: missing` (cost tables: no spend row means the cost
    is unknown, not zero). Rows that exist but lack the value are never zero: they make the
    aggregate missing and are counted in `missing`.
    """
    if not isinstance(metric, SimpleMetric):
        return False
    if metric.no_rows is not None:
        return metric.no_rows == "zero"
    return metric.measure.agg in ("count", "count_distinct", "sum")


_INT = "int64"


class _Context:
    """The arguments shared by every component of one compilation."""

    def __init__(
        self,
        model: OperatingModel,
        tables: Tables,
        by: Sequence[str],
        grain: Grain | None,
        start: dt.date | None,
        end: dt.date | None,
        *,
        fuse: bool = False,
        where: str | None = None,
        needed: set[str] | None = None,
    ) -> None:
        self.model = model
        self.tables = tables
        self.by = tuple(by)
        self.grain = grain
        self.start = start
        self.end = end
        self.fuse = fuse
        self.where = where
        self.columns = _columns(tables)
        # the metrics this compilation computes (None: all); a fused scan aggregates only these
        self.needed = needed
        # One expression per metric and per fused scan, so a component used twice (bookings in
        # win_rate_by_value and quota_attainment) is the same subquery, which the SQL shares.
        self.done: dict[str, ir.Table] = {}
        self.scans: dict[tuple[str, str], ir.Table] = {}

    @property
    def keys(self) -> list[str]:
        return (["period"] if self.grain else []) + list(self.by)

    def base_rows(
        self,
        metric: Metric | None,
        table_name: str,
        time_column: str,
        row_filter: str | None,
        over_time: str = "flow",
    ) -> tuple[ir.Table, dict[str, ir.Value]]:
        """Rows of `table_name` in the window and passing the filter, plus the period column.

        For a stock only the rows at the bucket's last (first) point in time are kept — the
        point is found over all the table's rows in the bucket, before any filter, so a filter
        that matches nothing there gives 0 rather than reaching for another date.
        """
        rows = self.tables(table_name)
        preds = periods.window(rows[time_column], self.start, self.end)
        if preds:
            rows = rows.filter(*preds)
        fy = self.model.company.fiscal_year_start_month
        if over_time != "flow":
            time = rows[time_column]
            group = [periods.bucket(time, self.grain, fy)] if self.grain else []
            window = ibis.window(group_by=group) if group else ibis.window()
            edge = time.max() if over_time == "stock_last" else time.min()
            rows = rows.mutate(_edge=edge.over(window))
            rows = rows.filter(rows[time_column] == rows["_edge"]).drop("_edge")
        if row_filter:
            rows = rows.filter(
                compile_filter(row_filter, rows, metric=metric.name if metric else "?")
            )
        keep: dict[str, ir.Value] = {}
        if self.grain:
            keep["period"] = periods.bucket(rows[time_column], self.grain, fy)
        return rows, keep

    def with_dimensions(
        self, metric: Metric, table: str, rows: ir.Table, keep: dict[str, ir.Value]
    ) -> ir.Table:
        """`rows` projected to `keep`, the requested dimensions, and filtered by `--where`."""
        paths = {d: dimensions.resolve(table, d, self.columns) for d in self.by}
        wanted = names(self.where, metric=metric.name, paths=True) if self.where else []
        extra = {f"_w{i}": dimensions.resolve(table, n, self.columns) for i, n in enumerate(wanted)}
        if not keep and extra:
            keep = {"_row": ibis.literal(1)}  # the frame keeps a column once `_w…` are dropped
        frame = dimensions.attach(table, rows, keep, {**paths, **extra}, self.tables)
        if self.where:
            cols = {n: frame[f"_w{i}"] for i, n in enumerate(wanted)}
            frame = frame.filter(compile_predicate(self.where, cols, metric=metric.name))
            frame = frame.drop(*extra)
        return frame

    def grouped(self, frame: ir.Table, **aggs: ir.Scalar) -> ir.Table:
        keys = self.keys
        return frame.group_by(keys).aggregate(**aggs) if keys else frame.aggregate(**aggs)

    def compile(self, name: str) -> ir.Table:
        if name not in self.done:
            self.done[name] = self._compile(name)
        return self.done[name]

    def _compile(self, name: str) -> ir.Table:
        metric = lookup(self.model, name)
        if isinstance(metric, SimpleMetric):
            return self.fused(metric) if self.fuse else self.simple(metric)
        if isinstance(metric, ConversionMetric):
            return self.conversion(metric)
        assert isinstance(metric, RatioMetric | DerivedMetric)
        if self.fuse and not self.by:
            inlined = self.inline_over_scan(metric)
            if inlined is not None:
                return inlined
        return self.combine(metric)

    def simple(self, metric: SimpleMetric) -> ir.Table:
        m = metric.measure
        rows, keep = self.base_rows(metric, m.table, m.time_column, metric.filter, metric.over_time)
        if m.column is not None:
            keep["_m"] = rows[m.column]
        elif m.expr is not None:
            keep["_m"] = compile_row(m.expr, rows, metric=metric.name)
        frame = self.with_dimensions(metric, m.table, rows, keep)
        column = "_m" if "_m" in keep else None
        return self.grouped(
            frame,
            value=aggregate(frame, m.agg, column).cast("float64"),
            rows=frame.count().cast(_INT),
            missing=_missing(frame, column).cast(_INT),
        )

    def fused(self, metric: SimpleMetric) -> ir.Table:
        """`metric` read from one aggregate shared by every simple metric on the same table and
        time column: a single scan with a filtered aggregation (FILTER (WHERE …)) per metric.

        Each metric also counts the rows passing its filter, so a bucket where none does is left
        out, exactly as the metric's own WHERE would leave it out. Without keys (no grain, no
        dimension) the metric's own query is a global aggregate, which always has its one row
        (a count of 0, a sum of NULL): so does the fused one, or the batch and the metric alone
        would disagree (n/a vs 0) over a window where its filter matches nothing.
        """
        scan = self.scan_of(metric)
        n = scan[f"_n_{metric.name}"]
        rows = scan.filter(n > 0) if metric.filter and self.keys else scan
        return rows.select(
            *self.keys,
            value=rows[f"_v_{metric.name}"],
            rows=rows[f"_n_{metric.name}"],
            missing=rows[f"_x_{metric.name}"],
        )

    def scan_of(self, metric: SimpleMetric) -> ir.Table:
        return self.scan_at((metric.measure.table, metric.measure.time_column))

    def scan_at(self, key: tuple[str, str]) -> ir.Table:
        if key not in self.scans:
            self.scans[key] = self.scan(*key)
        return self.scans[key]

    def scan(self, table_name: str, time_column: str) -> ir.Table:
        """One aggregate over `table_name` by period for every simple metric on it and its time
        column, flows and stocks alike: a stock's rows are those at the bucket's last (first)
        point in time, flagged by a window over the bucket rather than read by a scan of their
        own, so MRR, opening ARR and churned logos cost one pass over mrr_monthly."""
        members = [
            m
            for m in self.model.metrics
            if isinstance(m, SimpleMetric)
            and (m.measure.table, m.measure.time_column) == (table_name, time_column)
            and (self.needed is None or m.name in self.needed)
        ]
        rows, keep = self.base_rows(None, table_name, time_column, None)
        time = rows[time_column]
        fy = self.model.company.fiscal_year_start_month
        window = (
            ibis.window(group_by=[periods.bucket(time, self.grain, fy)])
            if self.grain
            else ibis.window()
        )
        edges = {"stock_last": time.max(), "stock_first": time.min()}
        for over_time in sorted({m.over_time for m in members} - {"flow"}):
            keep[f"_at_{over_time}"] = time == edges[over_time].over(window)
        for metric in members:
            m = metric.measure
            if m.column is not None:
                keep[f"_m_{metric.name}"] = rows[m.column]
            elif m.expr is not None:
                keep[f"_m_{metric.name}"] = compile_row(m.expr, rows, metric=metric.name)
            if metric.filter:
                keep[f"_f_{metric.name}"] = compile_filter(metric.filter, rows, metric=metric.name)
        frame = rows.select(**keep)
        aggs: dict[str, ir.Scalar] = {}
        for metric in members:
            conditions = [frame[f"_f_{metric.name}"]] if metric.filter else []
            if metric.over_time != "flow":
                conditions.append(frame[f"_at_{metric.over_time}"])
            where = functools.reduce(operator.and_, conditions) if conditions else None
            column = f"_m_{metric.name}" if f"_m_{metric.name}" in keep else None
            value = aggregate(frame, metric.measure.agg, column, where)
            aggs[f"_v_{metric.name}"] = value.cast("float64")
            aggs[f"_n_{metric.name}"] = frame.count(where=where).cast(_INT)
            aggs[f"_x_{metric.name}"] = _missing(frame, column, where).cast(_INT)
        return self.grouped(frame, **aggs)

    def conversion(self, metric: ConversionMetric) -> ir.Table:
        base, conv = metric.base, metric.conversion
        rows, keep = self.base_rows(metric, base.table, base.time_column, base.filter)
        keep["_e"] = rows[metric.entity]
        keep["_t"] = rows[base.time_column].cast("timestamp")
        frame = self.with_dimensions(metric, base.table, rows, keep)
        events = self.tables(conv.table)
        if conv.filter:
            events = events.filter(compile_filter(conv.filter, events, metric=metric.name))
        events = events.select(
            _ce=events[metric.entity], _ct=events[conv.time_column].cast("timestamp")
        )
        joined = frame.left_join(
            events,
            [
                frame["_e"] == events["_ce"],
                events["_ct"] >= frame["_t"],
                events["_ct"] <= frame["_t"] + ibis.interval(days=metric.window_days),
            ],
        )
        converted = joined["_e"].nunique(where=joined["_ce"].notnull())
        based = joined["_e"].nunique()
        return self.grouped(
            joined,
            value=(converted.cast("float64") / based.nullif(0)).cast("float64"),
            rows=based.cast(_INT),
            missing=ibis.literal(0).cast(_INT),
        )

    def leaves(self, metric: Metric) -> set[tuple[str, str]]:
        """The (table, time column) scans the simple metrics under `metric` read."""
        if isinstance(metric, SimpleMetric):
            return {(metric.measure.table, metric.measure.time_column)}
        if isinstance(metric, ConversionMetric):
            return {("", metric.name)}  # never shares a scan
        out: set[tuple[str, str]] = set()
        for ref in references(metric):
            out |= self.leaves(lookup(self.model, ref))
        return out

    def inline_over_scan(self, metric: RatioMetric | DerivedMetric) -> ir.Table | None:
        """A ratio/derived metric whose components all live in one fused scan, computed as
        column arithmetic on that scan (no regrouping); None when they span several scans."""
        scans = self.leaves(metric)
        if len(scans) != 1:
            return None
        (key,) = scans
        scan = self.scan_at(key)
        value, present, missing = self.inline(metric, scan)
        rows = scan.filter(present)
        return rows.select(
            *self.keys,
            value=value.cast("float64"),
            rows=ibis.null().cast(_INT),
            missing=missing.cast(_INT),
        )

    def inline(
        self, metric: Metric, scan: ir.Table
    ) -> tuple[ir.Value, ir.BooleanValue, ir.IntegerValue]:
        """(value, has-a-row, missing) of `metric` as expressions over a fused scan's columns."""
        if isinstance(metric, SimpleMetric):
            n = scan[f"_n_{metric.name}"]
            present = n > 0 if metric.filter and self.keys else ibis.literal(True)
            value = scan[f"_v_{metric.name}"]
            if zero_when_empty(metric):
                value = ibis.ifelse(n == 0, ibis.literal(0.0), value)
            return value, present, scan[f"_x_{metric.name}"]
        assert isinstance(metric, RatioMetric | DerivedMetric)
        values: dict[str, ir.Value] = {}
        raw: dict[str, ir.Value] = {}
        anywhere: ir.BooleanValue | None = None
        missing: Any = ibis.literal(0).cast(_INT)
        for ref in references(metric):
            v, p, x = self.inline(lookup(self.model, ref), scan)
            raw[ref] = values[ref] = v
            anywhere = p if anywhere is None else anywhere | p
            missing = missing + x
        assert anywhere is not None
        return self.evaluate(metric, values, raw), anywhere, missing

    def evaluate(
        self,
        metric: RatioMetric | DerivedMetric,
        values: dict[str, ir.Value],
        raw: dict[str, ir.Value],
    ) -> ir.Value:
        """A ratio (NULL without a denominator, even if the numerator defaults to 0) or the
        derived expression, over aligned component values."""
        if isinstance(metric, RatioMetric):
            den: Any = raw[metric.denominator]
            return values[metric.numerator] / den.nullif(0)
        return compile_metric_expr(metric.expr, values, metric=metric.name)

    def combine(self, metric: RatioMetric | DerivedMetric) -> ir.Table:
        """Evaluate `expr` over the component metrics, aligned on period and dimensions.

        The components are stacked (UNION ALL, one column each) and regrouped by the keys rather
        than outer-joined: grouping treats NULL dimensions as equal, which a join does not, and
        PostgreSQL cannot full-join on null-safe conditions. A component with no row in a bucket
        counts as 0 when it is a count or sum (unless it declares `no_rows: missing`), and as
        NULL otherwise; a component whose rows all lack the value stays NULL.
        """
        refs = references(metric)
        cols = {ref: f"_c{i}" for i, ref in enumerate(refs)}
        null = ibis.null().cast("float64")
        nint = ibis.null().cast(_INT)
        parts = []
        for ref in refs:
            sub = self.compile(ref)
            parts.append(
                sub.select(
                    *self.keys,
                    **{c: sub["value"] if r == ref else null for r, c in cols.items()},
                    **{f"{c}r": sub["rows"] if r == ref else nint for r, c in cols.items()},
                    **{f"{c}x": sub["missing"] if r == ref else nint for r, c in cols.items()},
                )
            )
        stacked = ibis.union(*parts) if len(parts) > 1 else parts[0]
        aggs = {c: stacked[c].max() for c in stacked.columns if c.startswith("_c")}
        frame = self.grouped(stacked, **aggs)
        raw = {ref: frame[col] for ref, col in cols.items()}
        values = {}
        for ref, col in cols.items():
            # no row in the bucket, or (without keys) the global aggregate's row over no rows
            absent = frame[f"{col}r"].isnull() | (frame[f"{col}r"] == 0)
            v = raw[ref]
            values[ref] = (
                ibis.ifelse(absent, 0.0, v) if zero_when_empty(lookup(self.model, ref)) else v
            )
        missing: Any = ibis.literal(0).cast(_INT)
        for col in cols.values():
            missing = missing + frame[f"{col}x"].fill_null(0)
        value = self.evaluate(metric, values, raw)
        return frame.select(
            *self.keys, value=value.cast("float64"), rows=nint, missing=missing.cast(_INT)
        )


def _missing(
    frame: ir.Table, column: str | None, where: ir.BooleanValue | None = None
) -> ir.Scalar:
    """Rows (passing `where`) whose measured value is missing: reported, never counted as 0."""
    if column is None:
        return ibis.literal(0)
    isnull = frame[column].isnull()
    return frame.count(where=isnull if where is None else isnull & where)


def aggregate(
    frame: ir.Table, agg: str, column: str | None, where: ir.BooleanValue | None = None
) -> ir.Scalar:
    """`agg` of `column` (or of rows, for a count without a column) over rows where `where`."""
    if column is None:
        return frame.count(where=where)
    value: Any = frame[column]
    if agg == "count":
        return value.count(where=where)
    if agg == "count_distinct":
        return value.nunique(where=where)
    if agg in ("sum", "avg") and value.type().is_floating():
        # Float sums depend on the order rows are added in, which the backends do not fix.
        return exact_sum(value, where) if agg == "sum" else exact_mean(value, where)
    method = {"sum": "sum", "avg": "mean", "min": "min", "max": "max"}[agg]
    return getattr(value, method)(where=where)


def compile_metric(
    model: OperatingModel,
    name: str,
    tables: Tables,
    *,
    by: Sequence[str] = (),
    grain: Grain | None = "month",
    start: dt.date | None = None,
    end: dt.date | None = None,
    where: str | None = None,
) -> ir.Table:
    """The Ibis expression computing metric `name`: columns period?, *by, value, rows, missing.

    `start` is inclusive and `end` exclusive, on the metric's time column (the base event's
    time for conversion metrics). A stock is read at each bucket's last (or first) point in
    time; with no grain, at the range's. `where` filters rows at query time with the
    dictionary's expression grammar, its names resolved like dimensions. `missing` counts the
    rows without a value (summed over components); `rows` counts a simple metric's rows (the
    base entities of a conversion; NULL for ratio and derived metrics). Rows come in no
    particular order.
    """
    try:
        check_references(model.metrics)
    except ValueError as exc:
        raise MetricError(str(exc)) from None
    check_dimensions(model, name, by, tables, where)
    return _Context(model, tables, by, grain, start, end, where=where).compile(name)


def _closure(model: OperatingModel, names: set[str] | None) -> set[str] | None:
    """`names` and every metric they are computed from, transitively (None stays None)."""
    if names is None:
        return None
    out: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name not in out:
            out.add(name)
            todo += references(lookup(model, name))
    return out


def formula(model: OperatingModel, name: str) -> str:
    """The metric's definition as one readable line, shown next to every number it produces."""
    metric = lookup(model, name)
    if isinstance(metric, RatioMetric):
        return f"{metric.numerator} / {metric.denominator}"
    if isinstance(metric, DerivedMetric):
        return metric.expr
    if isinstance(metric, ConversionMetric):
        b, c = metric.base, metric.conversion
        base = b.table + (f" where {b.filter}" if b.filter else "")
        conv = c.table + (f" where {c.filter}" if c.filter else "")
        return (
            f"share of {metric.entity} in ({base}) reaching ({conv}) "
            f"within {metric.window_days} days, by {b.time_column}"
        )
    m = metric.measure
    if m.column is not None:
        arg = f"{m.table}.{m.column}"
    elif m.expr is not None:
        arg = f"{m.expr} over {m.table}"
    else:
        arg = m.table
    where = f" where {metric.filter}" if metric.filter else ""
    return f"{m.agg}({arg}){where}, by {m.time_column}"


def compile_dictionary(
    model: OperatingModel,
    tables: Tables,
    *,
    grain: Grain | None = "month",
    start: dt.date | None = None,
    end: dt.date | None = None,
    only: Sequence[str] | None = None,
) -> ir.Table:
    """The whole dictionary as ONE query, long format: metric, period?, value, rows, missing.

    `only` limits it to the named metrics: their scans aggregate only what those metrics and
    the metrics they are computed from need (a report wanting five figures pays for five).

    Simple metrics on the same table and time column share one scan (see `_Context.fused`),
    and ratio and derived metrics reuse those aggregates instead of recomputing them. Rows are
    ordered as the dictionary lists its metrics, then by period.
    """
    try:
        check_references(model.metrics)
    except ValueError as exc:
        raise MetricError(str(exc)) from None
    wanted = None if only is None else {lookup(model, n).name for n in only}
    ctx = _Context(model, tables, (), grain, start, end, fuse=True, needed=_closure(model, wanted))
    parts = []
    for i, metric in enumerate(model.metrics):
        if wanted is not None and metric.name not in wanted:
            continue
        result = ctx.compile(metric.name)
        parts.append(
            result.select(
                ibis.literal(metric.name).name("metric"),
                ibis.literal(i).name("_o"),
                *ctx.keys,
                result["value"],
                result["rows"],
                result["missing"],
            )
        )
    stacked = ibis.union(*parts) if len(parts) > 1 else parts[0]
    return stacked.order_by(["_o", *ctx.keys]).drop("_o")


__all__ = ["MetricError", "compile_metric", "formula", "supported_dimensions"]
