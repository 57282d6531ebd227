"""The write-ahead journal: records, torn tails, segments, and crash recovery of the service.

A "crash" is simulated by journaling a group and stopping the service without letting the
applier write it (its tasks are cancelled and the journal closed, as a killed process leaves
them); a new service over the same warehouse and journal must then apply it, exactly once.
"""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import pickle
import threading
import zlib
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from api_support import EXAMPLE, NOW, ROUTING, lead, seed
from hypothesis import given, settings
from hypothesis import strategies as st

from revops.access import Principal
from revops.api.applier import Applier, Handle, Located, sql
from revops.api.journal import MAGIC, Group, Journal, JournalError, encode, journal_id, scan
from revops.api.models import LeadIn
from revops.api.recovery import applied_group, apply_groups, locked, merge, replay_journal
from revops.api.service import IntakeService
from revops.audit import entries, record, verify
from revops.config import load_config
from revops.context import RevOps
from revops.errors import RevOpsError
from revops.warehouse import Batch, Warehouse

ADMIN = Principal("form", "revops_admin", "k1")


def batches(n: int) -> list[Batch]:
    rows = [{"person_id": f"p{n}-{i}", "email": f"x{n}-{i}@globex.com"} for i in range(n + 1)]
    return [
        Batch("persons", pa.Table.from_pylist(rows)),
        Batch("lifecycle_events", pa.table({"event_id": [f"e{n}"]}), "append"),
    ]


def test_records_round_trip_and_carry_a_crc_over_the_payload() -> None:
    record = encode(7, "abc", batches(2))
    assert record[:4] == MAGIC
    length = int.from_bytes(record[4:8], "little")
    crc = int.from_bytes(record[8:12], "little")
    assert length == len(record) - 12
    assert crc == zlib.crc32(record[12:])
    (found,), end = scan(record)
    assert end == len(record)
    number, jid, got = found
    assert (number, jid) == (7, "abc")
    assert [(b.table, b.mode) for b in got] == [
        ("persons", "upsert"),
        ("lifecycle_events", "append"),
    ]
    assert got[0].data.equals(batches(2)[0].data)


@settings(max_examples=60, deadline=None)
@given(cut=st.integers(min_value=1, max_value=10_000), flip=st.booleans())
def test_a_torn_or_corrupt_tail_is_cut_off_at_the_last_whole_record(cut: int, flip: bool) -> None:
    """Two whole records then a damaged third: exactly the first two survive, whatever the
    damage (cut anywhere inside the third, or one byte of its payload changed)."""
    first, second, third = (encode(n, "j", batches(n)) for n in (1, 2, 3))
    if flip:
        at = 12 + cut % (len(third) - 12)
        third = third[:at] + bytes([third[at] ^ 0xFF]) + third[at + 1 :]
    else:
        third = third[: cut % len(third)]
    records, end = scan(first + second + third)
    assert [r[0] for r in records] == [1, 2]
    assert end == len(first) + len(second)


def held(folder: Path) -> list[Path]:
    """The segments with anything but zeros in them, in reading order (spares are all zeros)."""
    return [p for p in sorted(folder.glob("*.wal")) if p.read_bytes().strip(b"\0")]


def all_zeros(folder: Path) -> bool:
    return held(folder) == []


def write_at_records_end(segment: Path, data: bytes) -> int:
    """Write `data` where the segment's whole records end, as an append would; that offset."""
    whole = scan(segment.read_bytes())[1]
    with open(segment, "r+b") as f:
        f.seek(whole)
        f.write(data)
    return whole


def test_open_discards_a_torn_tail_and_numbering_continues(tmp_path: Path) -> None:
    journal, groups = Journal.open(tmp_path, "j")
    assert groups == []
    journal.append(1, batches(1))
    journal.append(2, batches(2))
    journal.close()
    (segment,) = held(tmp_path)
    size = segment.stat().st_size
    torn = encode(3, "j", batches(3))[:-5]  # the process died mid-write: never answered
    whole = write_at_records_end(segment, torn)
    journal, groups = Journal.open(tmp_path, "j")
    assert [g.number for g in groups] == [1, 2]
    data = segment.read_bytes()
    assert (len(data), data[whole:].strip(b"\0")) == (size, b"")  # zeros again, same size
    assert journal.last == 2
    with pytest.raises(JournalError, match="not after"):
        journal.append(2, batches(1))
    journal.append(3, batches(3))
    journal.close()
    assert [g.number for g in Journal.open(tmp_path, "j")[1]] == [1, 2, 3]


