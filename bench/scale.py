"""Benchmark: wall time and peak memory of each step of `revops demo` as the company grows.

The steps are those of `revops demo` (src/revops/cli/demo.py), in its order: generate the
exports and load them, then the command's own engine steps (`revops.demo.steps.STEPS`, one
list for both): the lifecycle, the lead desk replay, the quality scorecard, the revenue tables,
attribution, pipeline and quotas, the forecast backtest, the metric dictionary (the funnel
summary and report), automations. Each step writes its report where the demo writes one.

Generating runs in a subprocess, then loading in another (so the load's peak is not the heap
the generator left: 4.2 GB at 10x), then each engine step in a fresh subprocess of its own on
the warehouse the steps before it left, in the demo's order (opened, the steps' modules
imported, then timed), so a step's memory is its own: not the Python heap an earlier step
never returned, nor the table blocks DuckDB cached for it. A
sampling thread reads the resident memory of the process and its children (the Spark driver
JVM is a child; a child between fork and exec, which shows its parent's memory, is not
counted twice) from /proc every 20 ms (Linux only). Per step: the memory when it starts
("open"), its peak, the growth between them (the step's own), the most DuckDB's buffer manager
held meanwhile (`duckdb_memory()`, read on a connection of its own), and of it the most that
was blocks of stored tables and indexes ("stored": read or written by the step and kept while
DuckDB's memory limit allows, so they grow with the data it reads) and the most that was its
queries' working memory ("work": hash tables, sorts, results, cached results); the rest of
the growth is outside DuckDB's buffer manager (Python's, pandas' and Arrow's memory, and what
the allocators keep of memory freed), wall and CPU seconds (the tree's). On Spark a step that
raises is reported as "did not run: <the error's first line>" and the run goes on; later steps
may then lack their inputs, which their own line says. Each step's figures are printed as it
finishes, the tables when every run is done.

On PostgreSQL (`--postgres-scales`, a fresh database per scale on the server `REVOPS_BENCH_PG`
names, by default 127.0.0.1:5432 as user postgres) the warehouse engine is another process, so
a step's growth is revops' own memory alone: what an engine brings into Python, without the
table blocks and query memory that embedded DuckDB keeps inside the process.

The growth table gives, per step, the time ratio between two scales divided by the data ratio:
1.0 is linear, above 1 grows faster than the data; and in brackets the ratio of the step's own
memory growth, then of DuckDB's working memory: 1.0 is flat, the data ratio is linear. Times
on a shared machine are noisy, and machines of one kind differ: the load average and a probe of
one core's speed (a fixed pure-Python loop, `_proc.speed_probe`) are printed before and after.

Usage: python bench/scale.py [--scales 1 3 10] [--spark-scales 1 3] [--postgres-scales 1 10]
[--steps load,metrics]
(the engine steps before the last one named run untimed, so `--steps forecast` times the
forecast alone). `--on 1=a/revops.duckdb 10=b/revops.duckdb` times the engine steps again on
copies of DuckDB warehouses the demo already filled (each step runs a second time there).
`--as-demo` times the demo as the command schedules it instead, in one process: two rows,
"generate+load" (the generator in a child process, its CPU included, while the files load) and
"engines" (the engine steps two at a time; each step's start and end within it are printed as
it runs); their total is the demo's.
`--check` runs the demo at scale 0.02 on DuckDB in a temporary folder, and on PostgreSQL as far
as the first engine step (CI runs it: tests/test_bench.py), and exits 1 unless every step ran
and has its figures.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from _demo import AS_DEMO, STEPS, Run, reopen  # noqa: E402
from _proc import PROBE_STEPS, cpu_s, speed_probe, tree, tree_rss_mb  # noqa: E402


# -- memory ---------------------------------------------------------------------------------------
def _tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by `pid` and its descendants, live ones read
    from /proc, ended ones (the demo's generator process) from this process's rusage: on a
    shared machine the wall time depends on the load, the CPU time much less."""
    ended = resource.getrusage(resource.RUSAGE_CHILDREN)
    return sum(cpu_s(p) for p in tree(pid)) + ended.ru_utime + ended.ru_stime


