"""The operating model, as validated pydantic models.

`revops.yaml` is parsed into `OperatingModel`. Every model forbids unknown keys, so a typo is an
error that names its line rather than a setting that silently does nothing. Cross-references
(a transition to an undeclared stage, a ratio over an unknown metric, a measure on a column the
data model lacks) are checked here too, so a file that validates is one the engines can run.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from revops.config.attribution import AttributionConfig
from revops.config.automation import AutomationConfig
from revops.config.dedupe import DedupeConfig
from revops.config.forecast import ForecastConfig
from revops.config.identity import MatchingConfig, MergeConfig
from revops.config.pipeline import PipelineConfig
from revops.config.planning import CompensationConfig, PlanningConfig
from revops.config.privacy import PrivacyConfig
from revops.config.quality import QualityConfig
from revops.config.revenue import RevenueConfig
from revops.config.routing import RoutingConfig
from revops.config.scoring import ScoringConfig
from revops.config.sources import SourceObject, check_timezone, effective
from revops.warehouse import schema


def schema_table(name: str) -> schema.Table:
    """The data-model table, with a lookup failure as the ValueError pydantic reports."""
    try:
        return schema.table(name)
    except KeyError as exc:
        raise ValueError(exc.args[0]) from None


def _check_column(table_name: str, column: str) -> None:
    if column not in schema_table(table_name).column_names:
        raise ValueError(f"table {table_name!r} has no column {column!r}")


Owner = Literal["marketing_ops", "sales_ops", "revops"]
Grain = Literal["day", "week", "month", "quarter", "year"]
Aggregation = Literal["count", "count_distinct", "sum", "avg", "min", "max"]
# How a metric aggregates over time (MetricFlow's non-additive dimensions): a flow adds up the
# events of the period; a stock is a state, read at the period's last (or first) point in time
# and never summed across it (ARR at quarter end is March's ARR, not Jan + Feb + Mar).
OverTime = Literal["flow", "stock_last", "stock_first"]
StageKind = Literal["funnel", "holding", "exit"]

DIMENSIONS = ("channel", "campaign", "segment", "region", "owner", "opportunity_type")
Dimension = Literal["channel", "campaign", "segment", "region", "owner", "opportunity_type"]


class Model(BaseModel):
    """Base for every config model: immutable and strict about unknown keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Company(Model):
    name: str
    currency: str = "USD"
    fiscal_year_start_month: int = Field(1, ge=1, le=12)
    timezone: str = "UTC"  # the zone of naive timestamps in exports, unless a source says

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        check_timezone(value)
        return value


class Stage(Model):
    """A lifecycle stage. `required_fields` are persons columns that must be filled to enter."""

    name: str
    description: str = ""
    kind: StageKind = "funnel"
    required_fields: tuple[str, ...] = ()

    @field_validator("required_fields")
    @classmethod
    def _fields_exist(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        persons = schema_table("persons")
        for name in value:
            if name not in persons.column_names:
                raise ValueError(f"persons has no column {name!r}")
        return value


class Lifecycle(Model):
    """The lifecycle map: ordered stages and the transitions allowed between them."""

    stages: tuple[Stage, ...]
    entry_stages: tuple[str, ...] = Field(
        default=(), description="Stages a person may enter first; defaults to the first stage."
    )
    transitions: dict[str, tuple[str, ...]]

    @model_validator(mode="after")
    def _references(self) -> Lifecycle:
        names = [s.name for s in self.stages]
        if len(set(names)) != len(names):
            raise ValueError("stage names must be unique")
        known = set(names)
        for src, targets in self.transitions.items():
            for stage in (src, *targets):
                if stage not in known:
                    raise ValueError(f"transition names unknown stage {stage!r}")
        for stage in self.entry_stages:
            if stage not in known:
                raise ValueError(f"entry stage {stage!r} is not a declared stage")
        return self

    def stage(self, name: str) -> Stage:
        for s in self.stages:
            if s.name == name:
                return s
        raise KeyError(f"unknown lifecycle stage {name!r}")

    @property
    def stage_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.stages)

    @property
    def first_stages(self) -> tuple[str, ...]:
        return self.entry_stages or (self.stages[0].name,)

    def allowed(self, from_stage: str | None, to_stage: str) -> bool:
        if from_stage is None:
            return to_stage in self.first_stages
        return to_stage in self.transitions.get(from_stage, ())


