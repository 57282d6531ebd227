"""Apache Spark as the warehouse: where the session comes from, and how a write lands.

Three locations (see docs/spark.md):

- `spark-local:/path/to/dir` runs Spark in this process (`local[*]`, or `?master=local[2]`),
  with managed Parquet tables under the directory and a Hive metastore (embedded Derby) in
  `dir/metastore_db`, so `revops load` and a later `revops metrics show` see the same tables.
  In local mode the driver JVM is also the only executor, so its heap is set to a quarter of
  the machine's memory (1–8 GB) unless `?driver_memory=` or Spark's own configuration sets it:
  Spark's default of 1 GB ran out of heap loading the 3× demo's 37 MB activities export.
- `spark://host:7077?warehouse_dir=...` runs on a standalone cluster; `warehouse_dir` must be
  storage every executor reaches (HDFS, S3, NFS), and `metastore=thrift://...` names a shared
  Hive metastore (without it, an embedded one under a local `warehouse_dir`).
- `sc://host:15002` talks to a Spark Connect server, whose own catalog and warehouse are used.

Every form takes `database=` (default `revops`): the catalog database the tables live in.

Spark tables (Parquet, without Delta or Iceberg) have no transactions, primary keys or
row-level UPDATE/DELETE, so a write is done as a copy and a swap: each touched table's new
contents are written to a staging table `_revops_next_<table>_<n>`; only when every batch of
the write is staged are the live tables swapped in by catalog renames, the old ones renamed to
`_revops_old_<table>` and dropped afterwards. A failure while staging leaves every table as it
was; a failure during the renames undoes the renames already made. What is not guaranteed: a
process killed in the middle of the renames of a write touching several tables can leave the
earlier tables swapped and the later ones not (each table is whole, old or new); the next
connection finishes the cleanup (`recover`), restoring a table whose rename was cut in half.
Readers never see a half-written table. Two processes writing the same Spark warehouse at once
are not supported (the embedded metastore refuses a second process outright).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlparse

import pyarrow as pa

from revops.errors import RevOpsError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from revops.warehouse.schema import Table

SCHEMES = ("spark-local:", "spark://", "sc://")
DEFAULT_DATABASE = "revops"
NEXT = "_revops_next_"
OLD = "_revops_old_"

SQL_TYPES = {
    "string": "STRING",
    "int": "BIGINT",
    "float": "DOUBLE",
    "bool": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
}


class SparkLocationError(RevOpsError, ValueError):
    """A Spark warehouse location that cannot be used as written."""


def is_spark_url(text: str) -> bool:
    return text.startswith(SCHEMES)


@dataclass(frozen=True)
class SparkLocation:
    """Where a Spark warehouse is: a master (local or standalone) or a Spark Connect server."""

    master: str | None
    remote: str | None
    warehouse_dir: str | None
    metastore: str | None
    database: str
    conf: dict[str, str] = field(default_factory=dict)


def _database(name: str, url: str) -> str:
    if not name or not all(ch.isalnum() or ch == "_" for ch in name):
        raise SparkLocationError(
            f"{url}: database {name!r} must be letters, digits and underscores only"
        )
    return name.lower()


def parse_location(url: str) -> SparkLocation:
    """Read a `spark-local:`, `spark://` or `sc://` location (see the module docstring)."""
    base, _, query = url.partition("?")
    params = dict(parse_qsl(query, keep_blank_values=True))
    known = {"database", "master", "warehouse_dir", "metastore", "partitions", "driver_memory"}
    unknown = sorted(set(params) - known)
    if unknown:
        raise SparkLocationError(
            f"{url}: unknown parameter {unknown[0]!r} (known: {', '.join(sorted(known))})"
        )
    database = _database(params.get("database", DEFAULT_DATABASE), url)
    conf: dict[str, str] = {}
    if "partitions" in params:
        conf["spark.sql.shuffle.partitions"] = params["partitions"]
    if "driver_memory" in params:
        conf["spark.driver.memory"] = params["driver_memory"]
    if base.startswith("sc://"):
        return SparkLocation(None, base, None, None, database, conf)
    if base.startswith("spark-local:"):
        path = base.removeprefix("spark-local:").removeprefix("//")
        if not path:
            raise SparkLocationError(f"{url}: give the warehouse directory, spark-local:/path")
        master = params.get("master", "local[*]")
        if not master.startswith("local"):
            raise SparkLocationError(f"{url}: spark-local: takes a local[...] master only")
        conf.setdefault("spark.sql.shuffle.partitions", "4")
        return SparkLocation(
            master, None, str(Path(path).absolute()), params.get("metastore"), database, conf
        )
    parts = urlparse(base)
    if not parts.hostname:
        raise SparkLocationError(f"{url}: a standalone master is spark://host:port")
    wd = params.get("warehouse_dir")
    if not wd:
        raise SparkLocationError(
            f"{url}: add ?warehouse_dir=... (storage every executor reaches, e.g. hdfs://...)"
        )
    return SparkLocation(base, None, wd, params.get("metastore"), database, conf)


def local_driver_memory(total_bytes: int | None = None) -> str:
    """A quarter of the machine's memory, between 1 and 8 GB, as Spark writes it ("6g")."""
    if total_bytes is None:
        total_bytes = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return f"{min(8, max(1, total_bytes // 4 // 2**30))}g"


