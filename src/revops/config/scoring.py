"""The `scoring:` section of revops.yaml: rule-based lead scores and the predictive model.

Scores come in categories (fit, engagement, combined), each built from named groups with a
point cap, so one loud signal (twenty web visits, say) cannot outweigh everything else and a
rep can see *why* a lead scored what it did. Fit rules are declarative matchers on persons
columns rather than free code, so marketing ops can edit them and a typo fails at load time.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from revops.warehouse import schema

CUSTOM = "custom."


def check_fit_field(path: str) -> bool:
    """Whether a fit field is numeric; raise when it names no column.

    `title` reads the person, `account.industry` the person's matched account and
    `custom.NAME` a column a source mapping added to persons (checked when scores are
    computed: the data model cannot know it). A custom field is read as text, or as a number
    by a min/max rule.
    """
    if path.startswith(CUSTOM) and len(path) > len(CUSTOM):
        return False
    table, _, column = path.rpartition(".")
    name = {"": "persons", "account": "accounts"}.get(table)
    if name is None:
        raise ValueError(f"fit field {path!r}: prefix must be 'account.' or 'custom.'")
    t = schema.table(name)
    if column not in t.column_names:
        raise ValueError(f"fit field {path!r}: table {name!r} has no column {column!r}")
    return t.column(column).type in ("int", "float")


class Model(BaseModel):
    """Same contract as `config.models.Model`; repeated because models.py imports this module."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def frame_column(field: str) -> str:
    """The column a fit field is read from: `custom.x` is the persons column `x`; `title` and
    `account.industry` keep their names (loaders join account fields under that name)."""
    return field.removeprefix(CUSTOM)


class FitRule(Model):
    """One condition on a persons column and the points it gives when it holds.

    Exactly one matcher: `values` (exact, case-insensitive), `contains` (any of these
    case-insensitive whole words or phrases, for free-text titles) or `min`/`max` (numeric
    range, min inclusive, max exclusive, for employees).
    """

    name: str
    field: str
    points: float
    values: tuple[str, ...] | None = None
    contains: tuple[str, ...] | None = None
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _one_matcher(self) -> FitRule:
        kinds = [
            self.values is not None,
            self.contains is not None,
            self.min is not None or self.max is not None,
        ]
        if sum(kinds) != 1:
            raise ValueError(
                f"fit rule {self.name!r} needs exactly one of values, contains or min/max"
            )
        numeric = check_fit_field(self.field)
        custom = self.field.startswith(CUSTOM)
        if kinds[2] and not numeric and not custom:
            raise ValueError(f"fit rule {self.name!r}: min/max needs a numeric field")
        if numeric and not kinds[2]:
            raise ValueError(f"fit rule {self.name!r}: {self.field} takes min/max")
        return self


class FitGroup(Model):
    """Rules whose points add up, capped at `cap` (every matching rule fires, in order)."""

    name: str
    cap: float = Field(gt=0)
    rules: tuple[FitRule, ...]


class EngagementGroup(Model):
    """Points per touch type, each decayed by age; the group's sum is capped at `cap`."""

    name: str
    cap: float = Field(gt=0)
    points: dict[str, float]

    @model_validator(mode="after")
    def _known_types(self) -> EngagementGroup:
        unknown = sorted(set(self.points) - set(schema.TOUCH_TYPES))
        if unknown:
            raise ValueError(
                f"engagement group {self.name!r}: unknown touch types {unknown}; "
                f"known: {', '.join(schema.TOUCH_TYPES)}"
            )
        return self


class EngagementConfig(Model):
    """Behaviour score: Σ points(touch_type) × 0.5^(age_days / half_life_days) per group."""

    half_life_days: float = Field(30.0, gt=0)
    groups: tuple[EngagementGroup, ...] = ()

    @model_validator(mode="after")
    def _disjoint(self) -> EngagementConfig:
        seen: set[str] = set()
        for g in self.groups:
            twice = seen & set(g.points)
            if twice:
                raise ValueError(f"touch types {sorted(twice)} are in more than one group")
            seen |= set(g.points)
        return self


