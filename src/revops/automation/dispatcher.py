"""The dispatcher: sends pending outbox actions, retries with backoff, dead-letters the rest.

At-least-once sending plus an idempotency key per action gives effectively-once delivery: an
action is marked delivered only after its receiver accepted it, in a write that also stores the
attempt and (for a final outcome) the audit entry. A dispatcher killed between the send and
that write leaves the action pending; the next pass sends it again with the same key, and the
receiver drops the repeat. Nothing is lost, and nothing reaches a deduplicating receiver twice.

One dispatcher at a time: each pass (and each send) first takes or renews a lease row in the
warehouse, so `automate watch` on two machines, or `run` from cron beside a `watch`, never send
the same action concurrently. A dispatcher that cannot renew its lease stops sending.

A dispatcher that died (SIGKILL, a crash, a reboot) leaves its lease behind. Its holder id
names the host, the process id and the process's start time, so a dispatcher on the same host
sees that the holder's process is gone (no such pid, or a pid reused by a later process) and
takes the lease over at once instead of waiting out `lease_seconds`. A holder on another host
cannot be checked from here: its lease is waited out.
"""

from __future__ import annotations

import json
import os
import random
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa

from revops.audit.log import AuditNote, chain_batch, head
from revops.automation.channels import Outcome, deliver
from revops.automation.outbox import ACTOR
from revops.config.automation import Dispatch
from revops.config.models import OperatingModel
from revops.warehouse import Batch, Warehouse
from revops.warehouse.clock import utc_now
from revops.warehouse.schema import table
from revops.warehouse.sql import literal
from revops.warehouse.warehouse import arrow_schema

LEASE = "dispatcher"
Clock = Callable[[], datetime]


def _started(pid: int) -> str | None:
    """The start time of process `pid` in clock ticks since boot (Linux /proc), or None when
    there is no such process or no /proc to ask."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            stat = f.read()
    except OSError:
        return None
    # field 22; the command name (field 2) is parenthesised and may hold spaces
    return stat.rsplit(")", 1)[1].split()[19]


def holder_id() -> str:
    """Who holds the lease: host, process id, process start time (so a reused pid is someone
    else) and a random part (two dispatchers in one process are two holders)."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_started(pid) or '-'}:{uuid.uuid4().hex[:8]}"


def abandoned(holder: str) -> bool:
    """Whether `holder` is a dispatcher on this host whose process no longer runs: it can hold
    no lease any more. False whenever that cannot be known (another host, an id of another
    shape, no /proc): such a lease is waited out."""
    parts = holder.split(":")
    if len(parts) != 4 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False
    pid, started = int(parts[1]), parts[2]
    if started == "-" or _started(os.getpid()) is None:
        return False
    if pid == os.getpid():
        return False
    return _started(pid) != started


def _ts(at: datetime) -> str:
    return f"TIMESTAMP '{at.isoformat(sep=' ')}'"


def acquire(wh: Warehouse, holder: str, seconds: float, now: datetime, name: str = LEASE) -> bool:
    """Take the lease, or renew it, unless another holder's lease is still running (a lease
    whose holder's process is gone, see `abandoned`, is not running).

    A conditional UPDATE in one transaction: on PostgreSQL a second dispatcher racing for an
    expired lease re-reads the row after the first commits and no longer matches.
    """
    until = now + timedelta(seconds=seconds)
    lease, me = literal(name), literal(holder)
    with wh.transaction() as run:
        row = run(f'SELECT holder FROM "automation_leases" WHERE name = {lease}').fetchone()
        if row is not None and str(row[0]) != holder and abandoned(str(row[0])):
            # its process is gone: the lease is free now, not when it lapses
            run(
                f'DELETE FROM "automation_leases" WHERE name = {lease} '
                f"AND holder = {literal(str(row[0]))}"
            )
        run(
            'INSERT INTO "automation_leases" (name, holder, expires_at) VALUES '
            f"({lease}, {me}, {_ts(until)}) ON CONFLICT (name) DO NOTHING"
        )
        run(
            f'UPDATE "automation_leases" SET holder = {me}, expires_at = {_ts(until)} '
            f"WHERE name = {lease} AND (holder = {me} OR expires_at < {_ts(now)})"
        )
        row = run(f'SELECT holder FROM "automation_leases" WHERE name = {lease}').fetchone()
    return row is not None and str(row[0]) == holder


def release(wh: Warehouse, holder: str, name: str = LEASE) -> None:
    lease, me = literal(name), literal(holder)
    with wh.transaction() as run:
        run(f'DELETE FROM "automation_leases" WHERE name = {lease} AND holder = {me}')


def backoff(cfg: Dispatch, action_id: str, attempt: int) -> float:
    """Seconds to wait after failed attempt `attempt` (from 1): exponential, capped, with a
    jitter factor in [0.5, 1) drawn from the seed, the action and the attempt."""
    base = min(cfg.max_backoff_seconds, cfg.backoff_seconds * 2 ** (attempt - 1))
    rng = random.Random(f"{cfg.seed}:{action_id}:{attempt}")  # noqa: S311 - jitter, not crypto
    return base * (0.5 + 0.5 * rng.random())