def _configured(key: str, conf: dict[str, str]) -> bool:
    """Whether the location or Spark's own spark-defaults.conf already sets `key`."""
    if key in conf:
        return True
    conf_dir = os.environ.get("SPARK_CONF_DIR")
    defaults = Path(conf_dir) / "spark-defaults.conf" if conf_dir else None
    if defaults is None or not defaults.is_file():
        return False
    return any(line.split()[:1] == [key] for line in defaults.read_text().splitlines())


def _local_dir(path: str) -> Path | None:
    """`path` as a local directory, or None for a remote file system (hdfs://, s3a://...)."""
    if path.startswith("file:"):
        return Path(path.removeprefix("file:").removeprefix("//"))
    return None if "://" in path else Path(path)


def session_for(loc: SparkLocation) -> SparkSession:
    """The Spark session for `loc`, reusing this process's session when there is one.

    A JVM holds one Spark session configuration (master, warehouse directory, metastore), so
    a second location in the same process is refused instead of silently ignored.
    """
    from pyspark.sql import SparkSession

    if loc.remote is not None:
        try:
            return SparkSession.builder.remote(loc.remote).getOrCreate()
        except ImportError as exc:
            raise SparkLocationError(
                f"Spark Connect needs pyspark's connect extras: pip install 'pyspark[connect]' "
                f"({exc})"
            ) from None
    # the active session is per thread; the instantiated one is the process's (a server thread)
    active = SparkSession.getActiveSession() or getattr(SparkSession, "_instantiatedSession", None)
    if active is not None:
        _check_same(active, loc)
        return active
    assert loc.master is not None
    assert loc.warehouse_dir is not None
    builder = (
        SparkSession.builder.master(loc.master)
        .appName("revops")
        .config("spark.sql.warehouse.dir", loc.warehouse_dir)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")  # stage bars would garble the CLI's
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.catalogImplementation", "hive")
    )
    local = _local_dir(loc.warehouse_dir)
    if loc.metastore is not None:
        builder = builder.config("spark.hadoop.hive.metastore.uris", loc.metastore)
    elif local is not None:
        local.mkdir(parents=True, exist_ok=True)
        db = local / "metastore_db"
        url = f"jdbc:derby:;databaseName={db};create=true"
        builder = builder.config("spark.hadoop.javax.jdo.option.ConnectionURL", url).config(
            "spark.driver.extraJavaOptions", f"-Dderby.system.home={local}"
        )
    else:
        raise SparkLocationError(
            f"warehouse_dir {loc.warehouse_dir} is not local, so the catalog cannot live "
            "beside it: add ?metastore=thrift://host:9083 (a shared Hive metastore)"
        )
    for key, value in loc.conf.items():
        builder = builder.config(key, value)
    if loc.master.startswith("local") and not _configured("spark.driver.memory", loc.conf):
        builder = builder.config("spark.driver.memory", local_driver_memory())
    os.environ.setdefault("PYSPARK_PYTHON", _python())
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def _python() -> str:
    import sys

    return sys.executable


def _check_same(session: SparkSession, loc: SparkLocation) -> None:
    have = session.conf.get("spark.sql.warehouse.dir") or ""
    want = loc.warehouse_dir or ""
    if _norm(have) != _norm(want):
        raise SparkLocationError(
            f"this process already runs Spark with warehouse {have}; one process serves one "
            f"Spark warehouse, so {want} needs a process of its own"
        )


def _norm(path: str) -> str:
    return path.removeprefix("file:").removeprefix("//").rstrip("/")


def connect(url: str) -> Any:
    """An Ibis PySpark backend on the location's database, created if missing."""
    import ibis

    loc = parse_location(url)
    session = session_for(loc)
    try:
        session.sql(f"CREATE DATABASE IF NOT EXISTS {q(loc.database)}")
    except Exception as exc:
        text = str(exc)
        if "Derby" in text or "metastore" in text.lower():
            raise SparkLocationError(
                f"{url}: the Spark catalog could not be opened (another process may hold the "
                f"embedded metastore of this warehouse): {text.splitlines()[0]}"
            ) from None
        raise
    session.catalog.setCurrentDatabase(loc.database)
    return ibis.pyspark.connect(session)


