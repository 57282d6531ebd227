"""The intake service: hot state, one warehouse thread and a group-commit writer.

DuckDB allows one writing process and its connection must not be used from two threads at
once, so every warehouse call of the server runs on one dedicated thread, in order. Leads are
admitted on the event loop (in memory, microseconds) and queued; the writer takes everything
queued, settles it (scores, lifecycle, clocks) and writes it in one `write_many`, and each
request is answered once its group has committed. While one group is being written the next one
gathers, so under load a commit serves many leads and the commit cost is shared; with one
client the group is one lead and nothing waits on a timer.

If a commit fails, no answer claims success: the hot state is rebuilt from the warehouse (new
leads wait for it), then the leads of that group and any admitted after it (their round-robin
turns assumed the failed ones) fail with 503, so a retry meets the true state.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

import pyarrow as pa

from revops.access import Principal
from revops.api.auth import Authenticator
from revops.api.hot import HotState, Routed, load_hot_state
from revops.api.idempotency import IdempotencyStore, Stored, request_hash, scoped
from revops.api.intake import Admitted, admit, naive, settle
from revops.api.models import LeadIn, LeadOut
from revops.audit.log import GENESIS, entry_hash
from revops.context import RevOps
from revops.errors import RevOpsError
from revops.warehouse import Batch, Warehouse
from revops.warehouse.schema import table
from revops.warehouse.warehouse import arrow_schema

T = TypeVar("T")
Clock = Callable[[], datetime]


class Unavailable(RevOpsError):
    """The write failed or the service is restarting its state; the client may retry."""


@dataclass(frozen=True)
class AuditNote:
    actor: str
    action: str
    subject: str
    details: dict[str, Any]
    at: datetime


def audit_chain(wh: Warehouse, notes: Sequence[AuditNote]) -> Batch:
    """Several audit entries chained after the current head, as one append batch.

    `revops.audit.audit_batch` makes one entry from the stored head; a group commit writes many
    at once, so they are chained here with the same `entry_hash`, and `audit.verify` checks
    them like any other.
    """
    rows = wh.sql('SELECT seq, hash FROM "audit_log" ORDER BY seq DESC LIMIT 1')
    seq, prev = (int(rows[0][0]), str(rows[0][1])) if rows else (0, GENESIS)
    out: list[dict[str, Any]] = []
    for n in notes:
        seq += 1
        when = naive(n.at)
        details = json.dumps(n.details, sort_keys=True, separators=(",", ":"), default=str)
        digest = entry_hash(seq, when, n.actor, n.action, n.subject, details, prev)
        out.append(
            {
                "seq": seq,
                "at": when,
                "actor": n.actor,
                "action": n.action,
                "subject": n.subject,
                "details": details,
                "prev_hash": prev,
                "hash": digest,
            }
        )
        prev = digest
    return Batch("audit_log", pa.Table.from_pylist(out, arrow_schema(table("audit_log"))), "append")


@dataclass
class CommitStats:
    """Where the write path's time goes: group commits, leads per commit, seconds spent."""

    commits: int = 0
    leads: int = 0
    settle_seconds: float = 0.0
    write_seconds: float = 0.0

    def as_dict(self) -> dict[str, float]:
        n = max(self.commits, 1)
        return {
            "commits": self.commits,
            "leads": self.leads,
            "leads_per_commit": round(self.leads / n, 2),
            "settle_ms_per_commit": round(1000 * self.settle_seconds / n, 2),
            "write_ms_per_commit": round(1000 * self.write_seconds / n, 2),
        }


@dataclass
class _Job:
    admitted: Admitted
    actor: str
    idem_key: str | None
    digest: str
    generation: int
    future: asyncio.Future[Stored]


