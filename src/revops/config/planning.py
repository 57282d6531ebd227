"""The `planning:` and `compensation:` sections of revops.yaml.

Territory design, quota setting and capacity planning are driven by a handful of numbers a sales
ops team argues about every year (segment effort, ramp curve, attrition, how many accounts may
move); compensation plans are contracts with reps. Both belong in the reviewed operating model,
not in code, so every figure a rep is paid on can be traced to a line of this file.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from revops.warehouse.schema import (
    ACTIVITY_TYPES,
    OPPORTUNITY_TYPES,
    SEGMENTS,
    USER_ROLES,
    table,
)


class Model(BaseModel):
    """Same base as config.models (which imports this module, so it cannot be imported here)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


_DEFAULT_EFFORT = {"smb": 1.0, "mid_market": 2.0, "enterprise": 4.0}
_DEFAULT_BASE = {"smb": 15_000.0, "mid_market": 60_000.0, "enterprise": 250_000.0}


def _check_segments(value: dict[str, float], what: str) -> dict[str, float]:
    unknown = sorted(set(value) - set(SEGMENTS))
    if unknown:
        raise ValueError(f"{what}: unknown segment(s) {', '.join(unknown)}")
    return value


class PotentialConfig(Model):
    """How account potential (expected annual bookings opportunity) is scored.

    potential = segment_base × size_factor, where segment_base is the segment's historical won
    amount per account per year over `lookback_days` (`fallback_base` when the segment has no
    history) and size_factor = (employees ratio^w × revenue ratio^(1-w))^elasticity, each ratio
    to the segment median, clipped to `size_clip`.
    """

    lookback_days: int = Field(730, gt=0)
    employee_weight: float = Field(0.5, ge=0, le=1)
    elasticity: float = Field(0.5, ge=0, le=2)
    size_clip: tuple[float, float] = (0.25, 4.0)
    fallback_base: dict[str, float] = Field(default_factory=lambda: dict(_DEFAULT_BASE))
    opportunity_types: tuple[str, ...] = ("new_business", "expansion")

    @model_validator(mode="after")
    def _check(self) -> PotentialConfig:
        _check_segments(self.fallback_base, "potential.fallback_base")
        if not 0 < self.size_clip[0] <= 1 <= self.size_clip[1]:
            raise ValueError("potential.size_clip must be (low <= 1, high >= 1), both positive")
        for t in self.opportunity_types:
            if t not in OPPORTUNITY_TYPES:
                raise ValueError(f"potential.opportunity_types: unknown type {t!r}")
        return self


class TerritoryConfig(Model):
    """Territory design: who gets accounts, what is balanced, and how much may move."""

    roles: tuple[str, ...] = ("ae",)
    match_segment: bool = Field(
        False, description="Also keep accounts within the rep's territory segment (hard)."
    )
    segment_effort: dict[str, float] = Field(default_factory=lambda: dict(_DEFAULT_EFFORT))
    potential_band: float = Field(
        0.05, ge=0, le=1, description="Each rep's potential within this share of the mean."
    )
    workload_band: float = Field(
        0.10, ge=0, le=1, description="Each rep's workload within this share of the mean."
    )
    max_moves: float | None = Field(
        0.2, ge=0, le=1, description="At most this share of each region's accounts may move."
    )
    time_limit_seconds: float = Field(
        60.0,
        gt=0,
        description="Wall-clock cap for the whole design; each group stops once its gap is "
        "within target_gap, so most designs finish well before it.",
    )
    target_gap: float = Field(
        0.01,
        ge=0,
        description="The solver stops once its design is proven this close to the optimum.",
    )
    seed: int = Field(
        7, description="Solver random seed (one thread): the same data give the same design."
    )

    @model_validator(mode="after")
    def _check(self) -> TerritoryConfig:
        _check_segments(self.segment_effort, "territories.segment_effort")
        for role in self.roles:
            if role not in USER_ROLES:
                raise ValueError(f"territories.roles: unknown role {role!r}")
        return self