def q(name: str) -> str:
    """A Spark SQL identifier."""
    return "`" + name.replace("`", "``") + "`"


# -- catalog ----------------------------------------------------------------------------------
def table_names(session: SparkSession) -> set[str]:
    """The tables of the current database (temporary views excluded)."""
    rows = session.sql("SHOW TABLES").collect()
    return {str(r["tableName"]) for r in rows if not r["isTemporary"]}


def columns(session: SparkSession, name: str) -> list[tuple[str, str]]:
    """(column, Spark SQL type) of a table, in stored order."""
    return [(f.name, f.dataType.simpleString()) for f in session.table(name).schema.fields]


def recover(session: SparkSession, present: set[str]) -> set[str]:
    """Finish what a write cut short (see the module docstring); the tables present after.

    A `_revops_old_<t>` without `<t>` is a swap halfway through: the old table goes back. With
    `<t>` present the swap completed and only its cleanup is left. Staging tables are dropped.
    """
    out = set(present)
    for name in sorted(present):
        if name.startswith(OLD):
            live = name.removeprefix(OLD)
            if live in out:
                session.sql(f"DROP TABLE {q(name)}")
            else:
                session.sql(f"ALTER TABLE {q(name)} RENAME TO {q(live)}")
                out.add(live)
            out.discard(name)
        elif name.startswith(NEXT):
            session.sql(f"DROP TABLE {q(name)}")
            out.discard(name)
    return out


MARK_TABLE = "_revops_schema"
MARK = "revops.schema"


