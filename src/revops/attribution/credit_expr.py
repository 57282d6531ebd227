"""Per-touch credits as Ibis expressions: the warehouse places credit, Python reads totals.

The same models as rules.py and credit.py (which stay the reference the tests compare these
with, journey by journey), written over the journeys query (`journeys.marked_expr`) with window
functions per conversion: the position `pos` (0-based, ties in time broken by touchpoint_id,
as the journeys number them), the length `n`, the milestone flags and the time from each touch
to the journey's last touch. So the credits of a million touches are computed, summed per
channel and stored (INSERT ... SELECT, see run.write_credits) where the touches are; Python
only ever holds the per-channel or per-campaign totals.

The rules, as rules.py states them: each conversion's credits sum to 1. Weights are built
without the pandas code's final rounding fix-up (which moves a residue of about 1e-16 onto the
largest weight), so the two agree to far better than 1e-9, not bit for bit.

* positional models: n = 1 takes all; n = 2 splits first : last (evenly when both are 0);
  otherwise first, middle / (n - 2) each, last, all divided by first + middle + last.
* time decay: 2^(-days before conversion / half-life), divided by the journey's sum. Taken
  relative to the journey's last touch, the conversion time cancels out, and no weight can
  underflow to 0 however long the lookback.
* milestones (U, W, full path): each milestone position gets its share (shares add when
  milestones coincide); the rest goes evenly to the touches that are not milestones, or to the
  milestones when every touch is one. The lead touch defaults to the first, the opportunity
  touch to the last.
* Markov and Shapley (credit.py): each journey's distinct channels share 1 by the model's
  channel weight (equally when all weights are 0), split evenly over the channel's touches,
  then every channel's touches are scaled to the model's channel total.

Every sum of floats here (time decay's journey sum, the data-driven journey and channel sums)
is warehouse.exact's: a float sum's last bit depends on the order the warehouse adds in, which
its threads choose, and the same seed must give the same credits, bit for bit. Counts are
integer sums, exact already.
"""

from __future__ import annotations

from collections.abc import Mapping

import ibis
import ibis.expr.types as ir
from ibis.expr.builders import LegacyWindowBuilder

from revops.attribution import rules
from revops.attribution.credit import CREDIT_COLUMNS
from revops.attribution.markov import MarkovResult
from revops.attribution.shapley import ShapleyResult
from revops.config.attribution import (
    DATA_DRIVEN_MODELS,
    RULE_MODELS,
    AttributionConfig,
    PositionWeights,
)
from revops.warehouse.exact import exact_sum_over

KEY_COLUMNS = tuple(CREDIT_COLUMNS)  # what each credit row says about its touch


def _f(x: float) -> ir.FloatingScalar:
    """A float64 literal the SQL says is one: PostgreSQL reads a bare 0.5 as NUMERIC, and Ibis
    drops a cast of a float64 literal to float64, not of a float32 one (the value keeps every
    digit of `x`: it is printed, not converted)."""
    return ibis.literal(float(x), type="float32").cast("float64")


def _over(j: ir.Table) -> LegacyWindowBuilder:
    """The window of one conversion's touches."""
    return ibis.window(group_by=j.conversion_id)


def _positional(j: ir.Table, p: PositionWeights) -> ir.FloatingValue:
    total = p.first + p.middle + p.last
    n, pos = j.n, j.pos
    pair = p.first + p.last
    two = (pos == 0).ifelse(_f(p.first / pair), _f(p.last / pair)) if pair > 0 else _f(0.5)
    many = ibis.cases(
        (pos == 0, _f(p.first / total)),
        (pos == n - 1, _f(p.last / total)),
        else_=_f(p.middle / total) / (n - 2).cast("float64"),
    )
    return ibis.cases((n == 1, _f(1.0)), (n == 2, two), else_=many)


def _seconds(ts: ir.TimestampValue) -> ir.FloatingValue:
    """Seconds since the epoch, with the microseconds (epoch_seconds truncates on some
    backends)."""
    micros = ts.delta(ibis.timestamp("1970-01-01 00:00:00"), unit="microsecond")
    return micros.cast("float64") / 1e6