class QuotaConfig(Model):
    """Quota setting: the ramp curve, and the capture rate bottom-up quotas apply."""

    roles: tuple[str, ...] = ("ae",)
    ramp: tuple[float, ...] = Field(
        (0.0, 0.25, 0.5, 0.75), description="Share of a full quota in tenure months 1, 2, …"
    )
    capture_rate: float | None = Field(
        None, gt=0, description="Share of potential booked per year; None: measured history."
    )
    capture_lookback_days: int = Field(365, gt=0)
    potential_weight: float = Field(
        1.0,
        ge=0,
        le=1,
        description="Top-down: 1 shares the target by capacity × territory potential, 0 by "
        "capacity alone, in between a blend with the team's mean potential.",
    )
    bottom_up_bounds: tuple[float, float] | None = Field(
        (0.5, 2.0),
        description="Bottom-up quotas are held between these multiples of the team's yield "
        "per capacity month × the rep's capacity; null: the raw territory yield.",
    )
    opportunity_types: tuple[str, ...] = Field(
        ("new_business", "expansion"), description="Deal types that count as bookings."
    )

    @model_validator(mode="after")
    def _check(self) -> QuotaConfig:
        if any(not 0 <= r <= 1 for r in self.ramp):
            raise ValueError("quotas.ramp values must lie in [0, 1]")
        b = self.bottom_up_bounds
        if b is not None and not 0 <= b[0] <= 1 <= b[1]:
            raise ValueError("quotas.bottom_up_bounds must be [low ≤ 1, high ≥ 1], low ≥ 0")
        for t in self.opportunity_types:
            if t not in OPPORTUNITY_TYPES:
                raise ValueError(f"quotas.opportunity_types: unknown type {t!r}")
        return self


class CapacityConfig(Model):
    """Capacity planning: monthly attrition and a fully ramped rep's monthly productivity."""

    annual_attrition: float = Field(0.2, ge=0, lt=1)
    productivity: float | None = Field(
        None, gt=0, description="Bookings per ramped rep-month; None: measured history."
    )
    productivity_lookback_days: int = Field(365, gt=0)


class PlanningConfig(Model):
    potential: PotentialConfig = Field(default_factory=PotentialConfig)
    territories: TerritoryConfig = Field(default_factory=TerritoryConfig)
    quotas: QuotaConfig = Field(default_factory=QuotaConfig)
    capacity: CapacityConfig = Field(default_factory=CapacityConfig)


# -- compensation ----------------------------------------------------------------------------

SpiffOp = Literal["eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte"]
_DEAL_FIELDS = frozenset(table("opportunities").column_names) | {"segment", "region"}


class DealCondition(Model):
    """A test on a won deal: an opportunities column, or the account's segment / region."""

    field: str
    op: SpiffOp = "eq"
    value: Any

    @model_validator(mode="after")
    def _check(self) -> DealCondition:
        if self.field not in _DEAL_FIELDS:
            raise ValueError(f"unknown deal field {self.field!r}")
        if self.op in ("in", "not_in") and not isinstance(self.value, list | tuple):
            raise ValueError(f"op {self.op!r} needs a list value")
        return self


class Tier(Model):
    """From `from_attainment` (share of the period quota) on, pay base rate × `multiplier`.

    Multipliers below 1 are decelerators, above 1 accelerators; tiers are marginal, so only the
    bookings inside a tier earn its rate.
    """

    from_attainment: float = Field(ge=0)
    multiplier: float = Field(ge=0)


class Spiff(Model):
    """A flat bonus per credited deal that closes within [start, end] and meets every condition."""

    name: str
    start: date
    end: date
    amount: float = Field(gt=0)
    when: tuple[DealCondition, ...] = ()

    @model_validator(mode="after")
    def _dates(self) -> Spiff:
        if self.end < self.start:
            raise ValueError(f"spiff {self.name!r}: end is before start")
        return self


class Draw(Model):
    """A monthly floor on variable pay for the first `months` of tenure (None: always).

    A recoverable draw is paid back from later earnings above the draw; a non-recoverable one is
    a guarantee.
    """

    amount: float = Field(gt=0)
    recoverable: bool = True
    months: int | None = Field(None, gt=0)


class ActivityMeasure(Model):
    """A count measure, such as the meetings an SDR held, paid at the plan period's end.

    It carries `weight` of the plan's variable pay at target: attainment = count / (target per
    month × months), paid through the plan's tiers (so decelerators and accelerators apply).
    """

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    activity_type: str
    outcome: str | None = Field(None, description="Count only activities with this outcome.")
    weight: float = Field(gt=0, le=1)
    target_per_month: float = Field(gt=0)

    @model_validator(mode="after")
    def _check(self) -> ActivityMeasure:
        if self.activity_type not in ACTIVITY_TYPES:
            raise ValueError(f"measure {self.name!r}: unknown activity type {self.activity_type!r}")
        return self


class RevenueMeasure(Model):
    """A measure on the rep's book of accounts, from the revenue tables, paid at the plan
    period's end through the plan's tiers with `weight` of its variable pay at target.

    The book is the accounts the rep owns (`owner`: an account manager) or looks after as CSM
    (`csm`), as the accounts table says now. Over the plan period:
    - `expansion_arr`: ARR the book's expansion movements added (arr_movements); attainment =
      that / (`target` × months), `target` being expansion ARR per month;
    - `nrr`: the ARR, at the period's last month end, of the accounts that had ARR at the end
      of the month before it, over their ARR then (expansion, contraction and churn; new logos
      left out); attainment = NRR / `target` (1.05: 105 % NRR is 100 % attainment);
    - `grr`: the same with each account's ARR capped at its starting ARR (retention only).
    """

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    metric: Literal["expansion_arr", "nrr", "grr"]
    book: Literal["owner", "csm"] = "owner"
    weight: float = Field(gt=0, le=1)
    target: float = Field(gt=0)


