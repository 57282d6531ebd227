"""The intake API's write-ahead journal: a lead is answered once its group is durable here.

A warehouse commit of one intake group costs tens of milliseconds (about ten tables, each a
statement), far over the answer budget, while appending the same rows to a local file and
syncing it costs about a millisecond. So each group of leads is first appended to the journal
(one `os.pwrite` + one `os.fdatasync`) and answered; a background applier later writes whatever
groups are waiting to the warehouse in one transaction that also records the last group it
applied (`intake_journal_state`), and the journal drops what is applied. After a crash the
journal is replayed from the group after `applied_group`: nothing acknowledged is lost and
nothing is applied twice.

The journal is a folder of segment files (`<number>.wal`, read in number order). A segment is
preallocated before any record goes in: its zeros are written and fsynced, with the folder, when
it is created, ahead of need (a spare readied by a helper thread, or by `release`). An append
overwrites zeros at the current offset and calls `fdatasync`; no file grows and no metadata
changes on the answer path. That matters on ext4 (data=ordered): the `fsync` of a file whose
size changed commits the filesystem's journal, and that commit first flushes the dirty data
of every file, the warehouse's writes of tens of megabytes included (appends took 77-293 ms
during applies). A segment's records run from its first byte to the first zeros: a zero magic
is not a record, an all-zero tail is the unused rest. When a record does not fit, appends
roll over to the spare. A segment whose groups are all applied is deleted; the current one,
once all applied, has its used bytes zeroed in place (or is dropped for the spare when
large), so the journal stays small even when the applier never fully catches up, and no
applied lead's bytes stay in its files. A record is self-describing and checksummed:

    magic "RVJ1" | payload length (u32) | CRC32 of payload (u32) | payload
    payload = group (u64) | journal id | batch count (u16) | per batch: table, mode, Arrow IPC

With `REVOPS_PII_KEY` set (the warehouse's PII columns are encrypted) the payload is sealed
with AES-256-GCM under a key derived from it (HKDF, its own label), magic "RVJE" and a random
96-bit nonce before the encrypted payload; the CRC covers what is on disk. A journal holds every
field of every lead it has not yet applied, so it must not be the one place they sit in clear.
Erasure leaves nothing in it either: every CLI command (`revops privacy erase` too) first
applies a pending journal, which then deletes or empties its segments.

A record cut short or failing its checksum, and whatever follows it, in the last segment holding
anything is a write that was never acknowledged (the process died during it) and is zeroed;
anything but zeros after a segment's records elsewhere is damage, and the service refuses to
start rather than silently lose acknowledged leads. Segments written before preallocation
(records up to the end of the file) read the same way; appends never continue them.
"""

from __future__ import annotations

import contextlib
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
from revops.fsio import sync_path
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
ZERO_CHUNK = 1024 * 1024
ZERO_IN_PLACE = 1024 * 1024  # a fully applied current segment up to this is zeroed, not left
_datasync = getattr(os, "fdatasync", os.fsync)  # macOS has no fdatasync


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


def clean_after(data: bytes, end: int) -> bool:
    """Whether everything after the whole records (`end`) is zeros: the unused, preallocated
    rest of a segment, or nothing at all (a segment of the older, unpreallocated format)."""
    return data.count(0, end) == len(data) - end


def holds_records(folder: Path) -> bool:
    """Whether any segment in `folder` may hold a record: records start at a segment's first
    byte, so a segment whose header bytes are zeros is empty (a prepared spare, say). A quick
    test for "is anything pending", which reads a few bytes per segment."""
    for path in folder.glob(f"*{SUFFIX}"):
        with open(path, "rb") as f:
            if f.read(_HEAD.size).strip(b"\0"):
                return True
    return False


# -- the journal ---------------------------------------------------------------------------------
@dataclass
class _Segment:
    path: Path
    name: int  # its file's number: segments are read in this order
    first: int  # the first group it holds (0: none yet)
    last: int  # the last group it holds (0: none)
    size: int  # bytes of whole records, from the start
    capacity: int  # bytes preallocated (zeros) on disk, fsynced


def _zero(fd: int, start: int, end: int) -> None:
    """Overwrite bytes [start, end) of `fd` with zeros (not synced)."""
    chunk = bytes(min(ZERO_CHUNK, max(end - start, 0)))
    at = start
    while at < end:
        at += os.pwrite(fd, memoryview(chunk)[: end - at], at)


def _name(path: Path) -> int:
    try:
        return int(path.stem)
    except ValueError:
        raise JournalError(f"{path} is not an intake journal segment (named by a number)") from None


