"""Running attribution against the warehouse: journeys in, credits out (the engine's I/O edge).

`attribute` computes one model for one conversion type and returns the credits with the fitted
channel-level model; `compare` runs many models over the same journeys; `write_credits` stores
credits in `attribution_credits`, replacing earlier rows of the same model and conversion type in
one transaction, so metrics over that table (attributed pipeline, ROAS…) always see one run.

Credits stay in the warehouse: an `Attribution` holds them as a query (credit_expr), its
per-channel and per-campaign totals are aggregated there, and `write_credits` stores them with
a DELETE and an INSERT ... SELECT. What Python reads is the distinct paths the data-driven
models are fitted on and the totals, so memory does not grow with the touches.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa

from revops.attribution.credit import fit
from revops.attribution.credit_expr import credits_expr
from revops.attribution.journeys import (
    Inputs,
    build_journeys,
    load_inputs,
    marked_expr,
    path_counts,
)
from revops.attribution.markov import MarkovResult
from revops.attribution.paths import Paths
from revops.attribution.scope import Scope
from revops.attribution.shapley import ShapleyResult
from revops.config.attribution import DATA_DRIVEN_MODELS, MODELS, AttributionConfig, ConversionType
from revops.errors import RevOpsError
from revops.warehouse import Warehouse
from revops.warehouse.exact import exact_sum
from revops.warehouse.schema import table as schema_table
from revops.warehouse.warehouse import Batch, arrow_schema


class AttributionError(RevOpsError, ValueError):
    """An attribution request that cannot be run (unknown model, nothing to attribute)."""


@dataclass(frozen=True)
class Attribution:
    """Credits of one model, with the scope they answer and the fit behind them."""

    scope: Scope
    expr: ir.Table  # the credits as a query: one row per (conversion, touch), see credit_expr
    wh: Warehouse  # where `expr` runs
    journeys: int  # converting journeys attributed
    non_converting: int  # journeys in the null state (used by Markov)
    fitted: MarkovResult | ShapleyResult | None

    @property
    def credits(self) -> pd.DataFrame:
        """Every credit row, read into Python in journey order (conversion, time, touch): for
        tests and small exports; the engine itself never reads them."""
        order = ["conversion_id", "occurred_at", "touchpoint_id"]
        return self.wh.to_arrow(self.expr.order_by(order)).to_pandas()

    @cached_property
    def totals(self) -> pd.DataFrame:
        """Conversions and revenue credited per (channel, campaign_id), summed by the warehouse
        in one query: `by` derives both of its cuts from these few rows. Exact sums
        (warehouse.exact), so a run's totals do not depend on how the warehouse's threads
        split the rows."""
        t = self.expr
        t = t.mutate(campaign_id=t.campaign_id.fill_null("(none)"))
        agg = t.group_by(["channel", "campaign_id"]).aggregate(
            conversions=exact_sum(t.credit), revenue=exact_sum(t.revenue_credit)
        )
        out = self.wh.to_arrow(agg).to_pandas()
        return out.sort_values(["channel", "campaign_id"], ignore_index=True)

    def by(self, dim: str = "channel") -> pd.DataFrame:
        """Conversions and revenue credited per channel or campaign_id, largest first."""
        col = "campaign_id" if dim == "campaign" else dim
        g = self.totals.groupby(col, as_index=False)
        out = g.agg(conversions=("conversions", "sum"), revenue=("revenue", "sum"))
        return out.sort_values("conversions", ascending=False, ignore_index=True)


def _check(models: Sequence[str]) -> None:
    for m in models:
        if m not in MODELS:
            raise AttributionError(f"unknown attribution model {m!r}; known: {', '.join(MODELS)}")


class Journeys:
    """What a run reads from the warehouse for one conversion type, each part once and only when
    asked for: the touches of the converting journeys (credits are placed on them) and the
    distinct channel paths of all journeys with their counts (the data-driven models are
    fitted on them, and they count the journeys). Neither is every touchpoint."""

    def __init__(self, inputs: Inputs, conversion: ConversionType, cfg: AttributionConfig):
        self.inputs, self.conversion, self.cfg = inputs, conversion, cfg

    @cached_property
    def marked(self) -> ir.Table:
        """The converting journeys' touches (journeys.marked_expr), built once into a temporary
        table of the warehouse: every model's credits and the sourced/influenced counts are
        computed over it there, so the joins and windows that find the journeys run once, not
        once per model.

        The table is named after the conversion type and the configuration, and a later run
        with both the same overwrites it, so a long-lived connection (the web workspace) holds
        one per kind, not one per request; it goes with the connection. Not Ibis `cache`: that
        drops its table when the object is collected, which may be after the connection has
        closed. Spark has no temporary tables; there the query runs for each model."""
        expr = marked_expr(self.inputs, self.conversion, self.cfg)
        wh = self.inputs.wh
        if wh.backend == "spark":
            return expr
        key = hashlib.sha256(f"{self.conversion}:{self.cfg.model_dump_json()}".encode())
        name = f"_revops_journeys_{self.conversion}_{key.hexdigest()[:12]}"
        return wh.con.create_table(name, expr, temp=True, overwrite=True)

    @cached_property
    def touches(self) -> pd.DataFrame:
        """The same touches read into Python (journeys.build_journeys): for tests only."""
        return build_journeys(self.inputs, self.conversion, self.cfg)

    @cached_property
    def paths(self) -> Paths:
        return path_counts(self.inputs, self.conversion, self.cfg)


def journeys_for(inputs: Inputs, conversion: ConversionType, cfg: AttributionConfig) -> Journeys:
    j = Journeys(inputs, conversion, cfg)
    if not j.paths.conversions.sum():
        raise AttributionError(f"no {conversion} conversion has a touch in its lookback window")
    return j


def compare(
    inputs: Inputs,
    conversion: ConversionType,
    cfg: AttributionConfig,
    models: Sequence[str] | None = None,
) -> dict[str, Attribution]:
    """Every requested model (all configured ones by default) over the same journeys."""
    names = tuple(models or cfg.models)
    _check(names)
    return compare_journeys(journeys_for(inputs, conversion, cfg), conversion, cfg, names)


def compare_journeys(
    j: Journeys,
    conversion: ConversionType,
    cfg: AttributionConfig,
    models: Sequence[str] | None = None,
) -> dict[str, Attribution]:
    """`compare` over journeys already built (`journeys_for`), for a caller that needs them
    more than once: building them is most of the cost of attribution."""
    names = tuple(models or cfg.models)
    _check(names)
    n_conv = int(j.paths.conversions.sum())
    n_null = int(j.paths.nulls.sum())
    out = {}
    for m in names:
        fitted = fit(j.paths, m, cfg) if m in DATA_DRIVEN_MODELS else None
        scope = Scope.of(cfg, conversion, (m,))
        expr = credits_expr(j.marked, m, cfg, fitted)
        out[m] = Attribution(scope, expr, j.inputs.wh, n_conv, n_null, fitted)
    return out


def attribute(
    wh: Warehouse, conversion: ConversionType, cfg: AttributionConfig, model: str
) -> Attribution:
    return compare(load_inputs(wh), conversion, cfg, [model])[model]


def _stored(results: Sequence[Attribution], cfg: AttributionConfig) -> ir.Table:
    """The rows to store: every result's credits with their scope, typed as the table is."""
    parts = [
        res.expr.mutate(
            conversion_type=ibis.literal(res.scope.conversion),
            level=ibis.literal(cfg.level),
            lookback_days=ibis.literal(res.scope.lookback_days, type="int64"),
        )
        for res in results
    ]
    new = parts[0].union(*parts[1:], distinct=False) if len(parts) > 1 else parts[0]
    schema = arrow_schema(schema_table("attribution_credits"))
    return new.select(*(new[f.name].cast(ibis.dtype(f.type)) for f in schema))


