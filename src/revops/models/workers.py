"""Seeded model fits in worker processes: independent fits side by side on a machine's cores.

A forecast run fits its win model several times (once per backtest quarter, once for the
held-out evaluation), each on its own rows, each seeded, each on one OpenMP thread; they share
nothing, so they can run at once while the caller goes on with its own work. A worker runs the
very function the caller would run (`calibrated_trees`, same estimator, same seed, one thread),
so the model it hands back predicts the same numbers, to the bit.

Each worker is a fresh interpreter (`python -m revops.models.workers`) reading pickled calls on
its standard input: not a fork of the caller, which holds the warehouse's threads and OpenMP's,
and not `multiprocessing`, which would import the caller's main script in every worker. It
imports scikit-learn as it starts, while the caller still prepares the rows to fit.
"""

from __future__ import annotations

import os
import pickle
import queue
import subprocess
import sys
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt

MAX_WORKERS = 2


def calibrated_trees(
    matrix: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
    categorical: Sequence[bool],
    seed: int,
    calibration: str,
) -> Any:
    """Gradient-boosted trees calibrated on time-ordered folds, fitted on one thread.

    Rows must come in time order: each calibration fold is fitted on the rows before it. One
    thread, because the trees sum gradients in per-thread parts and another thread count would
    change the sums' last bits."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import TimeSeriesSplit
    from threadpoolctl import threadpool_limits

    base = HistGradientBoostingClassifier(
        max_iter=150,
        learning_rate=0.05,
        max_leaf_nodes=15,
        min_samples_leaf=40,
        l2_regularization=1.0,
        categorical_features=list(categorical),
        random_state=seed,
    )
    model = CalibratedClassifierCV(base, method=calibration, cv=TimeSeriesSplit(n_splits=3))
    with threadpool_limits(1):
        model.fit(matrix, y)
    return model


def here(fn: Callable[..., Any], *args: Any) -> Future[Any]:
    """`fn(*args)` now, in this process, its outcome held as a finished future (what a caller
    without workers submits to)."""
    done: Future[Any] = Future()
    try:
        done.set_result(fn(*args))
    except Exception as exc:
        done.set_exception(exc)
    return done


def _cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def usable() -> int:
    """How many workers this machine's cores allow (up to `MAX_WORKERS`), for a caller that has
    the cores to itself (a standalone forecast command). A caller already keeping the cores busy
    (the demo runs its steps side by side; the web serves other requests) fits in its own
    process instead: workers would only add their interpreters' start-up and take turns."""
    return min(MAX_WORKERS, _cores())


class Workers:
    """Up to `MAX_WORKERS` worker processes for independent fits, started on the first
    submission (or `start`) and stopped when their owner lets go of them. On a single core a
    fit runs in the caller, at submission: a worker would only take turns with it."""

    def __init__(self, max_workers: int | None = None) -> None:
        self.max_workers = usable() if max_workers is None else max_workers
        self._threads: ThreadPoolExecutor | None = None
        self._idle: queue.SimpleQueue[subprocess.Popen[bytes]] = queue.SimpleQueue()

    def start(self) -> None:
        """Start the workers now, so they import their libraries while the caller works."""
        if self._threads is not None or self.max_workers < 2:
            return
        command = [sys.executable, "-m", "revops.models.workers"]
        procs = [
            subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)  # noqa: S603
            for _ in range(self.max_workers)
        ]
        for proc in procs:
            self._idle.put(proc)
        self._threads = ThreadPoolExecutor(self.max_workers, thread_name_prefix="revops-worker")
        self._stop = weakref.finalize(self, _stop, procs, self._threads)

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        """`fn(*args)` in a worker (or here, on one core); the future holds its outcome. `fn`
        must be importable by name and its arguments picklable."""
        self.start()
        if self._threads is None:
            return here(fn, *args)
        return self._threads.submit(self._call, fn, args)

    def close(self) -> None:
        """Stop the workers now (each finishes the call it is on); a later submission starts
        new ones."""
        if self._threads is not None:
            self._stop()
            self._threads = None
            self._idle = queue.SimpleQueue()

    def _call(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        proc = self._idle.get()
        try:
            assert proc.stdin is not None
            assert proc.stdout is not None
            pickle.dump((fn, args), proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            proc.stdin.flush()
            ok, value = pickle.load(proc.stdout)  # noqa: S301  (our own worker's reply)
        finally:
            self._idle.put(proc)
        if not ok:
            raise value
        return value


def _stop(procs: list[subprocess.Popen[bytes]], threads: ThreadPoolExecutor) -> None:
    """End of input: each worker finishes the call it is on, then exits."""
    threads.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        if proc.stdin is not None:
            proc.stdin.close()
    for proc in procs:
        proc.wait()


def serve(calls: BinaryIO, results: BinaryIO) -> None:
    """A worker's loop: unpickle a call, run it, pickle back (True, result) or (False, error),
    until the input ends."""
    while True:
        try:
            fn, args = pickle.load(calls)  # noqa: S301  (from the process that started us)
        except EOFError:
            return
        try:
            out = (True, fn(*args))
        except Exception as exc:
            out = (False, exc)
        pickle.dump(out, results, protocol=pickle.HIGHEST_PROTOCOL)
        results.flush()


if __name__ == "__main__":
    # imported while the caller still prepares the rows to fit
    import sklearn.calibration
    import sklearn.ensemble  # noqa: F401

    channel = sys.stdout.buffer
    sys.stdout = sys.stderr  # whatever a fit prints must not mix with the results
    serve(sys.stdin.buffer, channel)
