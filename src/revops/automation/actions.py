"""Actions: what an event's automation does, as outbox rows and the local records they make.

Local actions are applied in the transaction that records the event: a task (due in the
assignee's business hours), an escalation task for the owner's manager, a nurture-list
membership. Outbound actions (webhook, chat, email) are queued as `pending` for the dispatcher.
Every action first passes consent when it needs it; one refused is stored as `blocked`, one
that cannot be done (no manager, no address) as `skipped` with the reason, never dropped.

A new kind is one more entry in `OUTBOUND` with its payload builder here and its sender in
`revops.automation.channels`: the outbox, retries, idempotency keys, consent and audit are
shared. Write-back files (`revops.automation.writeback`) are queued as `sync` actions that way:
by `revops sync push`, and by an automation's `writeback` action for the one fired record,
whose ledger rows and run row are written with the event (planned, so queued, is synced).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa

from revops.automation.sources import Tables
from revops.config.automation import Action, Automation
from revops.config.models import OperatingModel
from revops.privacy.consent import contactable
from revops.routing.sla import business_deadline
from revops.warehouse import Warehouse, schema
from revops.warehouse.clock import naive_utc

OUTBOUND = ("webhook", "chat", "email")
_FIELD = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
# the column naming a record's account, per record table (an account is its own account)
_ACCOUNT_OF = {"persons": "account_id", "opportunities": "account_id"}


def action_id(event_id: str, position: int) -> str:
    """The idempotency key receivers dedupe on: fixed by the event and the action's place."""
    return hashlib.sha256(f"{event_id}:{position}".encode()).hexdigest()[:32]


def render(template: str, values: Mapping[str, Any]) -> str:
    """`{name}` replaced by its value; unknown names stay as written. No attribute access or
    format specs, so a template in revops.yaml can only read the event's own fields."""

    def sub(m: re.Match[str]) -> str:
        v = values.get(m.group(1))
        return m.group(0) if v is None and m.group(1) not in values else _text(v)

    return _FIELD.sub(sub, template)


def _text(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, datetime):
        return v.isoformat(sep=" ", timespec="minutes")
    return str(v)


@dataclass
class Planned:
    """The rows an evaluation writes besides its events."""

    actions: list[dict[str, Any]] = field(default_factory=list)
    tasks: list[dict[str, Any]] = field(default_factory=list)
    memberships: list[dict[str, Any]] = field(default_factory=list)
    ledger: list[dict[str, Any]] = field(default_factory=list)  # sync_ledger, for writebacks
    runs: list[dict[str, Any]] = field(default_factory=list)  # sync_runs, for writebacks


@dataclass(frozen=True)
class People:
    """What actions need to know about users: timezone, manager and email."""

    timezone: dict[str, str]
    manager: dict[str, str]
    email: dict[str, str]

    @classmethod
    def read(cls, wh: Warehouse, tables: Tables) -> People:
        u = tables("users")
        rows = wh.to_arrow(u.select("user_id", "timezone", "manager_id", "email")).to_pylist()
        pick = lambda col: {r["user_id"]: r[col] for r in rows if r[col]}  # noqa: E731
        return cls(pick("timezone"), pick("manager_id"), pick("email"))


def _consented(
    wh: Warehouse,
    tables: Tables,
    model: OperatingModel,
    needs: set[tuple[str, str]],
    person_ids: Sequence[str],
) -> dict[tuple[str, str], set[str]]:
    """Per (purpose, channel): which of `person_ids` may be contacted now."""
    out: dict[tuple[str, str], set[str]] = {}
    if not person_ids:
        return {n: set() for n in needs}
    import ibis

    chosen = ibis.memtable(pa.table({"person_id": pa.array(sorted(set(person_ids)), pa.string())}))
    # contactable() judges each person by their own persons row and ledger events, so
    # narrowing both to the chosen persons first changes no answer; it spares the ledger-wide
    # consent state and the persons overlay a write brings (+180 MB at 10x in the lifecycle's)
    persons, ledger = tables("persons"), tables("consent_ledger")
    persons = persons.filter(persons.person_id.isin(chosen.person_id))
    ledger = ledger.filter(ledger.person_id.isin(chosen.person_id))
    for purpose, channel in sorted(needs):
        ok = contactable(
            persons,
            ledger,
            tables("privacy_tombstones"),
            model.privacy,
            purpose,
            channel,
        )
        ok = ok.filter(ok.person_id.isin(chosen.person_id))
        out[(purpose, channel)] = set(wh.to_arrow(ok).column("person_id").to_pylist())
    return out


