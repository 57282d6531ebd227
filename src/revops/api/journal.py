"""The intake API's write-ahead journal: a lead is answered once its group is durable here.

A warehouse commit of one intake group costs tens of milliseconds (about ten tables, each a
statement), far over the answer budget, while appending the same rows to a local file and
fsyncing it costs about a millisecond. So each group of leads is first appended to the journal
(one `os.write` + one `os.fsync`) and answered; a background applier later writes whatever
groups are waiting to the warehouse in one transaction that also records the last group it
applied (`intake_journal_state`), and the journal drops what is applied. After a crash the
journal is replayed from the group after `applied_group`: nothing acknowledged is lost and
nothing is applied twice.

The journal is a folder of segment files (`<first group>.wal`); the writer starts a new segment
when the current one is large, and a segment whose groups are all applied is deleted (the
current one is truncated), so the journal stays small even when the applier never fully catches
up. A record is self-describing and checksummed:

    magic "RVJ1" | payload length (u32) | CRC32 of payload (u32) | payload
    payload = group (u64) | journal id | batch count (u16) | per batch: table, mode, Arrow IPC

With `REVOPS_PII_KEY` set (the warehouse's PII columns are encrypted) the payload is sealed
with AES-256-GCM under a key derived from it (HKDF, its own label), magic "RVJE" and a random
96-bit nonce before the encrypted payload; the CRC covers what is on disk. A journal holds every
field of every lead it has not yet applied, so it must not be the one place they sit in clear.
Erasure leaves nothing in it either: every CLI command (`revops privacy erase` too) first
applies a pending journal, which then deletes or empties its segments.

A record cut short or failing its checksum at the end of the last segment is a write that was
never acknowledged (the process died during it) and is discarded; anywhere else it is damage,
and the service refuses to start rather than silently lose acknowledged leads.
"""

from __future__ import annotations

import os
import struct
import threading
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pyarrow as pa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from revops.audit.anchor import warehouse_id
from revops.errors import RevOpsError
from revops.warehouse import Batch
from revops.warehouse.pii import PII_KEY_ENV
from revops.warehouse.warehouse import WriteMode

MAGIC = b"RVJ1"
SEALED = b"RVJE"  # an AES-GCM sealed payload: nonce (12 bytes) | ciphertext and tag
_NONCE = 12
_KEY_INFO = b"revops intake journal aes-gcm v1"
_HEAD = struct.Struct("<4sII")  # magic, payload length, crc32
_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")
_U16 = struct.Struct("<H")
SEGMENT_BYTES = 16 * 1024 * 1024
SUFFIX = ".wal"


class JournalError(RevOpsError):
    """The journal cannot be written or read as a journal of this warehouse."""


@dataclass(frozen=True)
class Group:
    """One journaled group: its number and the batches that write it to the warehouse."""

    number: int
    batches: tuple[Batch, ...]
    leads: int = 0


def journal_id(url: str) -> str:
    """A short digest naming the warehouse: the same id the audit anchor uses, so the journal,
    the anchor and the erasure marker of one warehouse share one name."""
    return warehouse_id(url)


def default_path(url: str) -> Path | None:
    """`<file>.intake-journal` next to a DuckDB file; for PostgreSQL a folder in the user's
    state directory ($REVOPS_JOURNAL_DIR, else ~/.local/state/revops) named by `journal_id`;
    None for an in-memory warehouse (nothing survives a restart to recover into)."""
    if url.startswith(("postgresql://", "postgres://")):
        base = os.environ.get("REVOPS_JOURNAL_DIR") or str(
            Path.home() / ".local" / "state" / "revops"
        )
        return Path(base) / f"intake-{journal_id(url)}"
    path = url.removeprefix("duckdb://")
    if path == ":memory:":
        return None
    return Path(f"{path}.intake-journal")


# -- records -----------------------------------------------------------------------------------
def _text(value: str) -> bytes:
    raw = value.encode()
    return _U16.pack(len(raw)) + raw


def journal_cipher() -> AESGCM | None:
    """The cipher sealing journal records, from REVOPS_PII_KEY; None when it is unset."""
    secret = os.environ.get(PII_KEY_ENV)
    if not secret:
        return None
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_KEY_INFO).derive(
        secret.encode()
    )
    return AESGCM(key)


