"""The `quality:` section of revops.yaml: data quality rules as data.

Rules name canonical tables and columns, and every name is checked against the data model here,
so a typo is a config error with its line rather than a rule that silently checks nothing.
Stage-required fields are not repeated here: they come from `lifecycle.stages[*].required_fields`.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from revops.warehouse import schema

FormatKind = Literal["email", "business_email", "phone", "country", "state"]
Seniority = Literal["c_level", "vp", "director", "manager", "individual_contributor"]
JobFunction = Literal[
    "sales", "marketing", "engineering", "finance", "operations", "it", "hr", "other"
]


class Model(BaseModel):
    """Same contract as `config.models.Model`; repeated because models.py imports this module."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def schema_table(name: str) -> schema.Table:
    try:
        return schema.table(name)
    except KeyError as exc:
        raise ValueError(exc.args[0]) from None


def _check_field(table: str, field: str, *, string: bool = False) -> None:
    t = schema_table(table)
    if field not in t.column_names:
        raise ValueError(f"table {table!r} has no column {field!r}")
    if string and t.column(field).type != "string":
        raise ValueError(f"{table}.{field} is not a string column")


def _fixable_table(table: str) -> None:
    """Fixes are recorded per row by primary key, so only single-key tables can be fixed."""
    if len(schema_table(table).primary_key) != 1:
        raise ValueError(f"table {table!r} has a composite primary key; it cannot be normalized")


class FormatRule(Model):
    """A field whose values must have a format; `country_field` gives phones and states context."""

    table: str
    field: str
    format: FormatKind
    country_field: str | None = None
    countries: tuple[str, ...] = Field(
        default=("US", "CA"), description="For `state`: countries whose subdivisions are checked."
    )

    @model_validator(mode="after")
    def _check(self) -> FormatRule:
        _check_field(self.table, self.field, string=True)
        _fixable_table(self.table)
        if self.country_field is not None:
            _check_field(self.table, self.country_field, string=True)
        if self.format == "state" and self.country_field is None:
            raise ValueError("a state rule needs country_field")
        return self


class PicklistRule(Model):
    """Maps free-text variants to canonical values (case- and space-insensitive keys).

    With `allowed`, values outside that list are violations; `map` targets must be allowed.
    """

    table: str
    field: str
    map: dict[str, str] = Field(default_factory=dict)
    allowed: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _check(self) -> PicklistRule:
        _check_field(self.table, self.field, string=True)
        _fixable_table(self.table)
        if self.allowed:
            stray = sorted({v for v in self.map.values() if v not in self.allowed})
            if stray:
                raise ValueError(f"map targets not in allowed: {', '.join(stray)}")
        return self


class RangeRule(Model):
    table: str
    field: str
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _check(self) -> RangeRule:
        _check_field(self.table, self.field)
        if schema_table(self.table).column(self.field).type not in ("int", "float"):
            raise ValueError(f"{self.table}.{self.field} is not numeric")
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min is greater than max")
        return self


class TitleRule(Model):
    """One ordered regex (case-insensitive): the first rule whose pattern matches wins."""

    pattern: str
    value: str

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        return value


class SeniorityRule(TitleRule):
    value: Seniority


class FunctionRule(TitleRule):
    value: JobFunction


class Titles(Model):
    """Job title → seniority and function, written to persons.seniority / persons.job_function."""

    seniority: tuple[SeniorityRule, ...] = ()
    function: tuple[FunctionRule, ...] = ()
    default_seniority: Seniority | None = "individual_contributor"
    default_function: JobFunction | None = "other"


class UtmTaxonomy(Model):
    """The allowed utm_source / utm_medium / channel values, exactly as they should be spelled."""

    sources: tuple[str, ...]
    mediums: tuple[str, ...]
    channels: tuple[str, ...]
    untracked_channels: tuple[str, ...] = Field(
        default=("direct", "organic_search"),
        description="Channels whose touchpoints legitimately carry no UTM parameters.",
    )
    unknown_channel: str | None = Field(
        default="other",
        description="The channel a lead source outside `channels` is stored as (the value "
        "given is kept for the UTM audit to flag), so a stray tag never becomes a channel; "
        "it must be one of `channels`. null: such a source is refused.",
    )

    @model_validator(mode="after")
    def _unknown_is_declared(self) -> UtmTaxonomy:
        if self.unknown_channel is not None and self.unknown_channel not in self.channels:
            raise ValueError(
                f"unknown_channel {self.unknown_channel!r} is not one of channels "
                f"({', '.join(self.channels)}); declare it there or set unknown_channel: null"
            )
        return self


class Scorecard(Model):
    tables: tuple[str, ...] = ("accounts", "persons", "campaigns", "touchpoints", "opportunities")
    unique: tuple[str, ...] = Field(
        default=("persons.email", "accounts.domain"),
        description="table.field values expected to be unique (primary keys always are).",
    )
    match: tuple[str, ...] = Field(
        default=("persons.account_id", "touchpoints.campaign_id"),
        description="table.field links whose fill rate is the match rate.",
    )

    @model_validator(mode="after")
    def _check(self) -> Scorecard:
        for name in self.tables:
            schema_table(name)
        for ref in (*self.unique, *self.match):
            table, _, field = ref.partition(".")
            if table not in self.tables:
                raise ValueError(f"{ref!r}: table {table!r} is not in scorecard tables")
            _check_field(table, field)
        return self


class QualityConfig(Model):
    """Validation and normalization rules, the UTM taxonomy and the scorecard's scope."""

    required: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    formats: tuple[FormatRule, ...] = ()
    country_aliases: dict[str, str] = Field(default_factory=dict)
    picklists: tuple[PicklistRule, ...] = ()
    ranges: tuple[RangeRule, ...] = ()
    titles: Titles | None = None
    utm: UtmTaxonomy | None = None
    scorecard: Scorecard = Scorecard()

    @field_validator("required")
    @classmethod
    def _required_fields(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for table, fields in value.items():
            for name in fields:
                _check_field(table, name)
        return value

    @field_validator("country_aliases")
    @classmethod
    def _alias_targets(cls, value: dict[str, str]) -> dict[str, str]:
        bad = sorted({v for v in value.values() if not re.fullmatch(r"[A-Z]{2}", v)})
        if bad:
            raise ValueError(f"alias targets must be ISO alpha-2 codes: {', '.join(bad)}")
        return value