def due(wh: Warehouse, now: datetime, limit: int) -> list[dict[str, Any]]:
    """Pending outbound actions whose next attempt is due, oldest first."""
    t = wh.table("automation_actions")
    expr = t.filter(t.status == "pending", t.next_attempt_at <= now)
    expr = expr.order_by(["next_attempt_at", "created_at", "action_id"]).limit(limit)
    return list(wh.to_arrow(expr).to_pylist())


@dataclass(frozen=True)
class Recorded:
    """One attempt's effect: the action's new row, the attempt row, and for a final outcome
    the audit note."""

    action: dict[str, Any]
    attempt: dict[str, Any]
    note: AuditNote | None


def outcome(
    action: dict[str, Any], out: Outcome, holder: str, cfg: Dispatch, now: datetime
) -> Recorded:
    """What attempt `attempts + 1` of `action` changes: delivered, retried later or dead."""
    attempt = int(action["attempts"]) + 1
    row = {**action, "attempts": attempt, "last_error": out.error}
    if out.ok:
        row.update(status="delivered", delivered_at=now, next_attempt_at=None)
    elif out.retry and attempt < cfg.max_attempts:
        wait = backoff(cfg, action["action_id"], attempt)
        row.update(next_attempt_at=now + timedelta(seconds=wait))
    else:
        row.update(status="dead", next_attempt_at=None)
    tried = {
        "action_id": action["action_id"],
        "retry": action["retries"],
        "attempt": attempt,
        "at": now,
        "ok": out.ok,
        "status_code": out.status_code,
        "error": out.error,
        "duration_ms": out.duration_ms,
        "dispatcher": holder,
    }
    note = None
    if row["status"] != "pending":
        details = {
            "kind": action["kind"],
            "target": action["target"],
            "attempts": attempt,
            "error": out.error,
        }
        verb = "automation.delivered" if out.ok else "automation.dead"
        note = AuditNote(ACTOR, verb, action["action_id"], details, now)
    return Recorded(row, tried, note)


def outcome_batches(wh: Warehouse, done: list[Recorded]) -> list[Batch]:
    """The writes recording `done`, audit entries chained after the stored head."""
    writes = [
        Batch(
            "automation_actions",
            pa.Table.from_pylist(
                [d.action for d in done], arrow_schema(table("automation_actions"))
            ),
        ),
        Batch(
            "automation_attempts",
            pa.Table.from_pylist(
                [d.attempt for d in done], arrow_schema(table("automation_attempts"))
            ),
            "append",
        ),
    ]
    notes = [d.note for d in done if d.note is not None]
    if notes:
        writes.append(chain_batch(head(wh), notes)[0])
    return writes


@dataclass
class PassReport:
    leased: bool = True
    queued_events: int = 0
    delivered: int = 0
    retrying: int = 0
    dead: int = 0

    def count(self, done: list[Recorded]) -> None:
        for d in done:
            status = d.action["status"]
            if status == "delivered":
                self.delivered += 1
            elif status == "dead":
                self.dead += 1
            else:
                self.retrying += 1


def dispatch(
    wh: Warehouse,
    model: OperatingModel,
    holder: str,
    *,
    clock: Clock = utc_now,
    report: PassReport | None = None,
) -> PassReport:
    """Send every due action once (up to `batch_size`), holding the lease throughout.

    Outcomes are recorded `record_every` at a time: a dispatcher killed before recording
    re-sends at most that many actions, with the same keys, on its next pass. The lease is
    renewed whenever half of it has run, and a dispatcher that cannot renew it stops sending.
    """
    cfg = model.automations.dispatch
    out = report or PassReport()
    start = clock()
    if not acquire(wh, holder, cfg.lease_seconds, start):
        out.leased = False
        return out
    renew_at = start + timedelta(seconds=cfg.lease_seconds / 2)
    done: list[Recorded] = []
    for action in due(wh, start, cfg.batch_size):
        now = clock()
        if now >= renew_at:
            if not acquire(wh, holder, cfg.lease_seconds, now):  # lost it: stop sending
                out.leased = False
                break
            renew_at = now + timedelta(seconds=cfg.lease_seconds / 2)
        payload = json.loads(action["payload"])
        result = deliver(
            model.automations, action["kind"], action["target"], action["action_id"], payload
        )
        done.append(outcome(action, result, holder, cfg, clock()))
        if len(done) >= cfg.record_every:
            wh.write_many(outcome_batches(wh, done))
            out.count(done)
            done = []
    if done:
        wh.write_many(outcome_batches(wh, done))
        out.count(done)
    return out


def run_pass(
    wh: Warehouse, model: OperatingModel, holder: str, *, clock: Clock = utc_now
) -> PassReport:
    """One cron-friendly pass: record new events (time-based triggers too), then send."""
    from revops.automation.outbox import queue

    report = PassReport()
    cfg = model.automations.dispatch
    if not acquire(wh, holder, cfg.lease_seconds, clock()):
        report.leased = False
        return report
    report.queued_events = len(queue(wh, model, clock()).events)
    return dispatch(wh, model, holder, clock=clock, report=report)
