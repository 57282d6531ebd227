"""SLA clocks against the warehouse: started on assignment, closed by a response, breached.

A clock starts whenever routing assigns a lead to an owner (`clock_batches`, written in the
routing decision's own transaction). The owner answers with `accept` (the lead becomes SAL) or
`reject` (with a listed reason; the lead re-enters the lifecycle at the configured stage); both
go through the lifecycle rules (`apply_event`) first, and an answer the lifecycle refuses is
refused whole (`LifecycleRefused`), else written in one transaction with the clock.
`detect_breaches` flags open clocks past due and takes each breach's escalation step: a
reminder to the owner, then to the manager (the owner's clock re-arms from the missed
deadline each time), then a re-route (`store.reroute`, the breaching owner paused for it),
each step recorded in sla_escalations. Each call advances each overdue clock by one breach.

Timestamps are stored as naive UTC, like every other table of the warehouse.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from revops.audit import audit_batch
from revops.config.models import OperatingModel
from revops.config.routing import RoutingConfig
from revops.errors import RevOpsError
from revops.lifecycle import EventOutcome, LifecycleEvent, apply_event
from revops.routing.calendar import aware
from revops.routing.sla import (
    Clock,
    Outcome,
    business_deadline,
    escalation_step,
    respond,
    start_clock,
    target_minutes,
)
from revops.warehouse import Batch, Warehouse
from revops.warehouse.clock import naive_utc
from revops.warehouse.schema import table
from revops.warehouse.warehouse import arrow_schema

if TYPE_CHECKING:
    from revops.routing.store import RoutedLead

ACCEPTED_STAGE = "SAL"
SOURCE = "sla"

CLOCK_SCHEMA = arrow_schema(table("sla_clocks"))
ESCALATION_SCHEMA = arrow_schema(table("sla_escalations"))


def clock_id(decision_id: str, started_at: datetime) -> str:
    """Same decision and start → same id, so re-running a batch rewrites the same clock."""
    key = f"{decision_id}|{naive_utc(started_at).isoformat()}"
    return hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()[:20]


def _table(rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist([dict(r) for r in rows], schema=CLOCK_SCHEMA)


def open_clocks(wh: Warehouse, person_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The running clock of each person (the latest, should there be several)."""
    if not person_ids:
        return {}
    t = wh.table("sla_clocks")
    rows = wh.to_arrow(
        t.filter(t.person_id.isin(list(person_ids)), t.closed_at.isnull()).order_by(
            ["started_at", "clock_id"]
        )
    ).to_pylist()
    return {r["person_id"]: r for r in rows}


def _timezones(wh: Warehouse, cfg: RoutingConfig) -> dict[str, str]:
    rows = wh.to_arrow(wh.table("users").select("user_id", "timezone")).to_pylist()
    return {r["user_id"]: r["timezone"] or cfg.default_timezone for r in rows}