class PeakSampler:
    """Tracks the largest resident memory of this process tree since the last `reset`, and
    the largest of each figure `probe` returned (DuckDB's own accounting: see `_duckdb_mb`)."""

    def __init__(
        self, every: float = 0.02, probe: Callable[[], dict[str, float]] | None = None
    ) -> None:
        self.every = every
        self.peak = 0.0
        self.probe, self.probe_peak = probe, dict[str, float]()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.peak = max(self.peak, tree_rss_mb(os.getpid()))
            if self.probe is not None:
                for name, mb in self.probe().items():
                    self.probe_peak[name] = max(self.probe_peak.get(name, 0.0), mb)

    def reset(self) -> None:
        self.peak = tree_rss_mb(os.getpid())
        self.probe_peak = self.probe() if self.probe is not None else {}

    def __enter__(self) -> PeakSampler:
        self.reset()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, tree_rss_mb(os.getpid()))


# DuckDB's memory tags (`duckdb_memory()`) that hold the database's own blocks: its tables' and
# indexes' data and metadata, read from the file or written and not yet checkpointed, and the
# cache of files it read (a stage's Parquet). It keeps them while its memory limit (80% of RAM)
# allows, so they grow with the data a step reads; every other tag is the step's queries'
# working memory (hash tables, sorts, results, and the results cached for later queries:
# `Warehouse.cache`, compressed), held while they run.
STORED_TAGS = ("BASE_TABLE", "ART_INDEX", "METADATA", "EXTERNAL_FILE_CACHE")
DUCKDB_FIGURES = ("duckdb", "stored", "work")  # what `_duckdb_mb` reads


def _duckdb_mb(ro: Any) -> Callable[[], dict[str, float]]:
    """DuckDB's own memory (its buffer manager's), read on a connection of its own to the same
    database, so it runs beside the step's queries: all of it (`duckdb`), the blocks of stored
    data it holds (`stored`, STORED_TAGS) and the rest, the queries' working memory (`work`)."""
    con = ro.warehouse.con.con.cursor()
    stored = ", ".join(f"'{tag}'" for tag in STORED_TAGS)
    query = (
        "SELECT coalesce(sum(memory_usage_bytes), 0), "
        f"coalesce(sum(memory_usage_bytes) FILTER (WHERE tag IN ({stored})), 0) "
        "FROM duckdb_memory()"
    )

    def read() -> dict[str, float]:
        total, kept = (float(x) / 2**20 for x in con.execute(query).fetchone())
        return {"duckdb": total, "stored": kept, "work": total - kept}

    return read


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
    """Run `steps` in order in this process: {step: {seconds, cpu, peak_mb} or {error}}. Only
    Spark may fail. A step's peak here includes what the steps before it left behind; this
    times generating and loading, and the demo as it schedules its steps (`--as-demo`)."""
    spark = run.warehouse.startswith("spark")
    figures: dict[str, dict[str, Any]] = {}
    table = AS_DEMO if set(steps) <= set(AS_DEMO) else STEPS
    with PeakSampler() as sampler, _quiet():
        for name in steps:
            sampler.reset()
            t0, cpu0 = time.perf_counter(), _tree_cpu_s(os.getpid())
            try:
                table[name](run)
            except Exception as exc:
                if not spark:
                    raise
                figures[name] = _error(exc)
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


def run_alone(run: Run, step: str) -> dict[str, Any]:
    """One engine step in this fresh process on the warehouse the earlier steps left: open it,
    import what the steps import, then time the step and sample its memory. `open_mb` is the
    tree's memory before the step starts, so `peak_mb - open_mb` is the step's own growth;
    `duckdb_mb` the most DuckDB's buffer manager held meanwhile, `stored_mb` the most of it that
    was stored data and `work_mb` the most that was its queries' working memory (`_duckdb_mb`;
    0 on Spark)."""
    from revops.demo.schedule import warm_up

    reopen(run)
    duckdb = run.ro.warehouse.backend == "duckdb"
    warm_up()
    probe = _duckdb_mb(run.ro) if duckdb else None
    limit = run.ro.warehouse.sql("SELECT current_setting('memory_limit')")[0][0] if duckdb else ""
    try:
        with PeakSampler(probe=probe) as sampler, _quiet():
            opened = sampler.peak
            t0, cpu0 = time.perf_counter(), _tree_cpu_s(os.getpid())
            try:
                STEPS[step](run)
            except Exception as exc:
                if duckdb:
                    raise
                return _error(exc)
            wall, cpu = time.perf_counter() - t0, _tree_cpu_s(os.getpid()) - cpu0
        return {
            "seconds": wall,
            "cpu": cpu,
            "open_mb": opened,
            "peak_mb": sampler.peak,
            **{f"{name}_mb": sampler.probe_peak.get(name, 0.0) for name in DUCKDB_FIGURES},
            "memory_limit": str(limit),
        }
    finally:
        run.ro.close()


