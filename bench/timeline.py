"""A timeline of one `revops demo` run: when each part ran, on which thread, and how busy the
machine's cores were meanwhile, to find the demo's critical path and the core time left idle.

    nice .venv/bin/python bench/timeline.py --out /tmp/tl [--scale 1] [--deep] [--json tl.json]

`--check` (CI: tests/test_bench.py) times a demo at scale 0.02 in a temporary folder and exits 1
unless every file, every engine step and the CPU samples are in its timeline.

Runs the command in this process (`revops.cli.demo.demo`, its console output discarded) with
hooks around what it calls: each file as the generator finishes it and as it is loaded, each
engine step (on its own thread) and each report's rendering inside a step. Each span has its
wall start and end (seconds since the command started) and its thread's CPU (`thread_time`:
that thread's own, not DuckDB's worker threads it waits on). A sampler reads every thread's and
every child process's CPU from /proc every 0.2 s, so the table also shows what the whole tree
used during each span, and the idle core time is two cores' wall time less all CPU used. On a
shared machine the CPU seconds are what compare; the wall follows the load.

Linux only (/proc).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from _proc import cpu_s, tree  # noqa: E402

CONFIG = ROOT / "examples" / "revops.yaml"
CORES = len(os.sched_getaffinity(0))


@dataclass
class Span:
    """One part of the run: wall start and end (s since the command started), its thread's CPU
    seconds, and the thread's name."""

    name: str
    start: float
    end: float = float("nan")
    thread_cpu: float = 0.0
    thread: str = ""


