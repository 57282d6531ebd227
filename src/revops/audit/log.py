"""The audit log: append-only and hash-chained, so an edited or deleted entry is detectable.

Each entry stores the SHA-256 of its own canonical content together with the previous entry's
hash. Changing any field of any entry breaks its own hash; deleting one leaves a gap in the
sequence and breaks the next entry's link. Removing entries from the end
leaves a shorter but valid chain, and a chain rewritten from some entry on is valid too, which
is why every write also records the head outside the warehouse (`revops.audit.anchor`) and
`verify` checks against it; `verify(expect_head=...)` checks a head kept by hand as well.

Writers call `audit_batch` and pass the result to `Warehouse.write_many` with the change it
records, so the change and its audit entry land together or not at all. The batch is appended,
never upserted: two writers racing for the same sequence number make one of them fail, rather
than fork the chain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from revops.audit.anchor import read_anchor
from revops.warehouse import Batch, Warehouse
from revops.warehouse.clock import naive_utc
from revops.warehouse.schema import table
from revops.warehouse.warehouse import arrow_schema

GENESIS = "0" * 64


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: datetime
    actor: str
    action: str
    subject: str
    details: str
    prev_hash: str
    hash: str


def _canonical_details(details: Mapping[str, Any] | None) -> str:
    return json.dumps(details or {}, sort_keys=True, separators=(",", ":"), default=str)


def entry_hash(
    seq: int, at: datetime, actor: str, action: str, subject: str, details: str, prev: str
) -> str:
    """SHA-256 over every field of an entry and the previous entry's hash."""
    content = json.dumps(
        [
            seq,
            at.replace(tzinfo=None).isoformat(timespec="microseconds"),
            actor,
            action,
            subject,
            details,
            prev,
        ],
        separators=(",", ":"),
    )
    return hashlib.sha256(content.encode()).hexdigest()


def head(wh: Warehouse) -> tuple[int, str]:
    """The last sequence number and its hash; (0, GENESIS) for an empty log."""
    rows = wh.sql('SELECT seq, hash FROM "audit_log" ORDER BY seq DESC LIMIT 1')
    return (int(rows[0][0]), str(rows[0][1])) if rows else (0, GENESIS)


@dataclass(frozen=True)
class AuditNote:
    """What an entry says, before it is placed in the chain."""

    actor: str
    action: str
    subject: str
    details: Mapping[str, Any] | None
    at: datetime


def chain_batch(
    start: tuple[int, str], notes: Sequence[AuditNote]
) -> tuple[Batch, tuple[int, str]]:
    """Entries chained after `start` (seq, hash), as one append batch, and the new head.

    `audit_batch` starts from the stored head; a writer that builds several batches before it
    stores them starts from the head it keeps (the automation outbox). The intake API's
    journaled entries are only numbered (`unchained_batch`) and chained when applied.
    """
    seq, prev = start
    rows = _numbered(seq, notes)
    for row in rows:
        fields = (row["seq"], row["at"], row["actor"], row["action"], row["subject"])
        row["prev_hash"] = prev
        row["hash"] = prev = entry_hash(*fields, row["details"], prev)
    data = pa.Table.from_pylist(rows, arrow_schema(table("audit_log")))
    return Batch("audit_log", data, "append"), (seq + len(rows), prev)


def _numbered(start: int, notes: Sequence[AuditNote]) -> list[dict[str, Any]]:
    """The entries' rows numbered after `start`, hashes empty."""
    return [
        {
            "seq": seq,
            "at": naive_utc(n.at),
            "actor": n.actor,
            "action": n.action,
            "subject": n.subject,
            "details": _canonical_details(n.details),
            "prev_hash": "",
            "hash": "",
        }
        for seq, n in enumerate(notes, start + 1)
    ]


def unchained_batch(start: int, notes: Sequence[AuditNote]) -> Batch:
    """Entries numbered after `start` but not hashed (`prev_hash` and `hash` empty), as one
    append batch, for a writer whose entries are always chained again before they are stored
    (the intake API's journal: `rechain` at every apply and replay renumbers and hashes them
    from the stored head). Hashing them when journaling too cost the answering process a
    SHA-256 and a JSON encoding per lead that nothing ever read."""
    data = pa.Table.from_pylist(_numbered(start, notes), arrow_schema(table("audit_log")))
    return Batch("audit_log", data, "append")


def audit_batch(
    wh: Warehouse,
    actor: str,
    action: str,
    subject: str,
    details: Mapping[str, Any] | None = None,
    *,
    at: datetime | None = None,
) -> Batch:
    """The next audit entry, as a batch to write together with the change it records.

    Entries are chained in the order they are created, so build one batch per write and write it
    before building the next.
    """
    note = AuditNote(actor, action, subject, details, at or datetime.now(UTC))
    return chain_batch(head(wh), [note])[0]