def _error(exc: Exception) -> dict[str, Any]:
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return {"error": f"{type(exc).__name__}: {first}"[:160]}


PROGRESS = "bench: "


def _progress(step: str, fig: dict[str, Any]) -> None:
    """One line per finished step on stderr, which the parent echoes as it comes: a run at
    10x takes many minutes, and a run cut short still shows the steps it finished."""
    if "error" in fig:
        text = f"did not run: {fig['error']}"
    else:
        text = f"{fig['seconds']:.1f} s wall, {fig['cpu']:.1f} s cpu, {fig['peak_mb']:.0f} MB peak"
        if "open_mb" in fig:
            text += f" (+{fig['peak_mb'] - fig['open_mb']:.0f} MB"
            if fig.get("memory_limit"):  # DuckDB's: Spark has none
                text += f", DuckDB {fig['duckdb_mb']:.0f}: stored {fig['stored_mb']:.0f}"
                text += f", work {fig['work_mb']:.0f}"
            text += ")"
    print(f"{PROGRESS}{step}: {text}", file=sys.__stderr__, flush=True)


# -- the harness ----------------------------------------------------------------------------------
ENGINE_STEPS = [s for s in STEPS if s not in ("generate", "load")]


PG_SERVER = os.environ.get("REVOPS_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _warehouse(engine: str, work: Path) -> str:
    if engine == "spark":
        return f"spark-local:{work / 'spark'}?master=local[2]"
    if engine == "postgres":  # one database per run folder (`_fresh_database`)
        return f"{PG_SERVER.rsplit('/', 1)[0]}/revops_bench_{work.name.replace('.', '_')}"
    return str(work / "revops.duckdb")


def _fresh_database(url: str, *, create: bool = True) -> None:
    """Drop the database `url` names, on the server of `PG_SERVER`, and (`create`) create it
    empty."""
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_SERVER, autocommit=True) as con:
        con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            con.execute(f'CREATE DATABASE "{name}"')


def _child(engine: str, scale: float, work: Path, steps: list[str], alone: str | None) -> None:
    """`alone`: that engine step in a fresh process; otherwise `steps` one after another (the
    company generated and loaded, or the demo as scheduled), in this process."""
    work.mkdir(parents=True, exist_ok=True)
    run = Run(work, _warehouse(engine, work), scale)
    if alone:
        figures = {alone: run_alone(run, alone)}
        _progress(alone, figures[alone])
    else:
        if engine == "duckdb":
            Path(run.warehouse).unlink(missing_ok=True)
        figures = run_steps(run, steps)
    print(json.dumps(figures))


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _machine() -> str:
    """The load average and one core's speed (`speed_probe`), for a run's first and last line."""
    return f"load average {_load()}; {PROBE_STEPS:,}-step Python loop {speed_probe():.2f} s"


def _spawn(engine: str, scale: float, work: Path, args: list[str]) -> dict[str, dict[str, Any]]:
    """One child process (see `_child`): its JSON result; its progress lines echoed."""
    cmd = [sys.executable, __file__, "--child", engine, "--scale", str(scale)]
    cmd += ["--work", str(work), *args]
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


def measure(
    engine: str, scale: float, work: Path, steps: list[str], prepared: bool = False
) -> dict[str, dict[str, Any]]:
    """One (engine, scale) run: the company generated in one child process and loaded in the
    next, then each engine step up to the last one asked in a fresh child of its own, in the
    demo's order, on the warehouse the steps before it left (a step not asked for runs there
    untimed).
    `prepared`: the warehouse in `work` already holds the demo after every step; only the
    steps asked run, again. `--as-demo` steps run in one child, as the command runs them."""
    if engine == "postgres":
        _fresh_database(_warehouse(engine, work))
    if set(steps) <= set(AS_DEMO):
        return _spawn(engine, scale, work, ["--steps", ",".join(steps)])
    figures: dict[str, dict[str, Any]] = {}
    if not prepared:  # each in a process of its own: loading starts clear of the generator's heap
        figures |= _spawn(engine, scale, work, ["--steps", "generate"])
        figures |= _spawn(engine, scale, work, ["--steps", "load"])
    asked = [s for s in ENGINE_STEPS if s in steps]
    todo = asked if prepared else ENGINE_STEPS[: ENGINE_STEPS.index(asked[-1]) + 1] if asked else []
    for step in todo:
        figures |= _spawn(engine, scale, work, ["--alone", step])
    return {s: f for s, f in figures.items() if s in steps}


