"""The steps of `revops demo` (src/revops/cli/demo.py) for the benchmarks: generating and
loading, then the engine steps the command runs (`revops.demo.steps.STEPS`: one list for
both). bench/scale.py times each, one after another, bench/metrics.py builds its company with
them (every table the dictionary reads is then filled: revenue, quality snapshots, attribution
credits, SLA clocks, stage changes, quotas, backtests).

`AS_DEMO` is the same work as the command schedules it: the generator in a child process while
the files load (`revops.demo.background`), the forecast starting as soon as the deal tables are
loaded, then the other engine steps two at a time (`revops.demo.schedule`); bench/scale.py
--as-demo times those two parts (the forecast's time in the first one counts there).

Each step writes its report where the demo writes one. On Spark the automations are not
installed before loading (installing opens a transaction, which Spark has not).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from revops.demo.steps import STEPS as ENGINE_STEPS
from revops.demo.steps import install_automations

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "examples" / "revops.yaml"


@dataclass
class Run:
    """What the steps share: the folder, the warehouse and what earlier steps produced."""

    out: Path
    warehouse: str
    scale: float
    files: list[Any] = field(default_factory=list)
    ro: Any = None
    schedule: Any = None  # `revops.demo.schedule.Schedule` of an as-demo run
    spans: dict[str, tuple[float, float]] = field(default_factory=dict)


def step_generate(run: Run) -> None:
    from revops.demo import generate

    run.files = generate(run.out / "demo", scale=run.scale, seed=7)


def step_load(run: Run) -> None:
    """Load the exports, in the order generated; in a process of its own (bench/scale.py), the
    files the generator left in the run's folder, named by the demo's layout."""
    from revops.context import RevOps
    from revops.demo import LAYOUT, DemoFile

    if not run.files:
        folder = run.out / "demo"
        run.files = [DemoFile(t, folder / name, preset) for t, (preset, name) in LAYOUT.items()]
    run.ro = RevOps.open(CONFIG, run.warehouse)
    if run.ro.warehouse.backend != "spark":
        install_automations(run.ro)
    for f in run.files:
        run.ro.load(f.path, f.table, f.preset)


def reopen(run: Run) -> None:
    """Open the warehouse earlier steps filled, in a new process, as loading left it open: with
    the demo's automation clock (bench/scale.py runs each engine step in a fresh process)."""
    from revops.context import RevOps

    run.ro = RevOps.open(CONFIG, run.warehouse)
    if run.ro.warehouse.backend != "spark":
        install_automations(run.ro)


def generate_and_load(run: Run) -> None:
    """Generation and loading overlapped, the forecast started once its tables are loaded, as
    `revops demo` does them."""
    from revops.context import RevOps
    from revops.demo.background import Generation
    from revops.demo.schedule import Schedule, warm_up

    with Generation(run.out / "demo", scale=run.scale, seed=7) as files:
        run.ro = RevOps.open(CONFIG, run.warehouse)
        if run.ro.warehouse.backend != "spark":
            install_automations(run.ro)
        run.schedule = Schedule(run.ro, run.out / "reports").__enter__()  # `engines` leaves it
        warm_up()
        try:
            for f in files:
                run.files.append(f)
                run.ro.load(f.path, f.table, f.preset)
                run.schedule.loaded(f.table)
        except BaseException:
            run.schedule.__exit__(None, None, None)
            raise


def engines(run: Run) -> None:
    """The engine steps two at a time where the warehouse allows it, as `revops demo` runs
    them (after `generate_and_load`, which may have started some); each step's start and end
    (seconds into this part; a step started while loading counts from 0) go to `run.spans`."""
    t0 = time.perf_counter()

    def started(step: Any) -> None:
        run.spans[step.name] = (time.perf_counter() - t0, math.nan)

    def finished(step: Any, _: Any) -> None:
        run.spans[step.name] = (run.spans[step.name][0], time.perf_counter() - t0)

    with run.schedule as schedule:
        schedule.finish(started=started, finished=finished)


def _engine(run_step: Callable[[Any, Path], Any]) -> Callable[[Run], None]:
    def step(run: Run) -> None:
        run_step(run.ro, run.out / "reports")

    return step


STEPS: dict[str, Callable[[Run], None]] = {
    "generate": step_generate,
    "load": step_load,
    **{s.name: _engine(s.run) for s in ENGINE_STEPS},
}


AS_DEMO: dict[str, Callable[[Run], None]] = {
    "generate+load": generate_and_load,
    "engines": engines,
}


def demo_company(warehouse: str, out: Path, scale: float) -> None:
    """The demo company at `scale` in `warehouse`, as `revops demo` leaves it before computing
    the dictionary (every step before it)."""
    run = Run(out, warehouse, scale)
    try:
        for name in list(STEPS)[: list(STEPS).index("metrics")]:
            STEPS[name](run)
    finally:
        if run.ro is not None:
            run.ro.close()
