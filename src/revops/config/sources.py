"""Source mappings: how each source system's export of each object lands in the data model.

A mapping is data in the operating model, not code. revops ships one file per source system
(`config/mappings/<system>.yaml`, written from the vendor's documentation of its export format);
the `sources:` section of revops.yaml extends or overrides it per system and object, key by
key: a key given there replaces the shipped one, a key set to null removes it, and a new system
or object is simply added. `revops sources show salesforce.Lead` prints the result.

The same mapping says how revops writes back (`writeback:`, see `WriteBack`): the import file
`revops sync` writes for an object uses the import columns and values this mapping reads, so
a write-back file loaded through its preset stores what the warehouse already holds.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from revops.warehouse import schema

MAPPINGS_DIR = Path(__file__).with_name("mappings")
CustomType = Literal["string", "int", "float", "bool", "date", "timestamp"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Deleted(_Model):
    """Rows whose `column` holds one of `values` (case-insensitive) are deletions, never rows."""

    column: str
    values: tuple[str, ...] = ("true",)


class Keep(_Model):
    """Which rows of an export are records of the table; the others are ignored, and counted.

    A history export holds every tracked field's changes (Salesforce LeadHistory: Field =
    `Status`, `Owner`, `created`, …) while only some are records here. A row is kept when each
    `where` column holds one of its values (case-insensitive) and each `mapped` canonical column
    holds a label of its `values` map: an unmapped status is not a stage, so it is no error
    either (not quarantined), only reported as ignored.
    """

    where: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    mapped: tuple[str, ...] = ()


class FieldHistory(_Model):
    """A field-history export: one row per change of one tracked field (Salesforce
    OpportunityFieldHistory: `field` names the field, `old`/`new` its values, `at` when), read
    as one row per record and save holding every field of `fields` as it was then, the shape
    OpportunityHistory has, so regressions and close-date pushes come out the same way.

    Before its first change a field held that change's old value; a field the export never
    shows changing is unknown (missing, or `related:` fills it from the record, whose current
    value it then still is). The `created` row (Field = `created`) is the record's first row,
    with every field at its first old value; without it the first change has no row before it.
    Rows of other fields, and the rows of one save beyond its last, are counted as ignored.
    A record's rows must come in one file (one batch): they are folded together.
    """

    record: str
    fields: tuple[str, ...]
    field: str = "Field"
    old: str = "OldValue"
    new: str = "NewValue"
    at: str = "CreatedDate"
    created: str | None = "created"


class Owner(_Model):
    """The export column naming the owner, and whether it gives the user's id, email or name.

    An email or a name is resolved against the users table at load; a value that matches no
    user (or two) quarantines the row with that reason rather than storing a name as an id.
    """

    column: str
    by: Literal["id", "email", "name"] = "id"
    target: str = "owner_id"


class CustomField(_Model):
    """An export column outside the data model, kept as a typed column of the target table."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    type: CustomType = "string"


class Closed(_Model):
    """Stage labels that close a deal, for exports without IsClosed/IsWon flags (HubSpot)."""

    won: tuple[str, ...] = ()
    lost: tuple[str, ...] = ()


class StageDate(_Model):
    """A date column that says when a person entered a lifecycle stage (HubSpot's `Became a
    Lead Date`, Salesforce Lead `ConvertedDate`). `when` names a column that must be filled
    too (ConvertedOpportunityId: converted with an opportunity), or equal `equals` (IsWon =
    true); `person` names the column holding the person's id when it is not the record's own
    (a won Opportunity makes its ContactId a Customer)."""

    column: str
    stage: str
    when: str | None = None
    equals: str | None = None
    person: str | None = None


class Currency(_Model):
    """Amounts in several currencies: `column` holds each row's ISO code; `amounts` are
    converted to the company currency at the latest `currency_rates` rate on or before the
    row's `date` column (original amount and code kept in `original_amount` / `currency`)."""

    column: str
    amounts: tuple[str, ...] = ("amount",)
    date: str = "close_date"


# The fields revops owns (computes or decides), per table: what write-back can send. A field
# that is a column of the table is read from it; the others are derived (latest score, latest
# SLA clock, latest routing decision, latest health month); see revops.automation.writeback.
OWNED: dict[str, tuple[str, ...]] = {
    "persons": (
        "owner_id",
        "lifecycle_stage",
        "fit",
        "engagement",
        "combined",
        "predicted_sql_probability",
        "sla_status",
        "routing_reason",
    ),
    "accounts": ("owner_id", "territory_id", "at_risk", "health_score"),
    "opportunities": ("owner_id", "stage"),
}


