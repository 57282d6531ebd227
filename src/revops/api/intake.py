"""The intake pipeline: a lead in; person, score, lifecycle, decision, SLA clock out.

Two halves, so the request path stays short and the batch code is reused:

* `admit` (per request, on the event loop, in memory only): duplicate check by email, account
  match, rule scores (`api.scores`, the batch rules in plain Python, checked against
  `score_frame`; account fields read as `account.x`), the stage the lifecycle will give the
  lead (`lifecycle.engine.stage_after`, the engine's tables in plain Python) and, only when
  that stage is routable (routing.routable_stages), routing. A lead in any other stage (a
  plain Lead) is stored and scored, and its answer says why it was not routed. These steps are
  sequential by nature (each decision moves the round-robin state) and take microseconds
  against the hot state.
* `settle` (per journal group, in the journal thread): applies the lifecycle with the batch
  engine (`apply_events`) over every lead of the group at once, starts the SLA clocks and
  builds the rows. This runs before the journal fsync, on the answer path, so it must stay
  cheap.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa

from revops.api.hot import HotState, Routed, email_key
from revops.api.models import AccountMatch, LeadIn, LeadOut, Owner, Scores, Sla
from revops.api.scores import Scored, score_lead
from revops.config.identity import MatchingConfig
from revops.config.models import Lifecycle, OperatingModel
from revops.errors import RevOpsError
from revops.identity.matching import normalize_company, registrable_domain
from revops.lifecycle.engine import (
    apply_events,
    filled_masks,
    required_columns,
    stage_after,
)
from revops.lifecycle.rules import CompiledLifecycle, compile_lifecycle
from revops.quality import edge
from revops.routing.engine import Decision
from revops.routing.sla import start_clock
from revops.routing.sla_store import clock_id
from revops.warehouse import Batch
from revops.warehouse.clock import naive_utc

SOURCE = "api"
ENTRY_STAGE = "Lead"


@dataclass(frozen=True)
class Match:
    account_id: str
    confidence: float
    reason: str
    candidates: int


@dataclass(frozen=True)
class Admitted:
    """One admitted lead: a new person routed, or the existing person its email belongs to."""

    person_id: str
    at: datetime
    person: dict[str, Any] | None  # the new persons row; None for a duplicate
    routed: Routed
    match: Match | None = None
    decision: Decision | None = None
    form: str | None = None
    unknown_source: str | None = None  # a source outside the channel taxonomy, as given
    scored: Scored | None = None  # rule scores, taken before routing (a new person only)
    stage: str | None = None  # the stage the lifecycle will give it, which decides routing

    @property
    def created(self) -> bool:
        return self.person is not None


def match_account(hot: HotState, lead: LeadIn, cfg: MatchingConfig) -> Match | None:
    """The lead's account by email domain (never free mail), else by exact company name.

    The same evidence and confidences as batch matching (`identity.matching`); the fuzzy
    name step is left to `revops quality match`, which sees all accounts at once.
    """
    domain = registrable_domain(lead.email)
    host = lead.email.rsplit("@", 1)[-1].lower()
    free = domain in hot.free_domains or host in hot.free_domains
    ids = [] if free or not domain else hot.by_domain.get(domain, [])
    kind = "domain"
    if not ids:
        ids, kind = hot.by_name.get(normalize_company(lead.company), []), "exact"
    if not ids:
        return None
    country = lead.country or ""

    def rank(account_id: str) -> tuple[Any, ...]:
        a = hot.accounts[account_id]
        keys = {
            "same_country": bool(country) and a.get("country") == country,
            "most_employees": a.get("employees") or -1,
            "has_owner": a.get("owner_id") is not None,
            "most_recent_activity": 0,
        }
        return (*(-int(keys[t]) for t in cfg.tie_breakers), account_id)

    best = min(ids, key=rank)
    same = bool(country) and hot.accounts[best].get("country") == country
    if kind == "domain":
        confidence, reason = cfg.domain_confidence, f"domain {domain}"
    else:
        boost = cfg.country_boost if same else 0.0
        confidence = cfg.exact_name_confidence + boost
        reason = "company name exact" + (" + country" if same else "")
    return Match(best, round(min(confidence, 1.0), 4), reason, len(ids))


class ErasedPerson(RevOpsError):
    """The lead matches an erasure tombstone (HTTP 422 on the email)."""


class FieldRefused(RevOpsError):
    """A field the operating model cannot take (HTTP 422 naming the field)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def clean(lead: LeadIn, model: OperatingModel) -> LeadIn:
    """The lead in the warehouse's vocabulary, or `FieldRefused`, by the same rules as a load
    (`quality.edge`).

    The country becomes its ISO alpha-2 code (from a code in any case, alpha-3, a name or an
    alias of quality.country_aliases). The source becomes a channel of the channel taxonomy
    ('Paid Search' spells paid_search). An unknown source becomes quality.utm.unknown_channel
    ('other'), never a new channel in attribution and every report that groups by channel, and
    the value given is kept as the touch's utm_source for the UTM audit to flag: a web form
    with a stray tag still delivers its lead. With unknown_channel null it is refused.
    """
    changes: dict[str, Any] = {}
    if lead.country is not None:
        code = edge.country_code(lead.country, model.quality)
        if code is None:
            raise FieldRefused(
                "country", f"{lead.country!r} is not an ISO 3166 country code or name"
            )
        changes["country"] = code
    if lead.source is not None:
        try:
            channel = edge.source_channel(lead.source, model.quality)
        except edge.UnknownSource as exc:
            raise FieldRefused("source", str(exc)) from None
        if channel.unknown is not None:
            lead = lead.with_unknown_source(channel.channel, channel.unknown)
        else:
            changes["source"] = channel.channel
    return lead.model_copy(update=changes) if changes else lead


