"""Write-back: the fields revops owns, changed since the last sync, in each system's import format.

revops decides owners, lifecycle stages, scores, territories, at-risk flags, SLA status and
routing reasons; reps work in the CRM and marketers in the MAP. For each object of a source
mapping with a `writeback:` block (config/mappings/*.yaml, overridable in `sources:`), `plan`
reads the owned fields' current values, compares them with the sync ledger (the values last
handed over) and renders the changed records as that system's import file: a Salesforce Data
Loader / Bulk API 2.0 upsert CSV (Id and API field names), a HubSpot import CSV (Record ID and
internal property names), a Marketo list import (Email Address and field names).

The file's columns come from the same mapping ingestion reads, checked when the mapping
validates (`SourceObject._check_writeback`), so a file re-imported with `revops load --preset`
stores exactly what it says: the warehouse is left as it was.

`record` returns the writes that move the ledger forward in one transaction with the run row,
the audit entry and, for a push, the outbox event and action: the dispatcher then delivers the
file with the outbox's retries, backoff, dead-letter list and idempotency key. A push that is
queued is synced; one that dies in the dead-letter list is retried from there (`automate retry`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from revops.audit.log import AuditNote, chain_batch, head
from revops.config.models import OperatingModel
from revops.config.sources import SourceObject
from revops.warehouse import Batch, Warehouse
from revops.warehouse.clock import naive_utc
from revops.warehouse.schema import table
from revops.warehouse.warehouse import arrow_schema

ACTOR = "sync"


def objects(model: OperatingModel, system: str) -> list[tuple[str, SourceObject]]:
    """The objects of `system` revops writes back into, in mapping order."""
    try:
        mapped = model.sources[system]
    except KeyError:
        known = ", ".join(s for s, objs in model.sources.items() if _writes(objs)) or "none"
        raise KeyError(f"unknown system {system!r}; write-back goes to: {known}") from None
    found = [(name, obj) for name, obj in mapped.items() if obj.writeback is not None]
    if not found:
        raise KeyError(f"no object of {system!r} has a writeback: mapping")
    return found


def _writes(objs: Mapping[str, SourceObject]) -> bool:
    return any(o.writeback is not None for o in objs.values())


def _latest(t: ir.Table, by: str, order: Sequence[str]) -> ir.Table:
    """The last row of `t` per `by` in `order` (later wins; the last column breaks ties)."""
    w = ibis.window(group_by=t[by], order_by=[ibis.desc(t[c]) for c in order])
    ranked = t.mutate(_rank=ibis.row_number().over(w))
    return ranked.filter(ranked._rank == 0).drop("_rank")


def _derived(wh: Warehouse, model: OperatingModel, name: str) -> dict[str, ir.Table]:
    """Per derived field, a table of (_id, value) for the records of `name` that have one."""
    out: dict[str, ir.Table] = {}
    if name == "persons":
        s = _latest(wh.table("lead_scores"), "person_id", ["scored_at"])
        for score in ("fit", "engagement", "combined", "predicted_sql_probability"):
            out[score] = s.select(_id=s.person_id, value=s[score])
        c = _latest(wh.table("sla_clocks"), "person_id", ["started_at", "clock_id"])
        status = ibis.cases(
            (c.responded_at.notnull(), "responded"),
            (c.closed_at.notnull(), "closed"),
            (c.breached.fill_null(False), "breached"),
            else_="open",
        )
        out["sla_status"] = c.select(_id=c.person_id, value=status)
        d = _latest(wh.table("routing_decisions"), "person_id", ["decided_at", "decision_id"])
        out["routing_reason"] = d.select(_id=d.person_id, value=d.reason)
    elif name == "accounts":
        h = _latest(wh.table("health_scores"), "account_id", ["month"])
        below = model.revenue.health.at_risk_below
        out["at_risk"] = h.select(_id=h.account_id, value=h.score < below)
        out["health_score"] = h.select(_id=h.account_id, value=h.score)
    return out


def text(v: Any) -> str | None:
    """A value as an import file writes it: true/false, numbers without float noise."""
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(round(v, 4))
    if isinstance(v, datetime):
        return v.isoformat(timespec="seconds") + "Z"
    return str(v)


def current(
    wh: Warehouse, model: OperatingModel, obj: SourceObject, record_id: str | None = None
) -> list[dict[str, Any]]:
    """Every record of the object (rows matching its `constants`), or just `record_id`:
    `record_id`, the import key and each written-back field as the import file writes it."""
    wb = obj.writeback
    assert wb is not None
    t = table(obj.table)
    pk = t.primary_key[0]
    base = wh.table(obj.table)
    for column, value in sorted(obj.constants.items()):
        base = base.filter(base[column] == value)
    if record_id is not None:
        base = base.filter(base[pk] == record_id)
    key_column = obj.columns[wb.key]
    cols = {"record_id": base[pk], "_key": base[key_column]}
    cols.update({f: base[f] for f in wb.fields if f in t.column_names})
    expr = base.select(**cols)
    derived = _derived(wh, model, obj.table)
    for f in wb.fields:
        if f in t.column_names:
            continue
        d = derived[f].rename(_id="_id", **{f: "value"})
        expr = expr.left_join(d, expr.record_id == d._id).drop("_id")
    rows = wh.to_arrow(expr.order_by("record_id")).to_pylist()
    out = []
    for r in rows:
        row = {"record_id": str(r["record_id"]), "_key": text(r["_key"])}
        for f in wb.fields:
            v = text(r[f])
            row[f] = wb.values.get(f, {}).get(v, v) if v is not None else None
        out.append(row)
    return out


@dataclass(frozen=True)
class ObjectPlan:
    """One object's write-back: the import file's rows and the ledger changes behind them."""

    system: str
    object: str
    table: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    changes: tuple[tuple[str, str, str | None], ...]  # record_id, field, new value
    unkeyed: int = 0  # changed records without a key value: the system cannot match them

    def csv(self) -> str:
        """The import file: UTF-8 CSV, header first, LF line ends (Bulk API 2.0's default)."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(self.header)
        w.writerows(self.rows)
        return buf.getvalue()


def _ledger(wh: Warehouse, system: str, name: str) -> dict[tuple[str, str], str | None]:
    led = wh.table("sync_ledger")
    led = led.filter((led.system == system) & (led.object == name))
    rows = wh.to_arrow(led.select("record_id", "field", "value")).to_pylist()
    return {(r["record_id"], r["field"]): r["value"] for r in rows}


def plan_object(
    wh: Warehouse, model: OperatingModel, system: str, name: str, record_id: str | None = None
) -> ObjectPlan:
    """The records of `system`.`name` (or just `record_id`, as an automation's `writeback`
    action asks) whose owned fields changed since the last sync."""
    obj = model.sources[system][name]
    wb = obj.writeback
    assert wb is not None
    last = _ledger(wh, system, name)
    header = (wb.key, *wb.fields.values())
    rows: list[tuple[str, ...]] = []
    changes: list[tuple[str, str, str | None]] = []
    unkeyed = 0
    for r in current(wh, model, obj, record_id):
        changed = [
            (r["record_id"], f, r[f])
            for f in wb.fields
            if ((r["record_id"], f) in last or r[f] is not None)
            and last.get((r["record_id"], f)) != r[f]
        ]
        if not changed:
            continue
        if r["_key"] is None:
            unkeyed += 1
            continue
        changes += changed
        cleared = {f for _, f, v in changed if v is None}
        cells = [
            (wb.blank or "") if f in cleared else (r[f] if r[f] is not None else "")
            for f in wb.fields
        ]
        rows.append((r["_key"], *cells))
    return ObjectPlan(system, name, obj.table, header, tuple(rows), tuple(changes), unkeyed)


def plan(
    wh: Warehouse, model: OperatingModel, system: str, only: str | None = None
) -> list[ObjectPlan]:
    """`plan_object` for each written-back object of `system` (or just `only`)."""
    names = [n for n, _ in objects(model, system)]
    if only is not None:
        if only not in names:
            raise KeyError(f"{system} writes back into {', '.join(names)}, not {only!r}")
        names = [only]
    return [plan_object(wh, model, system, n) for n in names]


@dataclass
class Recorded:
    """What `record` wrote for one object's run."""

    run_id: str
    action_id: str | None = None
    batches: list[Batch] = field(default_factory=list)


def run_id(p: ObjectPlan, at: datetime) -> str:
    body = hashlib.sha256(p.csv().encode()).hexdigest()[:8]
    return f"{p.system}.{p.object}.{at:%Y%m%dT%H%M%S}.{body}"


def ledger_rows(p: ObjectPlan, rid: str, at: datetime) -> list[dict[str, Any]]:
    """The sync_ledger rows that mark `p`'s changes handed over by run `rid`."""
    return [
        {
            "system": p.system,
            "object": p.object,
            "record_id": record_id,
            "field": f,
            "value": v,
            "run_id": rid,
            "synced_at": at,
        }
        for record_id, f, v in p.changes
    ]


def run_row(
    p: ObjectPlan, rid: str, at: datetime, action_id: str | None, file: str | None = None
) -> dict[str, Any]:
    """The sync_runs row of `p`: pushed when it has an outbox action, else exported."""
    return {
        "run_id": rid,
        "system": p.system,
        "object": p.object,
        "mode": "push" if action_id is not None else "export",
        "records": len(p.rows),
        "changes": len(p.changes),
        "file": file,
        "action_id": action_id,
        "created_at": at,
    }


def record(
    wh: Warehouse,
    plans: Sequence[ObjectPlan],
    at: datetime,
    *,
    files: Mapping[str, str] | None = None,
    endpoint: str | None = None,
    actor: str = ACTOR,
) -> tuple[list[Batch], list[Recorded]]:
    """The writes that mark `plans` synced: ledger rows, a run row each and one audit entry;
    with `endpoint`, also the outbox event and `sync` action per file (pending delivery).
    `files` names the file each exported object was written to."""
    at = naive_utc(at)
    done = [p for p in plans if p.rows]
    if not done:
        return [], []
    ledger, runs, events, actions, out = [], [], [], [], []
    for p in done:
        rid = run_id(p, at)
        rec = Recorded(rid)
        ledger += ledger_rows(p, rid, at)
        if endpoint is not None:
            event = hashlib.sha256(f"sync|{rid}".encode()).hexdigest()[:32]
            rec.action_id = hashlib.sha256(f"{event}:0".encode()).hexdigest()[:32]
            events.append(
                {
                    "event_id": event,
                    "automation": ACTOR,
                    "trigger": "writeback",
                    "record_table": p.table,
                    "record_id": f"{p.system}.{p.object}",
                    "source_key": rid,
                    "owner_id": None,
                    "occurred_at": at,
                    "detected_at": at,
                    "details": json.dumps({"records": len(p.rows), "changes": len(p.changes)}),
                }
            )
            payload = {"system": p.system, "object": p.object, "run_id": rid, "csv": p.csv()}
            actions.append(
                {
                    "action_id": rec.action_id,
                    "event_id": event,
                    "automation": ACTOR,
                    "position": 0,
                    "kind": "sync",
                    "target": endpoint,
                    "payload": json.dumps(payload),
                    "status": "pending",
                    "attempts": 0,
                    "retries": 0,
                    "next_attempt_at": at,
                    "last_error": None,
                    "created_at": at,
                    "delivered_at": None,
                }
            )
        runs.append(run_row(p, rid, at, rec.action_id, (files or {}).get(p.object)))
        out.append(rec)

    def tab(name: str, rows: list[dict[str, Any]]) -> pa.Table:
        return pa.Table.from_pylist(rows, arrow_schema(table(name)))

    batches = [
        Batch("sync_ledger", tab("sync_ledger", ledger)),
        Batch("sync_runs", tab("sync_runs", runs), "append"),
    ]
    if events:
        batches.append(Batch("automation_events", tab("automation_events", events), "append"))
        batches.append(Batch("automation_actions", tab("automation_actions", actions), "append"))
    verb = "sync.queued" if endpoint is not None else "sync.exported"
    details = {
        "runs": [r.run_id for r in out],
        "records": sum(len(p.rows) for p in done),
        "changes": sum(len(p.changes) for p in done),
        "endpoint": endpoint,
    }
    note = AuditNote(actor, verb, f"{done[0].system}: {len(done)} files", details, at)
    batches.append(chain_batch(head(wh), [note])[0])
    return batches, out


def history(wh: Warehouse, system: str | None = None) -> list[dict[str, Any]]:
    """Sync runs, newest first, with the delivery status of pushed ones."""
    runs = wh.table("sync_runs")
    if system is not None:
        runs = runs.filter(runs.system == system)
    acts = wh.table("automation_actions").select(
        "action_id", status="status", attempts="attempts", last_error="last_error"
    )
    joined = runs.left_join(acts, runs.action_id == acts.action_id).drop("action_id_right")
    expr = joined.order_by([ibis.desc("created_at"), "system", "object"])
    return list(wh.to_arrow(expr).to_pylist())
