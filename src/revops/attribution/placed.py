"""Credits placed and summed in the warehouse, for a caller that needs only their sums.

The attribution report shows each model's credits per channel and per campaign, the conversions
each channel sourced and influenced, and stores one model's credits per touch. Reading every
converting journey's touches into pandas for that cost the step about 300 MB at 10x (211k
touches, copied per model). Here the touches stay in the warehouse, computed once per
conversion type into a cached table (`touches_table`); each model's credits are an Ibis
expression over it (`credits_expr`), and only sums (`credit_sums`, `sourced_influenced`) or the
rows to store come out.

Rule-based weights depend on a journey only through its shape (its length and the positions of
its lead-creation, opportunity-creation and last non-direct touches, `SHAPE_KEYS`), time decay's
excepted. Those weights come from rules.py itself: the distinct shapes (a few hundred at any
scale) are read, weighted by `rules.weights` and joined back onto the touches, so every weight
is the very float the pandas path (credit.py) gives, ties and rounding residue included. Time
decay weighs each touch by its own age: computed in SQL, with exact (decimal) sums where
`rules.time_decay` normalises, it agrees with it to a few ulps, not to the bit. The data-driven
models share each conversion among its channels by their fitted weights as credit.py does, with
exact sums; their channel sums agree with the pandas path's to rounding.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from fractions import Fraction

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa

from revops.attribution import rules
from revops.attribution.credit import CREDIT_COLUMNS
from revops.attribution.journeys import Inputs, marked_touches
from revops.attribution.markov import MarkovResult
from revops.attribution.shapley import ShapleyResult
from revops.config.attribution import AttributionConfig, ConversionType
from revops.warehouse import Warehouse
from revops.warehouse.sums import exact_sum, exact_window_sum

# what decides each rule's weights in a journey, besides a touch's position `pos`
SHAPE_KEYS: Mapping[str, tuple[str, ...]] = {
    "first_touch": ("n",),
    "last_touch": ("n",),
    "linear": ("n",),
    "position_based": ("n",),
    "j_shaped": ("n",),
    "inverse_j": ("n",),
    "custom": ("n",),
    "last_non_direct": ("n", "last_non_direct"),
    "u_shaped": ("n", "lead"),
    "w_shaped": ("n", "lead", "opp"),
    "full_path": ("n", "lead", "opp"),
}
NONE = -1  # a missing milestone in a shape (a join key cannot be NULL)
_NOT_DIRECT = "\0not direct"  # a channel name no configuration lists as direct


def touches_table(inputs: Inputs, conversion: ConversionType, cfg: AttributionConfig) -> ir.Table:
    """The converting journeys' touches, computed once into a cached table (`Warehouse.cache`):
    CREDIT_COLUMNS, revenue (0.0 when none), pos, n, days_before and the shape keys (`NONE` when
    missing)."""
    j = marked_touches(inputs, conversion, cfg)
    journey = ibis.window(group_by=j.conversion_id)
    direct = list(cfg.direct_channels)
    not_direct = ~j.channel.isin(direct).fill_null(False) if direct else ibis.literal(True)
    t = j.select(
        *CREDIT_COLUMNS,
        revenue=j.revenue.fill_null(0.0),
        pos=j.pos,
        n=j.n,
        days_before=_days_before(j, conversion),
        lead=j.is_lead.ifelse(j.pos, NONE).max().over(journey),
        opp=j.is_opp.ifelse(j.pos, NONE).max().over(journey),
        last_non_direct=not_direct.ifelse(j.pos, NONE).max().over(journey),
    )
    return inputs.wh.cache(t)


def _days_before(j: ir.Table, conversion: ConversionType) -> ir.FloatingValue:
    """Days from the touch to the conversion, the float build_journeys makes: pandas divides a
    nanosecond difference (a day's end, opportunity and closed-won conversions) by 1e9, a
    microsecond one by 1e6, then by 86400."""
    us = j.converted_at.delta(j.occurred_at.cast("timestamp"), unit="microsecond")
    if conversion in ("opportunity", "closed_won"):
        seconds = (us * 1000).cast("float64") / 1e9
    else:
        seconds = us.cast("float64") / 1e6
    return seconds / 86400.0


def credits_expr(
    wh: Warehouse,
    touches: ir.Table,
    model: str,
    cfg: AttributionConfig,
    fitted: MarkovResult | ShapleyResult | None = None,
) -> ir.Table:
    """Per-touch credits of `model` (the rows credit.credits gives) over `touches_table`."""
    if isinstance(fitted, MarkovResult | ShapleyResult):
        t = _data_driven(touches, fitted)
    elif model == "time_decay":
        t = _time_decay(touches, cfg.time_decay_half_life_days)
        t = t.mutate(revenue_credit=t.credit * t.revenue)
    elif model in SHAPE_KEYS:
        t = _by_shape(wh, touches, model, cfg)
        t = t.mutate(revenue_credit=t.credit * t.revenue)
    else:
        raise ValueError(f"credits of {model!r} need its fit")
    return t.select(
        *CREDIT_COLUMNS,
        "pos",
        model=ibis.literal(model),
        credit=t.credit,
        revenue_credit=t.revenue_credit,
    )


def credit_sums(wh: Warehouse, credits: ir.Table, dim: str = "channel") -> pd.DataFrame:
    """Conversions and revenue credited per channel or campaign_id, largest first: the frame
    `Attribution.by` makes of the same credits, each sum math.fsum's (`_exact_parts`)."""
    col = "campaign_id" if dim == "campaign" else dim
    key = credits[col].fill_null("(none)")
    parts = {
        **_exact_parts("conversions", credits.credit),
        **_exact_parts("revenue", credits.revenue_credit),
    }
    sums = wh.to_arrow(credits.group_by(**{col: key}).aggregate(**parts))
    out = pd.DataFrame({col: sums[col].to_pylist()})
    for name in ("conversions", "revenue"):
        out[name] = _added_parts(sums[f"{name}_hi"].to_pylist(), sums[f"{name}_lo"].to_pylist())
    # in key order first, as pandas' groupby gives them: ties keep the same order when sorted
    out = out.sort_values(col, ignore_index=True)
    return out.sort_values("conversions", ascending=False, ignore_index=True)


def _exact_parts(name: str, value: ir.FloatingValue) -> dict[str, ir.DecimalScalar]:
    """Two integer sums that give the exact sum of `value` (`_added_parts`).

    exact_sum (each value rounded to 15 decimal places, by a cast done in floating point) is
    the same in any order but drifts by some ulps from the true sum of fractions: at demo scale
    a channel's 4.85 credited conversions showed as 4.9 where the pandas sum and the fit said
    4.8. Here each value x is split on binary grids, where every step is exact: hi = x rounded
    to a multiple of 2^-30, lo = x - hi (exact: both are on x's own grid), each counted in its
    grid's units as a whole number and summed as DECIMAL(38, 0), integer arithmetic on every
    backend. Only bits of lo below 2^-90 are rounded (in values under 2^-38)."""
    grid = ibis.literal(2**30, "int64")  # an integer: Spark reads 1073741824.0 as a DECIMAL
    scaled = (value * grid).round()
    lo = value - scaled / grid
    return {
        f"{name}_hi": scaled.cast("int64").cast(WHOLE).sum(),
        f"{name}_lo": (lo * grid * grid * grid).round().cast("int64").cast(WHOLE).sum(),
    }


HI_BITS, LO_BITS = 30, 90  # a value must be below 2^33 (8.6e9) to fit
WHOLE = "decimal(38, 0)"


def _added_parts(hi: list[Decimal | None], lo: list[Decimal | None]) -> list[float]:
    """`_exact_parts`' two sums added exactly and rounded once (correctly, by Python)."""
    return [
        float(Fraction(int(h or 0), 2**HI_BITS) + Fraction(int(low or 0), 2**LO_BITS))
        for h, low in zip(hi, lo, strict=True)
    ]


def sourced_influenced(wh: Warehouse, touches: ir.Table, dim: str = "channel") -> pd.DataFrame:
    """Per channel (or campaign): conversions and revenue sourced and influenced (see
    performance.py), from `touches_table`."""
    col = "campaign_id" if dim == "campaign" else dim
    t = touches.select("conversion_id", "pos", "revenue", key=touches[col].fill_null("(none)"))
    first = t.filter(t.pos == 0)
    sourced = first.group_by("key").aggregate(
        sourced=first.count(), sourced_amount=exact_sum(first.revenue)
    )
    touched = t.select("key", "conversion_id", "revenue").distinct()
    influenced = touched.group_by("key").aggregate(
        influenced=touched.count(), influenced_amount=exact_sum(touched.revenue)
    )
    inf = wh.to_arrow(influenced).to_pandas().sort_values("key").set_index("key")
    src = wh.to_arrow(sourced).to_pandas().set_index("key")
    out = inf.join(src, how="left").fillna(0.0).reset_index()
    out = out.rename(columns={"key": dim})
    out["sourced"] = out["sourced"].astype(int)
    cols = [dim, "sourced", "influenced", "sourced_amount", "influenced_amount"]
    return out[cols].sort_values("sourced_amount", ascending=False, ignore_index=True)


def _by_shape(wh: Warehouse, t: ir.Table, model: str, cfg: AttributionConfig) -> ir.Table:
    """`t` with each touch's `credit` looked up from its journey's shape, weighted by rules.py."""
    keys = SHAPE_KEYS[model]
    shapes = wh.to_arrow(t.select(*keys).distinct()).to_pylist()
    columns: dict[str, list[float]] = {k: [] for k in (*keys, "pos", "credit")}
    for shape in shapes:
        w = rules.weights(model, _shape_touches(shape, cfg), cfg)
        for k in keys:
            columns[k].extend([shape[k]] * len(w))
        columns["pos"].extend(range(len(w)))
        columns["credit"].extend(w.tolist())
    types = {**{k: pa.int64() for k in (*keys, "pos")}, "credit": pa.float64()}
    weights = ibis.memtable(pa.table({k: pa.array(v, types[k]) for k, v in columns.items()}))
    return t.join(weights, [*keys, "pos"])


def _shape_touches(shape: Mapping[str, int], cfg: AttributionConfig) -> rules.Touches:
    """A journey of `shape`: what rules.weights needs of it (no time decay)."""
    n = shape["n"]
    last = shape.get("last_non_direct", n - 1)
    direct = cfg.direct_channels[0] if cfg.direct_channels else _NOT_DIRECT
    channels = [_NOT_DIRECT if i <= last else direct for i in range(n)]
    lead, opp = shape.get("lead", NONE), shape.get("opp", NONE)
    return rules.Touches(
        channels,
        np.zeros(n),
        None if lead == NONE else lead,
        None if opp == NONE else opp,
    )


def _time_decay(t: ir.Table, half_life_days: float) -> ir.Table:
    """`t` with rules.time_decay's `credit` in SQL: 2^(-days before / half-life), normalised to
    sum 1 per journey, the rounding residue on the heaviest touch (the first of the latest).

    Weighed relative to the latest touch (2^0 = 1), so the exact sum's 15 decimal places are
    as fine as the weights however old the journey: the credits are the same ratios."""
    journey = ibis.window(group_by=t.conversion_id)
    t = t.mutate(_latest=t.days_before.min().over(journey))
    t = t.mutate(_raw=ibis.literal(2.0) ** (-(t.days_before - t._latest) / half_life_days))
    t = t.mutate(
        _share=t._raw / exact_window_sum(t._raw, journey),
        _heaviest=(t.days_before == t._latest).ifelse(t.pos, t.n).min().over(journey),
    )
    t = t.mutate(_residue=1.0 - exact_window_sum(t._share, journey))
    return t.mutate(credit=(t.pos == t._heaviest).ifelse(t._share + t._residue, t._share))


def _data_driven(t: ir.Table, fitted: MarkovResult | ShapleyResult) -> ir.Table:
    """`t` with credit.py's data-driven `credit` and `revenue_credit`: each conversion shared
    among its journey's distinct channels by their weights (Markov's removal effects; equal for
    Shapley), a channel's share split equally over its touches, then every channel's touches
    scaled to sum to the model's channel credit."""
    markov = isinstance(fitted, MarkovResult)
    fit = {
        "channel": pa.array(list(fitted.channels), pa.string()),
        "_conversions": np.asarray(fitted.conversions, dtype=np.float64),
        "_value": np.asarray(fitted.value, dtype=np.float64),
    }
    if isinstance(fitted, MarkovResult):
        fit["_w"] = np.asarray(fitted.removal_effects, dtype=np.float64)
        fit["_v"] = np.asarray(fitted.value_removal_effects, dtype=np.float64)
    per = ibis.memtable(pa.table(fit))
    t = t.left_join(per, t.channel == per.channel).select(
        t, *(per[c].fill_null(0.0).name(c) for c in fit if c != "channel")
    )
    if not markov:  # Shapley: every channel weighs the same, known to the fit or not
        t = t.mutate(_w=ibis.literal(1.0), _v=ibis.literal(1.0))
    journey = ibis.window(group_by=t.conversion_id)
    pair = ibis.window(group_by=[t.conversion_id, t.channel])
    t = t.mutate(
        _touches_of=t.pos.count().over(pair),
        _first=ibis.row_number().over(group_by=[t.conversion_id, t.channel], order_by=t.pos) == 0,
    )
    t = t.mutate(
        _n_distinct=t._first.ifelse(1, 0).sum().over(journey).cast("float64"),
        _total_w=exact_window_sum(t._first.ifelse(t._w, 0.0), journey),
        _total_v=exact_window_sum(t._first.ifelse(t._v, 0.0), journey),
    )

    def share(w: ir.FloatingValue, total: ir.FloatingValue) -> ir.FloatingValue:
        return (total > 0).ifelse(w / total, 1.0 / t._n_distinct) / t._touches_of

    t = t.mutate(_s=share(t._w, t._total_w), _r=share(t._v, t._total_v) * t.revenue)
    channel = ibis.window(group_by=t.channel)
    t = t.mutate(_sum_s=exact_window_sum(t._s, channel), _sum_r=exact_window_sum(t._r, channel))
    return t.mutate(
        credit=(t._sum_s > 0).ifelse(t._s * t._conversions / t._sum_s, 0.0),
        revenue_credit=(t._sum_r > 0).ifelse(t._r * t._value / t._sum_r, 0.0),
    )