def _time_decay(j: ir.Table, half_life_days: float) -> ir.Table:
    """`_w`: 2^(-(last touch - touch) / half-life), divided by the journey's sum. Each window
    is its own step: no database nests one window function in another."""
    j = j.mutate(_at=_seconds(j.occurred_at.cast("timestamp")))
    j = j.mutate(_last=j._at.max().over(_over(j)))
    j = j.mutate(_d=_f(2.0).pow((j._at - j._last) / (86400.0 * half_life_days)))
    j = exact_sum_over(j, j._d, "conversion_id", "_dsum")
    return j.mutate(_w=j._d / j._dsum)


def _milestones(
    j: ir.Table, marks: list[ir.IntegerValue], shares: list[float], rest: float
) -> ir.FloatingValue:
    """See rules.milestones: `marks[k]` is milestone k's position in the journey."""
    pos = j.pos
    w: ir.FloatingValue = _f(0.0)
    for m, share in zip(marks, shares, strict=True):
        w = w + (pos == m).ifelse(_f(share), _f(0.0))
    if rest <= 0:
        return w / _f(sum(shares))
    distinct: ir.FloatingValue = _f(0.0)  # how many distinct positions the milestones mark
    for k, m in enumerate(marks):
        new: ir.BooleanValue = ibis.literal(True)
        for earlier in marks[:k]:
            new = new & (m != earlier)
        distinct = distinct + new.ifelse(_f(1.0), _f(0.0))
    is_mark: ir.BooleanValue = ibis.literal(False)
    for m in marks:
        is_mark = is_mark | (pos == m)
    others = j.n.cast("float64") - distinct
    spread = ibis.cases(
        (others > 0, (~is_mark).ifelse(_f(rest) / others, _f(0.0))),
        else_=is_mark.ifelse(_f(rest) / distinct, _f(0.0)),
    )
    return (w + spread) / _f(sum(shares) + rest)


def _with_milestones(j: ir.Table) -> ir.Table:
    """`_lead`, `_opp`: the lead- and opportunity-creation touches' positions (the first and
    the last touch when the journey has none)."""
    none = ibis.null("int64")
    j = j.mutate(
        _lead=j.is_lead.ifelse(j.pos, none).max().over(_over(j)),
        _opp=j.is_opp.ifelse(j.pos, none).max().over(_over(j)),
    )
    return j.mutate(_lead=j._lead.fill_null(0), _opp=j._opp.fill_null(j.n - 1))


def rule_weights(j: ir.Table, model: str, cfg: AttributionConfig) -> ir.Table:
    """`j` with `_w`: each touch's share of its conversion under rule-based `model` (see
    rules.weights)."""
    pos, n = j.pos, j.n
    one, zero = _f(1.0), _f(0.0)
    match model:
        case "first_touch":
            return j.mutate(_w=(pos == 0).ifelse(one, zero))
        case "last_touch":
            return j.mutate(_w=(pos == n - 1).ifelse(one, zero))
        case "last_non_direct":
            direct = (
                j.channel.isin(list(cfg.direct_channels))
                if cfg.direct_channels
                else ibis.literal(False)
            )
            kept = direct.ifelse(ibis.null("int64"), pos)
            j = j.mutate(_lnd=kept.max().over(_over(j)))
            return j.mutate(_w=(j.pos == j._lnd.fill_null(j.n - 1)).ifelse(one, zero))
        case "linear":
            return j.mutate(_w=one / n.cast("float64"))
        case "position_based":
            return j.mutate(_w=_positional(j, rules.POSITION_BASED))
        case "j_shaped":
            return j.mutate(_w=_positional(j, rules.J_SHAPED))
        case "inverse_j":
            return j.mutate(_w=_positional(j, rules.INVERSE_J))
        case "custom":
            return j.mutate(_w=_positional(j, cfg.custom_weights))
        case "time_decay":
            return _time_decay(j, cfg.time_decay_half_life_days)
        case "u_shaped":
            j = _with_milestones(j)
            return j.mutate(_w=_milestones(j, [ibis.literal(0), j._lead], [0.5, 0.5], 0.0))
        case "w_shaped":
            j = _with_milestones(j)
            marks = [ibis.literal(0), j._lead, j._opp]
            return j.mutate(_w=_milestones(j, marks, [0.3, 0.3, 0.3], 0.1))
        case "full_path":
            j = _with_milestones(j)
            marks = [ibis.literal(0), j._lead, j._opp, j.n - 1]
            return j.mutate(_w=_milestones(j, marks, [0.225] * 4, 0.1))
    raise ValueError(f"{model!r} is not a rule-based attribution model")