def admit(hot: HotState, lead: LeadIn, model: OperatingModel, at: datetime) -> Admitted:
    """Dedupe, match and route one lead against the hot state, advancing it."""
    if hot.tombstones.erased(lead.email, lead.phone):
        raise ErasedPerson("this person asked to be erased; revops does not store them again")
    key = email_key(lead.email)
    existing = hot.emails.get(key)
    if existing is not None:
        return Admitted(existing, at, None, hot.persons.get(existing, Routed(None)))
    person_id = f"api-{os.urandom(10).hex()}"
    when = naive_utc(at)
    person: dict[str, Any] = {
        "person_id": person_id,
        "email": lead.email,
        "first_name": lead.first_name,
        "last_name": lead.last_name,
        "company": lead.company,
        "title": lead.title,
        "phone": lead.phone,
        "country": lead.country,
        "state": lead.state,
        "employees": lead.employees,
        "industry": lead.industry,
        "source": lead.source,
        "source_campaign_id": lead.campaign_id,
        "person_type": "lead",
        "account_id": None,
        "owner_id": None,
        "created_at": when,
        "updated_at": when,
    }
    match = match_account(hot, lead, model.matching)
    account = None
    if match is not None and match.confidence >= model.matching.write_threshold:
        person["account_id"] = match.account_id
        account = hot.accounts[match.account_id]
    scored = score_lead(_scoring_facts(person, account), lead.form, model.scoring)
    stage = stage_after(_compiled(model), person, entry_stages(scored.is_mql_ready, model))
    decision: Decision | None = None
    if stage in model.routing.routable_stages:
        decision = hot.router.route({**person, "touch_type": lead.form}, account, hot.routing, at)
        hot.routing = decision.state
        person["owner_id"] = decision.owner_id
        decision_id = os.urandom(10).hex()
        routed = Routed(
            decision.owner_id, decision.queue, decision.rule, decision.reason, decision_id
        )
    else:
        routed = Routed(None, reason=not_routable_reason(stage, model))
    hot.emails[key] = person_id
    hot.persons[person_id] = routed
    return Admitted(
        person_id,
        at,
        person,
        routed,
        match,
        decision,
        lead.form,
        lead.unknown_source,
        scored,
        stage,
    )


def entry_stages(ready: bool, model: OperatingModel) -> list[str]:
    """What a new lead asks the lifecycle for: the entry stage, then MQL when MQL-ready."""
    return [ENTRY_STAGE, model.scoring.stages.mql] if ready else [ENTRY_STAGE]


