"""Running attribution against the warehouse: journeys in, credits out (the engine's I/O edge).

`place` computes models for one conversion type with their credits kept in the warehouse
(placed.py): every figure revops shows (the report, the workspace, `revops attribution run` and
`compare`) is summed from them, so a channel's credits are one number wherever they appear.
`attribute` and `compare` compute the same credits in pandas (credit.py), the in-memory form the
tests hold the warehouse's against and the independent implementations are compared with.
`write_credits` / `write_credit_tables` store credits in `attribution_credits`, replacing earlier
rows of the same model and conversion type in one transaction, so metrics over that table
(attributed pipeline, ROAS…) always see one run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa

from revops.attribution.counts import FitCounts, fit_counts
from revops.attribution.credit import credits, fit
from revops.attribution.journeys import Inputs, build_journeys, load_inputs
from revops.attribution.markov import MarkovResult
from revops.attribution.placed import credit_sums, credits_expr, touches_table
from revops.attribution.scope import Scope
from revops.attribution.shapley import ShapleyResult
from revops.config.attribution import DATA_DRIVEN_MODELS, MODELS, AttributionConfig, ConversionType
from revops.errors import RevOpsError
from revops.warehouse import Warehouse
from revops.warehouse.schema import table
from revops.warehouse.warehouse import Batch, arrow_schema


class AttributionError(RevOpsError, ValueError):
    """An attribution request that cannot be run (unknown model, nothing to attribute)."""


@dataclass(frozen=True)
class Attribution:
    """Credits of one model, with the scope they answer and the fit behind them."""

    scope: Scope
    credits: pd.DataFrame  # one row per (conversion, touch)
    journeys: int  # converting journeys attributed
    non_converting: int  # journeys in the null state (used by Markov)
    fitted: MarkovResult | ShapleyResult | None

    def by(self, dim: str = "channel") -> pd.DataFrame:
        """Conversions and revenue credited per channel or campaign_id, largest first."""
        col = "campaign_id" if dim == "campaign" else dim
        g = self.credits.fillna({col: "(none)"}).groupby(col, as_index=False)
        out = g.agg(conversions=("credit", "sum"), revenue=("revenue_credit", "sum"))
        return out.sort_values("conversions", ascending=False, ignore_index=True)


def check_models(models: Sequence[str]) -> None:
    for m in models:
        if m not in MODELS:
            raise AttributionError(f"unknown attribution model {m!r}; known: {', '.join(MODELS)}")


class Journeys:
    """What a run reads from the warehouse for one conversion type, each part once and only when
    asked for: the touches of the converting journeys (credits are placed on them) and the
    counts of all journeys' moves between channels and of their channel sets (the data-driven
    models are fitted on them, and they count the journeys). Neither is every touchpoint."""

    def __init__(self, inputs: Inputs, conversion: ConversionType, cfg: AttributionConfig):
        self.inputs, self.conversion, self.cfg = inputs, conversion, cfg

    @cached_property
    def touches(self) -> pd.DataFrame:
        return build_journeys(self.inputs, self.conversion, self.cfg)

    @cached_property
    def table(self) -> ir.Table:
        """The touches kept in the warehouse (placed.touches_table), for credits summed there."""
        return touches_table(self.inputs, self.conversion, self.cfg)

    @cached_property
    def counts(self) -> FitCounts:
        return fit_counts(self.inputs, self.conversion, self.cfg)


def journeys_for(inputs: Inputs, conversion: ConversionType, cfg: AttributionConfig) -> Journeys:
    j = Journeys(inputs, conversion, cfg)
    # the counts first, before the touches are held in Python: their queries' working memory
    # is then free again for the touches' (at 10x the step's peak fell by about 120 MB)
    if not j.counts.conversions:
        raise AttributionError(f"no {conversion} conversion has a touch in its lookback window")
    return j


def compare(
    inputs: Inputs,
    conversion: ConversionType,
    cfg: AttributionConfig,
    models: Sequence[str] | None = None,
) -> dict[str, Attribution]:
    """Every requested model (all configured ones by default) over the same journeys, credits
    in pandas (credit.py)."""
    names = tuple(models or cfg.models)
    check_models(names)
    j = journeys_for(inputs, conversion, cfg)
    n_conv, n_null = int(j.counts.conversions), int(j.counts.nulls)
    out = {}
    for m in names:
        fitted = fit(j.counts, m, cfg) if m in DATA_DRIVEN_MODELS else None
        scope = Scope.of(cfg, conversion, (m,))
        out[m] = Attribution(scope, credits(j.touches, m, cfg, fitted), n_conv, n_null, fitted)
    return out


@dataclass(frozen=True)
class Placed:
    """One model's credits for one conversion type, placed in the warehouse (`place`): only
    their sums (`by`) come out, and `store_placed` writes them there."""

    scope: Scope
    credits: ir.Table  # placed.credits_expr: one row per (conversion, touch), with `pos`
    journeys: int  # converting journeys attributed
    non_converting: int  # journeys in the null state (used by Markov)
    fitted: MarkovResult | ShapleyResult | None

    def by(self, wh: Warehouse, dim: str = "channel") -> pd.DataFrame:
        """Conversions and revenue credited per channel or campaign_id, largest first."""
        return credit_sums(wh, self.credits, dim)


def place(
    wh: Warehouse, j: Journeys, cfg: AttributionConfig, models: Sequence[str] | None = None
) -> dict[str, Placed]:
    """Every requested model (all configured ones by default) over the same journeys, with
    credits kept in the warehouse (`j.table`); the data-driven models fitted on `j.counts`."""
    names = tuple(models or cfg.models)
    check_models(names)
    n_conv, n_null = int(j.counts.conversions), int(j.counts.nulls)
    out = {}
    for m in names:
        fitted = fit(j.counts, m, cfg) if m in DATA_DRIVEN_MODELS else None
        scope = Scope.of(cfg, j.conversion, (m,))
        out[m] = Placed(scope, credits_expr(wh, j.table, m, cfg, fitted), n_conv, n_null, fitted)
    return out


def attribute(
    wh: Warehouse, conversion: ConversionType, cfg: AttributionConfig, model: str
) -> Attribution:
    return compare(load_inputs(wh), conversion, cfg, [model])[model]


def write_credits(wh: Warehouse, results: Sequence[Attribution], cfg: AttributionConfig) -> int:
    """Store credits, replacing earlier rows of each (model, conversion type); returns rows."""
    tables = [(r.scope, pa.Table.from_pandas(r.credits, preserve_index=False)) for r in results]
    return write_credit_tables(wh, tables, cfg)


def store_placed(wh: Warehouse, placed: Sequence[Placed], cfg: AttributionConfig) -> int:
    """`write_credit_tables` of placed credits, each model and conversion type given once;
    returns rows. The warehouse computes and writes them in place where it can
    (`Warehouse.replace_where`): at 10x demo scale the report's 211k rows had been read out
    as Arrow only to be written back, 77 MB of the attribution step's peak."""
    scopes = [(p.scope.models[0], p.scope.conversion) for p in placed]
    if len(set(scopes)) < len(scopes):
        raise AttributionError("each model's credits for a conversion type are stored once")

    def given(stored: ir.Table) -> ir.BooleanValue:
        return ibis.or_(*((stored.model == m) & (stored.conversion_type == c) for m, c in scopes))

    queries = [
        p.credits.mutate(
            conversion_type=ibis.literal(p.scope.conversion, "string"),
            level=ibis.literal(cfg.level, "string"),
            lookback_days=ibis.literal(p.scope.lookback_days, "int64"),
        )
        for p in placed
    ]
    return wh.replace_where("attribution_credits", given, queries)


