"""A known person asks again: record the touch, re-score, re-qualify, route, start the clock.

A returning lead is the most valuable lead marketing has, so `POST /leads` with a known email
does the whole loop rather than echoing the old record: the request is a touchpoint; the
person is re-scored with the batch code over every earlier touch plus this one (decay
included); the scores ask the lifecycle for a stage (`scoring.stages`: from Nurture or
Recycled to MQL on a new touch, through the lifecycle's own rules); a person who is now in a
routable stage and has no running SLA clock is routed (an active owner keeps the lead, else
the rules decide) and gets a clock. Fields the person left blank are filled from the request;
filled ones are never overwritten by a web form.

This path reads the warehouse (the person's touches and stage live there, not in the hot
state), so it runs as an exclusive write (see `service.IntakeService.returning`): the reads
and the write bracket the in-memory routing decision.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
import pyarrow as pa

from revops.api.hot import HotState, Routed
from revops.api.models import LeadIn, LeadOut, Owner, Scores, Sla, StageChange
from revops.audit import audit_batch
from revops.config.models import OperatingModel
from revops.lifecycle.engine import apply_events, required_columns
from revops.routing.engine import Decision
from revops.routing.sla import start_clock
from revops.routing.sla_store import clock_id
from revops.scoring.rules import score_one
from revops.scoring.stages import EVENT_SCHEMA, wanted_stages
from revops.warehouse import Batch, Warehouse
from revops.warehouse.clock import naive_utc

SOURCE = "api"
ENTRY_STAGE = "Lead"
DEFAULT_TOUCH = "form_fill"  # a request without a `form` is still a form someone filled in
FILLABLE = (
    "first_name", "last_name", "company", "title", "phone", "country", "state", "employees",
    "industry",
)  # fmt: skip


@dataclass(frozen=True)
class Context:
    """What the warehouse knows about the person: the row, its account, touches, when the
    current stage was entered, the running SLA clock."""

    person: dict[str, Any]
    account: dict[str, Any] | None
    touches: list[dict[str, Any]]
    entered_at: datetime | None
    open_clock: dict[str, Any] | None


def _one(wh: Warehouse, table: str, column: str, value: str) -> dict[str, Any] | None:
    t = wh.table(table)
    rows = wh.to_arrow(t.filter(t[column] == value)).to_pylist()
    return rows[0] if rows else None


def load_context(wh: Warehouse, person_id: str) -> Context:
    """Read one person's context (warehouse thread)."""
    person = _one(wh, "persons", "person_id", person_id)
    if person is None:
        raise LookupError(person_id)
    account = _one(wh, "accounts", "account_id", person["account_id"] or "")
    t = wh.table("touchpoints")
    touches = wh.to_arrow(
        t.filter(t.person_id == person_id).select("touch_type", "occurred_at")
    ).to_pylist()
    h = wh.table("lifecycle_history")
    changes = wh.to_arrow(h.filter(h.person_id == person_id).select("changed_at")).to_pylist()
    entered = max((c["changed_at"] for c in changes), default=None)
    c = wh.table("sla_clocks")
    clocks = wh.to_arrow(
        c.filter(c.person_id == person_id, c.closed_at.isnull()).order_by("started_at")
    ).to_pylist()
    return Context(person, account, touches, entered, clocks[-1] if clocks else None)


@dataclass(frozen=True)
class Plan:
    """The rows a returning request writes, its answer and the routing it leaves behind."""

    answer: LeadOut
    batches: list[Batch]
    routed: Routed
    details: dict[str, Any]


def _filled(person: dict[str, Any], lead: LeadIn) -> dict[str, Any]:
    """Blank fields of the person filled from the request."""
    return {
        f: getattr(lead, f)
        for f in FILLABLE
        if person.get(f) in (None, "") and getattr(lead, f) is not None
    }


