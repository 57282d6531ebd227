"""The quality rules of the operating model, compiled to Ibis predicates over canonical tables.

Each `RuleCheck` turns a table into a boolean column that is true where a row breaks the rule,
so `check` and the scorecard count violations in the database (one scan per table) on DuckDB
and PostgreSQL alike; no row is pulled into Python to be judged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from revops.config.models import OperatingModel
from revops.config.quality import FormatRule
from revops.identity.freemail import free_mail_domains
from revops.quality.reference import (
    E164_PATTERN,
    EMAIL_PATTERN,
    country_codes,
    subdivision_codes,
)
from revops.warehouse import schema

Predicate = Callable[[ir.Table], ir.BooleanValue]


@dataclass(frozen=True)
class RuleCheck:
    """One rule on one field; `violation(t)` is true on the rows that break it."""

    table: str
    field: str
    rule: str
    violation: Predicate
    fixable: bool = False


def filled(t: ir.Table, field: str) -> ir.BooleanValue:
    """Non-null and, for text, not blank: what 'the field has a value' means everywhere here."""
    col = t[field]
    if col.type().is_string():
        return col.notnull() & (col.strip() != "")
    return col.notnull()


def count_true(pred: ir.BooleanValue) -> ir.IntegerScalar:
    """How many rows `pred` holds on; portable (PostgreSQL cannot cast boolean to bigint).
    Read its value with `counted`: over no rows it is a SUM of nothing."""
    return ibis.ifelse(pred, 1, 0).sum()


def counted(value: Any) -> int:
    """A `count_true` read from an aggregate row: the SUM of no rows is NULL, which pandas
    gives as None or (Spark) NaN; either is 0 rows."""
    return 0 if pd.isna(value) else int(value)


def _missing(field: str) -> Predicate:
    return lambda t: ~filled(t, field)


def _stage_missing(stage: str, field: str) -> Predicate:
    return lambda t: (t["lifecycle_stage"] == stage) & ~filled(t, field)


def _not_matching(field: str, pattern: str) -> Predicate:
    return lambda t: filled(t, field) & ~t[field].re_search(pattern)


def _not_in(field: str, allowed: Iterable[str]) -> Predicate:
    values = sorted(allowed)
    return lambda t: filled(t, field) & ~t[field].isin(values)


def _not_lower_trimmed(field: str) -> Predicate:
    return lambda t: filled(t, field) & (t[field] != t[field].strip().lower())


def _free_mail(field: str) -> Predicate:
    domains = sorted(free_mail_domains())
    return lambda t: (
        filled(t, field) & t[field].strip().lower().re_extract(r"@([^@]+)$", 1).isin(domains)
    )


def _bad_state(rule: FormatRule) -> Predicate:
    codes = sorted(subdivision_codes(rule.countries))
    country = rule.country_field or ""

    def violation(t: ir.Table) -> ir.BooleanValue:
        pair = t[country].concat(ibis.literal("-"), t[rule.field])
        return filled(t, rule.field) & t[country].isin(rule.countries) & ~pair.isin(codes)

    return violation


def _out_of_range(field: str, low: float | None, high: float | None) -> Predicate:
    def violation(t: ir.Table) -> ir.BooleanValue:
        col = t[field]
        below = col < low if low is not None else ibis.literal(False)
        above = col > high if high is not None else ibis.literal(False)
        return col.notnull() & (below | above)

    return violation


def _format_checks(rule: FormatRule) -> list[RuleCheck]:
    t, f = rule.table, rule.field
    if rule.format in ("email", "business_email"):
        out = [
            RuleCheck(t, f, "email_syntax", _not_matching(f, EMAIL_PATTERN)),
            RuleCheck(t, f, "email_case", _not_lower_trimmed(f), fixable=True),
        ]
        if rule.format == "business_email":
            out.append(RuleCheck(t, f, "free_mail", _free_mail(f)))
        return out
    if rule.format == "phone":
        return [RuleCheck(t, f, "phone_e164", _not_matching(f, E164_PATTERN), fixable=True)]
    if rule.format == "country":
        return [RuleCheck(t, f, "country_iso", _not_in(f, country_codes()), fixable=True)]
    return [RuleCheck(t, f, "state_iso", _bad_state(rule), fixable=True)]


def config_checks(model: OperatingModel) -> list[RuleCheck]:
    """Every rule the operating model declares, including the lifecycle's stage requirements."""
    q = model.quality
    out: list[RuleCheck] = []
    for table, fields in q.required.items():
        out += [RuleCheck(table, f, "required", _missing(f)) for f in fields]
    for stage in model.lifecycle.stages:
        out += [
            RuleCheck("persons", f, f"required_for_{stage.name}", _stage_missing(stage.name, f))
            for f in stage.required_fields
        ]
    for fmt in q.formats:
        out += _format_checks(fmt)
    for pick in q.picklists:
        if pick.allowed:
            check = _not_in(pick.field, pick.allowed)
            out.append(RuleCheck(pick.table, pick.field, "picklist", check, fixable=bool(pick.map)))
    for rng in q.ranges:
        out.append(
            RuleCheck(rng.table, rng.field, "range", _out_of_range(rng.field, rng.min, rng.max))
        )
    return out


def schema_checks(table: str) -> list[RuleCheck]:
    """The data model's own value rules (enums, email format): they hold for every warehouse."""
    out: list[RuleCheck] = []
    for col in schema.table(table).columns:
        if col.enum:
            out.append(RuleCheck(table, col.name, "enum", _not_in(col.name, col.enum)))
        if col.format == "email":
            out.append(
                RuleCheck(table, col.name, "email_syntax", _not_matching(col.name, EMAIL_PATTERN))
            )
    return out


def all_checks(model: OperatingModel, tables: Iterable[str] = ()) -> list[RuleCheck]:
    """Config rules plus the schema rules of the config's tables and `tables`, without repeats."""
    checks = config_checks(model)
    names = dict.fromkeys([*(c.table for c in checks), *tables])
    seen = {(c.table, c.field, c.rule) for c in checks}
    for name in names:
        for extra in schema_checks(name):
            if (extra.table, extra.field, extra.rule) not in seen:
                checks.append(extra)
                seen.add((extra.table, extra.field, extra.rule))
    return checks