def not_routable_reason(stage: str | None, model: OperatingModel) -> str:
    """Why a lead was stored and scored but not routed: its stage is not routable."""
    stages = ", ".join(model.routing.routable_stages)
    return f"not routed: stage {stage} is not routable (routing.routable_stages: {stages})"


def _scoring_facts(person: dict[str, Any], account: dict[str, Any] | None) -> dict[str, Any]:
    """The person's fields plus its matched account's as `account.x`, which fit rules read."""
    return {**person, **{f"account.{k}": v for k, v in (account or {}).items()}}


_COMPILED: dict[int, tuple[Lifecycle, CompiledLifecycle]] = {}


def _compiled(model: OperatingModel) -> CompiledLifecycle:
    """The model's lifecycle compiled once (keyed by identity; the model is immutable)."""
    hit = _COMPILED.get(id(model.lifecycle))
    if hit is None or hit[0] is not model.lifecycle:
        hit = (model.lifecycle, compile_lifecycle(model.lifecycle))
        _COMPILED.clear()
        _COMPILED[id(model.lifecycle)] = hit
    return hit[1]


@dataclass(frozen=True)
class Settled:
    """The rows a group of admitted leads writes, and the answer for each, in order."""

    batches: list[Batch]
    answers: list[LeadOut]


@dataclass(frozen=True)
class _Outcome:
    """What the lifecycle engine did with one new person's intake events, the rows keyed by
    the event's position (0: Lead, 1: MQL) instead of its id."""

    history: list[tuple[int, dict[str, Any]]]
    rejections: list[tuple[int, dict[str, Any]]]
    stage: str | None
    schemas: tuple[pa.Schema, pa.Schema]


_OUTCOMES: dict[tuple[int, bool, int], tuple[Lifecycle, _Outcome]] = {}
_EVENT_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("person_id", pa.string()),
        ("stage", pa.string()),
        ("occurred_at", pa.timestamp("us")),
        ("source", pa.string()),
    ]
)


def _outcome(
    lifecycle: Lifecycle, ready: bool, mask: int, events: list[dict[str, Any]], person: pa.Table
) -> _Outcome:
    """The engine's outcome for a new person whose events ask for Lead (and MQL when `ready`)
    with the required fields `mask` filled. Only those decide it (the engine walks each person
    alone, and every intake event has the same time and source), so it is computed by
    `apply_events` once per pattern and reused: running the batch engine per journal group
    cost more than half of settling it."""
    key = (id(lifecycle), ready, mask)
    hit = _OUTCOMES.get(key)
    if hit is not None and hit[0] is lifecycle:
        return hit[1]
    result = apply_events(pa.Table.from_pylist(events, _EVENT_SCHEMA), person, lifecycle)
    position = {e["event_id"]: n for n, e in enumerate(events)}
    outcome = _Outcome(
        [(position[r["transition_id"]], r) for r in result.history.to_pylist()],
        [(position[r["event_id"]], r) for r in result.rejections.to_pylist()],
        result.stages["lifecycle_stage"].to_pylist()[0],
        (result.history.schema, result.rejections.schema),
    )
    if len(_OUTCOMES) >= 256:
        _OUTCOMES.clear()
    _OUTCOMES[key] = (lifecycle, outcome)
    return outcome