class Measure(Model):
    """An aggregation over one table: `agg(column or expr)`, bucketed by `time`."""

    table: str
    agg: Aggregation
    column: str | None = None
    expr: str | None = Field(None, description="Row expression, e.g. days_between(a, b).")
    time: str | None = Field(None, description="Time column; defaults to the table's.")

    @model_validator(mode="after")
    def _check(self) -> Measure:
        t = schema_table(self.table)
        if self.column is not None and self.expr is not None:
            raise ValueError("give either column or expr, not both")
        if self.column is None and self.expr is None and self.agg != "count":
            raise ValueError(f"agg {self.agg!r} needs a column or an expr")
        if self.column is not None:
            _check_column(self.table, self.column)
        time = self.time or t.time_column
        if time is None:
            raise ValueError(f"table {self.table!r} has no default time column; set time")
        _check_column(self.table, time)
        return self

    @property
    def time_column(self) -> str:
        return self.time or schema_table(self.table).time_column or ""


class Event(Model):
    """An event for conversion metrics: rows of `table` matching `filter`, at `time`."""

    table: str
    time: str | None = None
    filter: str | None = None

    @model_validator(mode="after")
    def _check(self) -> Event:
        t = schema_table(self.table)
        if (self.time or t.time_column) is None:
            raise ValueError(f"table {self.table!r} has no default time column; set time")
        return self

    @property
    def time_column(self) -> str:
        return self.time or schema_table(self.table).time_column or ""


class MetricBase(Model):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str = ""
    description: str
    owner: Owner
    format: Literal["number", "currency", "percent", "days"] = "number"
    dimensions: tuple[Dimension, ...] = ()
    over_time: OverTime = Field(
        description="flow (the period's events add up) or stock_last / stock_first (the value "
        "at the period's last / first point in time, never summed over time)."
    )

    targets: dict[str, float] = Field(
        default_factory=dict,
        description="Target per month (YYYY-MM → value), shown in the monthly funnel council pack.",
    )

    @field_validator("targets")
    @classmethod
    def _target_months(cls, value: dict[str, float]) -> dict[str, float]:
        for month in value:
            if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
                raise ValueError(f"target month {month!r} is not YYYY-MM")
        return value

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()


class SimpleMetric(MetricBase):
    type: Literal["simple"]
    measure: Measure
    filter: str | None = None
    no_rows: Literal["zero", "missing"] | None = Field(
        None,
        description="What a period (or dimension value) without any row means inside a ratio or "
        "derived metric: zero (no won deal: 0 bookings) or missing (no spend row: the cost is "
        "unknown, so cost per lead is n/a). Defaults to zero for counts and sums.",
    )


class RatioMetric(MetricBase):
    type: Literal["ratio"]
    numerator: str
    denominator: str


class DerivedMetric(MetricBase):
    type: Literal["derived"]
    expr: str


class ConversionMetric(MetricBase):
    """Share of entities with a base event that reach the conversion event within the window.

    Bucketed by the time of the base event (cohort view), as MetricFlow's conversion metrics.
    """

    type: Literal["conversion"]
    entity: str
    base: Event
    conversion: Event
    window_days: int = Field(gt=0)


Metric = Annotated[
    SimpleMetric | RatioMetric | DerivedMetric | ConversionMetric, Field(discriminator="type")
]