@dataclass
class Timeline:
    spans: list[Span] = field(default_factory=list)
    samples: list[tuple[float, float]] = field(default_factory=list)  # (wall, tree CPU s)
    children: list[tuple[float, float]] = field(default_factory=list)  # (wall, children's CPU s)
    t0: float = field(default_factory=time.perf_counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> float:
        return time.perf_counter() - self.t0

    @contextlib.contextmanager
    def span(self, name: str) -> Iterator[Span]:
        s = Span(name, self.now(), thread=threading.current_thread().name)
        c0 = time.thread_time()
        try:
            yield s
        finally:
            s.end, s.thread_cpu = self.now(), time.thread_time() - c0
            with self.lock:
                self.spans.append(s)

    def cpu_between(self, start: float, end: float) -> float:
        """The process tree's CPU seconds from `start` to `end` (interpolated samples)."""
        return _at(self.samples, end) - _at(self.samples, start)


def _at(samples: list[tuple[float, float]], t: float) -> float:
    if not samples:
        return 0.0
    before = [s for s in samples if s[0] <= t]
    after = [s for s in samples if s[0] >= t]
    if not before:
        return samples[0][1]
    if not after:
        return samples[-1][1]
    (t1, c1), (t2, c2) = before[-1], after[0]
    return c1 if t2 == t1 else c1 + (c2 - c1) * (t - t1) / (t2 - t1)


class Sampler(threading.Thread):
    """Every `every` s: this process's CPU plus that of its live descendants, plus the CPU of
    descendants already gone (their last reading)."""

    def __init__(self, tl: Timeline, every: float = 0.2) -> None:
        super().__init__(name="timeline-sampler", daemon=True)
        self.tl, self.every, self.stop = tl, every, threading.Event()
        self.last: dict[int, float] = {}

    def read(self) -> None:
        me, *descendants = tree(os.getpid())
        for pid in descendants:
            if cpu := cpu_s(pid):
                self.last[pid] = max(cpu, self.last.get(pid, 0.0))
        now, theirs = self.tl.now(), sum(self.last.values())
        self.tl.samples.append((now, cpu_s(me) + theirs))
        self.tl.children.append((now, theirs))

    def run(self) -> None:
        while not self.stop.wait(self.every):
            self.read()


def _wrap(tl: Timeline, owner: Any, attr: str, name: Callable[..., str]) -> None:
    original = getattr(owner, attr)

    def timed(*args: Any, **kwargs: Any) -> Any:
        with tl.span(name(*args, **kwargs)):
            return original(*args, **kwargs)

    setattr(owner, attr, timed)


def install(tl: Timeline, deep: bool = False) -> None:
    """Hooks around the generator's files, each load, each engine step and each report; `deep`:
    also each chart's SVG, each win-model fit and the forecast's deal reads and replay."""
    import importlib

    from revops.context import RevOps
    from revops.demo import background, schedule

    iterate = background.Generation.__iter__

    def arrivals(self: Any) -> Iterator[Any]:
        files = iterate(self)
        while True:
            with tl.span("wait for the generator") as waited:
                f = next(files, None)
            waited.name = f"wait for {f.path.name if f else 'the generator to end'}"
            if f is None:
                return
            yield f

    background.Generation.__iter__ = arrivals  # type: ignore[method-assign]
    _wrap(tl, RevOps, "load", lambda _ro, path, table, *a, **k: f"load {Path(path).name}")
    _wrap(tl, schedule, "_on_sibling", lambda _ro, step, _folder: f"step {step.name}")
    for report in ("quality", "revenue", "attribution", "pipeline", "forecast", "funnel"):
        module = importlib.import_module(f"revops.reports.{report}")
        _wrap(tl, module, f"write_{report}_report", lambda *a, r=report, **k: f"  render {r}")
    if deep:
        from revops.models import workers
        from revops.pipeline.forecast import history
        from revops.reports import charts

        _wrap(tl, charts, "_svg", lambda *a, **k: "    chart svg")
        _wrap(tl, workers, "here", lambda fn, *a: f"    fit {fn.__name__}")
        _wrap(tl, history, "load", lambda *a, **k: "    forecast data")
        _wrap(tl, history, "replay", lambda *a, **k: "    forecast replay")


def run(out: Path, scale: float, seed: int, deep: bool = False) -> Timeline:
    """One demo run into `out` (replaced), its console discarded, timed."""
    import shutil

    # the command itself is what is timed, not the benchmarks' copy of its steps
    from revops.cli import _common  # noqa: TID251
    from revops.cli import demo as cli_demo  # noqa: TID251

    shutil.rmtree(out, ignore_errors=True)
    tl = Timeline()
    install(tl, deep)
    sampler = Sampler(tl)
    _common.console.file = io.StringIO()
    sampler.start()
    tl.t0 = time.perf_counter()
    with tl.span("demo command"):
        cli_demo.demo(
            scale=scale,
            seed=seed,
            out=out,
            config=CONFIG,
            warehouse=f"duckdb:///{out}/warehouse.duckdb",
            force=True,
        )
    sampler.stop.set()
    sampler.join()
    sampler.read()
    return tl


def table(tl: Timeline) -> str:
    """The spans in start order (start, end, wall, thread CPU, tree CPU meanwhile), then the
    loader's waits for files, the summed deep spans, the child processes and the idle cores."""
    lines = [
        f"{'span':<44}{'start':>7}{'end':>7}{'wall':>7}{'thr cpu':>8}{'tree cpu':>9}  thread",
    ]
    spans = sorted(tl.spans, key=lambda s: (s.start, -s.end))
    waits = [s for s in spans if s.name.startswith("wait for ")]
    loads = [s for s in spans if s.name.startswith("load ")]
    deep = [s for s in spans if s.name.startswith("    ")]
    rows = [s for s in spans if s not in waits and s not in loads and s not in deep]
    if loads:
        cpu = sum(s.thread_cpu for s in loads)
        rows.append(Span(f"load ({len(loads)} files)", loads[0].start, loads[-1].end, cpu))
    for s in sorted(rows, key=lambda s: (s.start, -s.end)):
        lines.append(
            f"{s.name:<44}{s.start:7.2f}{s.end:7.2f}{s.end - s.start:7.2f}"
            f"{s.thread_cpu:8.2f}{tl.cpu_between(s.start, s.end):9.2f}  {s.thread}"
        )
    long = [
        f"{s.name[9:]} {s.start:.1f}+{s.end - s.start:.1f}" for s in waits if s.end > s.start + 0.1
    ]
    lines.append(
        f"loader waited for the generator {sum(s.end - s.start for s in waits):.2f} s: "
        + ", ".join(long)
    )
    groups: dict[tuple[str, str], list[Span]] = {}
    for s in deep:
        groups.setdefault((s.name.strip(), s.thread), []).append(s)
    for (name, thread), group in sorted(groups.items()):
        wall, cpu = sum(s.end - s.start for s in group), sum(s.thread_cpu for s in group)
        lines.append(
            f"  {len(group)} × {name} on {thread}: wall {wall:.2f} s, thread CPU {cpu:.2f} s"
        )
    if tl.children:
        rising = [
            t for (t, c), (_, c0) in zip(tl.children[1:], tl.children, strict=False) if c > c0
        ]
        last = f", last used CPU at {rising[-1]:.1f} s" if rising else ""
        lines.append(f"child processes (generator, workers): CPU {tl.children[-1][1]:.2f} s{last}")
    total = max(s.end for s in tl.spans)
    cpu = tl.samples[-1][1] if tl.samples else 0.0
    lines.append(
        f"total wall {total:.2f} s, tree CPU {cpu:.2f} s, idle core time "
        f"{CORES * total - cpu:.2f} s of {CORES * total:.2f} ({CORES} cores)"
    )
    lines.append("cores busy per second: " + " ".join(_busy(tl, total)))
    return "\n".join(lines)


def _busy(tl: Timeline, total: float) -> list[str]:
    return [f"{tl.cpu_between(t, t + 1):.1f}" for t in range(int(total) + 1)]


def check() -> None:
    """A tiny run: every file loaded, every engine step run, CPU sampled, each in the table."""
    import sys
    import tempfile

    from revops.demo import LAYOUT
    from revops.demo.steps import STEPS

    with tempfile.TemporaryDirectory() as tmp:
        tl = run(Path(tmp) / "demo", 0.02, 7, deep=True)
    text = table(tl)
    print(text)
    names = {s.name for s in tl.spans}
    missing = [f"step {s.name}" for s in STEPS if f"step {s.name}" not in names]
    loads = [s for s in tl.spans if s.name.startswith("load ")]
    if len(loads) != len(LAYOUT):
        missing.append(f"{len(LAYOUT) - len(loads)} file loads")
    if not tl.samples or tl.samples[-1][1] <= 0:
        missing.append("CPU samples")
    if "    fit calibrated_trees" not in names:
        missing.append("the win model's fits")
    if missing:
        print("check failed: no " + ", ".join(missing))
        sys.exit(1)
    print("check passed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="Folder for the run (replaced).")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--deep", action="store_true", help="Also charts, fits, forecast reads.")
    parser.add_argument("--json", type=Path, help="Also write the spans and samples here.")
    parser.add_argument("--check", action="store_true", help="Tiny run (CI).")
    args = parser.parse_args()
    if args.check:
        check()
        return
    if args.out is None:
        parser.error("--out is required")
    tl = run(args.out, args.scale, args.seed, args.deep)
    print(table(tl))
    if args.json:
        data = {"spans": [asdict(s) for s in tl.spans], "samples": tl.samples}
        args.json.write_text(json.dumps(data, indent=1))


if __name__ == "__main__":
    main()