def _growth(fig: dict[str, Any]) -> float:
    """A step's own memory: its peak less the memory it started with (alone), or its peak."""
    return float(fig["peak_mb"] - fig.get("open_mb", 0.0))


WIDTHS = (9, 9, 8, 8, 8, 7)  # of `table`'s memory columns


def table(results: dict[tuple[str, float], dict[str, dict[str, Any]]], steps: list[str]) -> str:
    """Per run and step: the tree's memory when the step starts, its peak and the growth
    between them, the most DuckDB's buffer manager held (and of it, the most that was stored
    data and the most that was working memory: `_duckdb_mb`), wall and CPU seconds; then growth
    per data ratio (of the wall time, of the CPU time, which a busy machine disturbs less, of
    the step's own memory and of DuckDB's working memory)."""
    names = ("open MB", "peak MB", "growth", "DuckDB", "stored", "work")
    head = f"  {'step':<13}" + "".join(f"{n:>{w}}" for n, w in zip(names, WIDTHS, strict=True))
    lines = []
    for (engine, scale), figures in results.items():
        limits = {f["memory_limit"] for f in figures.values() if f.get("memory_limit")}
        lines.append(f"{engine} {scale:g}x" + "".join(f", memory_limit {x}" for x in limits))
        lines.append(f"{head}{'wall s':>9}{'cpu s':>8}")
        for step in [*steps, "total"]:
            fig = figures.get(step) if step != "total" else _total(figures)
            if fig is None:
                continue
            if "error" in fig:
                lines.append(f"  {step:<13}did not run: {fig['error']}")
                continue
            alone = "open_mb" in fig  # generating and loading are not run alone
            duckdb = alone and bool(fig.get("memory_limit"))  # Spark has no DuckDB figures
            duck = [fig[f"{name}_mb"] if duckdb else math.nan for name in DUCKDB_FIGURES]
            opened, growth = (fig["open_mb"], _growth(fig)) if alone else (math.nan, math.nan)
            mb = [opened, fig["peak_mb"], growth, *duck]
            cells = [
                f"{x:>{w}.0f}" if math.isfinite(x) else f"{'-':>{w}}"
                for x, w in zip(mb, WIDTHS, strict=True)
            ]
            lines.append(f"  {step:<13}{''.join(cells)}{fig['seconds']:>9.1f}{fig['cpu']:>8.1f}")
        lines.append("")
    lines += ["growth per data ratio: wall / cpu time ratio over data ratio (1.0 is linear);"]
    lines += ["in brackets the step's own memory (its growth) ratio, then DuckDB's working"]
    lines += ["memory's (`work`): 1.0 is flat"]
    runs = list(results)
    for engine in dict.fromkeys(e for e, _ in runs):
        scales = sorted(s for e, s in runs if e == engine)
        for lo, hi in itertools.pairwise(scales):
            a, b = results[(engine, lo)], results[(engine, hi)]
            parts = []
            for step in steps:
                fa, fb = a.get(step), b.get(step)
                if not fa or not fb or "error" in fa or "error" in fb or fa["seconds"] <= 0:
                    continue
                wall = fb["seconds"] / fa["seconds"] / (hi / lo)
                cpu = fb["cpu"] / fa["cpu"] / (hi / lo) if fa["cpu"] > 0 else math.nan
                mem = _ratio(_growth(fb), _growth(fa))
                work = _ratio(fb.get("work_mb"), fa.get("work_mb"))  # NaN on Spark: left out
                ratios = f"{mem:.1f}" + (f"; {work:.1f}" if math.isfinite(work) else "")
                parts.append(f"{step} {wall:.2f}/{cpu:.2f} [{ratios}]")
            lines.append(f"  {engine} {lo:g}x -> {hi:g}x: " + ", ".join(parts))
    return "\n".join(lines)