def test_segments_roll_over_and_applied_ones_are_deleted(tmp_path: Path) -> None:
    journal, _ = Journal.open(tmp_path, "j", segment_bytes=1)  # a new segment per group
    for n in range(1, 5):
        journal.append(n, batches(n))
    assert journal.segments == 4
    journal.release(2)
    assert len(held(tmp_path)) == 2
    assert [g.number for g in Journal.open(tmp_path, "j")[1]] == [3, 4]
    journal.release(4)  # all applied: the current segment is zeroed, a spare stays ready
    journal.close()
    assert all_zeros(tmp_path)
    reopened, groups = Journal.open(tmp_path, "j")
    assert (groups, reopened.last) == ([], 0)


def test_damage_before_the_last_segment_or_a_foreign_journal_refuses_to_start(
    tmp_path: Path,
) -> None:
    journal, _ = Journal.open(tmp_path / "a", "j", segment_bytes=1)
    for n in range(1, 4):
        journal.append(n, batches(n))
    journal.close()
    first = sorted((tmp_path / "a").glob("*.wal"))[0]
    first.write_bytes(first.read_bytes()[:-3])
    with pytest.raises(JournalError, match="damaged"):
        Journal.open(tmp_path / "a", "j")
    other, _ = Journal.open(tmp_path / "b", "j")
    other.append(1, batches(1))
    other.close()
    with pytest.raises(JournalError, match="another warehouse"):
        Journal.open(tmp_path / "b", "k")


def test_merge_concatenates_by_table_mode_and_columns_in_first_seen_order() -> None:
    merged = merge([Group(1, tuple(batches(1))), Group(2, tuple(batches(2)))])
    assert [(b.table, b.mode, b.data.num_rows) for b in merged] == [
        ("persons", "upsert", 2 + 3),
        ("lifecycle_events", "append", 2),
    ]
    assert [b.data.column(0).num_chunks for b in merged] == [1, 1]  # contiguous for the insert


def test_apply_records_the_group_in_the_same_transaction(warehouse: Warehouse) -> None:
    apply_groups(warehouse, "j", [Group(1, tuple(batches(1))), Group(2, tuple(batches(2)))], NOW)
    assert applied_group(warehouse, "j") == 2
    assert applied_group(warehouse, "other") == 0
    assert warehouse.count("persons") == 5
    bad = Batch("persons", pa.table({"email": ["no-key@x.com"]}))  # no primary key: fails
    with pytest.raises(RevOpsError):
        apply_groups(warehouse, "j", [Group(3, (bad,))], NOW)
    assert applied_group(warehouse, "j") == 2
    assert warehouse.count("persons") == 5


# -- the service: kill between the journal fsync and the apply, then restart ----------------------
def ticking() -> Callable[[], datetime]:
    """A clock a second later at each call, so restored round-robin turns (replayed from the
    stored decisions in time order) are not ties between equal timestamps."""
    calls = itertools.count()
    return lambda: NOW + timedelta(seconds=next(calls))


TICK = ticking()  # shared by a crashed service and its restart


def revops(wh: Warehouse) -> RevOps:
    loaded = load_config(EXAMPLE)
    return RevOps(replace(loaded, model=loaded.model.model_copy(update={"routing": ROUTING})), wh)


async def crash_after_journaling(ro: RevOps, folder: Path, emails: list[str]) -> list[Any]:
    """Start, take leads, answer them from the journal, and die before the applier writes
    (its interval is an hour; the pipe closing makes it exit without applying)."""
    svc = IntakeService(ro, TICK, folder, apply_interval=3600, mode="thread")
    await svc.start()
    answers = [
        (await svc.create_lead(LeadIn.model_validate(lead(e)), ADMIN, f"idem-{e}"))[0]
        for e in emails
    ]
    for task in svc._tasks:
        task.cancel()
    svc._closing = True  # a dead process restarts nothing
    await svc._halt()  # a dead process's lock is released by the kernel
    return answers


async def restart(ro: RevOps, folder: Path) -> IntakeService:
    svc = IntakeService(ro, TICK, folder, mode="thread")
    await svc.start()
    return svc


