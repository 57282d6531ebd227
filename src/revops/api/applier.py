"""The intake applier: the one holder of the intake server's warehouse connection.

Writing journaled groups to the warehouse is the intake server's heaviest work (an apply of a
second's groups cost about 2.4 s on 2 cores at 500 leads/s), and most of it is Python holding
the interpreter lock: run in the server's process it stalled the event loop, and `POST /leads`
had a p99 of half a second while its median was 4 ms. So the server (`api.service`) spawns
this applier as a child process (`run_process`) and never opens the warehouse itself: it
answers a lead once the lead's group is fsynced in the journal, then tells the applier where
the group lies (`Located`: file, offset, size). The applier reads the group back from the
journal file, gathers groups for `interval` seconds and writes them in one transaction with
the applied-group marker (`recovery.apply_groups`), and says which group it reached; the
server then lets the journal forget them.

Every other warehouse call of the server (reads, accept/reject/assign, keys, web pages) goes
through the same pipe as a call `(function, arguments)` run here, with the warehouse, the
RevOps facade and the operating model passed as `Handle`s. Messages are handled in order and
every group received before a call is applied before the call runs, so a read sees every lead
answered before it and a direct write's audit entry chains after theirs.

DuckDB lets one process hold a file read-write, and here that is the applier; on PostgreSQL it
is the one writer of the server too. If the applier dies, the server sees its pipe close,
reports it on /health and in its log, and starts a new one, which is sent every group not yet
applied (the journal still holds them; the stored marker skips any the dead one committed).
If the server dies, the applier sees the pipe close and exits; the next start (or any CLI
command) replays the journal.

Tests run the same loop in a thread of the server's process (`mode="thread"`), over the same
pipe, for warehouses no second process can open (in-memory DuckDB).
"""

from __future__ import annotations

import contextlib
import enum
import os
import pickle
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from revops.api import operations, reengage  # noqa: F401 (imported before the first call)
from revops.api.journal import Group, journal_cipher, scan
from revops.api.recovery import applied_group, apply_groups, recover
from revops.config import LoadedConfig
from revops.context import RevOps
from revops.errors import RevOpsError
from revops.warehouse import Warehouse

DUCKDB_THREADS = 1  # for the applier's connection: leave the other core to the answers
# The applier's CPU priority (a nice increment): it is batch work that only has to keep up on
# average, while the server's answers wait on the cores it shares with them. At 500 leads/s
# on 2 cores the two processes took 1.65 cores and the answers queued behind the applies.
NICE = 10
CONNECT_SECONDS = 30.0  # a dead server's applier may hold a DuckDB file a moment longer


class Handle(enum.Enum):
    """Stand-ins for the applier's own objects in a call's arguments (they pickle by name)."""

    WAREHOUSE = "warehouse"
    REVOPS = "revops"
    MODEL = "model"


@dataclass(frozen=True)
class Located:
    """Where a journaled group's record lies: the server appended it there and fsynced it."""

    number: int
    path: str
    offset: int
    size: int


def read_group(loc: Located) -> Group:
    """The group at `loc`, read back from the journal file (and opened with REVOPS_PII_KEY)."""
    with open(loc.path, "rb") as f:
        data = os.pread(f.fileno(), loc.size, loc.offset)
    records, end = scan(data, journal_cipher())
    if end != loc.size or len(records) != 1 or records[0][0] != loc.number:
        raise RevOpsError(f"the intake journal {loc.path} does not hold group {loc.number}")
    number, _, batches = records[0]
    return Group(number, tuple(batches))


def sql(wh: Warehouse, text: str) -> list[tuple[Any, ...]]:
    """`wh.sql` as a function a call can name (a bound method would carry the connection)."""
    return wh.sql(text)


def nothing() -> None:
    """A call that only waits: it returns once every group sent before it is applied."""


class _ServerGone(Exception):
    """The server's end of the pipe closed (it stopped or died): the applier ends quietly."""