def encode(number: int, jid: str, batches: Sequence[Batch], cipher: AESGCM | None = None) -> bytes:
    """One record: header and checksummed payload holding every batch as an Arrow IPC stream,
    sealed when `cipher` is given."""
    parts = [_U64.pack(number), _text(jid), _U16.pack(len(batches))]
    for b in batches:
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, b.data.schema) as writer:
            writer.write_table(b.data)
        ipc = sink.getvalue().to_pybytes()
        parts += [_text(b.table), _text(b.mode), _U32.pack(len(ipc)), ipc]
    payload = b"".join(parts)
    magic = MAGIC
    if cipher is not None:
        nonce = os.urandom(_NONCE)
        payload = nonce + cipher.encrypt(nonce, payload, SEALED)
        magic = SEALED
    return _HEAD.pack(magic, len(payload), zlib.crc32(payload)) + payload


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = memoryview(data)
        self.at = 0

    def take(self, n: int) -> memoryview:
        if self.at + n > len(self.data):
            raise ValueError("short payload")
        out = self.data[self.at : self.at + n]
        self.at += n
        return out

    def text(self) -> str:
        (n,) = _U16.unpack(self.take(_U16.size))
        return bytes(self.take(n)).decode()


def decode_payload(payload: bytes) -> tuple[int, str, list[Batch]]:
    r = _Reader(payload)
    (number,) = _U64.unpack(r.take(_U64.size))
    jid = r.text()
    (count,) = _U16.unpack(r.take(_U16.size))
    batches: list[Batch] = []
    for _ in range(count):
        name, mode = r.text(), r.text()
        (n,) = _U32.unpack(r.take(_U32.size))
        data = pa.ipc.open_stream(pa.py_buffer(bytes(r.take(n)))).read_all()
        batches.append(Batch(name, data, cast(WriteMode, mode)))
    return number, jid, batches


def scan(
    data: bytes, cipher: AESGCM | None = None
) -> tuple[list[tuple[int, str, list[Batch]]], int]:
    """The whole records of `data` in order, and the offset where the valid part ends. A
    sealed record that `cipher` cannot open (no key, a wrong one) raises `JournalError`."""
    out: list[tuple[int, str, list[Batch]]] = []
    at = 0
    while at + _HEAD.size <= len(data):
        magic, length, crc = _HEAD.unpack_from(data, at)
        start, end = at + _HEAD.size, at + _HEAD.size + length
        if magic not in (MAGIC, SEALED) or end > len(data):
            break
        payload = data[start:end]
        if zlib.crc32(payload) != crc:
            break
        if magic == SEALED:
            if cipher is None:
                raise JournalError(
                    f"the intake journal is encrypted; set {PII_KEY_ENV} to replay it"
                )
            try:
                payload = cipher.decrypt(payload[:_NONCE], payload[_NONCE:], SEALED)
            except InvalidTag:
                raise JournalError(
                    f"the intake journal does not decrypt with this {PII_KEY_ENV}"
                ) from None
        try:
            out.append(decode_payload(payload))
        except Exception:  # a checksummed record that does not parse is damage too
            break
        at = end
    return out, at


# -- the journal ---------------------------------------------------------------------------------
@dataclass
class _Segment:
    path: Path
    first: int
    last: int
    size: int


