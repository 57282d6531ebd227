"""Request and response models of the intake API: strict in, explicit out.

Requests forbid unknown fields and bound every string, so a typo in a field name or a runaway
payload is a 422 that names the field rather than a silently dropped value. Control characters
are refused too: they break CSV exports and PostgreSQL text columns downstream.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, StringConstraints

from revops.ingest.validate import EMAIL
from revops.warehouse.schema import TOUCH_TYPES

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _printable(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    AfterValidator(_printable),
]
Text = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(_printable),
]
_EMAIL = re.compile(EMAIL)


def _email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError("is not a valid email address (expected name@domain.tld)")
    return value


Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=3, max_length=254),
    AfterValidator(_email),
    Field(
        description="Work email; duplicates are found by this address (case-insensitive).",
        json_schema_extra={"format": "email"},
    ),
]
Country = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=2, max_length=60),
    AfterValidator(_printable),
    Field(
        description="ISO 3166 country: a code in any case ('de'), alpha-3 or a name "
        "('Germany', or an alias of quality.country_aliases); stored as the alpha-2 code."
    ),
]
Code = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9 _\-]{0,63}$"),
]
TouchType = Literal[TOUCH_TYPES]  # type: ignore[valid-type]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LeadIn(Strict):
    """A lead from a web form, a chat or a partner: who they are and what they asked for."""

    email: Email
    first_name: Name | None = None
    last_name: Name | None = None
    company: Text | None = None
    title: Text | None = None
    phone: Annotated[str | None, StringConstraints(pattern=r"^\+?[0-9 ()./-]{4,32}$")] = None
    country: Country | None = None
    state: Name | None = None
    employees: int | None = Field(None, ge=0, le=10_000_000, description="Company head count.")
    industry: Text | None = None
    source: Code | None = Field(
        None,
        description="Lead source: a channel of the operating model's channel taxonomy "
        "(quality.utm.channels), e.g. 'paid_search' or 'Paid Search'. Anything else is stored "
        "as quality.utm.unknown_channel ('other') with the value given kept as the touch's "
        "utm_source, which the UTM "
        "audit (`revops quality utm`) flags as unknown: never a new channel, never a lost lead.",
    )
    campaign_id: Text | None = None
    form: TouchType | None = Field(
        None, description="What the lead did (a touch type); it counts toward engagement."
    )
    # The source as sent when it was not a channel (set by intake.clean): kept as the touch's
    # utm_source so the UTM audit shows it. Private, so it is never read from a request.
    _unknown_source: str | None = PrivateAttr(default=None)

    @property
    def unknown_source(self) -> str | None:
        # read from pydantic's private dict directly: `self._unknown_source` goes through
        # BaseModel.__getattr__, a Python-level miss handler, once per lead on the answer path
        private = self.__pydantic_private__
        return None if private is None else private.get("_unknown_source")

    def with_unknown_source(self, channel: str, given: str) -> LeadIn:
        """This lead with source `channel` (quality.utm.unknown_channel), remembering what was
        given."""
        copy = self.model_copy(update={"source": channel})
        copy._unknown_source = given
        return copy


class Owner(BaseModel):
    id: str
    name: str | None


class Scores(BaseModel):
    fit: float
    engagement: float
    combined: float
    is_mql_ready: bool


class AccountMatch(BaseModel):
    account_id: str
    name: str | None
    confidence: float
    reason: str


class Sla(BaseModel):
    priority: str
    started_at: datetime
    due_at: datetime


class StageChange(BaseModel):
    from_stage: str | None
    to_stage: str
    status: Literal["accepted", "repeat", "rejected"]
    reason: str | None = None


class LeadOut(BaseModel):
    """What happened to a lead: created or matched, where it went and why, when it is due."""

    person_id: str
    created: bool
    duplicate_of: str | None = Field(
        None, description="The existing person this email belongs to (no new person)."
    )
    touch_id: str | None = Field(
        None, description="The touchpoint recorded for this request (returning persons too)."
    )
    stage_changes: list[StageChange] = Field(
        default_factory=list,
        description="Stage changes this request asked the lifecycle for, and its answers.",
    )
    owner: Owner | None
    queue: str | None
    rule: str | None
    reason: str | None
    decision_id: str | None
    account: AccountMatch | None
    scores: Scores | None
    lifecycle_stage: str | None
    sla: Sla | None


class RejectIn(Strict):
    reason: str = Field(description="One of the SLA's rejection reasons (routing.sla).")


class AssignIn(Strict):
    owner_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=500)]


class Responded(BaseModel):
    person_id: str
    clock_id: str
    outcome: Literal["accepted", "rejected"]
    met_sla: bool
    lifecycle: str | None = Field(description="accepted, rejected (with why) or repeat.")
    lifecycle_stage: str | None


class Assigned(BaseModel):
    person_id: str
    decision_id: str
    owner: Owner
    replaces: str | None
    sla: Sla | None


class LeadDetail(BaseModel):
    """Everything known about a lead's handling, oldest first within each list."""

    person: dict[str, Any]
    scores: list[dict[str, Any]]
    decisions: list[dict[str, Any]]
    sla_clocks: list[dict[str, Any]]
    lifecycle: list[dict[str, Any]]
    audit: list[dict[str, Any]]


class Breach(BaseModel):
    clock_id: str
    person_id: str
    owner_id: str
    priority: str
    started_at: datetime
    due_at: datetime
    breach_count: int
    minutes_overdue: float


class Breaches(BaseModel):
    at: datetime
    breaches: list[Breach]


class Health(BaseModel):
    status: Literal["ok"]
    pending_writes: int
    commits: dict[str, float] = Field(
        description="Journal groups so far (count, leads, leads per group, settle and journal "
        "ms per group) and warehouse applies (count, groups per apply, ms per apply)."
    )
    journal_lag_groups: int = Field(
        description="Groups answered and durable in the journal but not yet in the warehouse."
    )
    last_apply_error: str | None = Field(
        description="Why the last warehouse apply failed, while it is being retried; null when "
        "the last apply succeeded."
    )
    applier_pid: int | None = Field(
        None,
        description="The process id of the applier that holds the warehouse (null while it "
        "restarts, or when it runs in the server's process).",
    )
