"""Running the demo's engine steps side by side: each step starts as soon as the steps it
follows (`Step.after`) are done, up to `workers` at a time, each on its own connection.

Most steps spend much of their time inside DuckDB, which releases the GIL, so two threads keep
both cores of a small machine busy where one thread left one idle. Each thread works on a
sibling connection (`Warehouse.sibling`) with the demo's automation hooks, so its writes commit
in transactions of their own and record the events they cause as a lone step would. What the
steps write does not depend on the schedule: a step reads only what the steps it follows wrote
(and the loaded files), and the writers of the audit chain follow one another.

Only DuckDB gets threads; on PostgreSQL and Spark the steps run one after another on the
command's connection. The callbacks run on the calling thread, so a console is never touched
from two threads.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any

from revops.demo.steps import STEPS, Step, install_automations

if TYPE_CHECKING:
    from revops.context import RevOps

Started = Callable[[Step], None]
Finished = Callable[[Step, Any], None]


def _ignore(*_: Any) -> None:
    return None


def run_steps(
    ro: RevOps,
    folder: Path,
    steps: Sequence[Step] = STEPS,
    *,
    workers: int = 2,
    started: Started = _ignore,
    finished: Finished = _ignore,
) -> dict[str, Any]:
    """Run `steps` (each after those it names in `after` that are among them) and return what
    each returned, in the order of `steps`. `started` and `finished` are told as each step
    starts and ends. The first step to raise stops the schedule: the running ones finish, no
    other starts, and its error is raised."""
    names = {s.name for s in steps}
    unknown = sorted({a for s in steps for a in s.after} - names - {s.name for s in STEPS})
    if unknown:
        raise ValueError(f"steps follow unknown steps: {', '.join(unknown)}")
    if workers < 2 or ro.warehouse.backend != "duckdb":
        return _in_order(ro, folder, steps, started, finished)
    done: dict[str, Any] = {}
    waiting = list(steps)
    running: dict[Future[Any], Step] = {}
    error: BaseException | None = None
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="demo-step") as pool:
        while waiting or running:
            while error is None and len(running) < workers:
                ready = [s for s in waiting if all(a in done or a not in names for a in s.after)]
                if not ready:
                    break
                step = ready[0]
                waiting.remove(step)
                started(step)
                running[pool.submit(_on_sibling, ro, step, folder)] = step
            if not running:
                break
            finished_now, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in sorted(finished_now, key=lambda f: steps.index(running[f])):
                step = running.pop(future)
                if (exc := future.exception()) is not None:
                    error = error or exc
                    continue
                done[step.name] = future.result()
                finished(step, done[step.name])
    if error is not None:
        raise error
    return {s.name: done[s.name] for s in steps}


def _in_order(
    ro: RevOps, folder: Path, steps: Sequence[Step], started: Started, finished: Finished
) -> dict[str, Any]:
    done: dict[str, Any] = {}
    for step in steps:
        started(step)
        done[step.name] = step.run(ro, folder)
        finished(step, done[step.name])
    return done


def _on_sibling(ro: RevOps, step: Step, folder: Path) -> Any:
    """`step` on a connection of its own, with the demo's automation hooks."""
    from revops.context import RevOps

    own = RevOps(ro.config, ro.warehouse.sibling())
    try:
        install_automations(own)
        return step.run(own, folder)
    finally:
        own.close()
