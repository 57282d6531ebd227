"""The `automations:` section of revops.yaml: triggers on warehouse events, conditions, actions.

An automation says *when* (a trigger on a change the warehouse records: a lifecycle stage
entered, a score crossing a threshold, an SLA breach, a lead with no follow-up N business
minutes after assignment, a pushed deal, an at-risk account, a consent change, a renewal
coming due), *for whom* (a condition over the record and its relations, in the metric
dictionary's expression grammar) and *what* (tasks, escalations, nurture enrolment, webhooks,
chat messages, email, a CRM write-back). Everything is checked here (trigger parameters,
condition columns, endpoints an action names), so a file that validates is one the dispatcher
can run.
Secrets never live in the file: a webhook names the environment variable holding its key.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from revops.config.pipeline import HygieneConfig
from revops.warehouse import schema

TriggerType = Literal[
    "lifecycle_stage_change",
    "score_threshold",
    "sla_due_soon",
    "sla_breached",
    "sla_no_followup",
    "deal_pushed",
    "deal_regressed",
    "deal_stalled",
    "forecast_call_change",
    "hygiene_flag",
    "health_at_risk",
    "consent_change",
    "renewal_due",
]
ActionKind = Literal["task", "escalation", "nurture", "webhook", "chat", "email", "writeback"]
System = Literal["salesforce", "hubspot", "marketo"]
Assignee = Literal["owner", "manager", "csm"]
ScoreField = Literal["fit", "engagement", "combined", "predicted_sql_probability"]

# The record each trigger fires on: the table its conditions read and its actions concern.
RECORD_TABLES: dict[str, str] = {
    "lifecycle_stage_change": "persons",
    "score_threshold": "persons",
    "sla_due_soon": "persons",
    "sla_breached": "persons",
    "sla_no_followup": "persons",
    "deal_pushed": "opportunities",
    "deal_regressed": "opportunities",
    "deal_stalled": "opportunities",
    "forecast_call_change": "opportunities",
    "hygiene_flag": "opportunities",
    "health_at_risk": "accounts",
    "consent_change": "persons",
    "renewal_due": "accounts",
}


class Model(BaseModel):
    """Same contract as `config.models.Model`; repeated because models.py imports this module."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Trigger(Model):
    """What fires an automation. Only the parameters of its `type` may be given.

    `lookback_hours` keeps a first run (or a load of last year's history) from firing on old
    changes: a change fires only when it happened within that many hours of the evaluation.
    """

    type: TriggerType
    to_stage: str | None = None  # lifecycle_stage_change
    from_stage: str | None = None  # lifecycle_stage_change
    score: ScoreField = "combined"  # score_threshold
    threshold: float | None = None  # score_threshold: fires when a score reaches it from below
    min_breaches: int = Field(1, ge=1)  # sla_breached: the owner's Nth breach on the lead
    within_minutes: int | None = Field(None, gt=0)  # sla_due_soon
    # sla_no_followup: business minutes (the owner's SLA calendar) since the clock started
    after_minutes: int | None = Field(None, gt=0)
    below: float | None = None  # health_at_risk: score below this
    drop: float | None = Field(None, gt=0)  # health_at_risk: or fell this much over 3 months
    # deal_stalled: no stage change for this many days; renewal_due: renewal within this many
    days: int | None = Field(None, gt=0)
    term_months: int = Field(12, gt=0)  # renewal_due: subscriptions renew every this many months
    to_category: str | None = None  # forecast_call_change: only calls moved to this category
    rule: str | None = None  # hygiene_flag: only this rule of pipeline.hygiene
    purpose: str | None = None  # consent_change
    status: Literal["opt_in", "opt_out"] | None = None  # consent_change
    lookback_hours: float = Field(24.0, gt=0)

    @model_validator(mode="after")
    def _parameters(self) -> Trigger:
        # a parameter counts as given when set to something other than its default: a model
        # dumped in full (JSON to a worker process) sets every field to its default
        fields = type(self).model_fields
        given = {
            k
            for k in self.model_fields_set
            if k not in ("type", "lookback_hours") and getattr(self, k) != fields[k].default
        }
        allowed = {
            "lifecycle_stage_change": {"to_stage", "from_stage"},
            "score_threshold": {"score", "threshold"},
            "sla_due_soon": {"within_minutes"},
            "sla_breached": {"min_breaches"},
            "sla_no_followup": {"after_minutes"},
            "deal_pushed": set(),
            "deal_regressed": set(),
            "deal_stalled": {"days"},
            "forecast_call_change": {"to_category"},
            "hygiene_flag": {"rule"},
            "health_at_risk": {"below", "drop"},
            "consent_change": {"purpose", "status"},
            "renewal_due": {"days", "term_months"},
        }[self.type]
        extra = sorted(given - allowed)
        if extra:
            raise ValueError(f"trigger {self.type!r} takes no {', '.join(extra)}")
        if self.type == "score_threshold" and self.threshold is None:
            raise ValueError("trigger 'score_threshold' needs a threshold")
        if self.type == "sla_due_soon" and self.within_minutes is None:
            raise ValueError("trigger 'sla_due_soon' needs within_minutes")
        if self.type == "sla_no_followup" and self.after_minutes is None:
            raise ValueError("trigger 'sla_no_followup' needs after_minutes")
        if self.rule is not None and self.rule not in HygieneConfig.model_fields:
            rules = ", ".join(HygieneConfig.model_fields)
            raise ValueError(f"unknown hygiene rule {self.rule!r}; rules: {rules}")
        if self.type == "deal_stalled" and self.days is None:
            raise ValueError("trigger 'deal_stalled' needs days")
        if self.type == "renewal_due" and self.days is None:
            raise ValueError("trigger 'renewal_due' needs days")
        if self.type == "health_at_risk" and self.below is None and self.drop is None:
            raise ValueError("trigger 'health_at_risk' needs below, drop or both")
        return self

    @property
    def record_table(self) -> str:
        return RECORD_TABLES[self.type]