def _lifecycle(
    created: Sequence[Admitted], mql: Sequence[bool], model: OperatingModel
) -> tuple[list[dict[str, Any]], pa.Table, pa.Table, dict[str, str | None]]:
    """Every new person enters at Lead; an MQL-ready one asks for MQL next, through the rules."""
    per_person: list[list[dict[str, Any]]] = []
    for a, ready in zip(created, mql, strict=True):
        per_person.append(
            [
                {
                    "event_id": f"{a.person_id}-{n}-{stage.lower()}",
                    "person_id": a.person_id,
                    "stage": stage,
                    "occurred_at": naive_utc(a.at),
                    "source": SOURCE,
                }
                for n, stage in enumerate(entry_stages(ready, model))
            ]
        )
    cols = required_columns(model.lifecycle)
    # the engine only asks whether a required field is filled, so every value goes in as text
    texts = {c: [_text((a.person or {}).get(c)) for a in created] for c in cols}
    persons = pa.table({c: pa.array(v, pa.string()) for c, v in texts.items()})
    masks = ascii_masks([texts[c] for c in cols[1:]], len(created))
    if masks is None:
        masks = filled_masks(persons, model.lifecycle).tolist()
    history: list[dict[str, Any]] = []
    rejections: list[dict[str, Any]] = []
    stages: dict[str, str | None] = {}
    schemas: tuple[pa.Schema, pa.Schema] | None = None
    for i, (a, ready, events) in enumerate(zip(created, mql, per_person, strict=True)):
        done = _outcome(model.lifecycle, ready, masks[i], events, persons.slice(i, 1))
        schemas = done.schemas
        for n, row in done.history:
            e = events[n]
            ids = {"transition_id": e["event_id"], "person_id": a.person_id}
            history.append({**row, **ids, "changed_at": e["occurred_at"]})
        for n, row in done.rejections:
            e = events[n]
            ids = {"event_id": e["event_id"], "person_id": a.person_id}
            rejections.append({**row, **ids, "occurred_at": e["occurred_at"]})
        stages[a.person_id] = done.stage
    assert schemas is not None, "settle asks only for groups with a new person"
    return (
        [e for events in per_person for e in events],
        pa.Table.from_pylist(history, schemas[0]),
        pa.Table.from_pylist(rejections, schemas[1]),
        stages,
    )


# The characters Arrow's utf8_trim_whitespace trims among ASCII (tests/api check all 128).
_ASCII_BLANK = " \t\n\x0b\x0c\r\x1c\x1d\x1e\x1f"


def ascii_masks(columns: Sequence[Sequence[str | None]], n: int) -> list[int] | None:
    """`filled_masks` of these required-field columns in plain Python, or None when a value
    is not ASCII (Unicode whitespace is then left to Arrow). Per group it ran a dozen Arrow
    kernels on a handful of rows: a sixth of the journal thread's CPU, on the answer path."""
    masks = [0] * n
    for bit, values in enumerate(columns):
        for i, v in enumerate(values):
            if v is None:
                continue
            if not v.isascii():
                return None
            if v.strip(_ASCII_BLANK):
                masks[i] |= 1 << bit
    return masks


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def settle(hot: HotState, admitted: Sequence[Admitted], model: OperatingModel) -> Settled:
    """Score, stage and clock a group of admitted leads; the rows to write and the answers."""
    created = [a for a in admitted if a.created]
    batches: list[Batch] = []
    scores: dict[str, Scores] = {}
    stages: dict[str, str | None] = {}
    clocks: dict[str, Sla] = {}
    if created:
        for a in created:
            s = a.scored or score_lead(a.person or {}, a.form, model.scoring)
            scores[a.person_id] = Scores(
                fit=s.fit, engagement=s.engagement, combined=s.combined, is_mql_ready=s.is_mql_ready
            )
        events, history, rejections, stages = _lifecycle(
            created, [scores[a.person_id].is_mql_ready for a in created], model
        )
        clock_rows = _clocks(hot, created, model, clocks)
        batches += _rows(created, scores, stages, events, history, rejections, clock_rows)
    answers = [_answer(hot, a, scores, stages, clocks) for a in admitted]
    return Settled(batches, answers)


def _clocks(
    hot: HotState, created: Sequence[Admitted], model: OperatingModel, out: dict[str, Sla]
) -> list[dict[str, Any]]:
    cfg = model.routing
    rows: list[dict[str, Any]] = []
    for a in created:
        owner = a.routed.owner_id
        if owner is None or a.person is None or a.routed.decision_id is None:
            continue
        account = hot.accounts.get(a.person.get("account_id") or "")
        user = hot.users.get(owner)
        tz = user.timezone if user else cfg.default_timezone
        facts = {**a.person, "touch_type": a.form}
        clock = start_clock(a.person_id, owner, facts, account, tz, cfg.sla, a.at, cfg.holidays)
        out[a.person_id] = Sla(
            priority=clock.priority,
            started_at=naive_utc(clock.started_at),
            due_at=naive_utc(clock.due_at),
        )
        rows.append(
            {
                "clock_id": clock_id(a.routed.decision_id, clock.started_at),
                "person_id": a.person_id,
                "decision_id": a.routed.decision_id,
                "owner_id": owner,
                "priority": clock.priority,
                "started_at": naive_utc(clock.started_at),
                "due_at": naive_utc(clock.due_at),
                "breached": False,
                "breach_count": 0,
            }
        )
    return rows


