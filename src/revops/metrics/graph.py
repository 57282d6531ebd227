"""How metrics depend on each other: ratio and derived metrics are built from other metrics.

The dependency graph is checked when the operating model is validated (unknown references and
cycles are config errors, reported before any query runs) and walked by the compiler.
"""

from __future__ import annotations

from collections.abc import Sequence

from revops.config.models import ConversionMetric, DerivedMetric, Metric, RatioMetric
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
    check_over_time(metrics)


def is_stock(metric: Metric) -> bool:
    return metric.over_time != "flow"


def check_over_time(metrics: Sequence[Metric]) -> None:
    """Raise ValueError where a metric's declared time aggregation contradicts its parts.

    A stock built from a flow would hide a sum over the period inside a point-in-time value; a
    metric made only of stocks declared a flow invites summing it over time. Both are refused.
    Flows over stocks (churned / opening customers) are rates over the period, and allowed.
    """
    by_name = {m.name: m for m in metrics}
    for m in metrics:
        if isinstance(m, ConversionMetric) and is_stock(m):
            raise ValueError(
                f"metric {m.name!r} is a conversion, a flow of base events: over_time: flow"
            )
        parts = [by_name[r] for r in references(m)]
        if not parts:
            continue
        flows = [p.name for p in parts if not is_stock(p)]
        if is_stock(m) and flows:
            raise ValueError(
                f"metric {m.name!r} is declared a stock ({m.over_time}) but {', '.join(flows)} "
                "is a flow summed over the period; declare it over_time: flow"
            )
        if not is_stock(m) and not flows:
            raise ValueError(
                f"metric {m.name!r} is computed from stocks only "
                f"({', '.join(p.name for p in parts)}); declare it over_time: stock_last or "
                "stock_first, so it is never summed over time"
            )