class Applier:
    """The loop: take messages in order, apply journaled groups every `interval` seconds and
    before any call, answer calls. Runs until the pipe closes or a stop message."""

    def __init__(self, conn: Connection, ro: RevOps, jid: str, interval: float) -> None:
        self.conn = conn
        self.ro = ro
        self.jid = jid
        self.interval = interval
        self.waiting: dict[int, Located] = {}
        self.applied = 0
        self.due = 0.0  # monotonic time of the next apply while groups wait
        self.delay = 0.05

    def run(self, recover_from: Path | None) -> None:
        """The loop, until the server stops it or goes away (the journal keeps what is not
        applied yet, and the next server replays it)."""
        with contextlib.suppress(_ServerGone):
            self._loop(recover_from)

    def _send(self, message: tuple[Any, ...]) -> None:
        try:
            self.conn.send(message)
        except (BrokenPipeError, ConnectionResetError, EOFError) as exc:
            raise _ServerGone from exc

    def _loop(self, recover_from: Path | None) -> None:
        wh = self.ro.warehouse
        if wh.backend == "duckdb":
            wh.sql(f"SET threads = {DUCKDB_THREADS}")
        recovered = 0
        if recover_from is not None:  # the server holds the journal's lock for us
            journal, _, recovered = recover(wh, recover_from)
            journal.close()
        self.applied = applied_group(wh, self.jid)
        self._send(("ready", self.applied, recovered))
        while True:
            now = time.monotonic()
            if self.waiting and now >= self.due:
                self.apply()
                continue
            timeout = max(self.due - now, 0.0) if self.waiting else None
            if not self.conn.poll(timeout):
                continue
            try:
                message = self.conn.recv()
            except (EOFError, OSError) as exc:  # the server is gone
                raise _ServerGone from exc
            kind = message[0]
            if kind == "journaled":
                loc: Located = message[1]
                if loc.number > self.applied:
                    if not self.waiting:
                        self.due = time.monotonic() + self.interval
                    self.waiting[loc.number] = loc
            elif kind == "call":
                self.call(message[1], message[2], message[3])
            elif kind == "stop":
                self.apply()
                self._send(("stopped", self.applied))
                return

    def apply(self) -> bool:
        """Write the waiting groups that follow the applied one without a gap; False (and the
        error reported, a retry scheduled) if the write fails."""
        todo: list[Located] = []
        number = self.applied + 1
        while number in self.waiting:
            todo.append(self.waiting[number])
            number += 1
        if not todo:
            self.due = time.monotonic() + self.interval
            return not self.waiting
        started = time.perf_counter()
        try:
            groups = [read_group(loc) for loc in todo]
            apply_groups(self.ro.warehouse, self.jid, groups, datetime.now(UTC))
        except Exception as exc:
            self._send(("apply_error", f"{type(exc).__name__}: {exc}"))
            self.due = time.monotonic() + self.delay
            self.delay = min(self.delay * 2, 5.0)
            return False
        self.delay = 0.05
        for loc in todo:
            del self.waiting[loc.number]
        self.applied = todo[-1].number
        self.due = time.monotonic() + self.interval
        self._send(("applied", self.applied, len(todo), time.perf_counter() - started))
        return not self.waiting

    def call(self, call_id: int, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        """Run one call once every group received before it is in the warehouse."""
        if not self.apply():
            self._answer(call_id, False, RevOpsError("the warehouse has not taken the journal"))
            return
        try:
            value = fn(*(self._resolve(a) for a in args))
        except Exception as exc:
            self._answer(call_id, False, exc)
            return
        self._answer(call_id, True, value)

    def _resolve(self, arg: Any) -> Any:
        if isinstance(arg, Handle):
            if arg is Handle.WAREHOUSE:
                return self.ro.warehouse
            if arg is Handle.REVOPS:
                return self.ro
            return self.ro.model
        return arg

    def _answer(self, call_id: int, ok: bool, value: Any) -> None:
        try:
            payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
            pickle.loads(payload)  # noqa: S301 (an exception whose class cannot be rebuilt)
        except Exception:
            text = f"{type(value).__name__}: {value}"
            ok, payload = False, pickle.dumps(RevOpsError(text))
        self._send(("result", call_id, ok, payload))


def run_process(
    conn: Connection,
    config: LoadedConfig,
    url: str,
    jid: str,
    interval: float,
    recover_from: Path | None,
    nice: int = NICE,
) -> None:
    """The applier process: lower its CPU priority by `nice` (see NICE), open the warehouse
    (waiting while a dead server's applier still holds a DuckDB file), then run the loop."""
    if nice > 0:  # before any thread starts: DuckDB's threads inherit it
        os.nice(nice)
    deadline = time.monotonic() + CONNECT_SECONDS
    while True:
        try:
            wh = Warehouse.connect(url, create=False)
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    try:
        Applier(conn, RevOps.bind(config, wh), jid, interval).run(recover_from)
    finally:
        wh.close()
        conn.close()
