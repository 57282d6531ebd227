"""Running the demo's engine steps side by side: each step starts as soon as the steps it
follows (`Step.after`) are done, up to `workers` at a time, each on its own connection; a step
that reads only some of the loaded tables (`Step.reads`) may start while the later files still
load.

Most steps spend much of their time inside DuckDB, which releases the GIL, so two threads keep
both cores of a small machine busy where one thread left one idle. Each thread works on a
sibling connection (`Warehouse.sibling`) with the demo's automation hooks, so its writes commit
in transactions of their own and record the events they cause as a lone step would. What the
steps write does not depend on the schedule: a step reads only what the steps it follows wrote
(and the loaded files), and the writers of the audit chain follow one another.

While the files load, the loader is one of the `workers`: one step at most runs beside it, and
only a step whose `reads` are all loaded (the forecast, which reads the deal tables loaded
first, so its win-model fits use the core that loading and the generator leave idle). A table
once loaded is not written again by a later load, so such a step sees what it would see after
loading. Before the first file is even written (the generator builds the whole company first),
the loader imports what the steps will import (`warm_up`), off their path.

    with Schedule(ro, folder) as schedule:
        for f in files:
            ro.load(f.path, f.table, f.preset)
            schedule.loaded(f.table)
        done = schedule.finish(started=..., finished=...)

Only DuckDB gets threads; on PostgreSQL and Spark the steps run one after another on the
command's connection once loading is done. The callbacks run on the calling thread, inside
`finish` (a step started during loading is announced there), so a console is never touched
from two threads nor while the files' progress bars are drawn.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from revops.demo.steps import IMPORTS, STEPS, Step, install_automations

if TYPE_CHECKING:
    from revops.context import RevOps

Started = Callable[[Step], None]
Finished = Callable[[Step, Any], None]


def _ignore(*_: Any) -> None:
    return None


class Schedule:
    """`steps` (each after those it names in `after` that are among them) on up to `workers`
    threads, some of them while files load (see the module). Use it as a context manager:
    leaving the block waits for the steps still running, so none outlives the connection."""

    def __init__(
        self, ro: RevOps, folder: Path, steps: Sequence[Step] = STEPS, *, workers: int = 2
    ) -> None:
        self.names = {s.name for s in steps}
        unknown = sorted({a for s in steps for a in s.after} - self.names - {s.name for s in STEPS})
        if unknown:
            raise ValueError(f"steps follow unknown steps: {', '.join(unknown)}")
        self.ro, self.folder, self.steps, self.workers = ro, folder, list(steps), workers
        self.threaded = workers >= 2 and ro.warehouse.backend == "duckdb"
        self.tables: set[str] = set()  # loaded so far
        self.waiting = list(steps)
        self.running: dict[Future[Any], Step] = {}
        self.done: dict[str, Any] = {}
        self.error: BaseException | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._announced: set[str] = set()

    def __enter__(self) -> Schedule:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def loaded(self, table: str) -> None:
        """`table` is loaded: start a step that reads only loaded tables, if a worker is free
        beside the loader. Its outcome (or error) is taken up by `finish`."""
        self.tables.add(table)
        if not self.threaded:
            return
        self._collect(block=False)
        self._start(self.workers - 1, loading=True)

    def finish(self, *, started: Started = _ignore, finished: Finished = _ignore) -> dict[str, Any]:
        """Every file is loaded: run the remaining steps and return what each returned, in the
        order of `steps`. `started` and `finished` are told as each step starts and ends (a step
        started while loading is told here). The first step to raise stops the schedule: the
        running ones finish, no other starts, and its error is raised."""
        if not self.threaded:
            return self._in_order(started, finished)
        for step in self.steps:  # started (and perhaps done) while the files loaded
            if step.name in self._announced:
                started(step)
                if step.name in self.done:
                    finished(step, self.done[step.name])
        while self.waiting or self.running:
            for step in self._start(self.workers, loading=False):
                started(step)
            if not self.running:
                break
            for step in self._collect(block=True):
                finished(step, self.done[step.name])
        if self.error is not None:
            raise self.error
        return {s.name: self.done[s.name] for s in self.steps}

    def _ready(self, loading: bool) -> list[Step]:
        def can_start(s: Step) -> bool:
            if any(a not in self.done and a in self.names for a in s.after):
                return False
            return not loading or (s.reads is not None and s.reads <= self.tables)

        return [s for s in self.waiting if can_start(s)]

    def _start(self, limit: int, *, loading: bool) -> list[Step]:
        """Submit ready steps, in `steps` order, up to `limit` running."""
        begun: list[Step] = []
        while self.error is None and len(self.running) < limit:
            ready = self._ready(loading)
            if not ready:
                break
            step = ready[0]
            self.waiting.remove(step)
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="demo-step")
            self.running[self._pool.submit(_on_sibling, self.ro, step, self.folder)] = step
            if loading:
                self._announced.add(step.name)
            begun.append(step)
        return begun

    def _collect(self, *, block: bool) -> list[Step]:
        """Take up the steps that have finished (waiting for one if `block`); a finished step's
        result goes to `done`, the first error to `error`."""
        if not self.running:
            return []
        finished_now, _ = wait(self.running, 0 if not block else None, FIRST_COMPLETED)
        ended: list[Step] = []
        for future in sorted(finished_now, key=lambda f: self.steps.index(self.running[f])):
            step = self.running.pop(future)
            if (exc := future.exception()) is not None:
                self.error = self.error or exc
                continue
            self.done[step.name] = future.result()
            ended.append(step)
        return ended

    def _in_order(self, started: Started, finished: Finished) -> dict[str, Any]:
        for step in self.steps:
            started(step)
            self.done[step.name] = step.run(self.ro, self.folder)
            finished(step, self.done[step.name])
        return dict(self.done)


def run_steps(
    ro: RevOps,
    folder: Path,
    steps: Sequence[Step] = STEPS,
    *,
    workers: int = 2,
    started: Started = _ignore,
    finished: Finished = _ignore,
) -> dict[str, Any]:
    """Run `steps` on a loaded warehouse (`Schedule.finish`, every table loaded) and return
    what each returned, in the order of `steps`."""
    with Schedule(ro, folder, steps, workers=workers) as schedule:
        return schedule.finish(started=started, finished=finished)


def warm_up(modules: Sequence[str] = IMPORTS) -> None:
    """Import `modules` now: the demo calls this while the generator builds the company and the
    loader, with no file yet, would leave its core idle. On the loader's own thread, before any
    step starts, so no two threads import at once (concurrent imports can deadlock); a module
    that cannot be imported is left for its step to report."""
    for name in modules:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)


def _on_sibling(ro: RevOps, step: Step, folder: Path) -> Any:
    """`step` on a connection of its own, with the demo's automation hooks."""
    from revops.context import RevOps

    own = RevOps(ro.config, ro.warehouse.sibling())
    try:
        install_automations(own)
        return step.run(own, folder)
    finally:
        own.close()
