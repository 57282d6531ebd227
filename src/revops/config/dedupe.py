"""The `dedupe:` section of revops.yaml: how persons and accounts are matched, and what entry does.

A table's settings name the fields to compare (each with a comparison kind that fixes its
levels), the blocking rules that choose candidate pairs, and the two probability thresholds:
at or above `auto_merge_threshold` a pair is merged automatically, between `review_threshold`
and it a person looks at it. `rules` are the duplicate rules checked when new rows arrive.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from revops.warehouse import schema

CompareKind = Literal["name", "text", "email", "domain", "phone", "company", "exact", "date"]
DedupeTableName = Literal["persons", "accounts"]

# A blocking key is a field, or a function of one: `soundex(last_name)`, `prefix3(company)`.
BLOCK_FUNCTIONS = ("soundex", "prefix3", "prefix5", "first", "digits", "year")
_KEY = re.compile(
    r"^(?:(?P<fn>[a-z0-9]+)\((?P<arg>[a-z_][a-z0-9_]*)\)|(?P<field>[a-z_][a-z0-9_]*))$"
)


class Model(BaseModel):
    """Same contract as `config.models.Model`, kept here so models.py can import this module."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def parse_key(key: str) -> tuple[str | None, str]:
    """Split a blocking key into (function or None, field); ValueError names a bad one."""
    match = _KEY.match(key.strip())
    if match is None:
        raise ValueError(f"blocking key {key!r} is not `field` or `function(field)`")
    if match["field"]:
        return None, match["field"]
    if match["fn"] not in BLOCK_FUNCTIONS:
        raise ValueError(
            f"unknown blocking function {match['fn']!r}; use {', '.join(BLOCK_FUNCTIONS)}"
        )
    return match["fn"], match["arg"]


class Comparison(Model):
    """One compared field. The kind fixes the levels: exact, close, similar, different, null."""

    field: str
    kind: CompareKind = "name"


class BlockingRule(Model):
    """Candidate pairs are record pairs equal on every key of at least one rule."""

    name: str
    keys: tuple[str, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _keys(self) -> BlockingRule:
        for key in self.keys:
            parse_key(key)
        return self

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(parse_key(k)[1] for k in self.keys)


class DedupeSettings(Model):
    """How one set of records is deduplicated; `dedupe_frame` needs nothing else."""

    comparisons: tuple[Comparison, ...] = Field(min_length=1)
    blocking: tuple[BlockingRule, ...] = Field(min_length=1)
    auto_merge_threshold: float = Field(0.95, gt=0, lt=1)
    review_threshold: float = Field(0.7, gt=0, lt=1)
    max_iterations: int = Field(50, ge=1)
    tolerance: float = Field(1e-6, gt=0)
    u_sample_pairs: int = Field(200_000, ge=1000, description="Random pairs used to estimate u.")
    max_block_size: int = Field(
        5000, ge=2, description="Keys shared by more records than this are skipped (not blocks)."
    )
    seed: int = 42

    @model_validator(mode="after")
    def _check(self) -> DedupeSettings:
        if self.review_threshold > self.auto_merge_threshold:
            raise ValueError("review_threshold must not exceed auto_merge_threshold")
        names = [c.field for c in self.comparisons]
        if len(set(names)) != len(names):
            raise ValueError("each field may be compared once")
        rule_names = [r.name for r in self.blocking]
        if len(set(rule_names)) != len(rule_names):
            raise ValueError("blocking rule names must be unique")
        return self

    @property
    def fields(self) -> tuple[str, ...]:
        """Every field the settings read: compared ones, then blocking-only ones."""
        out = [c.field for c in self.comparisons]
        for rule in self.blocking:
            out += [f for f in rule.fields if f not in out]
        return tuple(out)


class DuplicateRule(Model):
    """At entry, a new row matching a stored one with p ≥ threshold is allowed (alert) or blocked.

    `sources` limits the rule to loads through one of these source systems or objects
    (`salesforce`, `salesforce.Lead`), or rows whose `source` (lead source) is one of them;
    empty means every load. The first rule that applies wins.
    """

    name: str
    table: DedupeTableName
    action: Literal["allow", "block"]
    sources: tuple[str, ...] = ()
    threshold: float = Field(0.9, gt=0, lt=1)


_PERSONS = DedupeSettings(
    comparisons=(
        Comparison(field="first_name", kind="name"),
        Comparison(field="last_name", kind="name"),
        Comparison(field="email", kind="email"),
        Comparison(field="phone", kind="phone"),
        Comparison(field="company", kind="company"),
    ),
    blocking=(
        BlockingRule(name="email", keys=("email",)),
        BlockingRule(name="surname_company", keys=("soundex(last_name)", "prefix3(company)")),
        BlockingRule(name="phone", keys=("digits(phone)",)),
        BlockingRule(name="full_name", keys=("first_name", "last_name")),
    ),
)

_ACCOUNTS = DedupeSettings(
    comparisons=(
        Comparison(field="name", kind="company"),
        Comparison(field="domain", kind="domain"),
        Comparison(field="country", kind="exact"),
    ),
    blocking=(
        BlockingRule(name="domain", keys=("domain",)),
        BlockingRule(name="name_prefix", keys=("prefix5(name)",)),
    ),
)


class DedupeConfig(Model):
    """Deduplication of persons and accounts, and the duplicate rules applied at entry."""

    persons: DedupeSettings = _PERSONS
    accounts: DedupeSettings = _ACCOUNTS
    rules: tuple[DuplicateRule, ...] = ()

    @model_validator(mode="after")
    def _columns(self) -> DedupeConfig:
        for name in ("persons", "accounts"):
            settings: DedupeSettings = getattr(self, name)
            columns = schema.table(name).column_names
            for field in settings.fields:
                if field not in columns:
                    raise ValueError(f"dedupe.{name}: table {name!r} has no column {field!r}")
        names = [r.name for r in self.rules]
        if len(set(names)) != len(names):
            raise ValueError("duplicate rule names must be unique")
        return self

    def settings(self, table: DedupeTableName) -> DedupeSettings:
        return self.persons if table == "persons" else self.accounts
