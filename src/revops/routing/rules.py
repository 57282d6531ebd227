"""Rule conditions compiled once into closures, so a decision never re-reads the config.

Each compiled condition keeps its own human description, so the decision trace can say which
test failed and what value it saw, without a second pass over the rule.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from revops.config.routing import Condition

Record = Mapping[str, Any]
Getter = Callable[[Record, Record | None], Any]

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}
_SYMBOL = {"eq": "=", "ne": "!=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def getter(path: str) -> Getter:
    """`account.x` reads the matched account (None without one); anything else reads the lead."""
    source, _, column = path.rpartition(".")
    if source == "account":
        return lambda lead, account: None if account is None else account.get(column)
    return lambda lead, account: lead.get(column)


def _test(op: str, value: Any) -> Callable[[Any], bool]:
    if op == "eq":
        return lambda v: v == value
    if op == "ne":
        return lambda v: v != value
    if op in ("in", "not_in"):
        allowed = frozenset(value)
        if op == "in":
            return lambda v: v in allowed
        return lambda v: v not in allowed
    if op == "exists":
        return lambda v: v is not None and v != ""
    if op == "missing":
        return lambda v: v is None or v == ""
    if op == "contains":
        needle = str(value).lower()
        return lambda v: isinstance(v, str) and needle in v.lower()
    compare = _COMPARE[op]
    # A missing value is never greater or smaller than anything: the condition fails.
    return lambda v: v is not None and compare(v, value)


@dataclass(frozen=True, slots=True)
class Compiled:
    """One condition: where to read, what to test and how to say it."""

    get: Getter
    test: Callable[[Any], bool]
    text: str

    def check(self, lead: Record, account: Record | None) -> str | None:
        """None when the condition holds, otherwise why it did not."""
        value = self.get(lead, account)
        if self.test(value):
            return None
        return f"{self.text} failed (got {value!r})"


def describe(c: Condition) -> str:
    if c.op in ("exists", "missing"):
        return f"{c.field} {c.op}"
    if c.op in ("in", "not_in", "contains"):
        return (
            f"{c.field} {c.op.replace('_', ' ')} {list(c.value)!r}"
            if c.op != "contains"
            else (f"{c.field} contains {c.value!r}")
        )
    return f"{c.field} {_SYMBOL[c.op]} {c.value!r}"


def compile_condition(c: Condition) -> Compiled:
    return Compiled(getter(c.field), _test(c.op, c.value), describe(c))


def first_failure(
    conditions: tuple[Compiled, ...], lead: Record, account: Record | None
) -> str | None:
    """All conditions must hold; the first that does not is the reason the rule lost."""
    for c in conditions:
        why = c.check(lead, account)
        if why is not None:
            return why
    return None
