"""The journal's preallocated segments: zeros end a segment, torn tails are zeroed, appends
never grow a file, applied bytes become zeros on disk, and an older journal still replays.

Segments here are small (`SEG`) so that roll-overs happen after a few groups.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from revops.api import journal as journal_module
from revops.api.journal import Journal, JournalError, clean_after, encode, holds_records, scan
from revops.warehouse import Batch

SEG = 8 * 1024
NEEDLE = "quillfeather"
FOLDER_OK = [HealthCheck.function_scoped_fixture]


def lead_batches(n: int, rows: int = 1) -> list[Batch]:
    people = [
        {"person_id": f"p{n}-{i}", "email": f"{NEEDLE}{n}-{i}@globex.com"} for i in range(rows)
    ]
    return [Batch("persons", pa.Table.from_pylist(people))]


def record(n: int, rows: int = 1) -> bytes:
    return encode(n, "j", lead_batches(n, rows))


def numbers(folder: Path, segment_bytes: int = SEG) -> list[int]:
    journal, groups = Journal.open(folder, "j", segment_bytes)
    journal.close()
    return [g.number for g in groups]


def wait_ready(journal: Journal, timeout: float = 30.0) -> None:
    """Until the helper thread has readied the next spare (it runs ahead of the appends)."""
    deadline = time.monotonic() + timeout
    while not journal.spare_ready:
        assert time.monotonic() < deadline, "no spare segment readied"
        time.sleep(0.005)


def residue(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.glob("*.wal"))).strip(b"\0")


@settings(max_examples=40, deadline=None)
@given(count=st.integers(0, 4), tail=st.integers(0, 3 * SEG))
def test_a_zero_tail_ends_the_segment(count: int, tail: int) -> None:
    """Whole records then zeros (a preallocated segment's unused rest, of any length): the
    records, the end right after them, and nothing to cut."""
    records = b"".join(record(n) for n in range(1, count + 1))
    data = records + bytes(tail)
    found, end = scan(data)
    assert [r[0] for r in found] == list(range(1, count + 1))
    assert end == len(records)
    assert clean_after(data, end)


@settings(max_examples=40, deadline=None, suppress_health_check=FOLDER_OK)
@given(
    cut=st.integers(1, 10_000),
    tail=st.integers(0, SEG),
    garbage=st.binary(min_size=1, max_size=64),
    spare=st.booleans(),
)
def test_a_torn_record_followed_by_zeros_or_garbage_is_zeroed(
    tmp_path_factory: pytest.TempPathFactory, cut: int, tail: int, garbage: bytes, spare: bool
) -> None:
    """The last segment holding anything ends in a torn record, then zeros (or, after them,
    bytes a torn write left further on): whole groups survive, every byte after them is zero
    again, the file keeps its size. An empty spare segment after it changes nothing."""
    folder = tmp_path_factory.mktemp("j")
    whole = record(1) + record(2)
    third = record(3)
    torn = third[: cut % len(third.rstrip(b"\0"))]  # short of a byte that is not zero
    gap = len(third) - len(torn) + tail  # zeros where the rest of it would be, and on
    data = whole + torn + bytes(gap) + garbage + bytes(16)
    segment = folder / f"{1:020d}.wal"
    segment.write_bytes(data)
    if spare:
        (folder / f"{2:020d}.wal").write_bytes(bytes(SEG))
    assert numbers(folder) == [1, 2]
    after = segment.read_bytes()
    assert len(after) == len(data)
    assert after[: len(whole)] == whole
    assert not after[len(whole) :].strip(b"\0")


@settings(max_examples=20, deadline=None, suppress_health_check=FOLDER_OK)
@given(at=st.integers(0, 200), garbage=st.binary(min_size=1, max_size=32).filter(any))
def test_anything_but_zeros_after_the_records_of_an_earlier_segment_is_damage(
    tmp_path_factory: pytest.TempPathFactory, at: int, garbage: bytes
) -> None:
    folder = tmp_path_factory.mktemp("j")
    (folder / f"{1:020d}.wal").write_bytes(record(1) + bytes(at) + garbage + bytes(SEG))
    (folder / f"{2:020d}.wal").write_bytes(record(2) + bytes(SEG))
    with pytest.raises(JournalError, match="damaged"):
        Journal.open(folder, "j", SEG)


def test_appends_grow_no_file_and_roll_over_into_the_spare_readied_ahead(tmp_path: Path) -> None:
    journal, _ = Journal.open(tmp_path, "j", SEG)
    journal.prepare()
    assert journal.spare_ready
    (spare,) = tmp_path.glob("*.wal")
    assert spare.read_bytes() == bytes(SEG)  # its zeros are written: no unwritten extents
    places: list[tuple[Path, int, int]] = []
    for n in range(1, 61):
        wait_ready(journal)
        sizes = {p: p.stat().st_size for p in tmp_path.glob("*.wal")}
        path, offset, size = journal.append(n, lead_batches(n, rows=1 + n % 3))
        assert sizes.get(path) == SEG == path.stat().st_size  # it existed, at its full size
        if places and places[-1][0] == path:
            assert offset == places[-1][1] + places[-1][2]  # right after the previous record
        else:
            assert offset == 0
        places.append((path, offset, size))
    segments = sorted({p for p, _, _ in places})
    assert len(segments) >= 3
    assert [p for p, _, _ in places] == sorted(p for p, _, _ in places)  # in reading order
    assert journal.prepared_inline == 0
    assert journal.fsyncs == 60
    journal.close()
    assert numbers(tmp_path) == list(range(1, 61))


def test_a_fully_applied_current_segment_is_zeroed_and_written_again_in_place(
    tmp_path: Path,
) -> None:
    journal, _ = Journal.open(tmp_path, "j", SEG)
    journal.prepare()
    first, _, _ = journal.append(1, lead_batches(1))
    journal.append(2, lead_batches(2))
    journal.release(2)
    assert first.read_bytes() == bytes(SEG)
    assert journal.append(3, lead_batches(3))[:2] == (first, 0)
    journal.close()
    assert numbers(tmp_path) == [3]


def test_a_large_applied_current_segment_is_dropped_for_the_spare(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(journal_module, "ZERO_IN_PLACE", 100)  # every segment counts as large
    journal, _ = Journal.open(tmp_path, "j", SEG)
    journal.prepare()
    first, _, _ = journal.append(1, lead_batches(1))
    wait_ready(journal)
    journal.release(1)
    assert not first.exists()
    second, offset, _ = journal.append(2, lead_batches(2))
    assert (second > first, offset) == (True, 0)
    journal.close()
    assert NEEDLE.encode() + b"1" not in residue(tmp_path)
    assert numbers(tmp_path) == [2]


@settings(max_examples=25, deadline=None, suppress_health_check=FOLDER_OK)
@given(
    steps=st.lists(
        st.one_of(st.integers(1, 6), st.just(0)),  # a group of that many leads, or a release
        min_size=1,
        max_size=30,
    )
)
def test_released_groups_leave_no_byte_on_disk_and_the_rest_replays(
    tmp_path_factory: pytest.TempPathFactory, steps: list[int]
) -> None:
    """Any interleaving of appends and releases of everything appended so far: after each
    release no applied lead's bytes remain in any file (all zeros), and a reopen (as after a
    crash) finds exactly the groups appended since."""
    folder = tmp_path_factory.mktemp("j")
    journal, _ = Journal.open(folder, "j", SEG)
    journal.prepare()
    n = 0
    released = 0
    for step in steps:
        if step:
            n += 1
            journal.append(n, lead_batches(n, rows=step))
        else:
            journal.release(n)
            released = n
            assert residue(folder) == b""
        assert numbers(folder) == list(range(released + 1, n + 1))
    journal.close()


def test_a_failed_append_is_zeroed_and_the_next_one_takes_its_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal, _ = Journal.open(tmp_path, "j", SEG)
    journal.prepare()
    journal.append(1, lead_batches(1))
    real = journal_module._datasync
    calls = iter([OSError(28, "No space left on device")])

    def failing(fd: int) -> None:
        error = next(calls, None)
        if error is not None:
            raise error
        real(fd)

    monkeypatch.setattr(journal_module, "_datasync", failing)
    with pytest.raises(JournalError, match="No space left"):
        journal.append(2, lead_batches(2))
    _, offset, _ = journal.append(3, lead_batches(3))
    journal.close()
    assert offset == len(record(1))
    assert numbers(tmp_path) == [1, 3]


def write_old_format(folder: Path, groups: list[list[int]], torn: bytes = b"") -> None:
    """Segments as the journal wrote them before preallocation: named by their first group,
    records up to the end of the file; `torn` appended to the last one."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, numbers_ in enumerate(groups):
        data = b"".join(record(n, rows=2) for n in numbers_)
        if i == len(groups) - 1:
            data += torn
        (folder / f"{numbers_[0]:020d}.wal").write_bytes(data)