def _ratio(high: float | None, low: float | None) -> float:
    """high / low, NaN when either is missing (a step not run alone, Spark) or low is not above
    0 (a ratio of a growth that did not grow says nothing)."""
    return high / low if high is not None and low is not None and low > 0 else math.nan


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
    exit 1 unless every step ran and has a time and a peak, and every engine step, run alone,
    its memory before it started and DuckDB's (its stored blocks and working memory each at
    most the whole, and each read above 0 in some step); then on PostgreSQL, as far as the
    first engine step, which must have its memory before it started and no DuckDB figures."""
    steps = list(STEPS)
    print(f"machine: {_machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        results = {("duckdb", 0.02): measure("duckdb", 0.02, Path(tmp) / "duckdb", steps)}
        # PostgreSQL as far as the first engine step, in a database of this check's own
        pg_steps = ["generate", "load", ENGINE_STEPS[0]]
        pg_work = Path(tmp) / f"postgres{os.getpid()}"
        try:
            pg = measure("postgres", 0.02, pg_work, pg_steps)
        finally:
            _fresh_database(_warehouse("postgres", pg_work), create=False)
    print(table(results, steps))
    print(table({("postgres", 0.02): pg}, pg_steps))
    if [s for s in pg_steps if pg.get(s, {}).get("peak_mb", 0) > 0] != pg_steps:
        sys.exit(f"postgres: steps without a peak: {pg}")
    if not pg[ENGINE_STEPS[0]].get("open_mb", 0) > 0 or pg[ENGINE_STEPS[0]].get("memory_limit"):
        sys.exit(f"postgres: {ENGINE_STEPS[0]} not measured alone, or with DuckDB's figures")
    for run, figures in results.items():
        timed = [s for s in steps if math.isfinite(figures.get(s, {}).get("seconds", math.nan))]
        if timed != steps or not all(figures[s]["peak_mb"] > 0 for s in steps):
            sys.exit(f"{run}: steps without a time or peak: {sorted(set(steps) - set(timed))}")
        alone = [s for s in ENGINE_STEPS if figures[s].get("open_mb", 0) > 0]
        if alone != ENGINE_STEPS:
            sys.exit(f"{run}: engine steps not measured alone: {set(ENGINE_STEPS) - set(alone)}")
        duckdb = [[figures[s][f"{name}_mb"] for name in DUCKDB_FIGURES] for s in alone]
        parts = all(0 <= part <= total for total, *rest in duckdb for part in rest)
        read = all(any(f[i] > 0 for f in duckdb) for i in range(len(DUCKDB_FIGURES)))
        if not parts or not read:
            sys.exit(f"{run}: DuckDB's memory not read, or its parts above it: {duckdb}")
    print(f"check passed: {len(steps)} steps timed with their peak memory, and PostgreSQL's")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scales", type=float, nargs="*", default=[1.0, 3.0, 10.0])
    parser.add_argument("--spark-scales", type=float, nargs="*", default=[1.0, 3.0])
    parser.add_argument("--postgres-scales", type=float, nargs="*", default=[])
    parser.add_argument("--steps", default=",".join(STEPS), help="Comma-separated steps.")
    parser.add_argument("--check", action="store_true", help="Tiny run (CI).")
    parser.add_argument(
        "--as-demo", action="store_true", help="Time the demo as the command schedules it."
    )
    parser.add_argument(
        "--on",
        nargs="*",
        default=[],
        metavar="SCALE=PATH",
        help="Time the engine steps again on a copy of DuckDB warehouses the demo filled.",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--alone", help=argparse.SUPPRESS)
    parser.add_argument("--scale", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    steps = list(AS_DEMO) if args.as_demo else [s for s in args.steps.split(",") if s]
    unknown = [s for s in steps if s not in STEPS and s not in AS_DEMO]
    if unknown:
        sys.exit(f"unknown step {unknown[0]!r}; steps: {', '.join([*STEPS, *AS_DEMO])}")
    if args.child:
        _child(args.child, args.scale, args.work, steps, args.alone)
        return
    if args.check:
        check()
        return
    print(f"before: {_machine()}")
    results: dict[tuple[str, float], dict[str, dict[str, Any]]] = {}
    runs = [("duckdb", s) for s in args.scales] + [("spark", s) for s in args.spark_scales]
    runs += [("postgres", s) for s in args.postgres_scales]
    prepared = {float(s): Path(p) for s, _, p in (x.partition("=") for x in args.on)}
    if prepared:
        runs = [("duckdb", s) for s in prepared]
        steps = [s for s in steps if s in ENGINE_STEPS]
    for engine, scale in runs:
        work = ROOT / "out" / "bench" / "scale" / f"{engine}{scale:g}"
        if scale in prepared:
            work.mkdir(parents=True, exist_ok=True)
            for suffix in ("", ".audit-anchor"):  # the audit chain's head beside the file
                source = Path(f"{prepared[scale]}{suffix}")
                if source.exists():
                    shutil.copyfile(source, work / f"revops.duckdb{suffix}")
        t0 = time.perf_counter()
        results[(engine, scale)] = measure(engine, scale, work, steps, scale in prepared)
        print(f"{engine} at {scale:g}x: {time.perf_counter() - t0:.0f} s, load {_load()}")
    print()
    print(table(results, steps))
    print(f"\nafter: {_machine()}")


if __name__ == "__main__":
    main()