class ElsewhereFigure(Model):
    """A figure shown by a report, the CLI or the API that no dictionary metric computes: a model's
    output (a forecast, a credit, an AUC) or a point-in-time rebuild from history. Declaring it
    beside the metrics keeps one place that says, for every number shown, who owns it and how it
    is computed; the report prints this formula under it."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str
    owner: Owner
    computed_by: str = Field(description="The command (and engine) that computes it.")
    formula: str = Field(description="How, in words a reader of the report can check.")
    shown_in: tuple[str, ...] = Field(
        (), description="Where it is shown: report names, CLI commands."
    )


class OperatingModel(Model):
    """The whole of revops.yaml."""

    version: int = 1
    company: Company
    lifecycle: Lifecycle
    metrics: tuple[Metric, ...]
    computed_elsewhere: tuple[ElsewhereFigure, ...] = ()
    routing: RoutingConfig = Field(default_factory=RoutingConfig)
    scoring: ScoringConfig = Field(default_factory=ScoringConfig)
    merge: MergeConfig = Field(default_factory=MergeConfig)
    matching: MatchingConfig = Field(default_factory=MatchingConfig)
    attribution: AttributionConfig = Field(default_factory=AttributionConfig)
    quality: QualityConfig = Field(default_factory=QualityConfig)
    revenue: RevenueConfig = Field(default_factory=RevenueConfig)
    dedupe: DedupeConfig = Field(default_factory=DedupeConfig)
    forecast: ForecastConfig = Field(default_factory=ForecastConfig)
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig)
    planning: PlanningConfig = Field(default_factory=PlanningConfig)
    compensation: CompensationConfig = Field(default_factory=CompensationConfig)
    pipeline: PipelineConfig = Field(default_factory=PipelineConfig)
    automations: AutomationConfig = Field(default_factory=AutomationConfig)
    # source system → object → mapping: the shipped mapping files with this file's `sources:`
    # laid over them (see revops.config.sources)
    sources: dict[str, dict[str, SourceObject]] = Field(default_factory=dict, validate_default=True)

    @field_validator("sources", mode="before")
    @classmethod
    def _over_shipped(cls, value: object) -> object:
        return effective(value)

    @model_validator(mode="after")
    def _automation_consent(self) -> OperatingModel:
        """Every consent an action waits on names a purpose and channel of `privacy:`."""
        for rule in self.automations.rules:
            for a in rule.actions:
                need = a.required_consent()
                if need is None:
                    continue
                try:
                    self.privacy.purpose(need.purpose)
                    self.privacy.check_channel(need.channel)
                except KeyError as exc:
                    raise ValueError(f"automation {rule.name!r}: {exc.args[0]}") from None
        return self

    @model_validator(mode="after")
    def _metric_references(self) -> OperatingModel:
        names = [m.name for m in self.metrics]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"metric names must be unique; repeated: {', '.join(dupes)}")
        known = set(names)
        for m in self.metrics:
            if isinstance(m, RatioMetric):
                for ref in (m.numerator, m.denominator):
                    if ref not in known:
                        raise ValueError(f"metric {m.name!r} refers to unknown metric {ref!r}")
        # Derived expressions and reference cycles; imported here as the metric layer imports us.
        from revops.metrics.graph import check_references

        check_references(self.metrics)
        elsewhere = [f.name for f in self.computed_elsewhere]
        clash = sorted({n for n in elsewhere if n in known or elsewhere.count(n) > 1})
        if clash:
            raise ValueError(
                "computed_elsewhere names must be unique and not metric names; repeated: "
                + ", ".join(clash)
            )
        return self

    def elsewhere(self, name: str) -> ElsewhereFigure:
        """The declared non-dictionary figure `name` (KeyError naming the known ones)."""
        for f in self.computed_elsewhere:
            if f.name == name:
                return f
        known = ", ".join(f.name for f in self.computed_elsewhere)
        raise KeyError(f"no figure {name!r} in computed_elsewhere; declared: {known}")

    def metric(self, name: str) -> Metric:
        for m in self.metrics:
            if m.name == name:
                return m
        known = ", ".join(m.name for m in self.metrics)
        raise KeyError(f"unknown metric {name!r}; known metrics: {known}")
