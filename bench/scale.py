"""Benchmark: wall time and peak memory of each step of `revops demo` as the company grows.

The steps are those of `revops demo` (src/revops/cli/demo.py), in its order: generate the
exports and load them, then the command's own engine steps (`revops.demo.steps.STEPS`, one
list for both): the lifecycle, the lead desk replay, the quality scorecard, the revenue tables,
attribution, pipeline and quotas, the forecast backtest, the metric dictionary (the funnel
summary and report), automations. Each step writes its report where the demo writes one.

Each (engine, scale) runs in its own subprocess, so memory is its own; a sampling thread reads
the resident memory of the process and its children (the Spark driver JVM is a child) from
/proc every 20 ms, so a step's peak is the largest total seen while it ran (Linux only). On
Spark a step that raises is reported as "did not run: <the error's first line>" and the run
goes on; later steps may then lack their inputs, which their own line says. Each step's
figures are printed as it finishes, the tables when every run is done.

The growth table gives, per step, the time ratio between two scales divided by the data ratio:
1.0 is linear, above 1 grows faster than the data. Times on a shared machine are noisy; the
load average is printed before and after.

Usage: python bench/scale.py [--scales 1 3 10] [--spark-scales 1 3] [--steps load,metrics]
(the steps before the last one named run untimed, so `--steps forecast` times the forecast alone)
Each step runs alone, one after another. `--as-demo` times the demo as the command schedules it
instead: two rows, "generate+load" (the generator in a child process, its CPU included, while
the files load) and "engines" (the engine steps two at a time; each step's start and end within
it are printed as it runs); their total is the demo's.
`--check` runs the demo at scale 0.02 on DuckDB in a temporary folder (CI runs it:
tests/test_bench.py) and exits 1 unless every step ran and has its figures.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from _demo import AS_DEMO, STEPS, Run  # noqa: E402
from _proc import cpu_s, rss_mb, tree  # noqa: E402


# -- memory ---------------------------------------------------------------------------------------
def _tree_rss_mb(pid: int) -> float:
    """Resident memory of `pid` and all its descendants, in MB."""
    return sum(rss_mb(p) for p in tree(pid))


def _tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by `pid` and its descendants, live ones read
    from /proc, ended ones (the demo's generator process) from this process's rusage: on a
    shared machine the wall time depends on the load, the CPU time much less."""
    ended = resource.getrusage(resource.RUSAGE_CHILDREN)
    return sum(cpu_s(p) for p in tree(pid)) + ended.ru_utime + ended.ru_stime


class PeakSampler:
    """Tracks the largest resident memory of this process tree since the last `reset`."""

    def __init__(self, every: float = 0.02) -> None:
        self.every = every
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.peak = max(self.peak, _tree_rss_mb(os.getpid()))

    def reset(self) -> None:
        self.peak = _tree_rss_mb(os.getpid())

    def __enter__(self) -> PeakSampler:
        self.reset()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@contextmanager
def _quiet() -> Iterator[None]:
    """Engines may log; the child's stdout carries only its JSON result."""
    saved = sys.stdout
    sys.stdout = sys.stderr
    try:
        yield
    finally:
        sys.stdout = saved


def run_steps(run: Run, steps: list[str]) -> dict[str, dict[str, Any]]:
    """Run `steps` in order: {step: {seconds, peak_mb} or {error}}. Only Spark may fail.

    The demo's steps before the last one asked for run too (a step reads what the earlier ones
    made: `--steps forecast` times the forecast on the loaded company), untimed."""
    spark = run.warehouse.startswith("spark")
    figures: dict[str, dict[str, Any]] = {}
    table = AS_DEMO if set(steps) <= set(AS_DEMO) else STEPS
    order = list(table)
    with PeakSampler() as sampler, _quiet():
        for name in order[: max(order.index(s) for s in steps) + 1]:
            if name not in steps:
                table[name](run)
                continue
            sampler.reset()
            t0, cpu0 = time.perf_counter(), _tree_cpu_s(os.getpid())
            try:
                table[name](run)
            except Exception as exc:
                if not spark:
                    raise
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                figures[name] = {"error": f"{type(exc).__name__}: {first}"[:160]}
                _progress(name, figures[name])
                if run.ro is None:  # nothing to run the later steps on
                    break
                continue
            figures[name] = {
                "seconds": time.perf_counter() - t0,
                "cpu": _tree_cpu_s(os.getpid()) - cpu0,
                "peak_mb": sampler.peak,
            }
            _progress(name, figures[name])
            for step, (start, end) in run.spans.items():  # the engines' overlapped steps
                print(f"{PROGRESS}  {step}: {start:.1f}-{end:.1f} s", file=sys.__stderr__)
            run.spans.clear()
    if run.ro is not None:
        run.ro.close()
    return figures