@contextmanager
def audited(
    wh: Warehouse,
    actor: str,
    action: str,
    describe: Callable[[Sequence[Batch]], tuple[str, Mapping[str, Any]]],
) -> Iterator[None]:
    """Add an audit entry to the next `write_many` on `wh` inside the block.

    An engine such as `apply_merges` writes its change in one `write_many` it builds itself;
    recording the entry after it returns would be a second transaction, and a crash between
    the two leaves a change nobody audited. `describe(batches)` names the subject and details
    from the batches about to be written (e.g. their merge ids), and the entry is chained and
    committed with them. A block that writes nothing records nothing.
    """

    def hook(batches: Sequence[Batch]) -> list[Batch]:
        subject, details = describe(batches)
        return [audit_batch(wh, actor, action, subject, details)]

    wh.audit_hook = hook
    try:
        yield
    finally:
        wh.audit_hook = None


def rows_of(batches: Sequence[Batch], name: str) -> list[dict[str, Any]]:
    """Every row the batches write to table `name` (for `audited`'s describe functions)."""
    return [r for b in batches if b.table == name for r in b.data.to_pylist()]


def record(
    wh: Warehouse,
    actor: str,
    action: str,
    subject: str,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Append one entry on its own (for actions that write nothing else)."""
    wh.write_many([audit_batch(wh, actor, action, subject, details)])


def entries(wh: Warehouse) -> list[AuditEntry]:
    rows = wh.sql(
        'SELECT seq, "at", actor, action, subject, details, prev_hash, hash '
        'FROM "audit_log" ORDER BY seq'
    )
    return [AuditEntry(int(r[0]), r[1], *(str(v) for v in r[2:])) for r in rows]


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    head_hash: str
    problems: tuple[str, ...]
    anchored: int | None = None  # the anchored head's seq that was checked, if any


def verify(
    wh: Warehouse, expect_head: str | None = None, *, use_anchor: bool = True
) -> Verification:
    """Recompute the chain; every broken entry is named by its sequence number and why.

    With `use_anchor` (the default) the head last recorded outside the warehouse
    (`revops.audit.anchor`) must still be in the log with the same hash: otherwise entries
    were cut off the end or the chain was rewritten from some entry on.
    """
    problems: list[str] = []
    prev, expected_seq = GENESIS, 1
    log = entries(wh)
    for e in log:
        if e.seq != expected_seq:
            first, last = expected_seq, e.seq - 1
            gap = f"entry {first}" if first == last else f"entries {first}..{last}"
            problems.append(f"{gap} missing (deleted)")
        if e.prev_hash != prev:
            problems.append(f"entry {e.seq} ({e.action}): link to the previous entry is broken")
        digest = entry_hash(e.seq, e.at, e.actor, e.action, e.subject, e.details, e.prev_hash)
        if digest != e.hash:
            problems.append(f"entry {e.seq} ({e.action}): content does not match its hash")
        prev, expected_seq = e.hash, e.seq + 1
    if expect_head is not None and expect_head not in {e.hash for e in log}:
        problems.append(f"expected head {expect_head[:12]}… is not in the log (entries removed)")
    anchored = None
    if use_anchor and (anchor := read_anchor(wh.url)) is not None:
        anchored = anchor.seq
        by_seq = {e.seq: e.hash for e in log}
        if anchor.seq < 0:
            problems.append(f"the audit anchor {anchor.path} is unreadable")
        elif anchor.seq not in by_seq:
            problems.append(
                f"the anchored head, entry {anchor.seq} ({anchor.hash[:12]}…, {anchor.path}), "
                "is not in the log: entries were cut off"
            )
        elif by_seq[anchor.seq] != anchor.hash:
            problems.append(
                f"entry {anchor.seq} differs from the anchored head ({anchor.hash[:12]}…, "
                f"{anchor.path}): the log was rewritten"
            )
    return Verification(not problems, len(log), prev, tuple(problems), anchored)


def rechain(start: tuple[int, str], batch: Batch) -> tuple[Batch, tuple[int, str]]:
    """The audit rows of `batch` renumbered and re-hashed after `start`, in their order.

    The intake API chains its entries when it journals a group, from the head it keeps in
    memory; by the time the group is applied (or replayed after a crash) another writer may
    have appended entries, so the rows are chained again from the stored head at apply time.
    """
    notes = [
        AuditNote(r["actor"], r["action"], r["subject"], json.loads(r["details"]), r["at"])
        for r in batch.data.to_pylist()
    ]
    return chain_batch(start, notes)