def _stage_events(
    ctx: Context, person: dict[str, Any], ready: bool, fit: float, model: OperatingModel, at: Any
) -> tuple[list[dict[str, Any]], str | None]:
    """The lifecycle events the request asks for, and the stage the person is in now."""
    stage = person.get("lifecycle_stage")
    wanted: list[str] = []
    if stage is None:
        wanted = [ENTRY_STAGE, *([model.scoring.stages.mql] if ready else [])]
    else:
        people = pd.DataFrame(
            {
                "lifecycle_stage": [stage],
                "fit": [fit],
                "is_mql_ready": [ready],
                "entered_at": [pd.Timestamp(ctx.entered_at) if ctx.entered_at else pd.NaT],
                "last_touch_at": [pd.Timestamp(at)],
            }
        )
        want = wanted_stages(people, model.scoring).iloc[0]
        wanted = [] if want is None else [str(want)]
    pid = person["person_id"]
    stamp = at.strftime("%Y%m%dT%H%M%S%f")
    events = [
        {
            "event_id": f"{pid}-{stamp}-{n}-{s.lower()}",
            "person_id": pid,
            "stage": s,
            "occurred_at": at,
            "source": SOURCE,
        }
        for n, s in enumerate(wanted)
    ]
    return events, stage


def plan(hot: HotState, ctx: Context, lead: LeadIn, model: OperatingModel, at: datetime) -> Plan:
    """Everything a returning request does, in memory; advances `hot.routing` if it routes.

    Runs on the event loop, so no other decision interleaves with this one.
    """
    when = naive_utc(at)
    pid = ctx.person["person_id"]
    person = {**ctx.person, **_filled(ctx.person, lead)}
    touch_type = lead.form or DEFAULT_TOUCH
    touch = {
        "touchpoint_id": f"{pid}-{uuid.uuid4().hex[:12]}",
        "person_id": pid,
        "occurred_at": when,
        "channel": lead.source or person.get("source") or "direct",
        "touch_type": touch_type,
        "campaign_id": lead.campaign_id,
        "utm_source": lead.unknown_source,
    }
    account = ctx.account
    linked = {f"account.{k}": v for k, v in (account or {}).items()}
    s = score_one({**person, **linked}, [*ctx.touches, touch], model.scoring, when)
    scores = Scores(
        fit=s.fit, engagement=s.engagement, combined=s.combined, is_mql_ready=s.is_mql_ready
    )
    events, before = _stage_events(ctx, person, s.is_mql_ready, s.fit, model, when)
    changes: list[StageChange] = []
    batches: list[Batch] = [Batch("touchpoints", pa.Table.from_pylist([touch]), "append")]
    stage = before
    if events:
        cols = required_columns(model.lifecycle)
        persons = pa.table({c: pa.array([_text(person.get(c))], pa.string()) for c in cols})
        table = pa.Table.from_pylist(events, EVENT_SCHEMA)
        result = apply_events(table, persons, model.lifecycle, {pid: before})
        stage = result.stages.column("lifecycle_stage")[0].as_py()
        changes = _changes(events, result.history, result.rejections, before)
        batches.append(Batch("lifecycle_events", table, "append"))
        if result.history.num_rows:
            batches.append(Batch("lifecycle_history", result.history, "append"))
        if result.rejections.num_rows:
            batches.append(Batch("lifecycle_rejections", result.rejections, "append"))
    person["lifecycle_stage"] = stage
    person["updated_at"] = when
    routed = hot.persons.get(pid, Routed(person.get("owner_id")))
    decision: Decision | None = None
    sla: Sla | None = None
    if ctx.open_clock is not None:
        c = ctx.open_clock
        sla = Sla(priority=c["priority"], started_at=c["started_at"], due_at=c["due_at"])
    elif stage in model.routing.routable_stages:
        lead_facts = {**person, "touch_type": touch_type}
        decision = hot.router.route(lead_facts, account, hot.routing, at)
        hot.routing = decision.state
        decision_id = uuid.uuid4().hex[:20]
        routed = Routed(
            decision.owner_id, decision.queue, decision.rule, decision.reason, decision_id
        )
        person["owner_id"] = decision.owner_id
        batches.append(_decision_batch(pid, decision, decision_id, routed, when))
        if decision.owner_id is not None:
            cfg = model.routing
            user = hot.users.get(decision.owner_id)
            tz = user.timezone if user else cfg.default_timezone
            clock = start_clock(
                pid, decision.owner_id, lead_facts, account, tz, cfg.sla, at, cfg.holidays
            )
            sla = Sla(
                priority=clock.priority,
                started_at=naive_utc(clock.started_at),
                due_at=naive_utc(clock.due_at),
            )
            row = {
                "clock_id": clock_id(decision_id, clock.started_at),
                "person_id": pid,
                "decision_id": decision_id,
                "owner_id": decision.owner_id,
                "priority": clock.priority,
                "started_at": sla.started_at,
                "due_at": sla.due_at,
                "breached": False,
                "breach_count": 0,
            }
            batches.append(Batch("sla_clocks", pa.Table.from_pylist([row]), "append"))
    written = {k: person[k] for k in ("person_id", "lifecycle_stage", "owner_id", "updated_at")}
    written |= _filled(ctx.person, lead)
    batches.append(Batch("persons", pa.Table.from_pylist([written])))
    score_row = {"person_id": pid, "scored_at": when, **scores.model_dump()}
    batches.append(Batch("lead_scores", pa.Table.from_pylist([score_row])))
    owner = routed.owner_id
    user = hot.users.get(owner) if owner else None
    answer = LeadOut(
        person_id=pid,
        created=False,
        duplicate_of=pid,
        touch_id=touch["touchpoint_id"],
        stage_changes=changes,
        owner=Owner(id=owner, name=user.name if user else None) if owner else None,
        queue=routed.queue,
        rule=routed.rule,
        reason=routed.reason,
        decision_id=routed.decision_id,
        account=None,
        scores=scores,
        lifecycle_stage=stage,
        sla=sla,
    )
    details = {
        "touch": touch["touchpoint_id"],
        "stage": [before, stage],
        "routed": decision is not None,
        "owner": owner,
        "queue": routed.queue,
    }
    return Plan(answer, batches, routed, details)