def _ids(wh: Warehouse, t: Any, key: str, wanted: set[str], value: str) -> dict[str, str]:
    """`key` → `value` of the rows of `t` whose `key` is in `wanted` (nulls left out)."""
    import ibis

    chosen = ibis.memtable(pa.table({"_k": pa.array(sorted(wanted), pa.string())}))
    rows = t.filter(t[key].isin(chosen._k)).select(k=t[key], v=t[value])
    return {r["k"]: r["v"] for r in wh.to_arrow(rows).to_pylist() if r["v"]}


def event_csms(
    wh: Warehouse, tables: Tables, events: Sequence[Mapping[str, Any]]
) -> dict[str, str]:
    """event_id → the customer success manager of the event's account (accounts.csm_id), for
    the events whose record has an account and that account a CSM."""
    account: dict[tuple[str, str], str] = {}
    for name, column in _ACCOUNT_OF.items():
        ids = {e["record_id"] for e in events if e["record_table"] == name}
        if ids:
            pk = schema.table(name).primary_key[0]
            for rid, acct in _ids(wh, tables(name), pk, ids, column).items():
                account[(name, rid)] = acct
    keyed: dict[str, str] = {}
    for e in events:
        rec = (e["record_table"], e["record_id"])
        if e["record_table"] == "accounts":
            keyed[e["event_id"]] = e["record_id"]
        elif rec in account:
            keyed[e["event_id"]] = account[rec]
    if not keyed:
        return {}
    csm = _ids(wh, tables("accounts"), "account_id", set(keyed.values()), "csm_id")
    return {ev: csm[a] for ev, a in keyed.items() if a in csm}


def resolve_assignee(
    a: Action, owner: str | None, csm: str | None, people: People
) -> tuple[str | None, str | None]:
    """Who gets the task `a` makes, and a note when the role asked for was not there.

    An escalation always goes to the owner's manager. A `csm` task falls back to the record's
    owner when its account has no CSM, so an at-risk account is never left without a save task;
    the note says so, for whoever reads the action.
    """
    if a.type == "escalation" or a.assignee == "manager":
        return people.manager.get(owner or ""), None
    if a.assignee == "csm":
        if csm:
            return csm, None
        return owner, "the account has no customer success manager; assigned to the owner"
    return owner, None


def plan_actions(
    wh: Warehouse,
    tables: Tables,
    model: OperatingModel,
    events: Sequence[Mapping[str, Any]],
    at: datetime,
) -> Planned:
    """Outbox rows, tasks and nurture memberships for `events` (dicts of automation_events
    columns, `details` still a dict), as of `at`."""
    at = naive_utc(at)
    people = People.read(wh, tables)
    rules = {r.name: r for r in model.automations.rules}
    needs = {
        (c.purpose, c.channel)
        for r in rules.values()
        for a in r.actions
        if (c := a.required_consent()) is not None
    }
    persons = [e["record_id"] for e in events if e["record_table"] == "persons"]
    allowed = _consented(wh, tables, model, needs, persons) if needs else {}
    wants_csm = any(a.assignee == "csm" for r in rules.values() for a in r.actions)
    csms = event_csms(wh, tables, events) if wants_csm else {}
    out = Planned()
    for e in events:
        rule = rules[e["automation"]]
        for position, a in enumerate(rule.actions):
            if a.type == "writeback":
                _plan_writeback(out, wh, model, rule, a, position, e, at)
            else:
                _plan_one(out, model, people, allowed, rule, a, position, e, at, csms)
    return out


def _plan_writeback(
    out: Planned,
    wh: Warehouse,
    model: OperatingModel,
    rule: Automation,
    a: Action,
    position: int,
    e: Mapping[str, Any],
    at: datetime,
) -> None:
    """A `sync` action carrying the import file of the fired record's changed owned fields in
    `a.system`, with the ledger and run rows that mark them handed over. Of the system's
    written-back objects on the record's table, the first (mapping order) with a change is
    queued; nothing changed since the last sync (or no such object) is `skipped`, with why."""
    from revops.automation import writeback

    assert a.system is not None
    endpoint = model.automations.sync[a.system]  # validated: a writeback needs sync.<system>
    aid = action_id(e["event_id"], position)
    row: dict[str, Any] = {
        "action_id": aid,
        "event_id": e["event_id"],
        "automation": rule.name,
        "position": position,
        "kind": "sync",
        "target": endpoint,
        "status": "skipped",
        "attempts": 0,
        "retries": 0,
        "next_attempt_at": None,
        "payload": "{}",
        "created_at": at,
        "delivered_at": None,
    }
    try:
        names = [
            n for n, obj in writeback.objects(model, a.system) if obj.table == e["record_table"]
        ]
    except KeyError as exc:
        names, why = [], str(exc.args[0])
    else:
        why = f"{a.system} writes back no {e['record_table']}"
    for name in names:
        p = writeback.plan_object(wh, model, a.system, name, e["record_id"])
        if not p.rows:
            why = f"{e['record_table']} {e['record_id']}: nothing changed since the last sync"
            continue
        rid = writeback.run_id(p, at)
        if any(r["run_id"] == rid for r in out.runs):
            why = f"{e['record_table']} {e['record_id']}: already queued by this evaluation"
            break
        payload = {"system": p.system, "object": p.object, "run_id": rid, "csv": p.csv()}
        row.update(status="pending", next_attempt_at=at, payload=json.dumps(payload))
        out.ledger += writeback.ledger_rows(p, rid, at)
        out.runs.append(writeback.run_row(p, rid, at, aid))
        out.actions.append(row | {"last_error": None})
        return
    out.actions.append(row | {"last_error": why})