def fingerprint(tables: Sequence[Table]) -> str:
    """A digest of the data model's tables, columns and types."""
    import hashlib

    text = ";".join(
        f"{t.name}:" + ",".join(f"{c.name} {c.type}" for c in t.columns) for t in tables
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def schema_mark(session: SparkSession, present: set[str]) -> str | None:
    """The fingerprint of the data model this database's tables were last brought up to."""
    if MARK_TABLE not in present:
        return None
    rows = session.sql(f"SHOW TBLPROPERTIES {q(MARK_TABLE)} ('{MARK}')").collect()
    value = str(rows[0]["value"]) if rows else ""
    return None if "does not have property" in value else value


def set_schema_mark(session: SparkSession, mark: str) -> None:
    session.sql(f"CREATE TABLE IF NOT EXISTS {q(MARK_TABLE)} (version STRING) USING parquet")
    session.sql(f"ALTER TABLE {q(MARK_TABLE)} SET TBLPROPERTIES ('{MARK}' = '{mark}')")


# -- writing ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    """One batch as the Spark writer sees it (a conformed `Batch`)."""

    table: Table
    data: pa.Table
    mode: str
    present: frozenset[str]
    newer: str | None = None


def _no_empty_chunks(data: pa.Table) -> pa.Table:
    """`data` without its empty record batches (no copy).

    PySpark 4.0's `createDataFrame` of an Arrow table loses every row after an empty batch
    that is not the first (2026-12-06, pyspark 4.0.5: chunks of 2, 0 and 2 rows gave 2 rows,
    of 0, 0 and 2 rows none): an Arrow table concatenated from parts, some of them empty (the
    lifecycle's rejections when only its last part has any), would be written short."""
    batches = [b for b in data.to_batches() if b.num_rows]
    return pa.Table.from_batches(batches, schema=data.schema)


@dataclass
class Write:
    """One write in progress: the staged contents of each touched table, swapped in at the end.

    `counts` are returned as (inserted, updated, unchanged) per step.
    """

    session: SparkSession
    counts: bool = True
    current: dict[str, str] = field(default_factory=dict)  # table -> its newest staged copy
    staged: list[str] = field(default_factory=list)
    views: list[str] = field(default_factory=list)
    _seq: Iterator[int] = field(default_factory=itertools.count)

    def sql(self, text: str) -> Any:
        return self.session.sql(text)

    def scalar(self, text: str) -> int:
        return int(self.sql(text).collect()[0][0])

    def apply(self, step: Step) -> tuple[int, int, int]:
        t = step.table
        src = self.current.get(t.name, t.name)
        live = columns(self.session, src)
        have = {c for c, _ in live}
        cols = live + [(c.name, SQL_TYPES[c.type].lower()) for c in t.columns if c.name not in have]
        n = next(self._seq)
        view = f"_revops_in_{n}"
        self.session.createDataFrame(_no_empty_chunks(step.data)).createOrReplaceTempView(view)
        self.views.append(view)
        batch_cols = set(t.column_names)
        typed = ", ".join(
            f"CAST({q(c)} AS {typ}) AS {q(c)}"
            if c in batch_cols
            else f"CAST(NULL AS {typ}) AS {q(c)}"
            for c, typ in cols
        )
        s = f"(SELECT {typed} FROM {q(view)})"
        pk = " AND ".join(f"s.{q(k)} = t.{q(k)}" for k in t.primary_key)
        every = ", ".join(q(c) for c, _ in cols)
        stored = ", ".join(f"t.{q(c)}" for c, _ in cols)
        kept = f"SELECT {stored} FROM {q(src)} t LEFT ANTI JOIN {s} s ON {pk}"
        rows = step.data.num_rows
        keys = set(t.primary_key)

        def pick(c: str) -> str:
            return f"s.{q(c)}" if c in keys or c in step.present else f"t.{q(c)}"

        if step.mode == "replace":
            content, result = f"SELECT {every} FROM {s} s", (rows, 0, 0)
        elif step.mode == "delete":
            gone = self.scalar(f"SELECT count(*) FROM {s} s JOIN {q(src)} t ON {pk}")
            content, result = kept, (0, gone, 0)
        elif step.mode == "append":
            clash = self.scalar(f"SELECT count(*) FROM {s} s JOIN {q(src)} t ON {pk}")
            if clash:
                raise SparkWriteError(
                    f"{t.name}: {clash} row(s) of an append have a primary key already stored"
                )
            content = f"SELECT {every} FROM {q(src)} UNION ALL SELECT {every} FROM {s} s"
            result = (rows, 0, 0)
        elif step.mode == "upsert":
            updated = 0
            if self.counts:
                updated = self.scalar(f"SELECT count(*) FROM {s} s JOIN {q(src)} t ON {pk}")
            new = ", ".join(f"{pick(c)} AS {q(c)}" for c, _ in cols)
            content = f"{kept} UNION ALL SELECT {new} FROM {s} s LEFT JOIN {q(src)} t ON {pk}"
            result = (rows - updated, updated, 0)
        elif step.mode == "merge":
            rest = [c for c in t.column_names if c not in keys and c in step.present]
            differs = " OR ".join(f"NOT (s.{q(c)} <=> t.{q(c)})" for c in rest) or "FALSE"
            change = f"({differs})"
            if step.newer is not None and step.newer in step.present:
                change += f" AND NOT coalesce(s.{q(step.newer)} < t.{q(step.newer)}, FALSE)"
            joined = f"FROM {s} s JOIN {q(src)} t ON {pk}"
            both = self.sql(f"SELECT count(*), count_if({change}) {joined}").collect()[0]
            matched, updated = int(both[0]), int(both[1] or 0)  # one job for both counts
            hit = " AND ".join(f"t.{q(k)} IS NOT NULL" for k in t.primary_key)
            new = ", ".join(
                f"CASE WHEN {hit} AND NOT ({change}) THEN t.{q(c)} ELSE {pick(c)} END AS {q(c)}"
                if c not in keys
                else f"s.{q(c)} AS {q(c)}"
                for c, _ in cols
            )
            content = f"{kept} UNION ALL SELECT {new} FROM {s} s LEFT JOIN {q(src)} t ON {pk}"
            result = (rows - matched, updated, matched - updated)
        else:
            raise SparkWriteError(f"{t.name}: unknown write mode {step.mode!r}")
        target = f"{NEXT}{t.name}_{n}"
        self.sql(f"DROP TABLE IF EXISTS {q(target)}")
        self.staged.append(target)
        self.sql(f"CREATE TABLE {q(target)} USING parquet AS {content}")
        self.current[t.name] = target
        return result

    def swap(self, rename: Callable[[str, str], None] | None = None) -> None:
        """Put every staged table in place of its live one; undo the renames on a failure."""
        move = rename or self._rename
        done: list[tuple[str, str, str, bool]] = []
        try:
            for name, nxt in self.current.items():
                old = f"{OLD}{name}"
                self.sql(f"DROP TABLE IF EXISTS {q(old)}")
                move(name, old)
                done.append((name, old, nxt, False))
                move(nxt, name)
                done[-1] = (name, old, nxt, True)
        except BaseException:
            for name, old, nxt, placed in reversed(done):
                if placed:
                    self._rename(name, nxt)
                self._rename(old, name)
            raise
        for _, old, _, _ in done:
            self.sql(f"DROP TABLE IF EXISTS {q(old)}")
        self.discard()

    def _rename(self, a: str, b: str) -> None:
        self.sql(f"ALTER TABLE {q(a)} RENAME TO {q(b)}")

    def discard(self) -> None:
        """Drop the staging tables and views left (all of them after a failure)."""
        for name in self.staged:
            self.sql(f"DROP TABLE IF EXISTS {q(name)}")
        for view in self.views:
            self.session.catalog.dropTempView(view)
        self.staged, self.views = [], []


class SparkWriteError(RevOpsError, RuntimeError):
    """A Spark write that cannot be applied (a repeated key on append)."""
