"""The intake service: hot state, a write-ahead journal and one warehouse thread.

The answer to `POST /leads` must come in milliseconds, and a warehouse commit of an intake
group costs tens of them (about ten tables, each a statement). So the database is taken off
the answer path: leads are admitted on the event loop (in memory, microseconds) and queued; the
journal writer takes everything queued, settles it (scores, lifecycle, clocks, audit entries),
appends it to the write-ahead journal with one fsync and answers. While one group is being
journaled the next gathers. A background applier takes every journaled group waiting and writes
them to the warehouse in ONE `write_many`, together with the last applied group number
(`intake_journal_state`), then lets the journal forget them. At startup the journal is replayed
from the group after the stored one, so an acknowledged lead is never lost nor applied twice.

DuckDB allows one writing process and its connection must not be used from two threads at
once, so every warehouse call runs on one dedicated thread, in order; the journal has its own
thread. Reads (`GET /leads/{id}`, breaches) first wait until everything journaled before them is
applied, so they see every lead already answered; accept, reject and assign also hold the audit
chain while they write directly, since their audit entries chain after the journaled ones.

Audit entries get provisional sequence numbers and hashes when a group is built, chained from a
head kept in memory; every apply (and a replay after a crash) chains them again from the head
stored in the warehouse (`revops.api.recovery`), since another writer may have appended
entries meanwhile. A running server holds an exclusive lock on its journal folder.

If a journal write fails, no answer claims success: once the applier has caught up, the hot
state is rebuilt from the warehouse (new leads wait for it), then the leads of that group and
any admitted after it (their round-robin turns assumed the failed ones) fail with 503, so a
retry meets the true state. If a warehouse apply fails, the journal keeps the groups and the
applier retries with backoff; `/health` shows the lag and the error.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa

from revops.access import Principal
from revops.api import reengage
from revops.api.auth import Authenticator
from revops.api.hot import HotState, Routed, load_hot_state
from revops.api.idempotency import IdempotencyStore, Stored, request_hash, scoped
from revops.api.intake import Admitted, admit, settle
from revops.api.journal import Group, Journal, JournalError, default_path, journal_id
from revops.api.models import LeadIn, LeadOut
from revops.api.recovery import apply_groups, locked, recover
from revops.audit.log import AuditNote, chain_batch, head
from revops.context import RevOps
from revops.errors import RevOpsError
from revops.warehouse import Batch
from revops.warehouse.clock import naive_utc

T = TypeVar("T")
Clock = Callable[[], datetime]
DUCKDB_THREADS = 1  # for the server's connection; see IntakeService.start
# Seconds between warehouse applies under load, unless a read waits. An apply costs about
# 25 ms of CPU whatever its size (a statement per table, the audit anchor) plus about 0.15 ms
# per lead: at 500 leads/s, applying every 0.1 s spent 0.65 ms of CPU per lead, half of the
# server's; every second, 0.2 ms. Reads never see the lag (they make the applier write first).
APPLY_INTERVAL = 1.0


class Unavailable(RevOpsError):
    """The write failed or the service is restarting its state; the client may retry."""


@dataclass
class CommitStats:
    """Where the write path's time goes: journal groups (settle, fsync) and warehouse applies."""

    commits: int = 0  # groups journaled
    leads: int = 0
    settle_seconds: float = 0.0
    journal_seconds: float = 0.0
    journal_bytes: int = 0
    settle_max: float = 0.0
    journal_max: float = 0.0
    applies: int = 0
    applied_groups: int = 0
    apply_seconds: float = 0.0
    apply_failures: int = 0
    recovered_groups: int = 0

    def as_dict(self) -> dict[str, float]:
        n = max(self.commits, 1)
        a = max(self.applies, 1)
        return {
            "commits": self.commits,
            "leads": self.leads,
            "leads_per_commit": round(self.leads / n, 2),
            "settle_ms_per_commit": round(1000 * self.settle_seconds / n, 2),
            "journal_ms_per_commit": round(1000 * self.journal_seconds / n, 2),
            "journal_bytes_per_commit": round(self.journal_bytes / n, 1),
            "settle_ms_max": round(1000 * self.settle_max, 2),
            "journal_ms_max": round(1000 * self.journal_max, 2),
            "applies": self.applies,
            "groups_per_apply": round(self.applied_groups / a, 2),
            "apply_ms_per_apply": round(1000 * self.apply_seconds / a, 2),
            "apply_failures": self.apply_failures,
            "recovered_groups": self.recovered_groups,
        }