class Consent(Model):
    """The consent an action needs from the person it concerns (see `privacy:`)."""

    purpose: str
    channel: str


class Action(Model):
    """One thing an automation does.

    - `task`: a task for `assignee`, due `due_in_hours` business hours after the event, counted
      in the assignee's timezone and the SLA business hours. `assignee` is a role of the record:
      its `owner`, the owner's `manager`, or `csm`, the customer success manager of the record's
      account (accounts.csm_id; the owner, with a note in the action, when the account has none);
    - `escalation`: the same task, for the manager of the record's owner;
    - `nurture`: list membership in `program` for the marketing-automation system to send;
    - `webhook`: JSON POST to `endpoint`, signed with HMAC-SHA256 over timestamp and body;
    - `chat`: a Slack-compatible incoming-webhook message (`text`) to `endpoint`;
    - `email`: `subject` and `text` over SMTP to the owner or the owner's manager;
    - `writeback`: the fired record's owned fields changed since the last sync, as `system`'s
      import file, queued for the endpoint `sync.<system>` names (as `revops sync push` does).

    `title`, `text` and `subject` are templates: `{automation}`, `{trigger}`, `{record_id}`,
    `{record_table}`, `{owner_id}`, `{occurred_at}` and the trigger's details are filled in.
    `consent` makes the action wait on the person's consent (nurture needs marketing/email
    unless told otherwise); an action refused by consent is recorded as blocked, not sent.
    """

    type: ActionKind
    title: str | None = None
    assignee: Assignee = "owner"
    due_in_hours: float = Field(4.0, gt=0)
    program: str | None = None
    endpoint: str | None = None
    text: str | None = None
    subject: str | None = None
    to: Literal["owner", "manager"] = "owner"
    consent: Consent | None = None
    system: System | None = None  # writeback

    @model_validator(mode="after")
    def _fields(self) -> Action:
        need: dict[str, tuple[str, ...]] = {
            "task": ("title",),
            "escalation": ("title",),
            "nurture": ("program",),
            "webhook": ("endpoint",),
            "chat": ("endpoint", "text"),
            "email": ("subject", "text"),
            "writeback": ("system",),
        }
        missing = [f for f in need[self.type] if getattr(self, f) is None]
        if missing:
            raise ValueError(f"a {self.type} action needs {', '.join(missing)}")
        return self

    def required_consent(self) -> Consent | None:
        if self.consent is not None:
            return self.consent
        if self.type == "nurture":
            return Consent(purpose="marketing", channel="email")
        return None


class Endpoint(Model):
    """An HTTP receiver. `secret_env` names the environment variable holding the HMAC key
    webhooks are signed with (required for webhook actions, never the key itself)."""

    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]*$")
    url: str = Field(pattern=r"^https?://")
    secret_env: str | None = None


class Smtp(Model):
    """The mail relay email actions go through (stdlib smtplib; STARTTLS when `starttls`)."""

    host: str = "127.0.0.1"
    port: int = Field(25, gt=0, lt=65536)
    sender: str = "revops@localhost"
    starttls: bool = False
    user_env: str | None = None
    password_env: str | None = None