PROGRESS = "bench: "


def _progress(step: str, fig: dict[str, Any]) -> None:
    """One line per finished step on stderr, which the parent echoes as it comes: a run at
    10x takes many minutes, and a run cut short still shows the steps it finished."""
    if "error" in fig:
        text = f"did not run: {fig['error']}"
    else:
        text = f"{fig['seconds']:.1f} s wall, {fig['cpu']:.1f} s cpu, {fig['peak_mb']:.0f} MB peak"
    print(f"{PROGRESS}{step}: {text}", file=sys.__stderr__, flush=True)


# -- the harness ----------------------------------------------------------------------------------
def _child(engine: str, scale: float, work: Path, steps: list[str]) -> None:
    work.mkdir(parents=True, exist_ok=True)
    if engine == "spark":
        warehouse = f"spark-local:{work / 'spark'}?master=local[2]"
    else:
        warehouse = str(work / "revops.duckdb")
        Path(warehouse).unlink(missing_ok=True)
    figures = run_steps(Run(work, warehouse, scale), steps)
    print(json.dumps(figures))


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def measure(engine: str, scale: float, work: Path, steps: list[str]) -> dict[str, dict[str, Any]]:
    """One (engine, scale) run in a fresh subprocess."""
    cmd = [sys.executable, __file__, "--child", engine, "--scale", str(scale)]
    cmd += ["--work", str(work), "--steps", ",".join(steps)]
    # stdout (the JSON result, and whatever the Spark JVM, which inherits it, prints) goes to a
    # file, so a full pipe cannot stall the child while stderr is read line by line
    with tempfile.TemporaryFile("w+") as result:
        proc = subprocess.Popen(cmd, stdout=result, stderr=subprocess.PIPE, text=True)
        assert proc.stderr is not None
        tail: list[str] = []
        for line in proc.stderr:
            if line.startswith(PROGRESS):
                print(f"  {engine} {scale:g}x {line.removeprefix(PROGRESS)}", end="", flush=True)
            tail = [*tail[-60:], line]
        code = proc.wait()
        result.seek(0)
        out = result.read()
    if code != 0:
        print(out, "".join(tail)[-4000:])
        sys.exit(f"{engine} at scale {scale:g} failed")
    return dict(json.loads(out.strip().splitlines()[-1]))


