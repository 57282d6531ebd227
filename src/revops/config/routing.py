"""The `routing:` section of revops.yaml: who gets a new lead, as an ordered rule set.

Rules are checked top to bottom and the first one that matches and can name an owner or a queue
wins. Every field a condition or territory reads is checked against the data model here, so a
typo is a config error with its line rather than a rule that silently never matches.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from revops.warehouse import schema

Op = Literal["eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "exists", "missing", "contains"]
PoolMode = Literal["order", "count"]
RuleKind = Literal["condition", "account_owner", "territory"]


class Model(BaseModel):
    """Same contract as `config.models.Model`; repeated because models.py imports this module."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# Facts about the lead's arrival that are no persons column: the touch type that made it
# routable (the API's `form`; in `route run`, the person's latest touch).
LEAD_FACTS = ("touch_type",)


def check_field(path: str) -> None:
    """`country` reads the lead (persons), `account.segment` the matched account,
    `touch_type` the touch that made the lead routable."""
    if path in LEAD_FACTS:
        return
    table, _, column = path.rpartition(".")
    table_name = {"": "persons", "lead": "persons", "account": "accounts"}.get(table)
    if table_name is None:
        raise ValueError(f"field {path!r}: prefix must be 'lead.' or 'account.'")
    if column not in schema.table(table_name).column_names:
        raise ValueError(f"field {path!r}: table {table_name!r} has no column {column!r}")


class Condition(Model):
    """One test on a lead or account field; `value` is a list for `in` / `not_in`."""

    field: str
    op: Op = "eq"
    value: Any = None

    @model_validator(mode="after")
    def _check(self) -> Condition:
        check_field(self.field)
        if self.op in ("in", "not_in") and not isinstance(self.value, list | tuple):
            raise ValueError(f"op {self.op!r} needs a list value")
        if self.op not in ("exists", "missing") and self.value is None:
            raise ValueError(f"op {self.op!r} needs a value")
        return self


class Target(Model):
    """Where a match sends the lead: exactly one of a named owner, a queue or a pool."""

    owner: str | None = None
    queue: str | None = None
    pool: str | None = None

    @model_validator(mode="after")
    def _one(self) -> Target:
        if sum(x is not None for x in (self.owner, self.queue, self.pool)) != 1:
            raise ValueError("give exactly one of owner, queue or pool")
        return self


class Territory(Target):
    """A territory matches when every non-empty criterion does (account fields win over lead's).

    The size band is `min_employees <= employees < max_employees`.
    """

    name: str
    countries: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    industries: tuple[str, ...] = ()
    min_employees: int | None = Field(None, ge=0)
    max_employees: int | None = Field(None, ge=1)


class Rule(Target):
    """A rule: `condition` rules need `when`; `account_owner` routes to the account's owner;
    `territory` routes by the first matching entry of `territories`.

    `when` conditions apply to every kind (all must hold), so an account-owner rule can be
    limited, e.g. to enterprise accounts. The target fields are unused by the other kinds.
    """

    name: str
    kind: RuleKind = "condition"
    when: tuple[Condition, ...] = ()
    territories: tuple[Territory, ...] = ()

    @model_validator(mode="after")
    def _one(self) -> Rule:
        targets = sum(x is not None for x in (self.owner, self.queue, self.pool))
        if self.kind == "condition" and targets != 1:
            raise ValueError(f"rule {self.name!r}: give exactly one of owner, queue or pool")
        if self.kind != "condition" and targets:
            raise ValueError(f"rule {self.name!r}: a {self.kind} rule takes no owner/queue/pool")
        if self.kind == "territory" and not self.territories:
            raise ValueError(f"rule {self.name!r}: a territory rule needs territories")
        if self.kind != "territory" and self.territories:
            raise ValueError(f"rule {self.name!r}: only territory rules take territories")
        return self