class WriteBack(_Model):
    """How revops writes the fields it owns back into this object, in the system's own import
    format: `key` is the import column matching records (the id, or an external id such as an
    email), `fields` maps owned fields (`OWNED`) to import columns, `values` translates a
    field's canonical values to the system's (HubSpot's `marketingqualifiedlead`), and `blank`
    is what clears a field (Salesforce's `#N/A`; None: the system cannot clear by import).

    A field that is a column of the table must be read back by this same mapping (`columns`
    maps its import column to it, `values` its import values to the canonical ones), so a
    write-back file re-imported through the preset leaves the warehouse as it was; the other
    fields are revops's own output and are skipped when an export carrying them is loaded.
    """

    key: str
    fields: dict[str, str]
    values: dict[str, dict[str, str]] = Field(default_factory=dict)
    blank: str | None = None


class SourceObject(_Model):
    """One object of one source system (Salesforce `Lead`, HubSpot `contacts`).

    `columns` maps export column → canonical column; `values` maps, per canonical column,
    export labels → canonical values (matched case-insensitively, applied before validation);
    `timezone` is the zone of naive timestamps (None: `company.timezone`); `split` names
    canonical columns whose export cell is a list (`a;b`) and its separator: the first element
    is kept; `lifecycle` lists the date columns that say when a stage was entered; `combine`
    fills a canonical column the export lacks from several columns joined by a space
    (Salesforce User's FirstName and LastName make `name`).
    """

    table: str
    columns: dict[str, str] = Field(default_factory=dict)
    values: dict[str, dict[str, str]] = Field(default_factory=dict)
    timezone: str | None = None
    deleted: Deleted | None = None
    owner: Owner | None = None
    custom: dict[str, CustomField] = Field(default_factory=dict)
    split: dict[str, str] = Field(default_factory=dict)
    closed: Closed | None = None
    lifecycle: tuple[StageDate, ...] = ()
    combine: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    # canonical column → export columns, the first filled one wins (CampaignMember's person is
    # its ContactId, else its LeadId)
    first_of: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    currency: Currency | None = None
    # canonical column → relation of the table: filled from the related record when the export
    # lacks it (Marketo activities carry no channel; their program, a campaign, has one)
    related: dict[str, str] = Field(default_factory=dict)
    # canonical column → the value every row has when the export has no column for it
    # (OpportunityContactRole rows are all "entered Opportunity" lifecycle events)
    constants: dict[str, str] = Field(default_factory=dict)
    # the fields revops writes back into this object, and their import columns
    writeback: WriteBack | None = None
    # which rows are records of the table (a history export's other fields are ignored)
    keep: Keep | None = None
    # a field-history export, folded into one row per record and save
    history: FieldHistory | None = None

    @field_validator("table")
    @classmethod
    def _known_table(cls, value: str) -> str:
        try:
            t = schema.table(value)
        except KeyError as exc:
            raise ValueError(exc.args[0]) from None
        if t.system:
            raise ValueError(f"{value} is written by revops itself; no source maps into it")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            check_timezone(value)
        return value

    @model_validator(mode="after")
    def _canonical_columns(self) -> SourceObject:
        t = schema.table(self.table)
        names = set(t.column_names)
        for source, canonical in self.columns.items():
            if canonical not in names:
                raise ValueError(f"columns.{source}: {self.table} has no column {canonical!r}")
        converted = [*self.currency.amounts, self.currency.date] if self.currency else []
        filled = [*self.split, *self.combine, *self.first_of, *self.constants]
        for tracked in self.history.fields if self.history else ():
            if tracked not in self.columns:
                raise ValueError(f"history.fields: {tracked!r} is not mapped under columns")
        kept = [*self.keep.mapped] if self.keep else []
        for canonical in kept:
            if canonical not in self.values:
                raise ValueError(f"keep.mapped.{canonical}: no values map for {canonical!r}")
        for canonical in [*self.values, *filled, *converted, *kept]:
            if canonical not in names:
                raise ValueError(f"{self.table} has no column {canonical!r}")
        for source, field in self.custom.items():
            if field.name in names:
                raise ValueError(
                    f"custom.{source}: {field.name!r} is a canonical column of {self.table}; "
                    "map it under columns instead"
                )
        for canonical, relation in self.related.items():
            try:
                target = schema.table(t.relation(relation).table)
            except KeyError as exc:
                raise ValueError(f"related.{canonical}: {exc.args[0]}") from None
            if canonical not in names or canonical not in target.column_names:
                raise ValueError(f"related.{canonical}: {target.name} has no {canonical!r}")
        if self.owner is not None and self.owner.target not in names:
            raise ValueError(f"owner.target: {self.table} has no column {self.owner.target!r}")
        if self.writeback is not None:
            self._check_writeback(self.writeback, names)
        return self

    def _check_writeback(self, wb: WriteBack, names: set[str]) -> None:
        """Every field is owned, and a column field reads back as written (the round trip)."""
        if wb.key not in self.columns:
            raise ValueError(f"writeback.key: {wb.key!r} is not one of this object's columns")
        owned = OWNED.get(self.table, ())
        for field, column in wb.fields.items():
            if field not in owned:
                raise ValueError(
                    f"writeback.fields.{field}: revops owns no such field of {self.table}; "
                    f"it owns {', '.join(owned) or 'none'}"
                )
            if field in names and self.columns.get(column) != field:
                raise ValueError(
                    f"writeback.fields.{field}: import column {column!r} must map back to "
                    f"{field} under columns, or a re-import would not read it"
                )
            if field not in names and column in self.columns:
                raise ValueError(
                    f"writeback.fields.{field}: {column!r} already loads {self.columns[column]}"
                )
        for field, mapped in wb.values.items():
            if field not in wb.fields:
                raise ValueError(f"writeback.values.{field}: not a written-back field")
            back = {k.casefold(): v for k, v in self.values.get(field, {}).items()}
            for canonical, written in mapped.items():
                if field in names and back.get(written.casefold(), written) != canonical:
                    raise ValueError(
                        f"writeback.values.{field}: {written!r} would load as "
                        f"{back.get(written.casefold(), written)!r}, not {canonical!r}"
                    )

    def writeback_columns(self) -> frozenset[str]:
        """Import columns of fields revops writes back but no table column holds: an export
        carrying them loads without them (they are revops's own output)."""
        if self.writeback is None:
            return frozenset()
        return frozenset(c for c in self.writeback.fields.values() if c not in self.columns)

    def export_names(self) -> dict[str, str]:
        """Canonical column → export column, for writers that produce this export."""
        return {canonical: source for source, canonical in self.columns.items()}


