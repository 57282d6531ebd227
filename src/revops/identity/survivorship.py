"""Survivorship: which value of each field survives when duplicate records become one.

Pure functions over plain row dicts (one dict per record, survivor first), so the rules can be
tested by hand and reused by `merge` for both persons and accounts. A value is *empty* when it
is None, NaN or a blank string; empty values never win over a filled one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

from revops.config.identity import FieldRule, TableSurvivorship

Row = dict[str, Any]

__all__ = ["Row", "is_empty", "survive"]


def is_empty(value: Any) -> bool:
    """None, NaN and blank strings carry no information."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _recency(row: Row, column: str | None) -> float:
    """Sort key for 'most recent': missing timestamps count as oldest."""
    value = row.get(column) if column else None
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day).timestamp()
    return -math.inf


def _pick(rows: Sequence[Row], field: str, key: Callable[[int, Row], tuple[Any, ...]]) -> Any:
    """The value of the non-empty row with the largest `key`; ties go to the earlier row."""
    best: tuple[Any, ...] | None = None
    value: Any = None
    for i, row in enumerate(rows):
        v = row.get(field)
        if is_empty(v):
            continue
        k = (*key(i, row), -i)
        if best is None or k > best:
            best, value = k, v
    return value


def _value(rows: Sequence[Row], field: str, rule: FieldRule, spec: TableSurvivorship) -> Any:
    upd = spec.updated_column
    if rule.rule == "survivor":
        if not is_empty(rows[0].get(field)):
            return rows[0].get(field)
        return _pick(rows, field, lambda _i, r: (_recency(r, upd),))
    if rule.rule == "most_recent_non_empty":
        return _pick(rows, field, lambda _i, r: (_recency(r, upd),))
    if rule.rule == "most_trusted_source":
        order = {s: len(rule.sources) - k for k, s in enumerate(rule.sources)}
        col = spec.source_column
        return _pick(
            rows,
            field,
            lambda _i, r: (order.get(str(r.get(col)) if col else "", 0), _recency(r, upd)),
        )
    if rule.rule == "longest":
        return _pick(rows, field, lambda _i, r: (len(str(r.get(field))),))
    filled: list[Any] = [r.get(field) for r in rows if not is_empty(r.get(field))]
    if not filled:
        return rows[0].get(field)
    return max(filled) if rule.rule == "max" else min(filled)


def survive(
    rows: Sequence[Row], spec: TableSurvivorship, primary_key: str, *, keep: Sequence[str] = ()
) -> Row:
    """The surviving record of `rows` (survivor first): one value per field by its rule.

    The primary key and the columns in `keep` always stay the survivor's own.
    """
    if not rows:
        raise ValueError("survive() needs at least the survivor row")
    default = FieldRule(rule=spec.default_rule)
    out: Row = {}
    for field in rows[0]:
        if field == primary_key or field in keep:
            out[field] = rows[0][field]
        else:
            out[field] = _value(rows, field, spec.fields.get(field, default), spec)
    return out