class WorkingHours(Model):
    """Local working time of each member, in the member's own timezone; days 0 = Monday."""

    days: tuple[int, ...] = (0, 1, 2, 3, 4)
    start: time = time(9)
    end: time = time(17)

    @model_validator(mode="after")
    def _check(self) -> WorkingHours:
        if not all(0 <= d <= 6 for d in self.days):
            raise ValueError("days are 0 (Monday) to 6 (Sunday)")
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class Member(Model):
    """A pool member; caps override the pool's. Weights shape count-based pools only."""

    user_id: str
    weight: float = Field(1.0, gt=0)
    daily_cap: int | None = Field(None, ge=0)
    weekly_cap: int | None = Field(None, ge=0)


class Pool(Model):
    """A round-robin pool inside a team.

    `order` hands leads out in member order, skipping anyone ineligible; `count` gives each lead
    to the eligible member with the fewest assignments relative to weight (ties: member order).
    Without `working_hours` members are reachable around the clock.
    """

    name: str
    team: str | None = None
    mode: PoolMode = "order"
    members: tuple[Member, ...] = Field(min_length=1)
    daily_cap: int | None = Field(None, ge=0)
    weekly_cap: int | None = Field(None, ge=0)
    working_hours: WorkingHours | None = None

    @field_validator("members")
    @classmethod
    def _unique(cls, members: tuple[Member, ...]) -> tuple[Member, ...]:
        ids = [m.user_id for m in members]
        if len(set(ids)) != len(ids):
            raise ValueError("pool members must be unique")
        return members


class OutOfOffice(Model):
    """A user is out from `start` (inclusive) to `end` (exclusive); naive times are UTC."""

    user_id: str
    start: datetime
    end: datetime

    @model_validator(mode="after")
    def _check(self) -> OutOfOffice:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


REJECTION_REASONS = (
    "not_a_fit",
    "duplicate",
    "no_contact_info",
    "competitor",
    "student",
    "spam",
    "existing_opportunity",
)

# Where a rejected lead goes next (stages of the shipped lifecycle map); see SlaConfig.reentry.
REENTRY = {
    "not_a_fit": "Disqualified",
    "duplicate": "Disqualified",
    "no_contact_info": "Nurture",
    "competitor": "Disqualified",
    "student": "Disqualified",
    "spam": "Disqualified",
    "existing_opportunity": "Recycled",
}


EscalationStep = Literal["remind_owner", "remind_manager", "reroute"]


class SlaTarget(Model):
    """Speed-to-lead target of a priority: the first target whose conditions hold applies."""

    priority: str
    minutes: int = Field(gt=0, description="Business minutes from assignment to response.")
    when: tuple[Condition, ...] = ()


class SlaConfig(Model):
    """Speed-to-lead: targets counted in the owner's business hours and timezone.

    `rejection_reasons` is the fixed list a rep picks from when rejecting a lead (a free-text
    reason cannot be reported on); after `escalate_after_breaches` breaches a lead is
    reassigned. `reentry` maps a rejection reason to the lifecycle stage the lead moves to
    (recycle, nurture or disqualify), applied through the lifecycle's rules.
    """

    targets: tuple[SlaTarget, ...] = ()
    default_minutes: int = Field(24 * 60, gt=0)
    business_hours: WorkingHours = Field(default_factory=WorkingHours)
    rejection_reasons: tuple[str, ...] = Field(REJECTION_REASONS, min_length=1)
    escalate_after_breaches: int = Field(2, ge=1)
    escalation: tuple[EscalationStep, ...] | None = Field(
        None,
        description="The step each breach on a lead takes, in order (the last repeats): "
        "remind the owner (their clock re-arms), remind their manager (re-arms too), or "
        "re-route. Unset: remind the owner until escalate_after_breaches, then re-route.",
    )
    reentry: dict[str, str] = Field(
        default_factory=lambda: dict(REENTRY),
        description="Rejection reason → lifecycle stage the lead re-enters; unmapped: none.",
    )

    @field_validator("business_hours")
    @classmethod
    def _some_days(cls, hours: WorkingHours) -> WorkingHours:
        if not hours.days:
            raise ValueError("business_hours needs at least one day, or no SLA could ever end")
        return hours

    @property
    def steps(self) -> tuple[EscalationStep, ...]:
        """The escalation step of breach n (1-based) is steps[min(n, len) - 1]."""
        if self.escalation is not None:
            return self.escalation
        step: EscalationStep = "remind_owner"
        return (*[step] * (self.escalate_after_breaches - 1), "reroute")

    @model_validator(mode="after")
    def _escalation_ends(self) -> SlaConfig:
        if self.escalation is not None and self.escalation[-1:] != ("reroute",):
            raise ValueError("escalation must end with reroute, or a lead could wait forever")
        return self

    @model_validator(mode="after")
    def _reentry_reasons(self) -> SlaConfig:
        unknown = sorted(set(self.reentry) - set(self.rejection_reasons))
        if unknown:
            raise ValueError(f"reentry names reasons not in rejection_reasons: {unknown}")
        return self