def _lookup(channel: ir.StringValue, values: Mapping[str, float]) -> ir.FloatingValue:
    """A per-channel number from a small mapping (0 for a channel it lacks)."""
    if not values:
        return _f(0.0)
    return ibis.cases(*((channel == c, _f(v)) for c, v in values.items()), else_=_f(0.0))


def _channel_weighted(
    j: ir.Table, out: str, weight: Mapping[str, float], scale: Mapping[str, float]
) -> ir.Table:
    """`j` with column `out`: credit.credits' data-driven shares (the distinct channels of a
    journey share 1 by `weight`, split evenly per touch; see credit._channel_weighted), times
    `_revenue` when `out` is a revenue column, scaled so each channel's touches sum to its
    `scale` (credit._to_channel_totals). Needs `_touches_of` and `_first` (`credits_expr`);
    its own working columns are overwritten by a second call, `out` is kept."""
    w = _lookup(j.channel, weight)
    j = j.mutate(_cw=w, _distinct=j._first.ifelse(1, 0).sum().over(_over(j)).cast("float64"))
    j = exact_sum_over(j, j._first.ifelse(j._cw, _f(0.0)), "conversion_id", "_total")
    share = (j._total > 0).ifelse(j._cw / j._total, _f(1.0) / j._distinct) / j._touches_of
    if out == "revenue_credit":
        share = share * j._revenue
    j = j.mutate(_share=share)
    j = exact_sum_over(j, j._share, "channel", "_sums")
    target = _lookup(j.channel, scale)
    return j.mutate(**{out: (j._sums > 0).ifelse(j._share * target / j._sums, _f(0.0))})


def _totals(fitted: MarkovResult | ShapleyResult, which: str) -> dict[str, float]:
    values = getattr(fitted, which)
    return {c: float(v) for c, v in zip(fitted.channels, values, strict=True)}


def credits_expr(
    journeys: ir.Table,
    model: str,
    cfg: AttributionConfig,
    fitted: MarkovResult | ShapleyResult | None = None,
) -> ir.Table:
    """Per-touch credits of `model` over the converting journeys (`journeys.marked_expr` with
    `converted_only=True`): the columns of credit.credits (KEY_COLUMNS, model, credit,
    revenue_credit), unordered."""
    j = journeys.mutate(_revenue=journeys.revenue.fill_null(0.0).cast("float64"))
    if model in RULE_MODELS:
        j = rule_weights(j, model, cfg)
        out = j.select(*KEY_COLUMNS, credit=j._w, revenue_credit=j._w * j._revenue)
    elif model in DATA_DRIVEN_MODELS:
        if fitted is None:
            raise ValueError(f"credits of {model!r} need its fit")
        if isinstance(fitted, MarkovResult):
            effects = dict(zip(fitted.channels, map(float, fitted.removal_effects), strict=True))
            values = dict(
                zip(fitted.channels, map(float, fitted.value_removal_effects), strict=True)
            )
        else:
            effects = values = dict.fromkeys(fitted.channels, 1.0)
        pair = ibis.window(group_by=[j.conversion_id, j.channel])
        j = j.mutate(
            _touches_of=j.pos.count().over(pair).cast("float64"),
            _first=ibis.row_number().over(pair, order_by=j.pos) == 0,
        )
        j = _channel_weighted(j, "credit", effects, _totals(fitted, "conversions"))
        out = _channel_weighted(j, "revenue_credit", values, _totals(fitted, "value"))
    else:
        raise ValueError(f"unknown attribution model {model!r}")
    return out.select(
        *KEY_COLUMNS,
        model=ibis.literal(model),
        credit=out.credit,
        revenue_credit=out.revenue_credit,
    )