class Dispatch(Model):
    """Retries with exponential backoff and seeded jitter, then the dead-letter list.

    Attempt n waits `backoff_seconds * 2**(n-1)` (at most `max_backoff_seconds`) times a jitter
    factor in [0.5, 1) drawn from `seed`, the action and the attempt, so a replay waits the same.
    """

    max_attempts: int = Field(6, ge=1)
    backoff_seconds: float = Field(2.0, ge=0)
    max_backoff_seconds: float = Field(600.0, gt=0)
    timeout_seconds: float = Field(5.0, gt=0)
    batch_size: int = Field(100, ge=1)
    # outcomes recorded per write: a killed dispatcher re-sends at most this many (same keys)
    record_every: int = Field(20, ge=1)
    lease_seconds: float = Field(30.0, gt=0)
    poll_seconds: float = Field(2.0, gt=0)
    seed: int = 0

    @model_validator(mode="after")
    def _lease_outlives_a_send(self) -> Dispatch:
        # the lease is renewed when half of it has run, before a send that may take a timeout
        if self.timeout_seconds >= self.lease_seconds / 2:
            raise ValueError("lease_seconds must be more than twice timeout_seconds")
        return self


class Automation(Model):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str = ""
    enabled: bool = True
    trigger: Trigger
    when: str | None = None
    actions: tuple[Action, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> Automation:
        table = self.trigger.record_table
        if self.when is not None:
            check_condition(self.when, table, self.name)
        for a in self.actions:
            if a.type == "nurture" and table != "persons":
                raise ValueError(f"automation {self.name!r}: nurture enrols persons, not {table}")
        return self


def check_condition(text: str, table: str, automation: str) -> None:
    """The condition parses in the dictionary's grammar and every name resolves on `table`
    (a column, a named dimension or a dotted path through its relations)."""
    # imported here: the metric layer imports the config models
    from revops.metrics import dimensions
    from revops.metrics.expressions import names

    for name in names(text, metric=f"automation {automation}", paths=True):
        try:
            dimensions.resolve(table, name, lambda t: schema.table(t).column_names)
        except KeyError as exc:
            raise ValueError(
                f"automation {automation!r}: condition {text!r}: {exc.args[0]}"
            ) from None


class AutomationConfig(Model):
    """Automations, the endpoints they deliver to, the mail relay and the dispatcher."""

    rules: tuple[Automation, ...] = ()
    endpoints: tuple[Endpoint, ...] = ()
    smtp: Smtp | None = None
    dispatch: Dispatch = Field(default_factory=Dispatch)
    # source system → endpoint that `revops sync push` delivers its write-back files to
    sync: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _references(self) -> AutomationConfig:
        for label, values in (
            ("automation", [r.name for r in self.rules]),
            ("endpoint", [e.name for e in self.endpoints]),
        ):
            dupes = sorted({v for v in values if values.count(v) > 1})
            if dupes:
                raise ValueError(f"{label} names must be unique; repeated: {', '.join(dupes)}")
        known = {e.name: e for e in self.endpoints}
        for system, name in self.sync.items():
            if name not in known:
                raise ValueError(
                    f"sync.{system}: unknown endpoint {name!r}; "
                    f"endpoints: {', '.join(known) or '(none)'}"
                )
        for rule in self.rules:
            for a in rule.actions:
                if a.endpoint is not None and a.endpoint not in known:
                    raise ValueError(
                        f"automation {rule.name!r}: unknown endpoint {a.endpoint!r}; "
                        f"endpoints: {', '.join(known) or '(none)'}"
                    )
                if a.type == "webhook" and known[a.endpoint or ""].secret_env is None:
                    raise ValueError(
                        f"automation {rule.name!r}: endpoint {a.endpoint!r} needs secret_env "
                        "to sign webhooks"
                    )
                if a.type == "writeback" and (a.system or "") not in self.sync:
                    raise ValueError(
                        f"automation {rule.name!r}: a writeback to {a.system} needs "
                        f"sync.{a.system} (the endpoint its files go to)"
                    )
                if a.type == "email" and self.smtp is None:
                    raise ValueError(f"automation {rule.name!r}: email actions need smtp")
        return self

    def endpoint(self, name: str) -> Endpoint:
        for e in self.endpoints:
            if e.name == name:
                return e
        raise KeyError(f"unknown endpoint {name!r}")

    def automation(self, name: str) -> Automation:
        for r in self.rules:
            if r.name == name:
                return r
        known = ", ".join(r.name for r in self.rules) or "(none)"
        raise KeyError(f"unknown automation {name!r}; automations: {known}")