class IntakeService:
    """Everything the routers call; one per app, started and stopped by its lifespan."""

    def __init__(self, ro: RevOps, clock: Clock | None = None) -> None:
        self.ro = ro
        self.wh = ro.warehouse
        self.model = ro.model
        self.clock: Clock = clock or (lambda: datetime.now(UTC))
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="revops-warehouse")
        self.auth = Authenticator(self.wh, self.db)
        self.hot: HotState | None = None
        self.idempotency = IdempotencyStore()
        self.generation = 0
        self._pending: list[_Job] = []
        self._wake: asyncio.Event | None = None
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._busy = False
        self.stats = CommitStats()

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        self.hot = await self.db(load_hot_state, self.wh, self.model)
        self.idempotency = await self.db(IdempotencyStore.load, self.wh)
        self._wake = asyncio.Event()
        self._ready = asyncio.Event()
        self._ready.set()
        self._task = asyncio.create_task(self._run(), name="revops-group-commit")

    async def stop(self) -> None:
        """Write what is queued, then stop the writer and the warehouse thread."""
        self._closing = True
        if self._task is not None:
            if self._wake is not None:
                self._wake.set()
            while self._pending or self._busy:  # the writer task drains the queue
                await asyncio.sleep(0.005)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.executor.shutdown(wait=True)

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def db(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` on the warehouse thread, after everything queued before it."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, partial(fn, *args))

    def state(self) -> HotState:
        if self.hot is None:
            raise Unavailable("the intake service is reloading its state; retry")
        return self.hot

    # -- POST /leads --------------------------------------------------------------------------
    async def create_lead(
        self, lead: LeadIn, principal: Principal, key: str | None
    ) -> tuple[Stored, bool]:
        """The answer to a lead (status, body) and whether it is a replay of an earlier one."""
        digest = request_hash(lead.model_dump(mode="json"))
        idem = scoped(principal.key_id, key) if key is not None else None
        if idem is not None:
            stored = await self.idempotency.replay(idem, digest)
            if stored is not None:
                return stored, True
        if self._closing:
            raise Unavailable("the server is shutting down; retry")
        await self._ready.wait()
        admitted = admit(self.state(), lead, self.model, self.clock())
        loop = asyncio.get_running_loop()
        job = _Job(admitted, principal.actor, idem, digest, self.generation, loop.create_future())
        if idem is not None:
            self.idempotency.inflight[idem] = (digest, job.future)
        self._pending.append(job)
        if self._wake is not None:
            self._wake.set()
        try:
            return await asyncio.shield(job.future), False
        finally:
            if idem is not None:
                self.idempotency.inflight.pop(idem, None)

    def record_override(
        self, person_id: str, owner_id: str, reason: str, decision_id: str, at: datetime
    ) -> None:
        """Advance the hot state after a stored manual assignment (it counts toward caps)."""
        hot = self.state()
        hot.routing = hot.routing.assign(owner_id, at, None, None)
        hot.persons[person_id] = Routed(owner_id, None, "manual_override", reason, decision_id)

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                self._busy = True
                try:
                    await self._flush()
                finally:
                    self._busy = False

    async def _flush(self) -> None:
        jobs, self._pending = self._pending, []
        stale = [j for j in jobs if j.generation != self.generation]
        jobs = [j for j in jobs if j.generation == self.generation]
        _fail(stale, Unavailable("the lead was admitted against state that was rolled back"))
        if not jobs:
            return
        try:
            answers = await self.db(self._write, jobs)
        except Exception as exc:
            await self._reload()  # before answering, so a prompt retry meets a sound state
            _fail(jobs, Unavailable(f"the lead was not stored: {exc}"))
            return
        for job, answer in zip(jobs, answers, strict=True):
            stored = Stored(job.digest, answer.status_code, answer.body)
            if job.idem_key is not None:
                self.idempotency.done[job.idem_key] = stored
            if not job.future.done():
                job.future.set_result(stored)

    async def _reload(self) -> None:
        """Rebuild the hot state from the warehouse; leads arriving meanwhile wait for it."""
        self.generation += 1
        self.hot = None
        self._ready.clear()
        try:
            self.hot = await self.db(load_hot_state, self.wh, self.model)
        except Exception:  # leads get 503 until a later failure's reload succeeds
            self.hot = None
        finally:
            self._ready.set()

    def _write(self, jobs: Sequence[_Job]) -> list[Stored]:
        """Settle and write one group (warehouse thread): all of it lands, or none."""
        hot = self.state()
        started = time.perf_counter()
        settled = settle(hot, [j.admitted for j in jobs], self.model)
        settled_at = time.perf_counter()
        answers = [_stored(a) for a in settled.answers]
        notes = [_note(j, a) for j, a in zip(jobs, settled.answers, strict=True)]
        batches = [*settled.batches, audit_chain(self.wh, notes)]
        idem = [
            {
                "idem_key": j.idem_key,
                "request_hash": j.digest,
                "status_code": s.status_code,
                "response": json.dumps(s.body, separators=(",", ":")),
                "person_id": s.body["person_id"],
                "created_at": naive(j.admitted.at),
            }
            for j, s in zip(jobs, answers, strict=True)
            if j.idem_key is not None
        ]
        if idem:
            batches.append(Batch("api_idempotency", pa.Table.from_pylist(idem), "append"))
        self.wh.write_many(batches)
        self.stats.commits += 1
        self.stats.leads += len(jobs)
        self.stats.settle_seconds += settled_at - started
        self.stats.write_seconds += time.perf_counter() - settled_at
        return answers


def _stored(answer: LeadOut) -> Stored:
    return Stored("", 201 if answer.created else 200, answer.model_dump(mode="json"))


def _note(job: _Job, answer: LeadOut) -> AuditNote:
    details: dict[str, Any] = {
        "owner": answer.owner.id if answer.owner else None,
        "queue": answer.queue,
        "rule": answer.rule,
        "decision_id": answer.decision_id,
    }
    if job.idem_key is not None:
        details["idempotency_key"] = job.idem_key
    action = "leads.created" if answer.created else "leads.duplicate"
    return AuditNote(job.actor, action, answer.person_id, details, job.admitted.at)


def _fail(jobs: Sequence[_Job], exc: Exception) -> None:
    for j in jobs:
        if not j.future.done():
            j.future.set_exception(exc)
