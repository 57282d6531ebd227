"""A process tree's CPU and memory from Linux /proc, for the benchmarks that time the demo
(bench/scale.py, bench/timeline.py): the demo's generator runs in a child process, and Spark's
driver is a child JVM, so a process's own rusage misses work the run does."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def tree(pid: int) -> list[int]:
    """`pid` first, then all its live descendants."""
    return list(_parents(pid))


def _parents(pid: int) -> dict[int, int | None]:
    """`pid` and all its live descendants, each with its parent (None for `pid`)."""
    out: dict[int, int | None] = {}
    todo: list[tuple[int, int | None]] = [(pid, None)]
    while todo:
        p, parent = todo.pop()
        if p in out:
            continue
        out[p] = parent
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [(int(c), p) for c in f.read().split()]
        except OSError:  # gone meanwhile
            continue
    return out


def tree_rss_mb(pid: int) -> float:
    """Resident memory of `pid` and its descendants, in MB. A child forked but not yet
    running its own program (a subprocess between fork and exec: joblib asks `lscpu` for the
    core count) reports its parent's memory as its own: it is not counted a second time."""
    statm: dict[int, list[str]] = {}
    for p in (family := _parents(pid)):
        with contextlib.suppress(OSError):
            statm[p] = Path(f"/proc/{p}/statm").read_text().split()
    pages = 0
    for p, m in statm.items():
        parent = family[p]
        if parent is None or m != statm.get(parent):
            pages += int(m[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of process `pid` (all its threads), 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


PROBE_STEPS = 10_000_000


def speed_probe(repeat: int = 3) -> float:
    """Seconds for a fixed pure-Python loop of `PROBE_STEPS` additions, the best of `repeat`:
    one core's speed, to compare figures measured on different machines or hours, which the
    load average does not show: on 2026-12-06 the demo of the code that had taken 25.7 s on
    one machine took 44-47 s on another of the same kind, idle (load 1.1), where this probe
    read 0.36-0.39 s; the earlier machine's reading is not known."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        total = 0
        for i in range(PROBE_STEPS):
            total += i
        best = min(best, time.perf_counter() - start)
    return best