def _decision_batch(
    pid: str, decision: Decision, decision_id: str, routed: Routed, when: datetime
) -> Batch:
    row = {
        "decision_id": decision_id,
        "person_id": pid,
        "owner_id": decision.owner_id,
        "queue": decision.queue,
        "rule": decision.rule,
        "pool": decision.pool,
        "reason": decision.reason,
        "evaluated": decision.evaluated_json(),
        "decided_at": when,
        "replay_of": None,
    }
    return Batch("routing_decisions", pa.Table.from_pylist([row]), "append")


def _changes(
    events: list[dict[str, Any]], history: pa.Table, rejections: pa.Table, before: str | None
) -> list[StageChange]:
    accepted = dict(
        zip(history["transition_id"].to_pylist(), history["from_stage"].to_pylist(), strict=True)
    )
    refused = dict(
        zip(rejections["event_id"].to_pylist(), rejections["reason"].to_pylist(), strict=True)
    )
    out: list[StageChange] = []
    current = before
    for e in events:
        if e["event_id"] in accepted:
            out.append(
                StageChange(
                    from_stage=accepted[e["event_id"]], to_stage=e["stage"], status="accepted"
                )
            )
            current = e["stage"]
        elif e["event_id"] in refused:
            out.append(
                StageChange(
                    from_stage=current,
                    to_stage=e["stage"],
                    status="rejected",
                    reason=refused[e["event_id"]],
                )
            )
        else:
            out.append(StageChange(from_stage=current, to_stage=e["stage"], status="repeat"))
    return out


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def write(
    wh: Warehouse,
    plan: Plan,
    actor: str,
    at: datetime,
    idempotency: dict[str, Any] | None,
) -> None:
    """Write a returning request's rows with its audit entry (and idempotency answer) in one
    transaction (warehouse thread)."""
    batches = [*plan.batches]
    if idempotency is not None:
        batches.append(Batch("api_idempotency", pa.Table.from_pylist([idempotency]), "append"))
    note = audit_batch(wh, actor, "leads.returned", plan.answer.person_id, plan.details, at=at)
    wh.write_many([*batches, note])
