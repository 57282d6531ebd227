"""The metric layer: the dictionary in revops.yaml, computed inside the warehouse.

`compute` runs one metric, `compute_all` the whole dictionary, `formula` says what a number
means and `metric_sql` shows the exact query behind it. Every metric is one query on the
database; only the aggregated rows come back.
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

__all__ = [
    "ExpressionError",
    "MetricError",
    "compile_dictionary",
    "compile_metric",
    "compute",
    "compute_all",
    "formula",
    "metric_sql",
    "supported_dimensions",
]
