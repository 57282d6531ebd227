"""Generating the demo company in a child process, so the demo loads each export file while
the generator writes the next.

Building the company and writing its files is numpy, pandas and Arrow work that holds the GIL
for much of its time, so it runs in a process of its own (on the machine's other core) rather
than a thread; the parent meanwhile opens the warehouse and loads the files in `LAYOUT` order
as they are finished. The files are the ones `generate` writes in the parent, byte for byte.

    with Generation(out_dir, scale=1.0, seed=7) as files:
        for f in files:  # each DemoFile as soon as its file is complete
            ...

An error in the child (a bad scale, a full disk) is raised in the parent as the same exception
when the iteration reaches it; leaving the block early stops the child.
"""

from __future__ import annotations

import multiprocessing
import queue
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from revops.demo import LAYOUT, DemoFile, generate
from revops.errors import RevOpsError

_DONE = "done"


def _child(out_dir: Path, scale: float, seed: int, results: Any) -> None:
    try:
        generate(out_dir, scale=scale, seed=seed, written=results.put)
    except BaseException as exc:
        results.put(exc)
        return
    results.put(_DONE)


class Generation:
    """The demo company's files from a child process, in `LAYOUT` order (see the module)."""

    def __init__(self, out_dir: Path, *, scale: float = 1.0, seed: int = 7) -> None:
        # spawn, not fork: the parent may run threads (the console's spinner, DuckDB's pool)
        context = multiprocessing.get_context("spawn")
        self._results = context.Queue()
        self._process = context.Process(
            target=_child, args=(Path(out_dir), scale, seed, self._results), daemon=True
        )
        self.count = len(LAYOUT)

    def __enter__(self) -> Generation:
        self._process.start()
        return self

    def __iter__(self) -> Iterator[DemoFile]:
        while True:
            item = self._next()
            if item == _DONE:
                break
            if isinstance(item, BaseException):
                raise item
            yield item
        self._process.join()

    def _next(self) -> Any:
        """The child's next message; an error if it died without one (killed, out of memory)."""
        while True:
            try:
                return self._results.get(timeout=0.5)
            except queue.Empty:
                if self._process.is_alive():
                    continue
            try:  # it may have sent its last message just before exiting
                return self._results.get(timeout=0.5)
            except queue.Empty:
                code = self._process.exitcode
                raise RevOpsError(f"the demo generator stopped (exit code {code})") from None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._process.is_alive():
            self._process.terminate()
        self._process.join()
        self._results.close()
