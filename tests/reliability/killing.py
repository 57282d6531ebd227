"""Run a revops command in a forked child and SIGKILL it at a chosen point; compare warehouses.

A kill is real (SIGKILL: no `finally`, no atexit, no flush) and happens at a named point, so
each phase of a write is hit every run instead of by luck of timing:

- `commit:N`: inside the Nth `write_many` transaction, every statement done, before COMMIT;
- `after:N`: right after its COMMIT (before the audit head is anchored, before anything else);
- `rewrite`: an erasure's storage purge, after the fresh copy is written, before it replaces
  the file; `copy`: before the copy is made (the `.rewrite` file is partial or absent).

The child is forked from the test process (which has imported everything already), so a run
costs milliseconds, not an interpreter start. The parent holds no connection while it runs.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import importlib
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb

from revops.warehouse import Warehouse
from revops.warehouse.schema import TABLES


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _arm(point: str | None, counter: Path | None) -> None:
    """Patch the child so it kills itself at `point` ("commit:N" or "after:N", the Nth write
    transaction; "rewrite" or "copy" in an erasure's purge), and counts its transactions into
    `counter`."""
    count = [0]
    original = Warehouse.transaction
    original_write = Warehouse.write_many
    kind, _, nth = (point or "").partition(":")
    writing = [False]

    @contextlib.contextmanager
    def counted(self: Warehouse) -> Iterator[Any]:
        if not writing[0]:  # schema creation and the like: not a write of the command's
            with original(self) as run:
                yield run
            return
        count[0] += 1
        here = nth == str(count[0])
        with original(self) as run:
            yield run
            if here and kind == "commit":
                _die()
        if counter is not None:
            counter.write_text(str(count[0]))
        if here and kind == "after":
            _die()

    def write_many(self: Warehouse, batches: Any, **kw: Any) -> Any:
        writing[0] = True
        try:
            return original_write(self, batches, **kw)
        finally:
            writing[0] = False

    Warehouse.transaction = counted  # type: ignore[method-assign]
    Warehouse.write_many = write_many  # type: ignore[method-assign]
    if kind in ("rewrite", "copy"):
        erase = importlib.import_module("revops.privacy.erase")  # the package exports erase()

        if kind == "rewrite":
            erase.sync_path = lambda *a, **k: _die()  # the copy is complete, not yet swapped in
        else:
            original_rewrite = erase.rewrite_duckdb

            def partial(wh: Warehouse, path: Path) -> None:
                path.with_name(path.name + ".rewrite").write_bytes(b"partial copy")
                _die()
                original_rewrite(wh, path)

            erase.rewrite_duckdb = partial


def _cache_config() -> None:
    """Validate the shipped operating model once in this process; the forked children inherit
    it instead of spending a second on it each."""
    import revops.context as context

    if not hasattr(context.load_config, "cache_info"):
        context.load_config = functools.cache(context.load_config)


def run_cli(argv: list[str], kill_at: str | None = None, counter: Path | None = None) -> int:
    """Run `revops ARGV` in a forked child; its exit code, or -9 when it was killed."""
    from revops.cli import app

    _cache_config()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        # objects the fork copied from pytest's process (DuckDB connections that earlier tests
        # left for the garbage collector) must not be collected here: their destructors join
        # worker threads that only the parent has, and the child would wait for them forever
        gc.freeze()
        code = 1
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            _arm(kill_at, counter)
            app(argv, standalone_mode=False)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:  # an uncaught error: report it as a traceback would
            import traceback

            traceback.print_exc()
            code = 70
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


Snapshot = dict[str, list[tuple[str, ...]]]


def _rows(path: Path) -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        out = {}
        for t in TABLES:
            rows = con.execute(f'SELECT * FROM "{t.name}"').fetchall()
            if rows:
                out[t.name] = (list(t.column_names), rows)
        return out
    finally:
        con.close()


def snapshot(path: Path, drop: set[tuple[str, str]] | None = None) -> Snapshot:
    """Every table's rows as sorted tuples of reprs, without the (table, column)s in `drop`."""
    out: Snapshot = {}
    for name, (cols, rows) in _rows(path).items():
        keep = [i for i, c in enumerate(cols) if (name, c) not in (drop or set())]
        out[name] = sorted(tuple(repr(r[i]) for i in keep) for r in rows)
    return out


def volatile(a: Path, b: Path) -> set[tuple[str, str]]:
    """The (table, column)s whose values differ between two runs of the same command (clock
    readings, ids made from them, hashes over them): left out when comparing to "after"."""
    ra, rb = _rows(a), _rows(b)
    out: set[tuple[str, str]] = set()
    for name in set(ra) | set(rb):
        cols = (ra.get(name) or rb[name])[0]
        for i, col in enumerate(cols):
            va = sorted(repr(r[i]) for r in ra.get(name, ([], []))[1])
            vb = sorted(repr(r[i]) for r in rb.get(name, ([], []))[1])
            if va != vb:
                out.add((name, col))
    return out