def clock_batches(
    wh: Warehouse,
    cfg: RoutingConfig,
    routed: Sequence[RoutedLead],
    leads: Mapping[str, Mapping[str, Any]],
    accounts: Mapping[str, Mapping[str, Any]],
    at: datetime,
    superseded: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[Batch]:
    """The clock rows a batch of routing decisions writes, in the decisions' transaction.

    Running clocks of the routed persons close at `at` (with `superseded[person_id]` applied
    and `escalated_to` set to the new owner or queue when given); a clock starts for every
    decision that names an owner. `leads` maps person_id to the persons row routed.
    """
    when = naive_utc(at)
    extra = superseded or {}
    by_person = {r.person_id: r for r in routed}
    rows: list[dict[str, Any]] = []
    for pid, old in open_clocks(wh, list(by_person)).items():
        closed = {**old, "closed_at": when}
        if pid in extra:
            d = by_person[pid].decision
            closed.update(extra[pid])
            closed["escalated_to"] = d.owner_id or f"queue:{d.queue}"
        rows.append(closed)
    zones = _timezones(wh, cfg)
    for r in routed:
        owner = r.decision.owner_id
        if owner is None:
            continue
        lead = leads[r.person_id]
        account = accounts.get(lead.get("account_id") or "")
        tz = zones.get(owner, cfg.default_timezone)
        clock = start_clock(r.person_id, owner, lead, account, tz, cfg.sla, at, cfg.holidays)
        rows.append(_new_row(clock, r.decision_id, 0))
    return [Batch("sla_clocks", _table(rows))] if rows else []


def _new_row(clock: Clock, decision_id: str, breach_count: int) -> dict[str, Any]:
    return {
        "clock_id": clock_id(decision_id, clock.started_at),
        "person_id": clock.person_id,
        "decision_id": decision_id,
        "owner_id": clock.owner_id,
        "priority": clock.priority,
        "started_at": naive_utc(clock.started_at),
        "due_at": naive_utc(clock.due_at),
        "breached": False,
        "breach_count": breach_count,
    }


class LifecycleRefused(RevOpsError):
    """The lifecycle would refuse the stage a response asks for: nothing is recorded."""


@dataclass(frozen=True)
class SlaResponse:
    """What an acceptance or rejection did: the clock closed, on time or not, and the
    lifecycle outcome of the stage it asked for (None when the reason maps to no stage)."""

    clock_id: str
    outcome: Outcome
    met: bool
    lifecycle: EventOutcome | None


def _lifecycle_batches(
    wh: Warehouse, model: OperatingModel, event: LifecycleEvent
) -> tuple[EventOutcome, list[Batch]]:
    """Apply one stage change through the lifecycle rules; the rows it writes."""
    p = wh.table("persons")
    found = wh.to_arrow(p.filter(p.person_id == event.person_id))
    person = found.to_pylist()[0] if found.num_rows else None
    current = person["lifecycle_stage"] if person else None
    result = apply_event(event, person, current, model.lifecycle)
    ev = pa.Table.from_pylist(
        [
            {
                "event_id": event.event_id,
                "person_id": event.person_id,
                "stage": event.stage,
                "occurred_at": event.occurred_at,
                "source": event.source,
            }
        ]
    )
    batches = [Batch("lifecycle_events", ev)]
    if result.status == "accepted":
        history = {
            "transition_id": event.event_id,
            "person_id": event.person_id,
            "from_stage": current,
            "to_stage": event.stage,
            "changed_at": event.occurred_at,
            "source": event.source,
        }
        i = found.column_names.index("lifecycle_stage")
        stage = pa.array([event.stage], found.schema.field(i).type)
        batches.append(Batch("lifecycle_history", pa.Table.from_pylist([history])))
        batches.append(Batch("persons", found.set_column(i, "lifecycle_stage", stage)))
    elif result.status == "rejected":
        rejection = {
            "event_id": event.event_id,
            "person_id": event.person_id,
            "from_stage": current,
            "to_stage": event.stage,
            "occurred_at": event.occurred_at,
            "source": event.source,
            "reason": result.reason,
        }
        batches.append(Batch("lifecycle_rejections", pa.Table.from_pylist([rejection])))
    return result, batches


def _respond(
    wh: Warehouse,
    model: OperatingModel,
    person_id: str,
    outcome: Outcome,
    at: datetime,
    reason: str | None,
    extra: Sequence[Batch] = (),
) -> SlaResponse:
    sla = model.routing.sla
    row = open_clocks(wh, [person_id]).get(person_id)
    if row is None:
        raise RevOpsError(f"no running SLA clock for person {person_id!r}; is the lead routed?")
    clock = Clock(
        person_id, row["owner_id"], row["priority"], aware(row["started_at"]), aware(row["due_at"])
    )
    response = respond(clock, outcome, at, sla, reason)
    when = naive_utc(at)
    late = not response.met
    closed = {
        **row,
        "responded_at": when,
        "response": outcome,
        "rejection_reason": reason,
        "breached": bool(row["breached"]) or late,
        "breach_count": row["breach_count"] + int(late),
        "closed_at": when,
    }
    batches = [Batch("sla_clocks", _table([closed]))]
    stage = ACCEPTED_STAGE if outcome == "accepted" else sla.reentry.get(reason or "")
    result = None
    if stage is not None:
        event = LifecycleEvent(f"sla-{row['clock_id']}-{outcome}", person_id, stage, when, SOURCE)
        result, more = _lifecycle_batches(wh, model, event)
        if result.status == "rejected":
            # An answer the lifecycle refuses is no answer: the clock keeps running, so the
            # owner can fix the lead (or reject it) and the SLA still measures the wait.
            raise LifecycleRefused(
                f"{person_id}: not {outcome}, the lifecycle refuses {stage}: {result.reason}"
            )
        batches.extend(more)
    wh.write_many([*batches, *extra])
    return SlaResponse(row["clock_id"], outcome, response.met, result)


def accept(
    wh: Warehouse,
    model: OperatingModel,
    person_id: str,
    at: datetime,
    extra: Sequence[Batch] = (),
) -> SlaResponse:
    """The owner accepts the lead: the clock closes and the lead moves to SAL, in one
    transaction (with `extra`, e.g. the caller's audit entry). If the lifecycle refuses SAL,
    `LifecycleRefused` is raised and nothing is written."""
    return _respond(wh, model, person_id, "accepted", at, None, extra)


def reject(
    wh: Warehouse,
    model: OperatingModel,
    person_id: str,
    reason: str,
    at: datetime,
    extra: Sequence[Batch] = (),
) -> SlaResponse:
    """The owner rejects the lead with a listed reason: the clock closes and the lead moves to
    the reason's re-entry stage (sla.reentry) through the lifecycle, in one transaction (with
    `extra`, e.g. the caller's audit entry); `LifecycleRefused` (nothing written) when the
    lifecycle refuses that stage."""
    return _respond(wh, model, person_id, "rejected", at, reason, extra)


def overdue(wh: Warehouse, at: datetime) -> list[dict[str, Any]]:
    """Running clocks past their deadline at `at`, most overdue first."""
    t = wh.table("sla_clocks")
    expr = t.filter(t.closed_at.isnull(), t.due_at < naive_utc(at))
    return wh.to_arrow(expr.order_by(["due_at", "clock_id"])).to_pylist()


@dataclass(frozen=True)
class BreachReport:
    """Clocks found breached; the persons whose owner got a fresh clock; those reminded (owner
    or manager, recorded in sla_escalations); the re-routings."""

    breached: tuple[str, ...]
    rearmed: tuple[str, ...]
    escalated: tuple[RoutedLead, ...]
    reminded: tuple[str, ...] = ()


def _managers(wh: Warehouse) -> dict[str, str | None]:
    rows = wh.to_arrow(wh.table("users").select("user_id", "manager_id")).to_pylist()
    return {r["user_id"]: r["manager_id"] for r in rows}


def _escalation_row(
    c: Mapping[str, Any], step: str, count: int, at: datetime, **more: Any
) -> dict[str, Any]:
    key = f"{c['clock_id']}|{step}|{count}"
    return {
        "escalation_id": hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()[:20],
        "clock_id": c["clock_id"],
        "person_id": c["person_id"],
        "step": step,
        "breach_count": count,
        "notified_user_id": more.get("notified"),
        "rerouted_to": more.get("rerouted_to"),
        "escalated_at": naive_utc(at),
    }


def detect_breaches(
    wh: Warehouse, model: OperatingModel, at: datetime, actor: str | None = None
) -> BreachReport:
    """Flag every running clock past due at `at` as breached and take the breach's step
    (`routing.sla.escalation`): remind the owner or their manager (the owner's clock re-arms
    from the missed deadline) or re-route the lead, away from the owner who breached. Every
    step lands in sla_escalations; with an `actor`, an audit entry records the run. The
    re-armed clocks, the re-assignments, the escalation rows and the audit entry are one
    transaction: a failure leaves no lead re-routed without its escalation row, or the
    reverse."""
    from revops.routing.store import plan_reroute  # store writes clocks through this module

    cfg = model.routing
    holidays: tuple[date, ...] = cfg.holidays
    zones = _timezones(wh, cfg)
    managers = _managers(wh)
    rows: list[dict[str, Any]] = []
    steps: list[dict[str, Any]] = []
    rearmed: list[str] = []
    escalate: dict[str, dict[str, Any]] = {}
    late = overdue(wh, at)
    for c in late:
        count = c["breach_count"] + 1
        step = escalation_step(count, cfg.sla)
        if step == "reroute":
            escalate[c["person_id"]] = {"breached": True, "breach_count": count}
            continue
        notified = c["owner_id"] if step == "remind_owner" else managers.get(c["owner_id"])
        steps.append(_escalation_row(c, step, count, at, notified=notified))
        rows.append({**c, "breached": True, "breach_count": count, "closed_at": naive_utc(at)})
        start = aware(c["due_at"])
        tz = zones.get(c["owner_id"], cfg.default_timezone)
        minutes = target_minutes(c["priority"], cfg.sla)
        due = business_deadline(start, minutes, tz, cfg.sla.business_hours, holidays)
        clock = Clock(c["person_id"], c["owner_id"], c["priority"], start, due)
        rows.append(_new_row(clock, c["decision_id"], count))
        rearmed.append(c["person_id"])
    batches: list[Batch] = []
    if rows:
        batches.append(Batch("sla_clocks", _table(rows)))
    clocks = {c["person_id"]: c for c in late}
    # the owner who breached takes the lead not back: barred for that decision only
    away = {pid: clocks[pid]["owner_id"] for pid in escalate}
    escalated, moves = plan_reroute(wh, cfg, sorted(escalate), at, escalate, away)
    batches += moves
    steps += [
        _escalation_row(
            clocks[r.person_id],
            "reroute",
            escalate[r.person_id]["breach_count"],
            at,
            rerouted_to=r.decision.owner_id or f"queue:{r.decision.queue}",
        )
        for r in escalated
    ]
    if steps:
        batches.append(Batch("sla_escalations", pa.Table.from_pylist(steps, ESCALATION_SCHEMA)))
    if batches and actor is not None:
        details = {
            "breached": len(late),
            "reminded": [s["person_id"] for s in steps if s["step"] != "reroute"][:200],
            "rerouted": [r.person_id for r in escalated][:200],
        }
        subject = f"{len(late)} SLA breaches, {len(escalated)} leads re-routed"
        batches.append(audit_batch(wh, actor, "routing.escalated", subject, details, at=at))
    if batches:
        wh.write_many(batches)
    return BreachReport(
        tuple(c["clock_id"] for c in late),
        tuple(rearmed),
        tuple(escalated),
        tuple(s["person_id"] for s in steps),
    )