class CompPlan(Model):
    """One compensation plan: pay mix, what counts, rates, and the special terms."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    ote: float = Field(gt=0, description="Annual on-target earnings.")
    base_share: float = Field(0.5, ge=0, le=1, description="Base salary share of OTE.")
    opportunity_types: tuple[str, ...] = ("new_business", "expansion")
    base_rate: float | None = Field(
        None, gt=0, description="Commission per credited ACV; None: variable at target / quota."
    )
    annual_quota: float | None = Field(
        None, gt=0, description="Used (with the ramp) when the quotas table has none."
    )
    ramp: tuple[float, ...] = ()
    tiers: tuple[Tier, ...] = (Tier(from_attainment=0.0, multiplier=1.0),)
    spiffs: tuple[Spiff, ...] = ()
    clawback_days: int | None = Field(None, gt=0)
    draw: Draw | None = None
    plan_period: Literal["month", "quarter", "year"] = Field(
        "month",
        description="Attainment, tiers and caps run over this period (fiscal); months before "
        "its end pay advances, its last month the true-up.",
    )
    advance_share: float = Field(
        1.0, ge=0, le=1, description="Advances pay this share of the base rate on credited ACV."
    )
    deal_cap: float | None = Field(
        None, gt=0, description="Most commission one credited deal can earn in its period."
    )
    period_cap: float | None = Field(
        None,
        gt=0,
        description="Most commission a plan period can pay, as a multiple of its variable pay "
        "at target (OTE × (1 − base share) × months / 12).",
    )
    bookings_weight: float = Field(
        1.0, ge=0, le=1, description="Share of variable pay at target the bookings measure carries."
    )
    activity_measures: tuple[ActivityMeasure, ...] = ()
    revenue_measures: tuple[RevenueMeasure, ...] = ()

    @model_validator(mode="after")
    def _check(self) -> CompPlan:
        starts = [t.from_attainment for t in self.tiers]
        if not starts or starts[0] != 0:
            raise ValueError(f"plan {self.name!r}: the first tier must start at attainment 0")
        if starts != sorted(set(starts)):
            raise ValueError(f"plan {self.name!r}: tier from_attainment must increase")
        for t in self.opportunity_types:
            if t not in OPPORTUNITY_TYPES:
                raise ValueError(f"plan {self.name!r}: unknown opportunity type {t!r}")
        if any(not 0 <= r <= 1 for r in self.ramp):
            raise ValueError(f"plan {self.name!r}: ramp values must lie in [0, 1]")
        if self.bookings_weight > 0 and self.base_rate is None and self.annual_quota is None:
            raise ValueError(f"plan {self.name!r}: give base_rate, or annual_quota to derive it")
        measures: list[ActivityMeasure | RevenueMeasure] = [
            *self.activity_measures,
            *self.revenue_measures,
        ]
        weights = self.bookings_weight + sum(m.weight for m in measures)
        if abs(weights - 1) > 1e-9:
            raise ValueError(
                f"plan {self.name!r}: bookings_weight and the measures' weights add up to "
                f"{weights:g}, not 1"
            )
        names = [m.name for m in measures]
        if len(set(names)) != len(names):
            raise ValueError(f"plan {self.name!r}: measure names must be unique")
        return self

    @property
    def rate(self) -> float:
        """Commission per credited ACV at 100%: base_rate, or the bookings measure's share of
        variable at target / quota."""
        if self.base_rate is not None:
            return self.base_rate
        return self.variable_annual * self.bookings_weight / (self.annual_quota or 1.0)

    @property
    def variable_annual(self) -> float:
        return self.ote * (1 - self.base_share)


class PlanAssignment(Model):
    """Who is on a plan: listed users, or every user with one of `roles` (users win)."""

    plan: str
    users: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()


class CompensationConfig(Model):
    plans: tuple[CompPlan, ...] = ()
    assignments: tuple[PlanAssignment, ...] = ()
    max_split_percent: float = Field(
        100.0, ge=100, description="Split credits of one deal may add up to at most this."
    )

    @model_validator(mode="after")
    def _check(self) -> CompensationConfig:
        names = [p.name for p in self.plans]
        if len(set(names)) != len(names):
            raise ValueError("compensation plan names must be unique")
        for a in self.assignments:
            if a.plan not in names:
                raise ValueError(f"assignment names unknown plan {a.plan!r}")
        return self

    def plan(self, name: str) -> CompPlan:
        for p in self.plans:
            if p.name == name:
                return p
        raise KeyError(f"unknown compensation plan {name!r}")
