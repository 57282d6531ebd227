"""Benchmark: the intake journal's append, the old path (O_APPEND + fsync) against the new one
(pwrite into preallocated zeros + fdatasync), while another process writes a DuckDB file.

Why: on ext4 (data=ordered) the fsync of a file whose size changed commits the filesystem's
journal, and that commit first flushes every file's dirty data, the applier's DuckDB writes of
tens of megabytes included; the old append waited behind them (77-293 ms with 1-6 ms of CPU,
always during applies). The new append changes no file size or metadata on the answer path.

Groups: a tiny demo company (`bench/_company.py`) and the intake service (thread mode, in this
process) answer leads posted one to three at a time; every group it journals (its settled
batches, audit entries and idempotency rows, as the server encodes them) is captured, and the
bench appends those groups, renumbered, cycling through them.

One run: a competitor process loops over inserts of tens of MB into a DuckDB file in the same
folder and CHECKPOINTs (what the applier does to the warehouse). Meanwhile the old and the new
journal each append groups at a fixed rate (open loop, ~500 groups/s) in alternating slices of
a few seconds (so both meet the same disk and the same competitor), each with a release thread
that forgets groups older than a second once a second, as the server does after each apply.
Printed per path: append latency p50/p99/max (ms, time inside `append`) and the appends
slower than 20 ms; the same for the time each append was blocked in the kernel (its wall time
less its time on a CPU and waiting for one, from /proc/thread-self/schedstat), which is the
disk's share and does not need a quiet machine; the appending thread's CPU per append and the
process CPU (release and spare-segment threads included). Then both journals are reopened
(the old one in the old format, as a server upgraded with a pending journal would find it)
and must hold the same groups, equal to what was appended, through the last one; the run
fails otherwise.

Usage: python bench/journal.py [--seconds 30] [--rate 500] [--slice 5] [--mb 40] [--check]
       [--folder DIR] (default: a temporary folder under out/, on the worktree's filesystem)

`--check` (CI, a few seconds after the tiny company): 2 s per path at 200 groups/s with a
small competitor; exit 1 unless both journals replay to the groups appended.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from revops.api.journal import SEGMENT_BYTES, SUFFIX, Group, Journal, encode  # noqa: E402
from revops.warehouse import Batch  # noqa: E402

JID = "bench"


# -- the old append path, as the journal wrote before preallocation (the baseline) -------------
class OldJournal:
    """The former `Journal.append`/`release`: O_APPEND segments named by their first group,
    `os.write` + `os.fsync` per group, a new file (and a folder fsync) past SEGMENT_BYTES,
    applied segments deleted, the current one truncated when all applied."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.lock = threading.Lock()
        self.closed: list[tuple[Path, int]] = []  # path, last group
        self.current: Path | None = None
        self.size = 0
        self.last_in_current = 0
        self.fd: int | None = None

    def append(self, number: int, batches: Sequence[Batch]) -> None:
        record = encode(number, JID, batches)
        with self.lock:
            if self.current is not None and self.size >= SEGMENT_BYTES:
                self.closed.append((self.current, self.last_in_current))
                assert self.fd is not None
                os.close(self.fd)
                self.fd, self.current, self.size = None, None, 0
            if self.current is None:
                self.current = self.folder / f"{number:020d}{SUFFIX}"
            if self.fd is None:
                self.fd = os.open(self.current, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                dir_fd = os.open(self.folder, os.O_RDONLY)
                os.fsync(dir_fd)
                os.close(dir_fd)
            view = memoryview(record)
            while view:
                view = view[os.write(self.fd, view) :]
            os.fsync(self.fd)
            self.size += len(record)
            self.last_in_current = number

    def release(self, applied: int) -> None:
        sync: int | None = None
        with self.lock:
            keep = []
            for path, last in self.closed:
                if last <= applied:
                    path.unlink(missing_ok=True)
                else:
                    keep.append((path, last))
            self.closed = keep
            if self.fd is not None and self.size and self.last_in_current <= applied:
                os.ftruncate(self.fd, 0)
                sync = os.dup(self.fd)
                self.size = 0
        if sync is not None:
            os.fsync(sync)
            os.close(sync)

    def close(self) -> None:
        with self.lock:
            if self.fd is not None:
                os.close(self.fd)
                self.fd = None


class Appender(Protocol):
    def append(self, number: int, batches: Sequence[Batch]) -> Any: ...
    def release(self, applied: int) -> None: ...
    def close(self) -> None: ...


# -- realistic groups ------------------------------------------------------------------------
def capture_groups(folder: Path, leads: int) -> list[tuple[Batch, ...]]:
    """The groups the intake service journals for `leads` leads posted one to three at a time
    into a tiny demo company (each group's batches, in order)."""
    from _company import CONFIG, tiny_company

    from revops.access import Principal
    from revops.api.models import LeadIn
    from revops.api.service import IntakeService
    from revops.context import RevOps

    db = folder / "company.duckdb"
    tiny_company(db)
    ro = RevOps.open(CONFIG, str(db))
    domains = [str(d) for (d,) in ro.warehouse.sql("SELECT domain FROM accounts LIMIT 20")]
    captured: list[tuple[Batch, ...]] = []
    inline: list[int] = []  # segments the service's appends had to prepare themselves
    principal = Principal("form", "marketing_ops", "bench")

    def body(i: int) -> LeadIn:
        domain = domains[i % len(domains)] if i % 5 < 2 else ("gmail.com", "x.io")[i % 2]
        return LeadIn.model_validate(
            {
                "email": f"bench.{i}@{domain}",
                "first_name": "Bench",
                "last_name": f"Lead{i}",
                "company": ("Initech", "Hooli", "Vandelay Industries")[i % 3],
                "title": ("CFO", "VP Sales", "Analyst", "Head of Ops")[i % 4],
                "country": ("US", "GB", "DE", "JP", "BR")[i % 5],
                "employees": (20, 300, 2000)[i % 3],
                "industry": ("Finance", "Retail", "Software")[i % 3],
                "source": ("demo_request", "paid_search", "webinar")[i % 3],
                "form": ("demo_request", "form_fill", "content_download")[i % 3],
            }
        )

    async def run() -> None:
        svc = IntakeService(ro, journal=folder / "capture-journal", mode="thread")
        await svc.start()
        assert svc.journal is not None
        real = svc.journal.append

        def spy(number: int, batches: Sequence[Batch]) -> Any:
            captured.append(tuple(batches))
            return real(number, batches)

        svc.journal.append = spy  # type: ignore[method-assign]
        i = 0
        while i < leads:
            size = 1 + i % 3
            await asyncio.gather(
                *(
                    svc.create_lead(body(j), principal, f"k{j}" if j % 2 else None)
                    for j in range(i, min(i + size, leads))
                )
            )
            i += size
        inline.append(svc.journal.prepared_inline)
        await svc.stop()

    try:
        asyncio.run(run())
    finally:
        ro.close()
    if inline != [0]:
        sys.exit(f"check failed: the intake service prepared {inline} segments on appends")
    return captured


# -- the competitor --------------------------------------------------------------------------
def competitor(path: str, mb: int) -> None:
    """Insert about `mb` MB into a DuckDB file and CHECKPOINT, over and over (until killed)."""
    import duckdb

    con = duckdb.connect(path)
    rows = mb * 1_000_000 // 100  # ~100 bytes a row: two md5 strings and an id
    con.execute("CREATE TABLE IF NOT EXISTS t (id BIGINT, a VARCHAR, b VARCHAR, c VARCHAR)")
    n = 0
    while True:
        con.execute(
            "INSERT INTO t SELECT range + ?, md5(range::VARCHAR || ?), "
            "md5((range * 7)::VARCHAR || ?), md5((range * 13)::VARCHAR) FROM range(?)",
            [n, str(n), str(n), rows],
        )
        n += rows
        con.execute("CHECKPOINT")
        if n >= 20 * rows:  # keep the file bounded: start over
            con.execute("DELETE FROM t")
            con.execute("CHECKPOINT")
            n = 0


# -- the run ---------------------------------------------------------------------------------
@dataclass
class PathRun:
    name: str
    journal: Appender
    folder: Path
    next_number: int = 1
    times: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    blocked: list[float] = field(default_factory=list)  # wall - on CPU - waiting for a CPU
    process_cpu: float = 0.0
    wall: float = 0.0
    lagging: float = 0.0  # the most the schedule fell behind (s)


def schedstat() -> tuple[float, float]:
    """This thread's seconds on a CPU and waiting for one (runnable, not running), from
    /proc/thread-self/schedstat: what is left of an append's wall time is time blocked,
    in the kernel waiting for the disk, whatever else the machine runs."""
    on, waiting, _ = Path("/proc/thread-self/schedstat").read_text().split()
    return int(on) / 1e9, int(waiting) / 1e9


def process_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def releaser(run: PathRun, stop: threading.Event, rate: float) -> None:
    """As the server after each apply: once a second, forget groups older than a second."""
    while not stop.wait(1.0):
        applied = run.next_number - 1 - int(rate)
        if applied > 0:
            run.journal.release(applied)


def slice_of(run: PathRun, groups: list[tuple[Batch, ...]], rate: float, seconds: float) -> None:
    """Append at `rate` groups/s for `seconds` (open loop: late appends follow at once)."""
    start = time.perf_counter()
    cpu0 = process_cpu()
    count = int(rate * seconds)
    for k in range(count):
        due = start + k / rate
        now = time.perf_counter()
        if due > now:
            time.sleep(due - now)
        else:
            run.lagging = max(run.lagging, now - due)
        number = run.next_number
        batches = groups[number % len(groups)]
        on0, wait0 = schedstat()
        t0 = time.perf_counter()
        run.journal.append(number, batches)
        wall = time.perf_counter() - t0
        on1, wait1 = schedstat()
        run.times.append(wall)
        run.cpu.append(on1 - on0)
        run.blocked.append(max(wall - (on1 - on0) - (wait1 - wait0), 0.0))
        run.next_number += 1
    run.process_cpu += process_cpu() - cpu0
    run.wall += time.perf_counter() - start


def check_replay(runs: list[PathRun], groups: list[tuple[Batch, ...]]) -> str | None:
    """Both journals reopen to a run of groups through the last appended, equal to the
    appended ones and to each other; a problem, or None."""
    found = []
    for run in runs:
        _, got = Journal.open(run.folder, JID)
        numbers = [g.number for g in got]
        last = run.next_number - 1
        if not numbers or numbers != list(range(numbers[0], last + 1)):
            return f"{run.name}: groups {numbers[:3]}..{numbers[-3:]} do not run to {last}"
        for g in got:
            want = groups[g.number % len(groups)]
            if not same(g, want):
                return f"{run.name}: group {g.number} differs from the one appended"
        found.append({g.number: g for g in got})
    common = set(found[0]) & set(found[1])
    if len(common) < 1:
        return "the journals share no group"
    for n in common:
        if not same(found[0][n], found[1][n].batches):
            return f"group {n} replays differently from the two journals"
    return None


def same(group: Group, batches: tuple[Batch, ...] | Group) -> bool:
    other = batches.batches if isinstance(batches, Group) else batches
    return len(group.batches) == len(other) and all(
        (a.table, a.mode) == (b.table, b.mode) and a.data.equals(b.data)
        for a, b in zip(group.batches, other, strict=True)
    )


def spread(values: list[float]) -> str:
    ms = sorted(1000 * t for t in values)
    p99 = statistics.quantiles(ms, n=100)[98]
    return (
        f"p50 {statistics.median(ms):6.2f}  p99 {p99:6.2f}  max {ms[-1]:6.1f} ms  "
        f">20 ms {sum(t > 20 for t in ms):4d}"
    )


def report(run: PathRun) -> str:
    return (
        f"  {run.name}: {len(run.times)} appends, {run.wall:.1f} s wall, process CPU "
        f"{run.process_cpu:.2f} s (release and spare threads included), appending thread "
        f"{1000 * statistics.mean(run.cpu):.3f} ms CPU per append, schedule lag max "
        f"{1000 * run.lagging:.0f} ms\n"
        f"    append wall     {spread(run.times)}\n"
        f"    blocked on I/O  {spread(run.blocked)}  (wall - on CPU - waiting for a CPU)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--seconds", type=float, default=30.0, help="per path")
    ap.add_argument("--rate", type=float, default=500.0, help="groups per second")
    ap.add_argument("--slice", type=float, default=5.0, help="seconds per alternating slice")
    ap.add_argument("--mb", type=int, default=40, help="competitor MB per insert")
    ap.add_argument("--leads", type=int, default=120, help="leads whose groups are captured")
    ap.add_argument("--folder", type=Path, default=None)
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--competitor", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.competitor:
        competitor(args.competitor, args.mb)
        return
    if args.check:
        args.seconds, args.rate, args.slice, args.mb, args.leads = 2.0, 200.0, 1.0, 5, 30

    base = args.folder or ROOT / "out"
    base.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="journal-bench-", dir=base))
    proc: subprocess.Popen[bytes] | None = None
    try:
        t0 = time.perf_counter()
        groups = capture_groups(folder, args.leads)
        sizes = [len(encode(n, JID, g)) for n, g in enumerate(groups, 1)]
        print(
            f"{len(groups)} groups captured from the intake service in "
            f"{time.perf_counter() - t0:.1f} s: record bytes median "
            f"{statistics.median(sizes):,.0f}, max {max(sizes):,}"
        )
        old_folder, new_folder = folder / "old-journal", folder / "new-journal"
        old_folder.mkdir()
        new = Journal.open(new_folder, JID)[0]
        t0 = time.perf_counter()
        new.prepare()
        print(f"new journal: first segment prepared in {time.perf_counter() - t0:.2f} s")
        runs = [PathRun("old", OldJournal(old_folder), old_folder), PathRun("new", new, new_folder)]

        proc = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--competitor",
                str(folder / "load.duckdb"),
                "--mb",
                str(args.mb),
            ]
        )
        time.sleep(1.0 if args.check else 3.0)  # let it reach its first big write
        stop = threading.Event()
        threads = [
            threading.Thread(target=releaser, args=(r, stop, args.rate), daemon=True) for r in runs
        ]
        for t in threads:
            t.start()
        load0 = os.getloadavg()[0]
        slices = max(1, round(args.seconds / args.slice))
        for i in range(2 * slices):
            slice_of(runs[i % 2], groups, args.rate, args.seconds / slices)
        stop.set()
        for t in threads:
            t.join()
        print(
            f"{args.rate:.0f} groups/s, {args.seconds:.0f} s per path in {2 * slices} alternating "
            f"slices, competitor {args.mb} MB inserts + CHECKPOINT; load "
            f"{load0:.1f} -> {os.getloadavg()[0]:.1f}"
        )
        for run in runs:
            print(report(run))
        if isinstance(new, Journal):
            print(f"  new: segments prepared on the append path: {new.prepared_inline}")
        for run in runs:
            run.journal.close()
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc = None
        problem = check_replay(runs, groups)
        if problem is not None:
            print(f"check FAILED: {problem}")
            sys.exit(1)
        print(
            "check passed: the old-format and the new journal replay to the same groups, "
            "as appended, through the last one"
        )
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