def _values(e: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "automation": e["automation"],
        "trigger": e["trigger"],
        "record_id": e["record_id"],
        "record_table": e["record_table"],
        "owner_id": e["owner_id"],
        "occurred_at": e["occurred_at"],
        **e["details"],
    }


def _plan_one(
    out: Planned,
    model: OperatingModel,
    people: People,
    allowed: Mapping[tuple[str, str], set[str]],
    rule: Automation,
    a: Action,
    position: int,
    e: Mapping[str, Any],
    at: datetime,
    csms: Mapping[str, str],
) -> None:
    aid = action_id(e["event_id"], position)
    values = _values(e)
    row: dict[str, Any] = {
        "action_id": aid,
        "event_id": e["event_id"],
        "automation": rule.name,
        "position": position,
        "kind": a.type,
        "target": None,
        "status": "pending",
        "attempts": 0,
        "retries": 0,
        "next_attempt_at": None,
        "last_error": None,
        "created_at": at,
        "delivered_at": None,
    }
    payload: dict[str, Any] = {}

    def finish(status: str, error: str | None = None) -> None:
        row.update(status=status, last_error=error, payload=json.dumps(payload, default=str))
        if status == "pending":
            row["next_attempt_at"] = at
        if status == "delivered":
            row["delivered_at"] = at
        out.actions.append(row)

    need = a.required_consent()
    if need is not None:
        key = (need.purpose, need.channel)
        if e["record_table"] != "persons" or e["record_id"] not in allowed.get(key, set()):
            finish("blocked", f"no consent for {need.purpose} over {need.channel}")
            return
    owner = e["owner_id"]
    if a.type in ("task", "escalation"):
        assignee, note = resolve_assignee(a, owner, csms.get(e["event_id"]), people)
        row["target"] = assignee
        assert a.title is not None
        payload = {"title": render(a.title, values), "assignee_id": assignee}
        if note is not None:
            payload["note"] = note
        if assignee is None:
            manager = a.type == "escalation" or a.assignee == "manager"
            who = "the owner's manager" if manager else "an owner"
            finish("skipped", f"{e['record_table']} {e['record_id']} has no {who}")
            return
        tz = people.timezone.get(assignee, model.routing.default_timezone)
        hours = model.routing.sla.business_hours
        minutes = round(a.due_in_hours * 60)
        due = business_deadline(at, minutes, tz, hours, model.routing.holidays)
        payload["due_at"] = naive_utc(due)
        out.tasks.append(
            {
                "task_id": aid,
                "assignee_id": assignee,
                "kind": a.type,
                "title": payload["title"],
                "record_table": e["record_table"],
                "record_id": e["record_id"],
                "automation": rule.name,
                "created_at": at,
                "due_at": naive_utc(due),
                "done_at": None,
                "done_by": None,
            }
        )
        finish("delivered")
        return
    if a.type == "nurture":
        row["target"] = a.program
        payload = {"program": a.program, "person_id": e["record_id"]}
        out.memberships.append(
            {
                "program": a.program,
                "person_id": e["record_id"],
                "action_id": aid,
                "enrolled_at": at,
            }
        )
        finish("delivered")
        return
    row["target"] = a.endpoint
    if a.type == "webhook":
        payload = {
            "id": aid,
            "event_id": e["event_id"],
            "automation": rule.name,
            "trigger": e["trigger"],
            "record": {"table": e["record_table"], "id": e["record_id"]},
            "owner_id": owner,
            "occurred_at": e["occurred_at"],
            "details": e["details"],
        }
    elif a.type == "chat":
        assert a.text is not None
        payload = {"text": render(a.text, values)}
    else:
        assert a.subject is not None
        assert a.text is not None
        recipient = owner if a.to == "owner" else people.manager.get(owner or "")
        address = people.email.get(recipient or "")
        row["target"] = address
        payload = {
            "to": address,
            "subject": render(a.subject, values),
            "text": render(a.text, values),
        }
        if address is None:
            finish("skipped", f"the record's {a.to} has no email address")
            return
    finish("pending")