@dataclass
class _Job:
    admitted: Admitted
    actor: str
    idem_key: str | None
    digest: str
    generation: int
    future: asyncio.Future[Stored]


@dataclass
class _Journaled:
    group: Group
    answers: list[Stored]
    head: tuple[int, str]
    settle_seconds: float
    journal_seconds: float
    size: int


@dataclass
class _Progress:
    """Journaled and applied group numbers, and a condition to wait for the applier."""

    journaled: int = 0
    applied: int = 0
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)


class IntakeService:
    """Everything the routers call; one per app, started and stopped by its lifespan."""

    def __init__(
        self,
        ro: RevOps,
        clock: Clock | None = None,
        journal: Path | None = None,
        *,
        wait_seconds: float = 10.0,
        apply_interval: float = APPLY_INTERVAL,
    ) -> None:
        self.ro = ro
        self.wh = ro.warehouse
        self.model = ro.model
        self.clock: Clock = clock or (lambda: datetime.now(UTC))
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="revops-warehouse")
        self.journal_executor = ThreadPoolExecutor(1, thread_name_prefix="revops-journal")
        self.auth = Authenticator(self.wh, self.db)
        self.hot: HotState | None = None
        self.idempotency = IdempotencyStore()
        self.generation = 0
        self.journal_id = journal_id(self.wh.url)
        self._journal_path = journal if journal is not None else default_path(self.wh.url)
        self._temp_journal: Any = None
        self._lock: contextlib.AbstractContextManager[bool] | None = None
        self.journal: Journal | None = None
        self.audit_head: tuple[int, str] = (0, "")
        self.wait_seconds = wait_seconds
        self.apply_interval = apply_interval
        self._urgent = asyncio.Event()
        self.last_apply_error: str | None = None
        self._pending: list[_Job] = []
        self._unapplied: list[Group] = []
        self._wake: asyncio.Event | None = None
        self._apply_wake: asyncio.Event | None = None
        self._ready = asyncio.Event()
        self._chain: asyncio.Lock | None = None
        self._progress: _Progress | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False
        self._busy = False
        self.stats = CommitStats()

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        """Replay the journal into the warehouse, load the hot state, start writer and applier."""
        if self.wh.backend == "duckdb":
            # DuckDB runs a query on every core by default; an apply would then take both
            # cores of a small server from the threads answering requests. One is enough for
            # the applier (its batches are small) and leaves the rest to the answer path.
            await self.db(self.wh.sql, f"SET threads = {DUCKDB_THREADS}")
        path = self._journal_path
        if path is None:  # an in-memory warehouse: a journal that lives as long as it does
            self._temp_journal = tempfile.TemporaryDirectory(prefix="revops-journal-")
            path = Path(self._temp_journal.name)
        self._lock = locked(path)
        if not self._lock.__enter__():
            self._lock = None
            raise JournalError(f"another intake server is using the journal {path}; stop it first")
        try:
            self.journal, last = await self.db(self._recover, path)
        except BaseException:  # e.g. a damaged journal: release it for the next attempt
            self._lock.__exit__(None, None, None)
            self._lock = None
            raise
        self._progress = _Progress(last, last)
        self.hot = await self.db(load_hot_state, self.wh, self.model)
        self.idempotency = await self.db(IdempotencyStore.load, self.wh)
        self.audit_head = await self.db(head, self.wh)
        # The hot state is hundreds of thousands of long-lived objects; a full collection
        # walking them all stalls every request for tens of milliseconds. Freezing moves them
        # out of the collector's generations (they are still freed normally when released).
        gc.collect()
        gc.freeze()
        self._wake = asyncio.Event()
        self._apply_wake = asyncio.Event()
        self._chain = asyncio.Lock()
        self._ready = asyncio.Event()
        self._ready.set()
        self._tasks = [
            asyncio.create_task(self._run(), name="revops-journal-writer"),
            asyncio.create_task(self._apply_loop(), name="revops-journal-applier"),
        ]

    async def stop(self) -> None:
        """Journal what is queued, apply what is journaled (while the warehouse takes it), then
        stop; anything left unapplied stays in the journal for the next start."""
        self._closing = True
        if self._tasks:
            if self._wake is not None:
                self._wake.set()
            while self._pending or self._busy:  # the writer task drains the queue
                await asyncio.sleep(0.005)
            with contextlib.suppress(Unavailable):
                await self.caught_up()
            for task in self._tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self.executor.shutdown(wait=True)
        self.journal_executor.shutdown(wait=True)
        if self.journal is not None:
            self.journal.close()
        if self._lock is not None:
            self._lock.__exit__(None, None, None)
            self._lock = None
        if self._temp_journal is not None:
            self._temp_journal.cleanup()

    def _recover(self, path: Path) -> tuple[Journal, int]:
        """Open the journal and apply every group after the stored one (warehouse thread)."""
        journal, last, applied = recover(self.wh, path, self.clock())
        self.stats.recovered_groups += applied
        return journal, last

    @property
    def pending(self) -> int:
        return len(self._pending)

    @property
    def lag(self) -> int:
        """Groups journaled (answered) but not yet in the warehouse."""
        p = self._progress
        return 0 if p is None else p.journaled - p.applied

    async def db(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` on the warehouse thread, after everything queued before it."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, partial(fn, *args))

    async def caught_up(self) -> None:
        """Wait until every group journaled so far is in the warehouse (503 if it stalls)."""
        p = self._progress
        if p is None:
            return
        target = p.journaled
        if p.applied < target:
            self._urgent.set()  # the applier stops gathering and writes now

        async def reached() -> None:
            async with p.changed:
                await p.changed.wait_for(lambda: p.applied >= target)

        try:
            await asyncio.wait_for(reached(), self.wait_seconds)
        except TimeoutError:
            raise Unavailable(
                f"the warehouse is {p.journaled - p.applied} journal groups behind "
                f"({self.last_apply_error or 'still applying'}); retry"
            ) from None

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a read on the warehouse thread once every lead answered so far is applied."""
        await self.caught_up()
        return await self.db(fn, *args)

    async def exclusive(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a direct write (accept, reject, assign) that appends to the audit log itself:
        no group is journaled meanwhile and all earlier ones are applied first, so its entry
        chains after theirs; the head is re-read after it."""
        assert self._chain is not None
        async with self._chain:
            await self.caught_up()
            try:
                return await self.db(fn, *args)
            finally:
                self.audit_head = await self.db(head, self.wh)

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
        if not self._ready.is_set():
            try:
                await asyncio.wait_for(self._ready.wait(), self.wait_seconds)
            except TimeoutError:
                raise Unavailable("the intake service is reloading its state; retry") from None
        admitted = admit(self.state(), lead, self.model, self.clock())
        if not admitted.created:
            return await self.returning(lead, admitted, principal, idem, digest), False
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

    async def returning(
        self,
        lead: LeadIn,
        admitted: Admitted,
        principal: Principal,
        idem: str | None,
        digest: str,
    ) -> Stored:
        """A known person's new request (`api.reengage`): touch, re-score, re-qualify, route.

        Its reads and write bracket an in-memory routing decision, so it runs like the other
        direct writes: no group journals meanwhile and every earlier one is applied first. If
        the write fails, the hot state is rebuilt (the decision advanced it) and the answer is
        a 503 the client may retry.
        """
        assert self._chain is not None
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Stored] = loop.create_future()
        if idem is not None:
            self.idempotency.inflight[idem] = (digest, future)
        try:
            async with self._chain:
                await self.caught_up()
                ctx = await self.db(reengage.load_context, self.wh, admitted.person_id)
                done = reengage.plan(self.state(), ctx, lead, self.model, admitted.at)
                stored = Stored(digest, 200, done.answer.model_dump(mode="json"))
                row = None
                if idem is not None:
                    row = {
                        "idem_key": idem,
                        "request_hash": digest,
                        "status_code": 200,
                        "response": json.dumps(stored.body, separators=(",", ":")),
                        "person_id": admitted.person_id,
                        "created_at": naive_utc(admitted.at),
                    }
                try:
                    await self.db(reengage.write, self.wh, done, principal.actor, admitted.at, row)
                except Exception as exc:
                    await self._reload()
                    raise Unavailable(f"the request was not stored: {exc}") from None
                finally:
                    self.audit_head = await self.db(head, self.wh)
            self.state().persons[admitted.person_id] = done.routed
            if idem is not None:
                self.idempotency.done[idem] = stored
            future.set_result(stored)
            return stored
        except BaseException as exc:
            if not future.done():
                future.set_exception(exc)
                future.exception()  # retrieved: no "never retrieved" warning without waiters
            raise
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
        assert self._chain is not None
        assert self._progress is not None
        async with self._chain:
            jobs, self._pending = self._pending, []
            stale = [j for j in jobs if j.generation != self.generation]
            jobs = [j for j in jobs if j.generation == self.generation]
            _fail(stale, Unavailable("the lead was admitted against state that was rolled back"))
            if not jobs:
                return
            number = self._progress.journaled + 1
            loop = asyncio.get_running_loop()
            try:
                done = await loop.run_in_executor(
                    self.journal_executor, self._journal_group, number, jobs
                )
            except Exception as exc:
                await self._reload()  # before answering, so a prompt retry meets a sound state
                _fail(jobs, Unavailable(f"the lead was not stored: {exc}"))
                return
            self.audit_head = done.head
            self._unapplied.append(done.group)
            async with self._progress.changed:
                self._progress.journaled = number
        self.stats.commits += 1
        self.stats.leads += len(jobs)
        self.stats.settle_seconds += done.settle_seconds
        self.stats.journal_seconds += done.journal_seconds
        self.stats.journal_bytes += done.size
        self.stats.settle_max = max(self.stats.settle_max, done.settle_seconds)
        self.stats.journal_max = max(self.stats.journal_max, done.journal_seconds)
        if self._apply_wake is not None:
            self._apply_wake.set()
        for job, stored in zip(jobs, done.answers, strict=True):
            if job.idem_key is not None:
                self.idempotency.done[job.idem_key] = stored
            if not job.future.done():
                job.future.set_result(stored)

    def _journal_group(self, number: int, jobs: Sequence[_Job]) -> _Journaled:
        """Settle one group and make it durable in the journal (journal thread)."""
        assert self.journal is not None
        hot = self.state()
        started = time.perf_counter()
        settled = settle(hot, [j.admitted for j in jobs], self.model)
        answers = [
            Stored(j.digest, 201 if a.created else 200, a.model_dump(mode="json"))
            for j, a in zip(jobs, settled.answers, strict=True)
        ]
        notes = [_note(j, a) for j, a in zip(jobs, settled.answers, strict=True)]
        audit, new_head = chain_batch(self.audit_head, notes)
        batches = [*settled.batches, audit]
        idem = [
            {
                "idem_key": j.idem_key,
                "request_hash": j.digest,
                "status_code": s.status_code,
                "response": json.dumps(s.body, separators=(",", ":")),
                "person_id": s.body["person_id"],
                "created_at": naive_utc(j.admitted.at),
            }
            for j, s in zip(jobs, answers, strict=True)
            if j.idem_key is not None
        ]
        if idem:
            batches.append(Batch("api_idempotency", pa.Table.from_pylist(idem), "append"))
        settled_at = time.perf_counter()
        size = self.journal.append(number, batches)
        return _Journaled(
            Group(number, tuple(batches), len(jobs)),
            answers,
            new_head,
            settled_at - started,
            time.perf_counter() - settled_at,
            size,
        )

    async def _apply_loop(self) -> None:
        """Write journaled groups to the warehouse, all waiting ones at once; retry failures
        with backoff (the journal keeps them), never dropping or reordering a group."""
        assert self._apply_wake is not None
        assert self._progress is not None
        delay = 0.05
        while True:
            await self._apply_wake.wait()
            self._apply_wake.clear()
            while self._unapplied:
                self._urgent.clear()
                groups = list(self._unapplied)
                started = time.perf_counter()
                try:
                    await self.db(self._apply, groups)
                except Exception as exc:
                    self.last_apply_error = f"{type(exc).__name__}: {exc}"
                    self.stats.apply_failures += 1
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)
                    continue
                delay = 0.05
                self.last_apply_error = None
                del self._unapplied[: len(groups)]
                self.stats.applies += 1
                self.stats.applied_groups += len(groups)
                self.stats.apply_seconds += time.perf_counter() - started
                async with self._progress.changed:
                    self._progress.applied = groups[-1].number
                    self._progress.changed.notify_all()
                if self.apply_interval and not self._closing:
                    # gather more groups per apply (its cost is mostly per statement, not per
                    # lead), unless a read is waiting for the warehouse to catch up
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._urgent.wait(), self.apply_interval)

    def _apply(self, groups: Sequence[Group]) -> None:
        """Apply and then let the journal forget (warehouse thread)."""
        assert self.journal is not None
        apply_groups(self.wh, self.journal_id, groups, self.clock())
        self.journal.release(groups[-1].number)

    async def _reload(self) -> None:
        """Rebuild the hot state from the warehouse once every journaled group is in it; leads
        arriving meanwhile wait for it (or get 503 if it takes too long)."""
        self.generation += 1
        self.hot = None
        self._ready.clear()
        delay = 0.05
        try:
            while not self._closing:
                try:  # the state must include every journaled group: wait for the applier
                    await self.caught_up()
                    self.hot = await self.db(load_hot_state, self.wh, self.model)
                    return
                except Exception:  # the warehouse is down: leads get 503 meanwhile; retry
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)
        finally:
            self._ready.set()


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