def table(results: dict[tuple[str, float], dict[str, dict[str, Any]]], steps: list[str]) -> str:
    """Wall seconds, CPU seconds and peak MB per step for each run, then growth per data
    ratio (of the wall time, and of the CPU time, which a busy machine disturbs less)."""
    runs = list(results)
    width = 26
    lines = [f"{'step':<13}" + "".join(f"{f'{e} {s:g}x':>{width}}" for e, s in runs)]
    lines.append(f"{'':<13}" + f"{'wall s   cpu s  peak MB':>{width}}" * len(runs))
    for step in [*steps, "total"]:
        row = f"{step:<13}"
        for run in runs:
            fig = results[run].get(step) if step != "total" else _total(results[run])
            if fig is None:
                row += f"{'-':>{width}}"
            elif "error" in fig:
                row += f"{'did not run':>{width}}"
            else:
                row += f"{fig['seconds']:>12.1f}{fig['cpu']:>7.1f}{fig['peak_mb']:>7.0f}"
        lines.append(row)
    lines += [
        f"  {e} {s:g}x {step}: did not run: {fig['error']}"
        for (e, s), figures in results.items()
        for step, fig in figures.items()
        if "error" in fig
    ]
    lines += ["", "growth per data ratio: wall / cpu time ratio over data ratio (1.0 is linear),"]
    lines += ["peak memory ratio in brackets"]
    for engine in dict.fromkeys(e for e, _ in runs):
        scales = sorted(s for e, s in runs if e == engine)
        for lo, hi in itertools.pairwise(scales):
            a, b = results[(engine, lo)], results[(engine, hi)]
            parts = []
            for step in [*steps, "total"]:
                fa = a.get(step) if step != "total" else _total(a)
                fb = b.get(step) if step != "total" else _total(b)
                if not fa or not fb or "error" in fa or "error" in fb or fa["seconds"] <= 0:
                    continue
                wall = fb["seconds"] / fa["seconds"] / (hi / lo)
                cpu = fb["cpu"] / fa["cpu"] / (hi / lo) if fa["cpu"] > 0 else math.nan
                mem = fb["peak_mb"] / fa["peak_mb"]
                parts.append(f"{step} {wall:.2f}/{cpu:.2f} [{mem:.1f}]")
            lines.append(f"  {engine} {lo:g}x -> {hi:g}x: " + ", ".join(parts))
    return "\n".join(lines)


def _total(figures: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """The steps' summed time and largest peak; an error when a step did not run."""
    done = [f for f in figures.values() if "error" not in f]
    if not done or len(done) < len(figures):
        return None if not done else {"error": "incomplete"}
    return {
        "seconds": sum(f["seconds"] for f in done),
        "cpu": sum(f["cpu"] for f in done),
        "peak_mb": max(f["peak_mb"] for f in done),
    }


def check() -> None:
    """The demo at scale 0.02 on DuckDB (0.01 has too little history for the churn model):
    exit 1 unless every step ran and has a time and a peak."""
    steps = list(STEPS)
    with tempfile.TemporaryDirectory() as tmp:
        results = {("duckdb", 0.02): measure("duckdb", 0.02, Path(tmp) / "duckdb", steps)}
    print(table(results, steps))
    for run, figures in results.items():
        timed = [s for s in steps if math.isfinite(figures.get(s, {}).get("seconds", math.nan))]
        if timed != steps or not all(figures[s]["peak_mb"] > 0 for s in steps):
            sys.exit(f"{run}: steps without a time or peak: {sorted(set(steps) - set(timed))}")
    print(f"check passed: {len(steps)} steps timed with their peak memory")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scales", type=float, nargs="*", default=[1.0, 3.0, 10.0])
    parser.add_argument("--spark-scales", type=float, nargs="*", default=[1.0, 3.0])
    parser.add_argument("--steps", default=",".join(STEPS), help="Comma-separated steps.")
    parser.add_argument("--check", action="store_true", help="Tiny run (CI).")
    parser.add_argument(
        "--as-demo", action="store_true", help="Time the demo as the command schedules it."
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--scale", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    steps = list(AS_DEMO) if args.as_demo else [s for s in args.steps.split(",") if s]
    unknown = [s for s in steps if s not in STEPS and s not in AS_DEMO]
    if unknown:
        sys.exit(f"unknown step {unknown[0]!r}; steps: {', '.join([*STEPS, *AS_DEMO])}")
    if args.child:
        _child(args.child, args.scale, args.work, steps)
        return
    if args.check:
        check()
        return
    print(f"load average before: {_load()}")
    results: dict[tuple[str, float], dict[str, dict[str, Any]]] = {}
    runs = [("duckdb", s) for s in args.scales] + [("spark", s) for s in args.spark_scales]
    for engine, scale in runs:
        work = ROOT / "out" / "bench" / "scale" / f"{engine}{scale:g}"
        t0 = time.perf_counter()
        results[(engine, scale)] = measure(engine, scale, work, steps)
        print(f"{engine} at {scale:g}x: {time.perf_counter() - t0:.0f} s, load {_load()}")
    print()
    print(table(results, steps))
    print(f"\nload average after: {_load()}")


if __name__ == "__main__":
    main()
