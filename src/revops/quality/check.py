"""`quality check`: count every rule violation by table, field and rule, with sample keys.

One aggregate query per table counts all of its rules in a single scan; only for rules that
fire is a handful of offending primary keys fetched, so the check stays a few seconds on a
warehouse of half a million touchpoints.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from revops.config.models import OperatingModel
from revops.quality.rules import RuleCheck, all_checks, count_true
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


def _table_results(wh: Warehouse, name: str, checks: list[RuleCheck]) -> list[Violation]:
    t = wh.table(name)
    preds = [c.violation(t).fill_null(False) for c in checks]
    aggs = {f"r{i}": count_true(p) for i, p in enumerate(preds)}
    counts = wh.execute(t.aggregate(n=t.count(), **aggs)).iloc[0]
    rows = int(counts["n"])
    pk = schema.table(name).primary_key
    out = []
    for i, (check, pred) in enumerate(zip(checks, preds, strict=True)):
        found = int(counts[f"r{i}"] or 0)
        keys: tuple[str, ...] = ()
        values: tuple[str, ...] = ()
        if found:
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


def check(wh: Warehouse, model: OperatingModel, tables: Iterable[str] = ()) -> CheckReport:
    """Run every configured rule (plus the data model's enums) over the warehouse.

    `tables` limits the check to those tables; empty means every table the rules touch.
    """
    wanted = tuple(tables)
    for name in wanted:
        schema.table(name)
    checks = all_checks(model, wanted)
    by_table: dict[str, list[RuleCheck]] = {}
    for c in checks:
        if not wanted or c.table in wanted:
            by_table.setdefault(c.table, []).append(c)
    results: list[Violation] = []
    for name, table_checks in by_table.items():
        results += _table_results(wh, name, table_checks)
    return CheckReport(tuple(results))


__all__ = ["CheckReport", "Violation", "check"]
