"""A load's good rows spooled to disk a slice at a time, merged into their table in one write.

A big export's rows used to be held whole until the load's one transaction. A `Stage` takes
them as they are produced instead: each slice is conformed as `write_many` conforms a batch
(canonical types, PII encrypted before anything leaves the process) and written, with each
row's position in the file (`__pos`), to its own Parquet file in a private temporary folder
(beside a DuckDB warehouse file, else in TMPDIR: see `Warehouse.stage`).
Only the final `write_many` reads them: DuckDB straight from the files, PostgreSQL through a
temporary table it COPYs them into one file at a time. So the warehouse is untouched until
that one transaction, which a crash leaves as before or as after, and memory holds one slice.

Why files and not a temporary table: a DuckDB temporary table lives in DuckDB's memory (its
temp catalog is in-memory, spilled only at the memory limit, 80% of RAM), which would hold the
whole file's rows again; Parquet files cost disk only, and DuckDB reads them in the merge as
it reads a table.

Repeated keys (the last row of a key wins) are found in SQL over the files by a private
in-process DuckDB with a small memory limit (it spills, see `repeated`), and the superseded
rows are rewritten out of the files that hold them (`drop`), so the merge reads unique keys.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from revops.warehouse.pii import PiiCipher, column_label
from revops.warehouse.schema import Table
from revops.warehouse.sql import ident, literal

POS = "__pos"
# The private DuckDB that finds repeated keys: enough for a slice's worth of keys in memory,
# the rest spills to the stage's folder (a 3M-row file's keys hashed whole held ~300 MB).
_SQL_MEMORY = "256MB"


@dataclass
class Stage:
    """The staged rows of one table: Parquet files of conformed rows with their positions.

    `conform` turns a slice (the columns a load validated) into the table's canonical Arrow
    schema; `shape` is the table as the write sees it (custom columns included), fixed by the
    first slice (a later slice with other custom columns is a bug, refused), and `present` the
    columns any slice brings (a merge sets only those on stored rows; a slice without one of
    them brings it empty, as a whole batch's missing cells are: touchpoints' utm_source is
    added only to slices holding an unknown channel).

    `sealed` names the PII columns the warehouse keeps in clear (no REVOPS_PII_KEY): the files
    hold them encrypted with `cipher`, a key made for this stage that lives only in this
    process, and the merge reads them opened (`openers`), so no plaintext PII is ever written
    to a temporary file, even one a killed load leaves behind.
    """

    table: str
    folder: Path
    conform: Callable[[Table, pa.Table], pa.Table]
    shape_of: Callable[[pa.Table], Table]
    shape: Table | None = None
    present: frozenset[str] = frozenset()
    schema: pa.Schema | None = None  # the slices' own schema (before conforming)
    files: list[tuple[Path, int, int]] = field(default_factory=list)  # path, first pos, rows
    rows: int = 0
    sealed: tuple[str, ...] = ()
    cipher: PiiCipher | None = None
    # PostgreSQL: the temporary table a write hook had the rows COPYed into and the files it
    # holds (`Warehouse.staged_table`); the write merges from it, and it goes with the stage
    copied: tuple[str, tuple[tuple[Path, int, int], ...]] | None = None

    def copy_table(self) -> str | None:
        """The temporary table `copied` names while it holds the files as they are now (a stage
        changed since, by `drop`, is copied again); else None."""
        if self.copied is not None and self.copied[1] == tuple(self.files):
            return self.copied[0]
        return None

    def append(self, data: pa.Table, positions: npt.NDArray[np.int64]) -> None:
        """Spool `data` (rows of the table) with each row's position in the file."""
        if self.shape is None:
            self.shape = self.shape_of(data)
            self.schema = data.schema.remove_metadata()
        elif self.shape_of(data).column_names != self.shape.column_names:
            raise ValueError(f"{self.table}: a staged slice brings other custom columns")
        self.present |= frozenset(data.column_names)
        if data.num_rows == 0:
            return
        out = self._seal(self.conform(self.shape, data))
        out = out.append_column(POS, pa.array(positions, pa.int64()))
        path = self.folder / f"{len(self.files):06d}.parquet"
        pq.write_table(out, path)
        self.files.append((path, int(positions[0]), data.num_rows))
        self.rows += data.num_rows

    def _seal(self, data: pa.Table) -> pa.Table:
        return self._through(data, seal=True)

    def _open(self, data: pa.Table) -> pa.Table:
        return self._through(data, seal=False)

    def _through(self, data: pa.Table, *, seal: bool) -> pa.Table:
        """`data` with its sealed columns encrypted (`seal`) or decrypted."""
        for name in self.sealed:
            assert self.cipher is not None
            i = data.schema.get_field_index(name)
            label = column_label(self.table, name)
            run = self.cipher.encrypt_column if seal else self.cipher.decrypt_column
            data = data.set_column(i, name, run(data.column(i), label))
        return data

    def _opener_name(self, column: str) -> str:
        return "revops_stage_open_" + "".join(c if c.isalnum() else "_" for c in column)

    def openers(self) -> dict[str, Callable[[pa.Array], pa.Array]]:
        """The DuckDB functions (Arrow UDFs, by name) `relation` opens the sealed columns
        with; the caller registers them for the merge."""
        return {self._opener_name(name): self._opener(name) for name in self.sealed}

    def _opener(self, column: str) -> Callable[[pa.Array], pa.Array]:
        cipher, label = self.cipher, column_label(self.table, column)
        assert cipher is not None

        def opened(values: pa.Array) -> pa.Array:
            return cipher.decrypt_column(values, label)

        return opened

    @property
    def empty(self) -> pa.Table:
        """A zero-row table of the slices' schema (what a write's hooks see as its data)."""
        return (self.schema or pa.schema([])).empty_table()

    def sql_files(self, files: list[tuple[Path, int, int]] | None = None) -> str:
        """The staged files (or `files`, some of them) as a DuckDB list literal, for
        read_parquet."""
        return "[" + ", ".join(literal(str(p)) for p, _, _ in files or self.files) + "]"

    def relation(self, files: list[tuple[Path, int, int]] | None = None) -> str:
        """The staged rows (canonical columns, no positions) as a DuckDB subquery: of every
        file, or of `files` (some of `self.files`)."""
        assert self.shape is not None
        cols = ", ".join(
            f"{self._opener_name(c)}({ident(c)}) AS {ident(c)}" if c in self.sealed else ident(c)
            for c in self.shape.column_names
        )
        return f"(SELECT {cols} FROM read_parquet({self.sql_files(files)}))"

    def parts(self) -> Iterator[str]:
        """The staged rows as DuckDB subqueries of one file each, in order (a file holds one
        slice: the rows one `append` spooled)."""
        for file in self.files:
            yield self.relation([file])

    def columns(self, names: list[str]) -> pa.Table:
        """Columns `names` of every staged row, in file order (a write hook's source keys:
        a few columns of the staged rows, never the sealed ones)."""
        assert not set(names) & set(self.sealed), "sealed columns are read by `relation`"
        if not self.files:
            return pa.table({n: pa.array([], pa.string()) for n in names})
        return pa.concat_tables(pq.read_table(p, columns=names) for p, _, _ in self.files)

    def batches(self) -> Iterator[pa.Table]:
        """The staged rows a file at a time, canonical columns only (PostgreSQL's COPY)."""
        for path, _, _ in self.files:
            yield self._open(pq.read_table(path).drop_columns([POS]))

    @contextmanager
    def _duckdb(self) -> Iterator[object]:
        import duckdb

        con = duckdb.connect()
        try:
            con.execute(f"SET memory_limit = '{_SQL_MEMORY}'")
            con.execute(f"SET temp_directory = {literal(str(self.folder / 'spill'))}")
            con.execute("SET threads = 1")
            yield con
        finally:
            con.close()

    def repeated(self, keys: tuple[str, ...]) -> pa.Table:
        """Every staged row whose key another staged row has: its key columns and position,
        in file order. Usually none, and then the only cost is one grouped pass."""
        if not self.files:
            return pa.table({**{k: pa.array([], pa.string()) for k in keys}, POS: []})
        cols = ", ".join(ident(k) for k in keys)
        src = f"read_parquet({self.sql_files()})"
        query = (
            f"SELECT {cols}, {POS} FROM {src} SEMI JOIN "
            f"(SELECT {cols} FROM {src} GROUP BY ALL HAVING count(*) > 1) r USING ({cols}) "
            f"ORDER BY {POS}"
        )
        with self._duckdb() as con:
            return con.execute(query).fetch_arrow_table()  # type: ignore[attr-defined]

    def keys(self, key: str) -> pa.Array:
        """The distinct values of column `key` among the staged rows."""
        if not self.files:
            return pa.array([], pa.string())
        query = f"SELECT DISTINCT {ident(key)} FROM read_parquet({self.sql_files()})"
        with self._duckdb() as con:
            found = con.execute(query).fetch_arrow_table()  # type: ignore[attr-defined]
        return found.column(0).combine_chunks()

    def drop(self, positions: npt.NDArray[np.int64]) -> None:
        """Remove the rows at `positions` (superseded repeats), rewriting only their files."""
        if positions.size == 0:
            return
        wanted = np.sort(positions)
        kept: list[tuple[Path, int, int]] = []
        ends = [first for _, first, _ in self.files[1:]] + [np.iinfo(np.int64).max]
        for (path, first, n), end in zip(self.files, ends, strict=True):
            lo, hi = np.searchsorted(wanted, [first, end])
            here = wanted[lo:hi]
            if here.size == 0:
                kept.append((path, first, n))
                continue
            data = pq.read_table(path)
            mask = pc.invert(pc.is_in(data.column(POS), value_set=pa.array(here, pa.int64())))
            data = data.filter(mask)
            self.rows -= n - data.num_rows
            if data.num_rows:
                pq.write_table(data, path)
                kept.append((path, first, data.num_rows))
            else:
                path.unlink()
        self.files = kept