def test_a_lead_journaled_but_not_applied_is_in_the_warehouse_after_restart_once(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    seed(warehouse)
    ro = revops(warehouse)
    folder = tmp_path / "journal"

    async def scenario() -> tuple[list[Any], dict[str, float], Any]:
        answers = await crash_after_journaling(ro, folder, ["a1@globex.com", "a2@globex.com"])
        assert warehouse.count("persons") == 1  # only the seeded person: nothing applied
        svc = await restart(ro, folder)
        stats = svc.stats.as_dict()
        # the restarted service continues the round robin and the audit chain
        third, _ = await svc.create_lead(LeadIn.model_validate(lead("a3@globex.com")), ADMIN, None)
        replay, replayed = await svc.create_lead(
            LeadIn.model_validate(lead("a1@globex.com")), ADMIN, "idem-a1@globex.com"
        )
        assert replayed
        assert replay.body == answers[0].body
        await svc.stop()
        return [*answers, third], stats, svc

    answers, stats, svc = asyncio.run(scenario())
    assert stats["recovered_groups"] == 2
    assert [a.status_code for a in answers] == [201, 201, 201]
    assert [a.body["owner"]["id"] for a in answers] == ["a", "b", "a"]
    for a in answers:
        pid = a.body["person_id"]
        assert warehouse.sql(f"SELECT count(*) FROM persons WHERE person_id = '{pid}'") == [(1,)]
        assert warehouse.sql(f"SELECT count(*) FROM audit_log WHERE subject = '{pid}'") == [(1,)]
    assert warehouse.count("api_idempotency") == 2
    check = verify(warehouse)
    assert check.ok, check.problems
    assert applied_group(warehouse, svc.journal_id) == 3
    assert all_zeros(folder)

    async def again() -> None:  # a third start finds nothing to do
        svc = await restart(ro, folder)
        assert svc.stats.recovered_groups == 0
        await svc.stop()

    asyncio.run(again())
    assert warehouse.count("persons") == 4


def test_a_group_already_applied_is_never_applied_again(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    """Died after the warehouse commit but before the journal forgot the group: the stored
    applied_group makes the restart skip it."""
    seed(warehouse)
    ro = revops(warehouse)
    folder = tmp_path / "journal"
    asyncio.run(crash_after_journaling(ro, folder, ["b1@globex.com"]))
    journal, groups = Journal.open(folder, IntakeService(ro).journal_id)
    journal.close()
    apply_groups(warehouse, journal.jid, groups, NOW)  # the commit that happened before death
    audit = warehouse.count("audit_log")

    async def scenario() -> float:
        svc = await restart(ro, folder)
        await svc.stop()
        return svc.stats.recovered_groups

    assert asyncio.run(scenario()) == 0
    assert warehouse.count("persons") == 2
    assert warehouse.count("audit_log") == audit
    check = verify(warehouse)
    assert check.ok, check.problems


def test_a_torn_group_was_never_answered_and_is_ignored_on_restart(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    seed(warehouse)
    ro = revops(warehouse)
    folder = tmp_path / "journal"
    asyncio.run(crash_after_journaling(ro, folder, ["c1@globex.com"]))
    (segment,) = held(folder)
    record = segment.read_bytes()[: scan(segment.read_bytes())[1]]
    write_at_records_end(segment, record[: len(record) // 2])  # half written when it died

    async def scenario() -> float:
        svc = await restart(ro, folder)
        await svc.stop()
        return svc.stats.recovered_groups

    assert asyncio.run(scenario()) == 1
    assert warehouse.count("persons") == 2
    check = verify(warehouse)
    assert check.ok, check.problems


def test_reads_wait_for_the_applier(warehouse: Warehouse, tmp_path: Path) -> None:
    """A read issued after an answer sees the lead, though the applier's interval is an hour:
    the applier applies every group sent before a call first."""
    seed(warehouse)
    ro = revops(warehouse)

    async def scenario() -> int:
        folder = tmp_path / "journal"
        svc = IntakeService(ro, lambda: NOW, folder, apply_interval=3600, mode="thread")
        await svc.start()
        stored, _ = await svc.create_lead(LeadIn.model_validate(lead("r@globex.com")), ADMIN, None)
        pid = stored.body["person_id"]
        assert svc.lag == 1
        query = f"SELECT count(*) FROM persons WHERE person_id = '{pid}'"
        rows = await svc.read(sql, svc.wh, query)
        await svc.stop()
        return int(rows[0][0])

    assert asyncio.run(scenario()) == 1


def test_an_audit_write_between_the_crash_and_the_restart_does_not_strand_leads(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    """The attack: kill the server, run `revops keys create` (an audit entry), restart. The
    journaled entries were numbered from the server's head, which the CLI entry took."""
    seed(warehouse)
    ro = revops(warehouse)
    folder = tmp_path / "journal"

    async def scenario() -> list[Any]:
        answers = await crash_after_journaling(ro, folder, ["b1@globex.com", "b2@globex.com"])
        record(warehouse, "cli", "access.key_created", "k9", {"role": "viewer"})
        svc = await restart(ro, folder)
        await svc.stop()
        return answers

    answers = asyncio.run(scenario())
    for a in answers:
        pid = a.body["person_id"]
        assert warehouse.sql(f"SELECT count(*) FROM persons WHERE person_id = '{pid}'") == [(1,)]
    check = verify(warehouse)
    assert check.ok, check.problems
    actions = [e.action for e in entries(warehouse)]
    assert actions[-3:] == ["access.key_created", "leads.created", "leads.created"]


def test_a_cli_command_replays_a_dead_servers_journal_unless_a_server_holds_it(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    seed(warehouse)
    folder = tmp_path / "journal"
    journal, _ = Journal.open(folder, journal_id(warehouse.url))
    journal.append(1, batches(1))
    journal.close()
    with locked(folder) as mine:  # a live server holds the lock: the CLI leaves it alone
        assert mine
        assert replay_journal(warehouse, folder) == 0
    assert warehouse.count("persons") == 1
    assert replay_journal(warehouse, folder) == 1
    assert warehouse.count("persons") == 3
    assert replay_journal(warehouse, folder) == 0  # nothing left


def test_with_the_pii_key_the_journal_holds_no_plaintext(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REVOPS_PII_KEY", "k" * 32)
    journal, _ = Journal.open(tmp_path, "j")
    journal.append(1, batches(2))
    journal.close()
    raw = b"".join(p.read_bytes() for p in sorted(tmp_path.glob("*.wal")))
    assert raw.startswith(b"RVJE")
    assert b"globex.com" not in raw
    assert b"persons" not in raw
    (group,) = Journal.open(tmp_path, "j")[1]
    assert group.batches[0].data.column("email").to_pylist()[0] == "x2-0@globex.com"
    monkeypatch.setenv("REVOPS_PII_KEY", "w" * 32)
    with pytest.raises(JournalError, match="does not decrypt"):
        Journal.open(tmp_path, "j")
    monkeypatch.delenv("REVOPS_PII_KEY")
    with pytest.raises(JournalError, match="encrypted; set REVOPS_PII_KEY"):
        Journal.open(tmp_path, "j")


def test_the_applier_never_applies_past_a_missing_group(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    """Groups reach the applier by their place in the journal file; one sent before an
    earlier one (it cannot happen in order, but a marker past a gap would lose the earlier
    group for good) waits, and a call meanwhile is refused rather than read a warehouse
    missing an answered lead."""
    seed(warehouse)
    journal, _ = Journal.open(tmp_path, "j")
    where = []
    for n in (1, 2, 3):
        path, offset, size = journal.append(n, batches(n))
        where.append(Located(n, str(path), offset, size))
    journal.close()
    ours, theirs = multiprocessing.Pipe()
    applier = Applier(theirs, revops(warehouse), "j", interval=3600)
    worker = threading.Thread(target=applier.run, args=(None,))
    worker.start()
    try:
        assert ours.recv() == ("ready", 0, 0)
        ours.send(("journaled", where[2]))
        ours.send(("call", 1, sql, (Handle.WAREHOUSE, "SELECT count(*) FROM persons")))
        kind, call_id, ok, payload = ours.recv()
        assert (kind, call_id, ok) == ("result", 1, False)
        assert "has not taken the journal" in str(pickle.loads(payload))
        assert warehouse.count("persons") == 1
        ours.send(("journaled", where[0]))
        ours.send(("journaled", where[1]))
        ours.send(("call", 2, sql, (Handle.WAREHOUSE, "SELECT count(*) FROM persons")))
        assert ours.recv()[:2] == ("applied", 3)
        kind, call_id, ok, payload = ours.recv()
        assert (call_id, ok, pickle.loads(payload)) == (2, True, [(1 + 2 + 3 + 4,)])
        assert applied_group(warehouse, "j") == 3
    finally:
        ours.close()
        worker.join(10)


def test_an_applier_whose_server_is_gone_ends_quietly(warehouse: Warehouse, tmp_path: Path) -> None:
    """A server that stops while the applier works through a backlog closes its end of the
    pipe; the applier's next message meets a broken pipe. It must end without a traceback
    (the journal keeps the groups for the next server), not die printing one."""
    seed(warehouse)
    journal, _ = Journal.open(tmp_path, "j")
    path, offset, size = journal.append(1, batches(1))
    journal.close()
    ours, theirs = multiprocessing.Pipe()
    applier = Applier(theirs, revops(warehouse), "j", interval=3600)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            applier.run(None)
        except BaseException as exc:  # what would have been the traceback
            errors.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    assert ours.recv() == ("ready", 0, 0)
    ours.send(("journaled", Located(1, str(path), offset, size)))
    ours.send(("stop",))
    ours.close()  # gone before the applier answers "stopped"
    worker.join(30)
    assert not worker.is_alive()
    assert errors == []
    assert applied_group(warehouse, "j") == 1