class RoutingConfig(Model):
    """The routing rule set, its round-robin pools, the team calendar and speed-to-lead SLAs.

    `route run` routes persons who entered one of `routable_stages` since its last run (a
    watermark in the warehouse); on a first run it looks back `first_run_lookback_hours`, so
    history is routed only when `--since` asks. A lead whose owner is active and available
    stays with them (`keep_active_owner`); otherwise the rules decide.
    """

    fallback_queue: str = "unassigned"
    routable_stages: tuple[str, ...] = Field(("MQL",), min_length=1)
    first_run_lookback_hours: int = Field(24, ge=0)
    keep_active_owner: bool = True
    default_timezone: str = "UTC"
    holidays: tuple[date, ...] = ()
    out_of_office: tuple[OutOfOffice, ...] = ()
    paused: tuple[str, ...] = Field(default=(), description="Users taking no new leads.")
    pools: tuple[Pool, ...] = ()
    rules: tuple[Rule, ...] = ()
    sla: SlaConfig = Field(default_factory=SlaConfig)

    def user_references(self) -> dict[str, list[str]]:
        """Every user id the routing names, with where: pools, owners, calendar."""
        refs: dict[str, list[str]] = {}
        for user, _, label in self.user_reference_paths():
            refs.setdefault(user, []).append(label)
        return refs

    def user_reference_paths(self) -> list[tuple[str, tuple[str | int, ...], str]]:
        """(user id, key path under `routing`, label) of every user the routing names, so an
        unknown one can be reported with its line (`config.users.unknown_users`)."""
        out: list[tuple[str, tuple[str | int, ...], str]] = []
        for i, p in enumerate(self.pools):
            for j, m in enumerate(p.members):
                out.append((m.user_id, ("pools", i, "members", j, "user_id"), f"pool {p.name}"))
        for i, r in enumerate(self.rules):
            if r.owner is not None:
                out.append((r.owner, ("rules", i, "owner"), f"rule {r.name}"))
            for k, t in enumerate(r.territories):
                if t.owner is not None:
                    path = ("rules", i, "territories", k, "owner")
                    out.append((t.owner, path, f"territory {t.name}"))
        for i, o in enumerate(self.out_of_office):
            out.append((o.user_id, ("out_of_office", i, "user_id"), "out_of_office"))
        for i, u in enumerate(self.paused):
            out.append((u, ("paused", i), "paused"))
        return out

    @field_validator("default_timezone")
    @classmethod
    def _tz(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {name!r}") from None
        return name

    @model_validator(mode="after")
    def _references(self) -> RoutingConfig:
        pools = [p.name for p in self.pools]
        if len(set(pools)) != len(pools):
            raise ValueError("pool names must be unique")
        names = [r.name for r in self.rules]
        if len(set(names)) != len(names):
            raise ValueError("rule names must be unique")
        targets: list[Target] = list(self.rules)
        for rule in self.rules:
            targets.extend(rule.territories)
        for t in targets:
            if t.pool is not None and t.pool not in pools:
                raise ValueError(f"unknown pool {t.pool!r}")
        return self