def _replaced(results: Sequence[Attribution]) -> str:
    """The SQL condition on the rows the results replace: their (model, conversion type)."""

    def lit(v: str) -> str:
        return "'" + v.replace("'", "''") + "'"

    pairs = sorted({(r.scope.models[0], r.scope.conversion) for r in results})
    return " OR ".join(f"(model = {lit(m)} AND conversion_type = {lit(c)})" for m, c in pairs)


def _old_keys(wh: Warehouse, results: Sequence[Attribution]) -> ir.Table:
    """The stored rows the results replace (Spark's write deletes them by key)."""
    t = wh.table("attribution_credits")
    pairs = sorted({(r.scope.models[0], r.scope.conversion) for r in results})
    cond = [(t.model == m) & (t.conversion_type == c) for m, c in pairs]
    hit = cond[0]
    for c in cond[1:]:
        hit = hit | c
    return t.filter(hit)


def _runner(wh: Warehouse) -> Any:
    """A `run(sql) -> rows affected` on the warehouse's own connection, so statements made
    inside `write_many`'s `then` step belong to its transaction."""
    raw = wh.con.con
    if wh.backend == "duckdb":

        def run_duckdb(q: str) -> int:
            row = raw.execute(q).fetchone()
            return int(row[0]) if row else 0

        return run_duckdb

    def run_pg(q: str) -> int:
        with raw.cursor() as cur:
            cur.execute(q)
            return int(cur.rowcount)

    return run_pg


def write_credits(wh: Warehouse, results: Sequence[Attribution], cfg: AttributionConfig) -> int:
    """Store credits, replacing earlier rows of each (model, conversion type); returns rows.

    On DuckDB and PostgreSQL the warehouse does it all in one transaction: a DELETE of the rows
    replaced and an INSERT ... SELECT of the credits query, so neither the credits nor the
    table's other rows pass through Python. It runs inside `write_many` (the `then` step) with an
    empty batch for the table, so an audit hook or a write hook on the warehouse sees this write
    and commits with it, as with any other. Spark has no transactions: there the credits are read
    and written with the keys of the rows they replace as one staged write.
    """
    if not results:
        return 0
    schema = arrow_schema(schema_table("attribution_credits"))
    new = _stored(results, cfg)
    if wh.backend == "spark":
        keys = ["model", "conversion_id", "touchpoint_id"]
        gone = wh.to_arrow(_old_keys(wh, results).select(*keys))
        data = wh.to_arrow(new)
        wh.write_many(
            [
                Batch("attribution_credits", gone, "delete"),
                Batch("attribution_credits", data, "append", unique_keys=True),
            ]
        )
        return data.num_rows
    select = str(wh.con.compile(new))
    cols = ", ".join(f'"{f.name}"' for f in schema)
    written: list[int] = []

    def then(_: Any) -> list[Batch]:
        """Inside the write's transaction, on its connection."""
        run = _runner(wh)
        run(f'DELETE FROM "attribution_credits" WHERE {_replaced(results)}')
        written.append(run(f'INSERT INTO "attribution_credits" ({cols}) {select}'))
        return []

    empty = pa.Table.from_pylist([], schema)
    wh.write_many([Batch("attribution_credits", empty, "append")], then=then)
    return written[0]
