"""`quality check`: count every rule violation by table, field and rule, with sample keys.

One aggregate query per table counts all of its rules in a single scan; only for rules that
fire is a handful of offending primary keys fetched, so the check stays a few seconds on a
warehouse of half a million touchpoints.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import ibis.expr.types as ir
import pandas as pd

from revops.config.models import OperatingModel
from revops.quality.rules import RuleCheck, all_checks, count_true, counted
from revops.warehouse import Warehouse, schema

SAMPLE = 5


@dataclass(frozen=True)
class Violation:
    table: str
    field: str
    rule: str
    rows: int
    violations: int
    fixable: bool
    sample_keys: tuple[str, ...]
    sample_values: tuple[str, ...]

    @property
    def share(self) -> float:
        return self.violations / self.rows if self.rows else 0.0


@dataclass(frozen=True)
class CheckReport:
    results: tuple[Violation, ...]

    @property
    def failing(self) -> tuple[Violation, ...]:
        return tuple(v for v in self.results if v.violations)

    @property
    def total(self) -> int:
        return sum(v.violations for v in self.results)

    def to_frame(self, *, all_rules: bool = False) -> pd.DataFrame:
        rows = self.results if all_rules else self.failing
        return pd.DataFrame(
            [
                {
                    "table": v.table,
                    "field": v.field,
                    "rule": v.rule,
                    "violations": v.violations,
                    "share": v.share,
                    "fixable": "yes" if v.fixable else "",
                    "sample keys": ", ".join(v.sample_keys),
                    "sample values": ", ".join(v.sample_values),
                }
                for v in rows
            ],
            columns=[
                "table",
                "field",
                "rule",
                "violations",
                "share",
                "fixable",
                "sample keys",
                "sample values",
            ],
        )


def _key(row: pd.Series, pk: tuple[str, ...]) -> str:
    return "|".join(str(row[k]) for k in pk)


def rule_counts(t: ir.Table, checks: list[RuleCheck]) -> dict[str, ir.IntegerScalar]:
    """The aggregates that count each rule's violations on `t` (`r0`, `r1`, ... in the order
    of `checks`), for a caller to put in an aggregate of its own: the scorecard scans a table
    once for its counts and these (`scorecard.measure_and_check`)."""
    return {f"r{i}": count_true(c.violation(t).fill_null(False)) for i, c in enumerate(checks)}


def table_results(
    wh: Warehouse, name: str, checks: list[RuleCheck], counts: Mapping[str, Any]
) -> list[Violation]:
    """Each rule's result on table `name` from `counts` (the table's row count `n` and the
    `rule_counts` aggregates), with sample keys fetched for the rules that fire."""
    t = wh.table(name)
    rows = int(counts["n"])
    pk = schema.table(name).primary_key
    out = []
    for i, check in enumerate(checks):
        found = counted(counts[f"r{i}"])
        keys: tuple[str, ...] = ()
        values: tuple[str, ...] = ()
        if found:
            pred = check.violation(t).fill_null(False)
            cols = list(dict.fromkeys([*pk, check.field]))
            sample = wh.execute(t.filter(pred).select(*cols).order_by(list(pk)).limit(SAMPLE))
            keys = tuple(_key(r, pk) for _, r in sample.iterrows())
            values = tuple(
                "∅" if v is None or (isinstance(v, float) and v != v) else repr(v)
                for v in sample[check.field]
            )
        out.append(
            Violation(name, check.field, check.rule, rows, found, check.fixable, keys, values)
        )
    return out


def check_table(wh: Warehouse, name: str, checks: list[RuleCheck]) -> list[Violation]:
    """`checks` on table `name`: one scan counts them all (`rule_counts`)."""
    t = wh.table(name)
    counts = wh.execute(t.aggregate(n=t.count(), **rule_counts(t, checks))).iloc[0]
    return table_results(wh, name, checks, counts)


def checks_by_table(
    model: OperatingModel, tables: Iterable[str] = ()
) -> dict[str, list[RuleCheck]]:
    """The rules `check` runs, per table in the order it reports them."""
    wanted = tuple(tables)
    for name in wanted:
        schema.table(name)
    by_table: dict[str, list[RuleCheck]] = {}
    for c in all_checks(model, wanted):
        if not wanted or c.table in wanted:
            by_table.setdefault(c.table, []).append(c)
    return by_table


def check(wh: Warehouse, model: OperatingModel, tables: Iterable[str] = ()) -> CheckReport:
    """Run every configured rule (plus the data model's enums) over the warehouse.

    `tables` limits the check to those tables; empty means every table the rules touch.
    """
    results: list[Violation] = []
    for name, table_checks in checks_by_table(model, tables).items():
        results += check_table(wh, name, table_checks)
    return CheckReport(tuple(results))


__all__ = [
    "CheckReport",
    "Violation",
    "check",
    "check_table",
    "checks_by_table",
    "rule_counts",
    "table_results",
]
