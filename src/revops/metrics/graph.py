"""How metrics depend on each other: ratio and derived metrics are built from other metrics.

The dependency graph is checked when the operating model is validated (unknown references and
cycles are config errors, reported before any query runs) and walked by the compiler.
"""

from __future__ import annotations

from collections.abc import Sequence

from revops.config.models import DerivedMetric, Metric, RatioMetric
from revops.metrics.expressions import names


def references(metric: Metric) -> tuple[str, ...]:
    """The metrics `metric` is computed from, each once (none for simple/conversion metrics)."""
    if isinstance(metric, RatioMetric):
        return tuple(dict.fromkeys((metric.numerator, metric.denominator)))
    if isinstance(metric, DerivedMetric):
        return tuple(names(metric.expr, metric=metric.name))
    return ()


def check_references(metrics: Sequence[Metric]) -> None:
    """Raise ValueError if a metric refers to an unknown metric or the references form a cycle."""
    by_name = {m.name: m for m in metrics}
    for m in metrics:
        for ref in references(m):
            if ref not in by_name:
                known = ", ".join(by_name)
                raise ValueError(
                    f"metric {m.name!r} refers to unknown metric {ref!r}; known metrics: {known}"
                )
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in path:
            cycle = " -> ".join((*path[path.index(name) :], name))
            raise ValueError(f"metrics refer to each other in a cycle: {cycle}")
        if name in done:
            return
        for ref in references(by_name[name]):
            visit(ref, (*path, name))
        done.add(name)

    for m in metrics:
        visit(m.name, ())
