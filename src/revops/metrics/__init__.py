"""The metric layer: the dictionary in revops.yaml, computed inside the warehouse.

`compute` runs one metric, `compute_all` the whole dictionary, `formula` says what a number
means and `metric_sql` shows the exact query behind it. Every metric is one query on the
database; only the aggregated rows come back. `period_value` and `tile` give one figure for a
stated period (and the one before), with its missing count and, when n/a, the reason: the shape
the CLI, reports and API show a figure in.
"""

from __future__ import annotations

from revops.metrics.compiler import (
    compile_dictionary,
    compile_metric,
    formula,
    supported_dimensions,
)
from revops.metrics.errors import MetricError
from revops.metrics.expressions import ExpressionError
from revops.metrics.results import compute, compute_all, metric_sql
from revops.metrics.values import (
    Period,
    PeriodValue,
    Tile,
    last_full_period,
    period_value,
    settled,
    sum_over_time,
    tile,
    why_missing,
)

__all__ = [
    "ExpressionError",
    "MetricError",
    "Period",
    "PeriodValue",
    "Tile",
    "compile_dictionary",
    "compile_metric",
    "compute",
    "compute_all",
    "formula",
    "last_full_period",
    "metric_sql",
    "period_value",
    "settled",
    "sum_over_time",
    "supported_dimensions",
    "tile",
    "why_missing",
]