def write_credit_tables(
    wh: Warehouse, tables: Sequence[tuple[Scope, pa.Table]], cfg: AttributionConfig
) -> int:
    """`write_credits` of per-touch credits as Arrow (CREDIT_COLUMNS, model, credit,
    revenue_credit), each with the scope it answers; returns rows.

    One `replace` batch of the rows kept and the new ones, as Arrow in the table's schema. (A
    `replace` of the kept rows followed by `append`s of the new ones left DuckDB 1.4 with a
    table that counted 292,200 rows and scanned none at 10x demo scale.)

    When no scope comes twice, its primary keys (model, conversion_id, touchpoint_id) are
    unique without a check: the kept rows are the table's own, the new ones each scope's
    touches, one row per touch of a conversion whose id names its type, which no kept row has
    under the same model (and the table's key would reject a repeat). The write then skips
    its last-row-per-key pass, a hash of every row's three string keys: at 10x (292k rows,
    2026-12-06) +90 MB of the attribution step's peak."""
    keep = wh.table("attribution_credits")
    for scope, _ in tables:
        model, conv = scope.models[0], scope.conversion
        keep = keep.filter(~((keep.model == model) & (keep.conversion_type == conv)))
    schema = arrow_schema(table("attribution_credits"))
    parts = [_shaped(wh.to_arrow(keep), schema)]
    for scope, data in tables:
        n = data.num_rows
        data = data.append_column("conversion_type", pa.array([scope.conversion] * n, pa.string()))
        data = data.append_column("level", pa.array([cfg.level] * n, pa.string()))
        data = data.append_column("lookback_days", pa.array([scope.lookback_days] * n, pa.int64()))
        parts.append(_shaped(data, schema))
    unique = len({(s.models[0], s.conversion) for s, _ in tables}) == len(tables)
    rows = pa.concat_tables(parts)
    wh.write_many([Batch("attribution_credits", rows, "replace", unique_keys=unique)])
    return sum(data.num_rows for _, data in tables)


def _shaped(data: pa.Table, schema: pa.Schema) -> pa.Table:
    """`data` in `schema`'s columns and types (a column it lacks is NULL)."""
    n = data.num_rows
    columns = [
        data[f.name].cast(f.type) if f.name in data.column_names else pa.nulls(n, f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(columns, schema=schema)
