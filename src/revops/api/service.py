"""The intake service: hot state, a write-ahead journal, and an applier that holds the warehouse.

The answer to `POST /leads` must come in milliseconds, and a warehouse commit of an intake
group costs tens of them (about ten tables, each a statement). So the database is taken off
the answer path: leads are admitted on the event loop (in memory, microseconds) and queued; the
journal writer takes everything queued, settles it (scores, lifecycle, clocks, audit entries),
appends it to the write-ahead journal with one fsync and answers. While one group is being
journaled the next gathers. The applier (`api.applier`, a child process) is then told where
the group lies; it writes every group waiting in ONE `write_many`, together with the last
applied group number (`intake_journal_state`), and says so; the journal then forgets them. At
startup the applier replays the journal from the group after the stored one, so an
acknowledged lead is never lost nor applied twice.

The server's process never opens the warehouse: every read and direct write (accept, reject,
assign, keys, the web workspace) is a call run by the applier, after every group sent before
it is applied, so reads see every lead already answered. Accept, reject and assign also hold
the audit chain while they write, since their audit entries chain after the journaled ones.

Audit entries get provisional sequence numbers (no hashes) when a group is built, counted from
a head kept in memory; every apply (and a replay after a crash) chains and hashes them from the
head stored in the warehouse (`revops.api.recovery`), since another writer may have appended
entries meanwhile. A running server holds an exclusive lock on its journal folder.

If a journal write fails, no answer claims success: once the applier has caught up, the hot
state is rebuilt from the warehouse (new leads wait for it), then the leads of that group and
any admitted after it (their round-robin turns assumed the failed ones) fail with 503, so a
retry meets the true state. If a warehouse apply fails, the journal keeps the groups and the
applier retries with backoff; if the applier dies, a new one is started and sent every group
not yet applied. `/health` shows the lag, the last error and the applier's restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import json
import logging
import multiprocessing
import pickle
import queue
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Literal, TypeVar

import pyarrow as pa

from revops.access import Principal
from revops.api import reengage
from revops.api.applier import NICE, Applier, Handle, Located, nothing, run_process
from revops.api.auth import Authenticator
from revops.api.hot import HotState, Routed, build_hot_state, hot_tables
from revops.api.idempotency import IdempotencyStore, Stored, request_hash, scoped
from revops.api.intake import Admitted, admit, settle
from revops.api.journal import Journal, JournalError, default_path, journal_id
from revops.api.models import LeadIn, LeadOut
from revops.api.recovery import locked
from revops.audit.log import AuditNote, head, unchained_batch
from revops.context import RevOps
from revops.errors import RevOpsError
from revops.warehouse import Batch
from revops.warehouse.clock import naive_utc

T = TypeVar("T")
Clock = Callable[[], datetime]
Mode = Literal["process", "thread"]
log = logging.getLogger("revops.api")
# Seconds between warehouse applies under load, unless a call waits. An apply costs about
# 25 ms of CPU whatever its size (a statement per table, the audit anchor) plus about 0.15 ms
# per lead: at 500 leads/s, applying every 0.1 s spent 0.65 ms of CPU per lead; every second,
# 0.2 ms. Reads never see the lag (the applier applies before it runs a call).
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
    journal_cpu_seconds: float = 0.0  # the journal thread's CPU (settle, encode, write)
    applies: int = 0
    applied_groups: int = 0
    apply_seconds: float = 0.0
    apply_failures: int = 0
    recovered_groups: int = 0
    applier_restarts: int = 0

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
            "journal_cpu_ms_per_lead": round(
                1000 * self.journal_cpu_seconds / max(self.leads, 1), 3
            ),
            "applies": self.applies,
            "groups_per_apply": round(self.applied_groups / a, 2),
            "apply_ms_per_apply": round(1000 * self.apply_seconds / a, 2),
            "apply_failures": self.apply_failures,
            "recovered_groups": self.recovered_groups,
            "applier_restarts": self.applier_restarts,
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
    located: Located
    answers: list[Stored]
    head: tuple[int, str]
    settle_seconds: float
    journal_seconds: float
    cpu_seconds: float


@dataclass
class _Progress:
    """Journaled and applied group numbers."""

    journaled: int = 0
    applied: int = 0


class _Link:
    """The server's end of the pipe to one applier: calls with futures, messages in order.

    Sending runs on a thread of its own (a full pipe must never block the event loop); a
    second thread receives and hands each message to the loop. When the pipe closes, `lost`
    is called on the loop.
    """

    def __init__(
        self,
        conn: Connection,
        loop: asyncio.AbstractEventLoop,
        on_message: Callable[[tuple[Any, ...]], None],
        lost: Callable[[_Link], None],
        worker: Any,
    ) -> None:
        self.conn = conn
        self.loop = loop
        self.worker = worker  # the applier's Process or Thread
        self.calls: dict[int, asyncio.Future[Any]] = {}
        self.ready: asyncio.Future[tuple[int, int]] = loop.create_future()
        self.stopped: asyncio.Future[int] = loop.create_future()
        self._ids = itertools.count(1)
        self._out: queue.SimpleQueue[tuple[Any, ...] | None] = queue.SimpleQueue()
        self._on_message = on_message
        self._lost = lost
        self.closed = False
        threading.Thread(target=self._send_loop, name="revops-applier-send", daemon=True).start()
        threading.Thread(target=self._recv_loop, name="revops-applier-recv", daemon=True).start()

    @property
    def pid(self) -> int | None:
        return getattr(self.worker, "pid", None)

    def send(self, message: tuple[Any, ...]) -> None:
        self._out.put(message)

    def call(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = self.loop.create_future()
        if self.closed:
            future.set_exception(Unavailable("the applier is restarting; retry"))
            return future
        call_id = next(self._ids)
        self.calls[call_id] = future
        self.send(("call", call_id, fn, args))
        return future

    def close(self) -> None:
        self._out.put(None)

    def _send_loop(self) -> None:
        while (message := self._out.get()) is not None:
            try:
                self.conn.send(message)
            except (OSError, ValueError):  # the applier is gone: the receiver reports it
                return
        with contextlib.suppress(OSError):
            self.conn.close()

    def _recv_loop(self) -> None:
        while True:
            try:
                message = self.conn.recv()
            # TypeError: `close` ran while recv read (the Connection's handle became None)
            except (EOFError, OSError, ValueError, TypeError):
                with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                    self.loop.call_soon_threadsafe(self._gone)
                return
            with contextlib.suppress(RuntimeError):
                self.loop.call_soon_threadsafe(self._receive, message)

    def _receive(self, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "result":
            _, call_id, ok, payload = message
            future = self.calls.pop(call_id, None)
            if future is None or future.done():
                return
            value = pickle.loads(payload)  # noqa: S301 (our own applier, over our pipe)
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)
        elif kind == "ready":
            if not self.ready.done():
                self.ready.set_result((message[1], message[2]))
        elif kind == "stopped":
            if not self.stopped.done():
                self.stopped.set_result(message[1])
        else:
            self._on_message(message)

    def _gone(self) -> None:
        self.closed = True
        gone = Unavailable("the applier stopped before answering; retry")
        for future in [*self.calls.values(), self.ready, self.stopped]:
            if not future.done():
                future.set_exception(gone)
                future.exception()  # retrieved: no warning when nobody waits on it
        self.calls.clear()
        self._lost(self)


class IntakeService:
    """Everything the routers call; one per app, started and stopped by its lifespan.

    `mode` says where the applier runs: "process" (a child process, so that applying never
    holds this interpreter; `revops serve`) or "thread" (the default: in this process, for
    an in-memory DuckDB warehouse, embedding and tests that read the warehouse object
    themselves).
    """

    def __init__(
        self,
        ro: RevOps,
        clock: Clock | None = None,
        journal: Path | None = None,
        *,
        wait_seconds: float = 10.0,
        apply_interval: float = APPLY_INTERVAL,
        mode: Mode | None = None,
        applier_nice: int = NICE,
    ) -> None:
        self.ro = ro
        self.wh = ro.warehouse
        self.model = ro.model
        self.clock: Clock = clock or (lambda: datetime.now(UTC))
        self.mode: Mode = mode or "thread"
        self.journal_executor = ThreadPoolExecutor(1, thread_name_prefix="revops-journal")
        # forgetting applied groups syncs zeros or readies a segment: never in the journal
        # thread's queue, where the next group's answers wait
        self.release_executor = ThreadPoolExecutor(1, thread_name_prefix="revops-release")
        self.auth = Authenticator(self.wh, self.db)
        self.hot: HotState | None = None
        self.idempotency = IdempotencyStore()
        self.generation = 0
        self.journal_id = journal_id(self.wh.url)
        self._journal_path = journal if journal is not None else default_path(self.wh.url)
        self._path: Path | None = None
        self._temp_journal: Any = None
        self._lock: contextlib.AbstractContextManager[bool] | None = None
        self.journal: Journal | None = None
        self.audit_head: tuple[int, str] = (0, "")
        self.wait_seconds = wait_seconds
        self.apply_interval = apply_interval
        self.applier_nice = applier_nice  # the applier process's nice increment (0: none)
        self.last_apply_error: str | None = None
        self._pending: list[_Job] = []
        self._unapplied: list[Located] = []
        self._wake: asyncio.Event | None = None
        self._ready = asyncio.Event()
        self._chain: asyncio.Lock | None = None
        self._progress: _Progress | None = None
        self._link: _Link | None = None
        self._linked = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False
        self._busy = False
        self.stats = CommitStats()

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        """Start the applier (which replays the journal into the warehouse), load the hot
        state through it, start the journal writer."""
        path = self._journal_path
        if path is None:  # an in-memory warehouse: a journal that lives as long as it does
            self._temp_journal = tempfile.TemporaryDirectory(prefix="revops-journal-")
            path = Path(self._temp_journal.name)
        self._path = path
        self._lock = locked(path)
        if not self._lock.__enter__():
            self._lock = None
            raise JournalError(f"another intake server is using the journal {path}; stop it first")
        try:
            if self.mode == "process":
                self.wh.close()  # the applier holds the warehouse (DuckDB: one process)
            link = await self._launch(recover=True)
            last, recovered = await link.ready
            self.stats.recovered_groups += recovered
            self._link = link
            self._linked.set()
            self.journal, _ = Journal.open(path, self.journal_id)  # replayed and emptied
            self.journal.last = max(self.journal.last, last)  # numbering goes on after it
            self.journal.prepare()  # a preallocated segment before the first lead
        except BaseException:  # e.g. a damaged journal: release it for the next attempt
            await self._halt()
            raise
        self._progress = _Progress(last, last)
        tables = await self.db(hot_tables, Handle.WAREHOUSE, self.model)
        self.hot = build_hot_state(tables, self.model)
        self.idempotency = await self.db(IdempotencyStore.load, Handle.WAREHOUSE)
        self.audit_head = await self.db(head, Handle.WAREHOUSE)
        # The hot state is hundreds of thousands of long-lived objects; a full collection
        # walking them all stalls every request for tens of milliseconds. Freezing moves them
        # out of the collector's generations (they are still freed normally when released).
        gc.collect()
        gc.freeze()
        self._wake = asyncio.Event()
        self._chain = asyncio.Lock()
        self._ready = asyncio.Event()
        self._ready.set()
        self._tasks = [asyncio.create_task(self._run(), name="revops-journal-writer")]

    async def stop(self) -> None:
        """Journal what is queued, apply what is journaled (while the warehouse takes it), then
        stop; anything left unapplied stays in the journal for the next start."""
        self._closing = True
        if self._tasks:
            if self._wake is not None:
                self._wake.set()
            while self._pending or self._busy:  # the writer task drains the queue
                await asyncio.sleep(0.005)
            for task in self._tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        link = self._link
        if link is not None and not link.closed:
            link.send(("stop",))
            with contextlib.suppress(Unavailable, TimeoutError):
                await asyncio.wait_for(asyncio.shield(link.stopped), self.wait_seconds)
        await self._halt()

    async def _halt(self) -> None:
        """Let the applier go, close the journal and release its lock."""
        link, self._link = self._link, None
        self._linked.clear()
        if link is not None:
            link.close()
            await asyncio.to_thread(link.worker.join, self.wait_seconds)
        self.journal_executor.shutdown(wait=True)
        self.release_executor.shutdown(wait=True)
        if self.journal is not None:
            self.journal.close()
        if self._lock is not None:
            self._lock.__exit__(None, None, None)
            self._lock = None
        if self._temp_journal is not None:
            self._temp_journal.cleanup()

    async def _launch(self, *, recover: bool) -> _Link:
        """Start an applier; with `recover` it first replays what the journal holds.

        A spawned process is started on a thread: `start` writes the pickled configuration
        (about 170 KB, over a pipe's 64 KB) to the child and blocks until the new interpreter
        has started and read it, seconds on a loaded machine, during which the event loop
        answered nothing (a restart after an applier crash stalled every request)."""
        assert self._path is not None
        loop = asyncio.get_running_loop()
        recover_from = self._path if recover else None
        worker: Any
        if self.mode == "process":
            ctx = multiprocessing.get_context("spawn")  # no fork of a threaded server
            ours, theirs = ctx.Pipe()
            args = (theirs, self.ro.config, self.wh.url, self.journal_id, self.apply_interval)
            worker = ctx.Process(
                target=run_process,
                args=(*args, recover_from, self.applier_nice),
                name="revops-applier",
                daemon=True,
            )
            await asyncio.to_thread(worker.start)
            theirs.close()
        else:
            ours, theirs = multiprocessing.Pipe()
            applier = Applier(theirs, self.ro, self.journal_id, self.apply_interval)
            # A daemon, like the process's applier: an app that is never shut down (a test's,
            # an embedding's) must not keep the interpreter alive at exit. Nothing is lost by
            # it: answered leads are in the fsync'd journal and replayed at the next start.
            worker = threading.Thread(
                target=_run_thread,
                args=(applier, theirs, recover_from),
                name="revops-applier",
                daemon=True,
            )
            worker.start()
        return _Link(ours, loop, self._message, self._lost, worker)

    def _message(self, message: tuple[Any, ...]) -> None:
        """An applier's report: groups applied (the journal may forget them) or a failure."""
        p = self._progress
        if message[0] == "apply_error":
            self.last_apply_error = str(message[1])
            self.stats.apply_failures += 1
            return
        _, number, groups, seconds = message
        self.last_apply_error = None
        self.stats.applies += 1
        self.stats.applied_groups += groups
        self.stats.apply_seconds += seconds
        self._unapplied = [loc for loc in self._unapplied if loc.number > number]
        if p is not None and number > p.applied:
            p.applied = number
        if self.journal is not None:
            with contextlib.suppress(RuntimeError):  # stopping: the next start releases it
                self.release_executor.submit(self.journal.release, number)
        freeze_survivors()

    def _lost(self, link: _Link) -> None:
        """The applier's pipe closed: unless stopping, say so and start a new one."""
        if self._closing or link is not self._link:
            return
        self._link = None
        self._linked.clear()
        self.stats.applier_restarts += 1
        self.last_apply_error = "the applier exited; restarting it"
        self._tasks.append(asyncio.create_task(self._relaunch(link), name="revops-applier-restart"))

    async def _relaunch(self, dead: _Link) -> None:
        await asyncio.to_thread(dead.worker.join, self.wait_seconds)  # reaped: its exit code
        code = getattr(dead.worker, "exitcode", None)
        self.last_apply_error = f"the applier exited (code {code}); restarting it"
        log.warning(
            "intake applier exited (code %s); restarting it with %d journal groups to apply",
            code,
            len(self._unapplied),
        )
        delay = 0.2
        while not self._closing:
            link = await self._launch(recover=False)
            try:
                await link.ready
            except Unavailable:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            for loc in self._unapplied:  # in order, before any newer group or call
                link.send(("journaled", loc))
            self._link = link
            self._linked.set()
            log.warning("intake applier restarted (pid %s)", link.pid)
            return

    @property
    def applier_pid(self) -> int | None:
        return None if self._link is None else self._link.pid

    @property
    def pending(self) -> int:
        return len(self._pending)

    @property
    def lag(self) -> int:
        """Groups journaled (answered) but not yet in the warehouse."""
        p = self._progress
        return 0 if p is None else p.journaled - p.applied

    async def db(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` in the applier, after every group journaled before it is applied;
        this service's warehouse, facade and model in `args` become the applier's own."""
        if self._link is None:
            try:
                await asyncio.wait_for(self._linked.wait(), self.wait_seconds)
            except TimeoutError:
                raise Unavailable(f"the applier is not running ({self.last_apply_error})") from None
        assert self._link is not None
        handles = {id(self.wh): Handle.WAREHOUSE, id(self.ro): Handle.REVOPS}
        handles[id(self.model)] = Handle.MODEL
        sent = tuple(handles.get(id(a), a) for a in args)
        try:
            return await self._link.call(fn, sent)
        except RevOpsError as exc:
            if "has not taken the journal" in str(exc):
                raise Unavailable(
                    f"the warehouse is {self.lag} journal groups behind "
                    f"({self.last_apply_error or 'still applying'}); retry"
                ) from None
            raise

    async def caught_up(self) -> None:
        """Wait until every group journaled so far is in the warehouse (503 if it stalls)."""
        try:
            await asyncio.wait_for(self.db(nothing), self.wait_seconds)
        except TimeoutError:
            raise Unavailable(
                f"the warehouse is {self.lag} journal groups behind "
                f"({self.last_apply_error or 'still applying'}); retry"
            ) from None

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """A read: it runs once every lead answered so far is applied (see `db`)."""
        return await self.db(fn, *args)

    async def exclusive(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a direct write (accept, reject, assign) that appends to the audit log itself:
        no group is journaled meanwhile and all earlier ones are applied first (see `db`), so
        its entry chains after theirs; the head is re-read after it."""
        assert self._chain is not None
        async with self._chain:
            try:
                return await self.db(fn, *args)
            finally:
                self.audit_head = await self.db(head, Handle.WAREHOUSE)

    def state(self) -> HotState:
        if self.hot is None:
            raise Unavailable("the intake service is reloading its state; retry")
        return self.hot

    # -- POST /leads --------------------------------------------------------------------------
    async def create_lead(
        self, lead: LeadIn, principal: Principal, key: str | None
    ) -> tuple[Stored, bool]:
        """The answer to a lead (status, body) and whether it is a replay of an earlier one."""
        idem = scoped(principal.key_id, key) if key is not None else None
        # the body's hash binds an idempotency key to its request; without a key nothing
        # reads it, and hashing the body cost a tenth of the answering thread's CPU per lead
        digest = request_hash(lead.model_dump(mode="json")) if idem is not None else ""
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
            self._unapplied.append(done.located)
            if self._link is not None:  # else the applier's restart sends it
                self._link.send(("journaled", done.located))
            self._progress.journaled = number
        self.stats.commits += 1
        self.stats.leads += len(jobs)
        self.stats.settle_seconds += done.settle_seconds
        self.stats.journal_seconds += done.journal_seconds
        self.stats.journal_bytes += done.located.size
        self.stats.settle_max = max(self.stats.settle_max, done.settle_seconds)
        self.stats.journal_max = max(self.stats.journal_max, done.journal_seconds)
        self.stats.journal_cpu_seconds += done.cpu_seconds
        for job, stored in zip(jobs, done.answers, strict=True):
            if job.idem_key is not None:
                self.idempotency.done[job.idem_key] = stored
            if not job.future.done():
                job.future.set_result(stored)

    def _journal_group(self, number: int, jobs: Sequence[_Job]) -> _Journaled:
        """Settle one group and make it durable in the journal (journal thread)."""
        assert self.journal is not None
        hot = self.state()
        started, cpu = time.perf_counter(), time.thread_time()
        settled = settle(hot, [j.admitted for j in jobs], self.model)
        answers = [
            Stored(
                j.digest,
                201 if a.created else 200,
                a.model_dump(mode="json"),
                a.model_dump_json().encode(),
            )
            for j, a in zip(jobs, settled.answers, strict=True)
        ]
        notes = [_note(j, a) for j, a in zip(jobs, settled.answers, strict=True)]
        # numbered, not hashed: every apply chains them again from the stored head (rechain)
        audit = unchained_batch(self.audit_head[0], notes)
        new_head = (self.audit_head[0] + len(notes), "")
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
        path, offset, size = self.journal.append(number, batches)
        return _Journaled(
            Located(number, str(path), offset, size),
            answers,
            new_head,
            settled_at - started,
            time.perf_counter() - settled_at,
            time.thread_time() - cpu,
        )

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
                    tables = await self.db(hot_tables, Handle.WAREHOUSE, self.model)
                    self.hot = build_hot_state(tables, self.model)
                    return
                except Exception:  # the warehouse is down: leads get 503 meanwhile; retry
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)
        finally:
            self._ready.set()


def _run_thread(applier: Applier, conn: Connection, recover_from: Path | None) -> None:
    """The applier on a thread of this process (mode "thread"); its end of the pipe closes
    with it, as a process's would."""
    try:
        applier.run(recover_from)
    finally:
        conn.close()


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


def freeze_survivors() -> None:
    """Move what outlived the last apply out of the collector's reach.

    Every lead adds long-lived objects to the hot state (its routing, its person). Python runs a
    full collection whenever the oldest generation has grown by a quarter since the last, and a
    full collection walks every object in it with the interpreter held: measured on the demo
    warehouse at 500 leads/s, such passes took 20-78 ms once 20,000 leads had arrived, and grew
    with the leads. Collecting the young generations, then freezing what survived, once per
    apply (about a second) keeps the oldest generation at about a second's objects: every pass
    measured under 5 ms after this. The price: a reference cycle that becomes garbage after it
    was frozen is not reclaimed until the server restarts: the hot state holds no cycles, and
    of requests' cycles only those of the few requests in flight at a freeze can be caught.
    """
    gc.collect(1)
    gc.freeze()


def _fail(jobs: Sequence[_Job], exc: Exception) -> None:
    for j in jobs:
        if not j.future.done():
            j.future.set_exception(exc)