# A stage folder's name: which machine and process made it, so a later stage can tell a folder
# whose process is gone (killed mid-load: nothing ran its `finally`) from a live one. The host
# is hashed to fixed hex, so the name parses whatever the host name holds.
_FOLDER = re.compile(r"^revops-stage-([0-9a-f]{8})-(\d+)-")


def _host() -> str:
    return hashlib.blake2s(socket.gethostname().encode(), digest_size=4).hexdigest()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def sweep_abandoned(where: Path) -> list[Path]:
    """Remove the stage folders in `where` that a process on this machine left when it was
    killed, and return them. A folder is taken only when its maker is certainly gone: made on
    this host (another machine's pid means nothing here: a shared volume) by a process id no
    process holds now. A live process's stage, even for another warehouse in the same folder,
    is never touched. Its files hold nothing the warehouse needs (rows reach the warehouse
    only in a load's one transaction) and no PII in clear (`Stage.sealed`)."""
    host, removed = _host(), []
    for folder in where.glob("revops-stage-*"):
        made = _FOLDER.match(folder.name)
        if made is None or made[1] != host or int(made[2]) == os.getpid() or _alive(int(made[2])):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


@contextmanager
def staging(
    table: str,
    conform: Callable[[Table, pa.Table], pa.Table],
    shape_of: Callable[[pa.Table], Table],
    where: Path | None = None,
    sealed: tuple[str, ...] = (),
) -> Iterator[Stage]:
    """A Stage in a fresh temporary folder (under `where`, else the system's), removed after.
    A killed process cannot remove its folder; the next stage made in the same place on the
    same machine does (`sweep_abandoned`)."""
    parent = Path(where) if where is not None else Path(tempfile.gettempdir())
    sweep_abandoned(parent)
    prefix = f"revops-stage-{_host()}-{os.getpid()}-{table}-"
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    try:
        cipher = PiiCipher(secrets.token_hex(32)) if sealed else None
        yield Stage(table, folder, conform, shape_of, sealed=sealed, cipher=cipher)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
