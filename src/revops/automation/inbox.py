"""Reading and steering the outbox and tasks: history, the dead-letter list, retry, done."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pyarrow as pa

from revops.audit.log import audit_batch
from revops.errors import RevOpsError
from revops.warehouse import Batch, Warehouse
from revops.warehouse.clock import naive_utc
from revops.warehouse.schema import table
from revops.warehouse.warehouse import arrow_schema


def actions(
    wh: Warehouse, *, status: str | None = None, automation: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """Outbox actions, newest first."""
    t = wh.table("automation_actions")
    if status is not None:
        t = t.filter(t.status == status)
    if automation is not None:
        t = t.filter(t.automation == automation)
    expr = t.order_by([t.created_at.desc(), t.action_id]).limit(limit)
    return list(wh.to_arrow(expr).to_pylist())


def retry(wh: Warehouse, actor: str, action_ids: list[str], at: datetime) -> list[str]:
    """Put dead (or given) actions back to pending with a fresh attempt budget, audited.

    The idempotency key stays the same, so a receiver that did get an earlier attempt
    still drops the repeat.
    """
    t = wh.table("automation_actions")
    expr = t.filter(t.action_id.isin(action_ids)) if action_ids else t.filter(t.status == "dead")
    rows = wh.to_arrow(expr).to_pylist()
    known = {r["action_id"] for r in rows}
    unknown = [a for a in action_ids if a not in known]
    if unknown:
        raise RevOpsError(f"no outbox action {unknown[0]!r}; see `revops automate history`")
    # a write-back file (`sync`, from `sync push` or a writeback action) is sent like a webhook
    sent = ("webhook", "chat", "email", "sync")
    local = [r["action_id"] for r in rows if r["kind"] not in sent]
    if local:
        raise RevOpsError(f"action {local[0]} is local (task or list) and was applied already")
    when = naive_utc(at)
    for r in rows:
        r.update(status="pending", attempts=0, next_attempt_at=when, last_error=None)
        r["retries"] = int(r["retries"]) + 1
    if not rows:
        return []
    ids = [r["action_id"] for r in rows]
    data = pa.Table.from_pylist(rows, arrow_schema(table("automation_actions")))
    audit = audit_batch(wh, actor, "automation.retried", f"{len(ids)} actions", {"actions": ids})
    wh.write_many([Batch("automation_actions", data), audit])
    return ids


def tasks(
    wh: Warehouse, *, assignee: str | None = None, open_only: bool = True, limit: int = 100
) -> list[dict[str, Any]]:
    """Tasks, soonest due first."""
    t = wh.table("tasks")
    if assignee is not None:
        t = t.filter(t.assignee_id == assignee)
    if open_only:
        t = t.filter(t.done_at.isnull())
    return list(wh.to_arrow(t.order_by(["due_at", "task_id"]).limit(limit)).to_pylist())


def done(wh: Warehouse, actor: str, task_id: str, at: datetime) -> dict[str, Any]:
    t = wh.table("tasks")
    rows = wh.to_arrow(t.filter(t.task_id == task_id)).to_pylist()
    if not rows:
        raise RevOpsError(f"no task {task_id!r}; see `revops tasks list`")
    row = rows[0]
    if row["done_at"] is not None:
        raise RevOpsError(f"task {task_id} was done at {row['done_at']} by {row['done_by']}")
    row.update(done_at=naive_utc(at), done_by=actor)
    data = pa.Table.from_pylist([row], arrow_schema(table("tasks")))
    audit = audit_batch(wh, actor, "task.done", task_id, {"title": row["title"]})
    wh.write_many([Batch("tasks", data), audit])
    return row
