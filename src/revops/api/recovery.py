"""Applying journaled intake groups to the warehouse: by the server, and by anyone after a crash.

The server chains the audit entries of a group from the head it keeps in memory when it
journals the group, long before the group is stored. If the server is killed and some other
writer (any CLI command) appends audit entries before the journal is replayed, those numbers
are taken: so every apply chains the group's entries again from the head stored in the
warehouse, in the same transaction as the rows and the applied-group marker.

A journal left by a dead server holds leads that were answered 201: every CLI command opens the
warehouse through `replay_pending`, which applies them first, so no command works on a
warehouse missing acknowledged leads and the next server start has nothing to reconcile. A
running server holds an exclusive lock on its journal; then the CLI leaves the journal to it
(on DuckDB the server's database lock keeps the CLI out anyway).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from revops.api.journal import Group, Journal, default_path, holds_records, journal_id
from revops.audit import head, rechain
from revops.warehouse import Batch, Warehouse
from revops.warehouse.clock import naive_utc

STATE_TABLE = "intake_journal_state"
LOCK_FILE = "lock"


def applied_group(wh: Warehouse, jid: str) -> int:
    """The last journal group stored in the warehouse (0 if none)."""
    rows = wh.sql(
        f"SELECT applied_group FROM \"{STATE_TABLE}\" WHERE journal_id = '{jid}'"  # hex digest
    )
    return int(rows[0][0]) if rows else 0


def merge(groups: Sequence[Group]) -> list[Batch]:
    """The batches of several groups as few as possible: one per (table, mode, columns), in
    order of first appearance. Within one transaction the result is the same as writing the
    groups one after another (an upsert keeps the last row of a key, as a later group would).

    Each batch is one contiguous chunk: an apply gathers about a thousand groups of a lead or
    two, and a table of a thousand tiny chunks cost DuckDB's insert (and every trigger query of
    the outbox hook over it) several times the rows' own work, more as the tables grew: an
    apply of 1,000 groups of 2 leads on the demo warehouse cost 1.2-1.5 ms of CPU per lead,
    0.5-0.65 ms with the chunks combined (bench/routing.py part 3 shows the insert alone)."""
    parts: dict[tuple[str, str, tuple[str, ...]], list[pa.Table]] = {}
    for g in groups:
        for b in g.batches:
            parts.setdefault((b.table, b.mode, tuple(b.data.column_names)), []).append(b.data)
    out: list[Batch] = []
    for (name, mode, _), tables in parts.items():
        data = (
            tables[0]
            if len(tables) == 1
            else pa.concat_tables(tables, promote_options="permissive").combine_chunks()
        )
        out.append(Batch(name, data, mode))  # type: ignore[arg-type]
    return out


def apply_groups(wh: Warehouse, jid: str, groups: Sequence[Group], at: datetime) -> tuple[int, str]:
    """Write `groups` and the new applied group number in one transaction, their audit
    entries chained after the stored head; returns the new head."""
    state = pa.table(
        {
            "journal_id": [jid],
            "applied_group": pa.array([groups[-1].number], pa.int64()),
            "applied_at": pa.array([naive_utc(at)], pa.timestamp("us")),
        }
    )
    batches = merge(groups)
    new_head = head(wh)
    for i, b in enumerate(batches):
        if b.table == "audit_log":
            batches[i], new_head = rechain(new_head, b)
    wh.write_many([*batches, Batch(STATE_TABLE, state)], counts=False)
    return new_head


@contextlib.contextmanager
def locked(folder: Path, *, wait: bool = False) -> Iterator[bool]:
    """Hold the journal's lock while inside; yields False (holding nothing) if another process
    holds it and `wait` is False."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # closing releases the lock


def recover(wh: Warehouse, path: Path, at: datetime | None = None) -> tuple[Journal, int, int]:
    """Open the journal at `path` and apply every group after the stored one; the journal, the
    last group number and how many groups were applied. The caller holds the lock."""
    jid = journal_id(wh.url)
    applied = applied_group(wh, jid)
    journal, groups = Journal.open(path, jid)
    todo = [g for g in groups if g.number > applied]
    if todo:
        apply_groups(wh, jid, todo, at or datetime.now(UTC))
    last = max(applied, journal.last)
    journal.last = last  # numbering continues after anything ever applied
    journal.release(last)
    return journal, last, len(todo)


def replay_pending(wh: Warehouse) -> int:
    """Apply what a dead intake server left in its journal (see the module docstring); the
    number of groups applied. Nothing to do when there is no journal or a server holds it."""
    path = default_path(wh.url)
    return 0 if path is None else replay_journal(wh, path)


def replay_journal(wh: Warehouse, path: Path) -> int:
    """`replay_pending` for the journal in folder `path`."""
    if not path.is_dir() or not holds_records(path):
        return 0
    with locked(path) as mine:
        if not mine:
            return 0
        journal, _, applied = recover(wh, path)
        journal.close()
        return applied
