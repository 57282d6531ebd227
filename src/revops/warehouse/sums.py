"""Order-independent sums of floating-point columns, the same on every backend and every run.

Float addition is not associative, and DuckDB, PostgreSQL and Spark add a DOUBLE SUM's partial
sums in whatever order their threads finish: at 10x demo scale the same data and seed gave
different last digits from run to run. A DECIMAL sum is exact integer arithmetic on all three,
so any order gives the same figure; it is also the exactly rounded sum of the values, where a
float sum drifts by some ulps over thousands of rows.
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir

# 15 decimal places round each value by at most 5e-16, below a double's own precision for
# anything from about 1 up; 23 integer digits hold any money total, and a larger value or total
# fails loudly (a conversion or overflow error) rather than wrapping.
EXACT = "decimal(38, 15)"


def exact_sum(value: Any, where: ir.BooleanValue | None = None) -> ir.FloatingScalar:
    """The sum of the float column `value` (over rows where `where`), as float64."""
    return value.cast(EXACT).sum(where=where).cast("float64")


def exact_mean(value: Any, where: ir.BooleanValue | None = None) -> ir.FloatingScalar:
    """The average of the float column `value`: the exact sum over the count, as float64."""
    return value.cast(EXACT).mean(where=where).cast("float64")


def exact_window_sum(value: Any, window: ibis.Window) -> ir.FloatingValue:
    """The sum of the float column `value` over `window`, as float64: the same in any row
    order, as `exact_sum`."""
    return value.cast(EXACT).sum().over(window).cast("float64")