def check_timezone(name: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r} (use an IANA name, e.g. 'America/New_York')"
        ) from None


Sources = dict[str, dict[str, SourceObject]]


@cache
def shipped() -> dict[str, Any]:
    """The shipped mapping files as plain data: system → object → mapping.

    Read once per process (parsing them is half the cost of validating an operating model);
    callers only read the result (`overlay` builds new dicts, never edits its inputs).
    """
    out: dict[str, Any] = {}
    for path in sorted(MAPPINGS_DIR.glob("*.yaml")):
        # libyaml when present: the same data as safe_load, several times faster
        loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        out[path.stem] = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506
    return out


def overlay(base: Any, override: Any) -> Any:
    """`override` laid over `base`, key by key; a None value removes the key."""
    if not isinstance(base, dict) or not isinstance(override, dict):
        return override
    merged = dict(base)
    for key, value in override.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = overlay(base.get(key), value)
    return merged


def effective(user: Any) -> Any:
    """The user's `sources:` section laid over the shipped mappings (plain data, unvalidated)."""
    return overlay(shipped(), user or {})


@cache
def shipped_sources() -> Sources:
    """The shipped mappings, validated once (for loads run without an operating model)."""
    return {
        system: {name: SourceObject.model_validate(obj) for name, obj in objects.items()}
        for system, objects in shipped().items()
    }


def find_object(sources: Sources, preset: str, table: str | None) -> tuple[str, SourceObject]:
    """The object `preset` names: `system.Object`, or `system` plus the target table.

    Raises ValueError naming what exists when nothing, or more than one object, fits.
    """
    system, _, name = preset.partition(".")
    try:
        objects = sources[system]
    except KeyError:
        known = ", ".join(sorted(sources))
        raise ValueError(f"unknown source {system!r}; known: {known}") from None
    if name:
        if name not in objects:
            raise ValueError(
                f"source {system!r} has no object {name!r}; it maps: {', '.join(objects)}"
            )
        found = objects[name]
        if table is not None and found.table != table:
            raise ValueError(f"{system}.{name} loads into {found.table}, not {table}")
        return f"{system}.{name}", found
    hits = [n for n, o in objects.items() if o.table == table]
    if len(hits) == 1:
        return f"{system}.{hits[0]}", objects[hits[0]]
    if not hits:
        maps = ", ".join(sorted({o.table for o in objects.values()}))
        raise ValueError(f"source {system!r} has no mapping for table {table!r}; it maps: {maps}")
    choices = " or ".join(f"{system}.{h}" for h in hits)
    raise ValueError(f"source {system!r} maps {table} from {', '.join(hits)}; say {choices}")