def _rows(
    created: Sequence[Admitted],
    scores: dict[str, Scores],
    stages: dict[str, str | None],
    events: list[dict[str, Any]],
    history: pa.Table,
    rejections: pa.Table,
    clock_rows: list[dict[str, Any]],
) -> list[Batch]:
    persons = [{**(a.person or {}), "lifecycle_stage": stages.get(a.person_id)} for a in created]
    decisions = [
        {
            "decision_id": a.routed.decision_id,
            "person_id": a.person_id,
            "owner_id": a.decision.owner_id,
            "queue": a.decision.queue,
            "rule": a.decision.rule,
            "pool": a.decision.pool,
            "reason": a.decision.reason,
            "evaluated": a.decision.evaluated_json(),
            "decided_at": naive_utc(a.at),
        }
        for a in created
        if a.decision is not None
    ]
    lead_scores = [
        {"person_id": a.person_id, "scored_at": naive_utc(a.at), **scores[a.person_id].model_dump()}
        for a in created
    ]
    touches = [
        {
            "touchpoint_id": f"{a.person_id}-intake",
            "person_id": a.person_id,
            "occurred_at": naive_utc(a.at),
            "channel": (a.person or {}).get("source") or "web",
            "touch_type": a.form,
            "campaign_id": (a.person or {}).get("source_campaign_id"),
            "utm_source": a.unknown_source,
        }
        for a in created
        if a.form
    ]
    matches = [
        {
            "person_id": a.person_id,
            "account_id": a.match.account_id,
            "confidence": a.match.confidence,
            "reason": a.match.reason,
            "candidates": a.match.candidates,
            "applied": (a.person or {}).get("account_id") == a.match.account_id,
            "matched_at": naive_utc(a.at),
        }
        for a in created
        if a.match is not None
    ]
    # Every row here has a key no stored row has (a new person's id), so each table is an
    # append: DuckDB's ON CONFLICT path costs about twice a plain insert into a large table,
    # and a replayed group is never applied twice (the applied-group marker commits with it).
    out = [
        Batch("persons", pa.Table.from_pylist(persons), "append"),
        Batch("lifecycle_events", pa.Table.from_pylist(events), "append"),
        Batch("routing_decisions", pa.Table.from_pylist(decisions), "append"),
        Batch("lead_scores", pa.Table.from_pylist(lead_scores), "append"),
    ]
    if history.num_rows:
        out.append(Batch("lifecycle_history", history, "append"))
    if rejections.num_rows:
        out.append(Batch("lifecycle_rejections", rejections, "append"))
    if clock_rows:
        out.append(Batch("sla_clocks", pa.Table.from_pylist(clock_rows), "append"))
    if touches:
        out.append(Batch("touchpoints", pa.Table.from_pylist(touches), "append"))
    if matches:
        out.append(Batch("account_matches", pa.Table.from_pylist(matches), "append"))
    return out


def _answer(
    hot: HotState,
    a: Admitted,
    scores: dict[str, Scores],
    stages: dict[str, str | None],
    clocks: dict[str, Sla],
) -> LeadOut:
    owner = a.routed.owner_id
    user = hot.users.get(owner) if owner else None
    account = None
    if a.match is not None and a.person is not None and a.person.get("account_id"):
        name = hot.accounts[a.match.account_id].get("name")
        account = AccountMatch(
            account_id=a.match.account_id,
            name=name,
            confidence=a.match.confidence,
            reason=a.match.reason,
        )
    return LeadOut(
        person_id=a.person_id,
        created=a.created,
        duplicate_of=None if a.created else a.person_id,
        owner=Owner(id=owner, name=user.name if user else None) if owner else None,
        queue=a.routed.queue,
        rule=a.routed.rule,
        reason=a.routed.reason,
        decision_id=a.routed.decision_id,
        account=account,
        scores=scores.get(a.person_id),
        lifecycle_stage=stages.get(a.person_id),
        sla=clocks.get(a.person_id),
    )
