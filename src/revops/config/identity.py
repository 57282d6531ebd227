"""The `merge:` and `matching:` sections of revops.yaml.

`merge` says, per table and per field, which value survives when duplicate records become one
(survivorship); `matching` tunes lead-to-account matching: the fuzzy-name threshold, the
confidence at which a match is written to persons.account_id, and the ordered tie-breakers used
when several accounts match a lead equally well.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SurvivorshipRule = Literal[
    "most_recent_non_empty", "most_trusted_source", "longest", "max", "min", "survivor"
]
TieBreaker = Literal["same_country", "most_employees", "has_owner", "most_recent_activity"]


class Model(BaseModel):
    """Same contract as `config.models.Model`, kept here so models.py can import this module."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldRule(Model):
    """How one field's surviving value is chosen; `sources` ranks sources, most trusted first."""

    rule: SurvivorshipRule
    sources: tuple[str, ...] = ()


class TableSurvivorship(Model):
    """Survivorship for one table. Fields not listed use `default_rule`.

    `survivor` keeps the survivor's value and fills it from the most recently updated merged
    record only when the survivor's is empty, so a default merge never overwrites data.
    """

    default_rule: SurvivorshipRule = "survivor"
    fields: dict[str, FieldRule] = Field(default_factory=dict)
    updated_column: str | None = "updated_at"
    source_column: str | None = None


def _persons_default() -> TableSurvivorship:
    return TableSurvivorship(
        fields={
            "email": FieldRule(rule="survivor"),
            "phone": FieldRule(rule="most_recent_non_empty"),
            "title": FieldRule(rule="most_recent_non_empty"),
            "company": FieldRule(rule="longest"),
            "employees": FieldRule(rule="max"),
            "created_at": FieldRule(rule="min"),
            "updated_at": FieldRule(rule="max"),
        },
        source_column="source",
    )


def _accounts_default() -> TableSurvivorship:
    return TableSurvivorship(
        fields={
            "employees": FieldRule(rule="max"),
            "annual_revenue": FieldRule(rule="max"),
            "created_at": FieldRule(rule="min"),
        },
        updated_column="created_at",
    )


class MergeConfig(Model):
    """`merge:` survivorship per table, and who merges are attributed to by default."""

    persons: TableSurvivorship = Field(default_factory=_persons_default)
    accounts: TableSurvivorship = Field(default_factory=_accounts_default)
    actor: str = "revops"


class MatchingConfig(Model):
    """`matching:` lead-to-account matching.

    Confidences are per evidence kind; a match on company name gains `country_boost` when the
    lead's country equals the account's. Only matches at or above `write_threshold` are written
    to persons.account_id (and only for persons with no account yet).
    """

    fuzzy_threshold: float = Field(0.9, gt=0, le=1)
    write_threshold: float = Field(0.85, ge=0, le=1)
    domain_confidence: float = Field(0.97, ge=0, le=1)
    exact_name_confidence: float = Field(0.9, ge=0, le=1)
    country_boost: float = Field(0.05, ge=0, le=1)
    tie_breakers: tuple[TieBreaker, ...] = (
        "same_country",
        "most_employees",
        "has_owner",
        "most_recent_activity",
    )