@settings(max_examples=15, deadline=None, suppress_health_check=FOLDER_OK)
@given(cut=st.integers(0, 3_000))
def test_an_old_format_journal_replays_and_appends_go_on_after_it(
    tmp_path_factory: pytest.TempPathFactory, cut: int
) -> None:
    """A server upgraded with a pending journal: its groups replay (a torn tail at the end of
    the file cut), new groups go to a new segment read after the old ones, and releasing
    everything leaves no lead's bytes."""
    folder = tmp_path_factory.mktemp("j")
    write_old_format(folder, [[1, 2], [3, 4, 5]], torn=record(6)[: cut % len(record(6))])
    assert holds_records(folder)
    journal, groups = Journal.open(folder, "j", SEG)
    assert [g.number for g in groups] == [1, 2, 3, 4, 5]
    assert groups[3].batches[0].data.column("email").to_pylist() == [
        f"{NEEDLE}4-0@globex.com",
        f"{NEEDLE}4-1@globex.com",
    ]
    journal.prepare()
    path, offset, _ = journal.append(6, lead_batches(6))
    assert (path.name > f"{3:020d}.wal", offset) == (True, 0)
    assert numbers(folder) == [1, 2, 3, 4, 5, 6]
    journal.release(6)
    journal.close()
    assert residue(folder) == b""
    assert not holds_records(folder)


def test_holds_records_ignores_spares(tmp_path: Path) -> None:
    journal, _ = Journal.open(tmp_path, "j", SEG)
    journal.prepare()
    assert not holds_records(tmp_path)
    journal.append(1, lead_batches(1))
    assert holds_records(tmp_path)
    journal.release(1)
    journal.close()
    assert not holds_records(tmp_path)
    assert os.listdir(tmp_path)  # the spare stays for the next start


def test_an_append_after_close_is_refused(tmp_path: Path) -> None:
    journal, _ = Journal.open(tmp_path, "j", SEG)
    journal.prepare()
    journal.close()
    with pytest.raises(JournalError, match="closed"):
        journal.append(1, lead_batches(1))