class Journal:
    """Appends groups durably; forgets them once applied. Thread-safe (one lock).

    Open with `Journal.open`, which returns the groups found on disk for recovery.
    """

    def __init__(self, folder: Path, jid: str, segment_bytes: int = SEGMENT_BYTES) -> None:
        self.folder = folder
        self.jid = jid
        self.segment_bytes = segment_bytes
        self.last = 0  # the highest group number ever appended (or found on disk)
        self.fsyncs = 0
        self.bytes = 0
        self._lock = threading.Lock()
        self._closed: list[_Segment] = []
        self._current: _Segment | None = None
        self._fd: int | None = None
        self._broken: str | None = None
        self.cipher = journal_cipher()

    @classmethod
    def open(
        cls, folder: Path, jid: str, segment_bytes: int = SEGMENT_BYTES
    ) -> tuple[Journal, list[Group]]:
        """The journal in `folder` (created if missing) and every whole group it holds.

        A torn record at the end of the last segment is cut off; damage elsewhere, or a record
        of another warehouse, raises `JournalError` naming the file.
        """
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise JournalError(f"cannot create the intake journal {folder}: {exc}") from None
        journal = cls(folder, jid, segment_bytes)
        groups: list[Group] = []
        files = sorted(folder.glob(f"*{SUFFIX}"))
        for i, path in enumerate(files):
            data = path.read_bytes()
            records, end = scan(data, journal.cipher)
            if end < len(data):
                if i < len(files) - 1:
                    raise JournalError(
                        f"the intake journal segment {path} is damaged at byte {end} and later "
                        "segments hold acknowledged leads; restore it or move the journal aside "
                        "after checking what is missing"
                    )
                with open(path, "r+b") as f:  # the unacknowledged torn tail
                    f.truncate(end)
                    os.fsync(f.fileno())
            for number, rid, batches in records:
                if rid != jid:
                    raise JournalError(
                        f"the intake journal {folder} belongs to another warehouse (journal id "
                        f"{rid}, this warehouse is {jid}); point the server at its own journal"
                    )
                if number <= journal.last:
                    raise JournalError(f"the intake journal {path} repeats group {number}")
                groups.append(Group(number, tuple(batches)))
                journal.last = number
            segment = _Segment(path, records[0][0] if records else 0, journal.last, end)
            journal._closed.append(segment)
        if journal._closed:  # keep appending to the last segment
            journal._current = journal._closed.pop()
        return journal, groups

    @property
    def segments(self) -> int:
        return len(self._closed) + (1 if self._current else 0)

    def append(self, number: int, batches: Sequence[Batch]) -> tuple[Path, int, int]:
        """Write group `number` and fsync it; where it lies (segment file, offset, bytes), for
        the applier to read it back. On failure nothing remains."""
        record = encode(number, self.jid, batches, self.cipher)
        with self._lock:
            if self._broken is not None:
                raise JournalError(f"the intake journal is unusable: {self._broken}")
            if number <= self.last:
                raise JournalError(f"group {number} is not after the last journaled {self.last}")
            segment = self._segment(number)
            assert self._fd is not None
            offset = segment.size
            try:
                view = memoryview(record)
                while view:
                    view = view[os.write(self._fd, view) :]
                os.fsync(self._fd)
            except OSError as exc:
                self._undo(segment, exc)
                raise JournalError(f"cannot write the intake journal: {exc}") from None
            segment.size += len(record)
            segment.last = number
            segment.first = segment.first or number
            self.last = number
            self.fsyncs += 1
            self.bytes += len(record)
            return segment.path, offset, len(record)

    def release(self, applied: int) -> None:
        """Forget every group <= `applied` (they are in the warehouse): delete whole segments,
        truncate the current one when all of it is applied.

        The truncation's fsync runs after the lock is let go (on a duplicate of the file
        descriptor): appends wait for the lock, and an fsync there would put a second fsync on
        the answer path of every lead arriving meanwhile.
        """
        sync: int | None = None
        with self._lock:
            keep: list[_Segment] = []
            for s in self._closed:
                if s.last <= applied:
                    s.path.unlink(missing_ok=True)
                else:
                    keep.append(s)
            self._closed = keep
            current = self._current
            if current is not None and current.size and current.last <= applied:
                if self._fd is None:
                    with open(current.path, "r+b") as f:
                        f.truncate(0)
                        os.fsync(f.fileno())
                else:
                    os.ftruncate(self._fd, 0)
                    sync = os.dup(self._fd)
                current.size, current.first = 0, 0
        if sync is not None:
            try:
                os.fsync(sync)
            finally:
                os.close(sync)

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def _segment(self, number: int) -> _Segment:
        """The segment to append to, opening or rolling over to a new one as needed."""
        current = self._current
        if current is not None and current.size >= self.segment_bytes:
            self._closed.append(current)
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            current = None
        if current is None:
            current = _Segment(self.folder / f"{number:020d}{SUFFIX}", number, number - 1, 0)
            self._current = current
        if self._fd is None:
            self._fd = os.open(current.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            dir_fd = os.open(self.folder, os.O_RDONLY)
            try:  # the new file's name must be durable too
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        return current

    def _undo(self, segment: _Segment, exc: OSError) -> None:
        """Cut a failed append back off, so later records never follow a torn one."""
        try:
            assert self._fd is not None
            os.ftruncate(self._fd, segment.size)
            os.fsync(self._fd)
        except OSError as again:
            self._broken = f"{exc}; and cutting the failed write off failed: {again}"