class Journal:
    """Appends groups durably; forgets them once applied. Thread-safe (one lock for appends and
    releases; preparing a spare segment holds only its own).

    Open with `Journal.open`, which returns the groups found on disk for recovery; call
    `prepare` before the first append when appends should never wait for a new segment.
    """

    def __init__(self, folder: Path, jid: str, segment_bytes: int = SEGMENT_BYTES) -> None:
        self.folder = folder
        self.jid = jid
        self.segment_bytes = segment_bytes
        self.last = 0  # the highest group number ever appended (or found on disk)
        self.fsyncs = 0
        self.bytes = 0
        self.prepared_inline = 0  # segments an append had to prepare itself (no spare ready)
        self._lock = threading.Lock()
        self._preparing = threading.Lock()  # one spare at a time, never under `_lock`
        self._closed: list[_Segment] = []  # hold records; no longer written
        self._current: _Segment | None = None
        self._fd: int | None = None
        self._spare: tuple[_Segment, int] | None = None  # prepared, empty, and its descriptor
        self._next_name = 1
        self._writing = False  # appends happen: keep a spare ready
        self._helper: threading.Thread | None = None
        self._shut = False
        self._broken: str | None = None
        self.cipher = journal_cipher()

    @classmethod
    def open(
        cls, folder: Path, jid: str, segment_bytes: int = SEGMENT_BYTES
    ) -> tuple[Journal, list[Group]]:
        """The journal in `folder` (created if missing) and every whole group it holds.

        A segment ends at its first byte that does not start a whole record; what follows must
        be zeros (its unused preallocated part). Only in the last segment holding anything may
        it be otherwise: that is a torn record, never acknowledged, and is overwritten with
        zeros. Anything else, or a record of another warehouse, raises `JournalError` naming
        the file. Appends go to new segments, never to those found here.
        """
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise JournalError(f"cannot create the intake journal {folder}: {exc}") from None
        journal = cls(folder, jid, segment_bytes)
        groups: list[Group] = []
        torn: tuple[Path, int, int] | None = None  # a segment's non-zero tail, until it is last
        for path in sorted(folder.glob(f"*{SUFFIX}"), key=_name):
            data = path.read_bytes()  # one segment at a time: a lagging journal has many
            if torn is not None and data.count(0) != len(data):
                raise JournalError(
                    f"the intake journal segment {torn[0]} is damaged at byte {torn[1]} and "
                    "later segments hold acknowledged leads; restore it or move the journal "
                    "aside after checking what is missing"
                )
            records, end = scan(data, journal.cipher)
            if not clean_after(data, end):
                torn = (path, end, end + len(data[end:].rstrip(b"\0")))
            first = records[0][0] if records else 0
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
            last = records[-1][0] if records else 0
            journal._closed.append(_Segment(path, _name(path), first, last, end, len(data)))
        if torn is not None:  # the unacknowledged torn record: zeros again, as before it
            fd = os.open(torn[0], os.O_WRONLY)
            try:
                _zero(fd, torn[1], torn[2])
                os.fsync(fd)
            finally:
                os.close(fd)
        journal._next_name = max((s.name for s in journal._closed), default=0) + 1
        return journal, groups

    @property
    def segments(self) -> int:
        """Segments holding records (a prepared spare is not counted)."""
        with self._lock:
            held = [s for s in self._closed if s.size]
            return len(held) + (1 if self._current is not None and self._current.size else 0)

    @property
    def spare_ready(self) -> bool:
        """Whether a spare segment is ready for the next roll-over."""
        with self._lock:
            return self._spare is not None

    def prepare(self) -> None:
        """Have a spare segment ready (its zeros written and fsynced) and keep one ready from
        now on, so that an append never creates, grows or preallocates a file."""
        self._writing = True
        self._ensure_spare()

    def append(self, number: int, batches: Sequence[Batch]) -> tuple[Path, int, int]:
        """Write group `number` and sync it; where it lies (segment file, offset, bytes), for
        the applier to read it back. On failure nothing remains.

        The record overwrites preallocated zeros in place and `fdatasync` makes it durable:
        no file changes size, so the sync writes this file's pages and nothing else. (An
        `fsync` of a growing file commits the filesystem's journal, and on ext4 that first
        flushes every other file's dirty data: the warehouse's large writes.)
        """
        record = encode(number, self.jid, batches, self.cipher)
        self._writing = True
        while True:
            with self._lock:
                if self._broken is not None:
                    raise JournalError(f"the intake journal is unusable: {self._broken}")
                if self._shut:
                    raise JournalError("the intake journal is closed")
                if number <= self.last:
                    raise JournalError(
                        f"group {number} is not after the last journaled {self.last}"
                    )
                segment = self._room(len(record))
                if segment is not None:
                    return self._write(segment, number, record)
            self.prepared_inline += 1  # no spare was ready: prepare one here (slow, rare)
            self._ensure_spare()

    def release(self, applied: int) -> None:
        """Forget every group <= `applied` (they are in the warehouse): delete the segments
        holding only those; once all of the current one is applied, zero its used bytes in
        place (a small part) or move appends on to the spare and delete it (a large part).

        Under the append lock only bookkeeping happens, and zeroing a small part in the page
        cache; syncing it, deleting and readying a spare come after: appends wait for the
        lock, and file work there would be on the answer path of every lead arriving
        meanwhile. Zeroed bytes that never reach the disk before a crash are applied records
        (skipped on replay) or, mixed with zeros, a torn tail of the last segment (cut).
        """
        if self._writing:
            with contextlib.suppress(JournalError):  # deleting below may be what frees room
                self._ensure_spare()
        sync: int | None = None
        with self._lock:
            drop = [s for s in self._closed if s.last <= applied]
            self._closed = [s for s in self._closed if s.last > applied]
            current = self._current
            if current is not None and current.size and current.last <= applied:
                if current.size <= ZERO_IN_PLACE and self._fd is not None:
                    _zero(self._fd, 0, current.size)
                    sync = os.dup(self._fd)
                    current.size, current.first, current.last = 0, 0, 0
                elif self._spare is not None:
                    drop.append(current)
                    self._current = None
                    if self._fd is not None:
                        os.close(self._fd)
                        self._fd = None
        if sync is not None:
            try:
                _datasync(sync)
            finally:
                os.close(sync)
        for s in drop:
            s.path.unlink(missing_ok=True)

    def close(self) -> None:
        with self._lock:
            self._shut = True
            helper = self._helper
        if helper is not None:
            helper.join()
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            if self._spare is not None:
                os.close(self._spare[1])
                self._spare = None

    # -- under the lock ------------------------------------------------------------------------
    def _room(self, size: int) -> _Segment | None:
        """The segment to write `size` bytes to, rolling over to the spare when the current one
        lacks the room; None when that is needed and no spare is ready. A record larger than
        a whole segment goes alone at the start of one and grows it (a slow, rare append)."""
        current = self._current
        if current is not None and (not current.size or current.size + size <= current.capacity):
            return current
        if self._spare is None:
            return None
        if current is not None:
            self._closed.append(current)
            if self._fd is not None:
                os.close(self._fd)
        current, self._fd = self._spare
        self._current, self._spare = current, None
        if self._writing and not self._shut and self._helper is None:
            self._helper = threading.Thread(
                target=self._spare_ahead, name="revops-journal-spare", daemon=True
            )
            self._helper.start()
        return current

    def _write(self, segment: _Segment, number: int, record: bytes) -> tuple[Path, int, int]:
        assert self._fd is not None
        offset = segment.size
        try:
            view = memoryview(record)
            at = offset
            while view:
                n = os.pwrite(self._fd, view, at)
                view, at = view[n:], at + n
            _datasync(self._fd)
        except OSError as exc:
            self._undo(offset, len(record), exc)
            raise JournalError(f"cannot write the intake journal: {exc}") from None
        segment.size += len(record)
        segment.capacity = max(segment.capacity, segment.size)
        segment.last = number
        segment.first = segment.first or number
        self.last = number
        self.fsyncs += 1
        self.bytes += len(record)
        return segment.path, offset, len(record)

    def _undo(self, offset: int, size: int, exc: OSError) -> None:
        """Zero a failed append again, so later records never follow a torn one."""
        try:
            assert self._fd is not None
            _zero(self._fd, offset, offset + size)
            _datasync(self._fd)
        except OSError as again:
            self._broken = f"{exc}; and zeroing the failed write failed: {again}"

    # -- spares ----------------------------------------------------------------------------------
    def _spare_ahead(self) -> None:
        """The helper thread: ready the next spare while appends fill the current segment. A
        failure here shows again, as an error, if an append then has to prepare one itself."""
        try:
            self._ensure_spare()
        except JournalError:
            pass
        finally:
            with self._lock:
                self._helper = None

    def _ensure_spare(self) -> None:
        """Create the spare segment unless one is ready: zeros written, file and folder
        fsynced, so appends to it change no metadata. Its number is above every segment's,
        so it is read after them."""
        with self._preparing:
            with self._lock:
                if self._spare is not None or self._shut:
                    return
                name = self._next_name
                self._next_name += 1
            path = self.folder / f"{name:020d}{SUFFIX}"
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
            except OSError as exc:
                raise JournalError(f"cannot create the intake journal segment: {exc}") from None
            try:
                _zero(fd, 0, self.segment_bytes)
                os.fsync(fd)
                sync_path(self.folder)  # the new file's name must be durable too
            except OSError as exc:
                os.close(fd)
                path.unlink(missing_ok=True)
                raise JournalError(f"cannot prepare the intake journal segment: {exc}") from None
            with self._lock:
                self._spare = (_Segment(path, name, 0, 0, 0, self.segment_bytes), fd)