class Target(Model):
    """An outcome to predict: reaching any of `stages` within `window_days` of the time cut."""

    name: str
    stages: tuple[str, ...] = Field(min_length=1)
    window_days: int = Field(90, gt=0)


class PredictiveConfig(Model):
    """The learned model. The first target fills lead_scores.predicted_sql_probability.

    Features are taken `feature_days` after a lead is created (the time cut); the label window
    starts at the cut. The last `test_fraction` of labelled leads, by cut time, is held out.
    """

    targets: tuple[Target, ...] = (
        Target(name="sql", stages=("SQL", "Opportunity", "Customer"), window_days=90),
        Target(name="won", stages=("Customer",), window_days=180),
    )
    feature_days: int = Field(7, ge=0)
    test_fraction: float = Field(0.3, gt=0, lt=1)
    calibration: Literal["isotonic", "sigmoid"] = "isotonic"
    seed: int = 0
    # Targets whose model is applied even when it does not beat the rule score out of time
    # (revops.models.calibration.Verdict); without this, such a model is withheld and the
    # rule score's calibrated probability is written instead.
    use_withheld: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _unique(self) -> PredictiveConfig:
        names = [t.name for t in self.targets]
        if not names or len(set(names)) != len(names):
            raise ValueError("scoring.model.targets needs at least one target, names unique")
        unknown = sorted(set(self.use_withheld) - set(names))
        if unknown:
            raise ValueError(f"scoring.model.use_withheld names unknown targets {unknown}")
        return self


class StageRules(Model):
    """How scores move lifecycle stages (always through the lifecycle's own rules).

    A person in one of `qualify_from` whose score is MQL-ready is asked to move to `mql`; from
    a holding stage (Nurture, Recycled) only after a touch later than entering it, so a
    returning lead re-qualifies but a parked one is not re-qualified on old activity. A person
    in one of `recycle_from` whose fit falls below `recycle_below_fit` is asked to move to
    `recycle_to` (no recycling when it is unset).
    """

    mql: str = "MQL"
    qualify_from: tuple[str, ...] = ("Lead", "Recycled", "Nurture")
    holding: tuple[str, ...] = ("Recycled", "Nurture")
    recycle_below_fit: float | None = None
    recycle_from: tuple[str, ...] = ("MQL",)
    recycle_to: str = "Recycled"


class ScoringConfig(Model):
    """Fit + engagement = combined; `mql_threshold` on combined (and `min_fit`) marks MQL-ready.

    `fast_track` touch types (a demo request, say) make a lead MQL-ready on their own within
    `fast_track_days`, as long as fit reaches `min_fit`: someone asking to talk to sales should
    not wait for engagement points.
    """

    fit: tuple[FitGroup, ...] = ()
    engagement: EngagementConfig = Field(default_factory=EngagementConfig)
    mql_threshold: float = 60.0
    min_fit: float = 0.0
    fast_track: tuple[str, ...] = ()
    fast_track_days: float = Field(30.0, gt=0)
    stages: StageRules = Field(default_factory=StageRules)
    model: PredictiveConfig = Field(default_factory=PredictiveConfig)

    @property
    def fit_fields(self) -> tuple[str, ...]:
        """Every field a fit rule reads, in rule order, once each."""
        return tuple(dict.fromkeys(r.field for g in self.fit for r in g.rules))

    @model_validator(mode="after")
    def _fast_track_types(self) -> ScoringConfig:
        unknown = sorted(set(self.fast_track) - set(schema.TOUCH_TYPES))
        if unknown:
            raise ValueError(f"fast_track: unknown touch types {unknown}")
        return self

    @model_validator(mode="after")
    def _unique_groups(self) -> ScoringConfig:
        names = [g.name for g in self.fit] + [g.name for g in self.engagement.groups]
        if len(set(names)) != len(names):
            raise ValueError("scoring group names must be unique across fit and engagement")
        return self
