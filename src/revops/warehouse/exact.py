"""Sums of floats the warehouse computes the same way every run, whatever its threads do.

A float sum depends on the order of its terms (addition of floats is not associative), and a
warehouse does not promise one: DuckDB sums each thread's share of the rows and then adds the
partial sums in the order the threads finish; PostgreSQL's parallel aggregates and Spark's
partitions do the same; a window over a partition sees its rows in whatever order the
partitioning sort left them. So two runs over the same rows could differ in the last bit, and a
report drawn from them differed (an SVG coordinate 25.870438 vs 25.870437).

Here each term is cast to DECIMAL(38, 18) and summed as that: a decimal sum is integer
arithmetic, exact and so the same in any order, and the total is cast back to float64. Why
this and not the alternatives:

* Rounding each term to fixed decimals and summing floats is not enough: the rounded terms are
  still binary fractions whose float sum rounds differently by order.
* Fixing the order (ORDER BY inside the window) holds only where the engine then adds in that
  order; DuckDB builds segment trees and adds threads' partials, PostgreSQL and Spark combine
  partial aggregates in arrival order. An exact sum needs no such promise.

What the cast costs in accuracy: DuckDB and Spark round each term to 1e-18 (PostgreSQL keeps
its 15 significant digits, the precision it converts a float8 to numeric with). For a sum of
terms of very different sizes, or terms far below 1e-18, `exact_sum_over` first divides by
the largest magnitude in the window (a max, exact in any order) and multiplies back, so every
term keeps ~18 significant digits relative to the largest and a window of non-negative terms
is never summed to 0 unless all are 0. 20 digits are left for the integer part: `exact_sum`
is for sums below 1e20 (credits, amounts), `exact_sum_over` never comes near (its terms are at
most 1).
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

EXACT = dt.Decimal(precision=38, scale=18)


def exact_sum(x: ir.NumericColumn, where: ir.BooleanValue | None = None) -> ir.FloatingScalar:
    """The sum of `x` (an aggregate), the same bits whatever order the rows arrive in."""
    total: ir.NumericScalar = x.cast(EXACT).sum(where=where)
    return total.cast("float64")


def exact_sum_over(t: ir.Table, x: ir.NumericValue, by: str | Sequence[str], out: str) -> ir.Table:
    """`t` with column `out`: the sum of `x` over the rows with the same `by` (one per row,
    like `x.sum().over(group_by=by)`), order-independent. `x` is scaled by the group's largest
    magnitude before the decimal cast (see the module docstring); in two steps, because no
    database nests one window function in another."""
    keys = [by] if isinstance(by, str) else list(by)
    t = t.mutate(_exact_x=x)
    t = t.mutate(_exact_max=t._exact_x.abs().max().over(group_by=[t[k] for k in keys]))
    # a group whose largest magnitude is 0 holds only zeros: sum them unscaled
    scaled = (t._exact_max > 0).ifelse(t._exact_x / t._exact_max, t._exact_x)
    total = scaled.cast(EXACT).sum().over(group_by=[t[k] for k in keys]).cast("float64")
    scale = (t._exact_max > 0).ifelse(t._exact_max, ibis.literal(1, type="int8"))
    return t.mutate(**{out: total * scale}).drop("_exact_x", "_exact_max")
