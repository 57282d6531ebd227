"""What the API does besides intake: respond, override, explain, list breaches.

Each function runs on the warehouse thread (see `service.IntakeService.db`) and writes its
change together with its audit entry in one `write_many`, through the same engine functions the
CLI uses (`sla_store.accept` / `reject`, `sla_store.clock_batches`, `sla_store.overdue`).
"""

from __future__ import annotations

import json
import math
import uuid
from datetime import datetime
from typing import Any

import pyarrow as pa

from revops.api.models import Breach, Breaches, LeadDetail, Responded, Sla
from revops.audit import audit_batch
from revops.config.models import OperatingModel
from revops.errors import RevOpsError
from revops.routing.calendar import aware
from revops.routing.engine import Decision
from revops.routing.round_robin import RoutingState
from revops.routing.sla_store import (
    LifecycleRefused,
    accept,
    clock_batches,
    overdue,
    reject,
)
from revops.routing.store import RoutedLead, lead_facts
from revops.warehouse import Batch, Warehouse
from revops.warehouse.clock import naive_utc

OVERRIDE_RULE = "manual_override"


class NotFound(RevOpsError):
    """No such person."""


class Conflict(RevOpsError):
    """The lead is not in a state that allows this (e.g. no running SLA clock)."""


class Refused(Conflict):
    """The lifecycle refuses the stage the answer asks for; nothing was recorded."""


def _rows(wh: Warehouse, name: str, column: str, value: str, order: list[str]) -> list[Any]:
    """Matching rows as dicts; NaN and infinities become null (JSON has no such numbers)."""
    t = wh.table(name)
    rows = wh.to_arrow(t.filter(t[column] == value).order_by(order)).to_pylist()
    return [{k: _finite(v) for k, v in r.items()} for r in rows]


def _finite(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _stage(wh: Warehouse, person_id: str) -> str | None:
    rows = _rows(wh, "persons", "person_id", person_id, ["person_id"])
    return rows[0]["lifecycle_stage"] if rows else None


def respond(
    wh: Warehouse,
    model: OperatingModel,
    person_id: str,
    outcome: str,
    reason: str | None,
    actor: str,
    at: datetime,
) -> Responded:
    """Accept or reject a lead for its owner: the clock stops, the lifecycle moves, audited."""
    note = audit_batch(
        wh, actor, f"leads.{outcome}", person_id, {"reason": reason} if reason else None, at=at
    )
    try:
        if outcome == "accepted":
            done = accept(wh, model, person_id, at, extra=[note])
        else:
            done = reject(wh, model, person_id, str(reason), at, extra=[note])
    except LifecycleRefused as exc:
        raise Refused(str(exc)) from None
    except RevOpsError as exc:
        raise Conflict(str(exc)) from None
    life = done.lifecycle
    text = None
    if life is not None:
        text = life.status + (f": {life.reason}" if life.reason else "")
    return Responded(
        person_id=person_id,
        clock_id=done.clock_id,
        outcome="accepted" if outcome == "accepted" else "rejected",
        met_sla=done.met,
        lifecycle=text,
        lifecycle_stage=_stage(wh, person_id),
    )


def assign(
    wh: Warehouse,
    model: OperatingModel,
    previous: str | None,
    routing: RoutingState,
    person_id: str,
    owner_id: str,
    reason: str,
    actor: str,
    at: datetime,
) -> tuple[str, str | None, Sla | None]:
    """A manual routing override: a new decision replacing the last (`previous`, from the hot
    state), the owner's SLA clock (the running one closes), and an audit entry naming who,
    from whom, to whom and why."""
    found = _rows(wh, "persons", "person_id", person_id, ["person_id"])
    if not found:
        raise NotFound(f"no person {person_id!r}")
    person = found[0]
    why = f"manual override by {actor}: {reason}"
    decision = Decision(owner_id, None, OVERRIDE_RULE, None, why, (), routing)
    decision_id = uuid.uuid4().hex[:20]
    routed = RoutedLead(decision_id, person_id, decision, previous)
    account_id = person.get("account_id") or ""
    found_account = _rows(wh, "accounts", "account_id", account_id, ["account_id"])
    accounts = {account_id: found_account[0]} if found_account else {}
    facts = {**person, **lead_facts(wh, [person_id], at)[person_id]}
    clocks = clock_batches(wh, model.routing, [routed], {person_id: facts}, accounts, at)
    row = {
        "decision_id": decision_id,
        "person_id": person_id,
        "owner_id": owner_id,
        "queue": None,
        "rule": OVERRIDE_RULE,
        "pool": None,
        "reason": why,
        "evaluated": "[]",
        "decided_at": naive_utc(at),
        "replay_of": previous,
    }
    details = {
        "from": person.get("owner_id"),
        "to": owner_id,
        "reason": reason,
        "decision_id": decision_id,
        "replaces": previous,
    }
    wh.write_many(
        [
            Batch("routing_decisions", pa.Table.from_pylist([row]), "append"),
            Batch("persons", pa.table({"person_id": [person_id], "owner_id": [owner_id]})),
            *clocks,
            audit_batch(wh, actor, "routing.override", person_id, details, at=at),
        ]
    )
    sla = None
    for batch in clocks:
        for c in batch.data.to_pylist():
            if c["decision_id"] == decision_id:
                sla = Sla(priority=c["priority"], started_at=c["started_at"], due_at=c["due_at"])
    return decision_id, previous, sla


def detail(wh: Warehouse, person_id: str) -> LeadDetail:
    """The person, every score, decision (with each rule evaluated), clock, stage change and
    audit entry about it, oldest first."""
    found = _rows(wh, "persons", "person_id", person_id, ["person_id"])
    if not found:
        raise NotFound(f"no person {person_id!r}")
    decisions = _rows(
        wh, "routing_decisions", "person_id", person_id, ["decided_at", "decision_id"]
    )
    for d in decisions:
        d["evaluated"] = json.loads(d["evaluated"])
    audit = _rows(wh, "audit_log", "subject", person_id, ["seq"])
    for a in audit:
        a["details"] = json.loads(a["details"])
    return LeadDetail(
        person=found[0],
        scores=_rows(wh, "lead_scores", "person_id", person_id, ["scored_at"]),
        decisions=decisions,
        sla_clocks=_rows(wh, "sla_clocks", "person_id", person_id, ["started_at", "clock_id"]),
        lifecycle=_rows(
            wh, "lifecycle_history", "person_id", person_id, ["changed_at", "transition_id"]
        ),
        audit=audit,
    )


def breaches(wh: Warehouse, at: datetime) -> Breaches:
    """Running SLA clocks past due at `at`; read only (`revops route breaches --escalate`
    records breaches and escalates)."""
    when = naive_utc(at)
    out = [
        Breach(
            clock_id=c["clock_id"],
            person_id=c["person_id"],
            owner_id=c["owner_id"],
            priority=c["priority"],
            started_at=c["started_at"],
            due_at=c["due_at"],
            breach_count=int(c["breach_count"]),
            minutes_overdue=round((when - c["due_at"]).total_seconds() / 60, 2),
        )
        for c in overdue(wh, aware(at))
    ]
    return Breaches(at=when, breaches=out)
