"""The Warehouse: the one object that touches a database.

Engines get Ibis tables from it and hand it Arrow tables to store; they never see SQL
connections. The default is an embedded DuckDB file; a `postgresql://` URL points the very same
code at PostgreSQL, and a `spark-local:`, `spark://` or `sc://` location at Apache Spark
(`revops.warehouse.spark`). Writes are atomic: `write_many` stages every batch, then applies them
all in one transaction, so a failure leaves the warehouse exactly as it was (on Spark, which has
no transactions, by staging copies and swapping them in: see `revops.warehouse.spark`).
"""

from __future__ import annotations

import contextlib
import io
import secrets
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, cast
from urllib.parse import unquote, urlparse

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from ibis.backends import BaseBackend

from revops.errors import RevOpsError
from revops.warehouse.pii import PII_KEY_ENV, PiiCipher, cipher_from_env, column_label
from revops.warehouse.schema import TABLES, Column, ColumnType, Table, table
from revops.warehouse.scratch import cache_compressed
from revops.warehouse.spark import SQL_TYPES as SPARK_TYPES
from revops.warehouse.spark import is_spark_url
from revops.warehouse.sql import ident, literal
from revops.warehouse.stage import Stage, staging

DEFAULT_URL = "out/revops.duckdb"
_SCHEMA_LOCK = 0x7265766F7073  # "revops": the advisory lock serializing schema creation
_PER_FILE_FROM = 8  # staged files from which new rows are inserted a file at a time
_ANALYZE_FROM = 10_000  # rows a write changes in a table from which PostgreSQL re-reads its stats
WriteMode = Literal["upsert", "merge", "append", "replace", "delete"]
Backend = Literal["duckdb", "postgres", "spark"]
# the sqlglot/Ibis dialect each backend compiles to
DIALECTS: dict[str, str] = {"duckdb": "duckdb", "postgres": "postgres", "spark": "pyspark"}

_SQL_TYPES = {
    "duckdb": {
        "string": "VARCHAR",
        "int": "BIGINT",
        "float": "DOUBLE",
        "bool": "BOOLEAN",
        "date": "DATE",
        "timestamp": "TIMESTAMP",
    },
    "postgres": {
        "string": "TEXT",
        "int": "BIGINT",
        "float": "DOUBLE PRECISION",
        "bool": "BOOLEAN",
        "date": "DATE",
        "timestamp": "TIMESTAMP",
    },
    "spark": SPARK_TYPES,
}

ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
}


class WarehouseError(RevOpsError, RuntimeError):
    """A warehouse operation failed; nothing was written."""


@dataclass(frozen=True)
class WriteResult:
    inserted: int
    updated: int
    unchanged: int = 0  # `merge` only: rows equal to the stored ones, or older than them


@dataclass(frozen=True)
class Batch:
    """Rows for one table and how to apply them."""

    table: str
    data: pa.Table
    mode: WriteMode = "upsert"
    # columns of `data` beyond the data model to store as custom columns (created if missing)
    custom: tuple[str, ...] = ()
    # `merge` only: a timestamp column (a delta export's Last Modified Date) such that a row
    # older than the stored one is left alone, so an out-of-order delta never rolls a record back
    newer: str | None = None
    # the caller has already made the primary keys unique (ingestion reports repeats), so the
    # write skips its own last-row-per-key pass, a hash of every key
    unique_keys: bool = False
    # `merge` or `replace` only: the rows are in this stage (`Warehouse.stage`), not in `data`,
    # which is then an empty table of their columns (what write hooks see: a hook that reads a
    # table's rows must not be given a staged batch of it, see `Warehouse.hooks_read`)
    stage: Stage | None = None


def arrow_schema(t: Table) -> pa.Schema:
    """The Arrow schema of a canonical table, in declared column order."""
    return pa.schema([pa.field(c.name, ARROW_TYPES[c.type]) for c in t.columns])


class Warehouse:
    """One Ibis connection plus the canonical tables on it."""

    def __init__(self, con: BaseBackend, url: str) -> None:
        self.con = con
        self.url = url
        names: dict[str, Backend] = {"postgres": "postgres", "pyspark": "spark"}
        self.backend: Backend = names.get(con.name, "duckdb")
        self.pii: PiiCipher | None = None  # set by `enable_pii` once the key is verified
        self._pii_udfs: dict[str, dict[str, Callable[..., Any]]] = {}
        # `revops.audit.audited`: batches added to the next write, so an engine's change and
        # the audit entry about it commit in one transaction (see `write_many`)
        self.audit_hook: Callable[[Sequence[Batch]], list[Batch]] | None = None
        # standing hooks (the automation outbox): each sees every write's batches and may add
        # batches to it, so events commit in the same transaction as the change behind them
        self.write_hooks: list[Callable[[Sequence[Batch]], list[Batch]]] = []
        self.written: set[str] = set()  # tables this connection wrote to (test clean-up)
        if self.backend == "duckdb":
            cache_compressed(con)

    # -- connecting ---------------------------------------------------------------------------
    @classmethod
    def connect(
        cls, url: str | Path = DEFAULT_URL, *, create: bool = True, pii_from_env: bool = True
    ) -> Warehouse:
        """Open a warehouse from a file path, `duckdb://path`, `:memory:`, `postgresql://…` or a
        Spark location (`spark-local:/dir`, `spark://host:7077?warehouse_dir=…`, `sc://host`).

        With REVOPS_PII_KEY set its PII columns are encrypted (see `revops.warehouse.pii`);
        `pii_from_env=False` ignores the variable, to read a plaintext warehouse while copying
        it into an encrypted one (`revops.privacy.encrypt_copy`).
        """
        text = str(url)
        cipher = cipher_from_env() if pii_from_env else None
        if text.startswith(("postgresql://", "postgres://")):
            if cipher is not None:
                raise WarehouseError(
                    f"{PII_KEY_ENV} is set, but PII column encryption needs Python UDFs to "
                    "decrypt inside queries, which PostgreSQL cannot run; unset it and encrypt "
                    "PostgreSQL at rest with the server's own means (pgcrypto for columns, or "
                    "disk/TDE encryption such as an encrypted volume)"
                )
            parts = urlparse(text)
            con = ibis.postgres.connect(
                host=parts.hostname or "127.0.0.1",
                port=parts.port or 5432,
                user=unquote(parts.username) if parts.username else "postgres",
                password=unquote(parts.password) if parts.password else None,
                database=parts.path.lstrip("/") or "postgres",
            )
        elif is_spark_url(text):
            if cipher is not None:
                raise WarehouseError(
                    f"{PII_KEY_ENV} is set, but PII column encryption is not supported on Spark; "
                    "unset it and encrypt the warehouse storage with the cluster's own means"
                )
            from revops.warehouse import spark

            con = spark.connect(text)
        else:
            path = text.removeprefix("duckdb://")
            if path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            # DuckDB's own memory_limit (80% of RAM) is kept, and its temp_directory (spills go
            # to `<file>.tmp` beside the warehouse). Measured on the 10x demo (800 MB file,
            # 2026-12-05): the lifecycle, pipeline, quality, revenue and metrics steps run in
            # one process left 72-203 MB of cached table blocks in its buffer pool; each step
            # alone held at most 650 MB of query memory (bench/scale.py shows it per step), and
            # a budget below a step's need fails it rather than spilling: the quality
            # scorecard's exact distinct counts fail under 256 MB at 10x, and grow with data.
            try:
                con = ibis.duckdb.connect(path)
            except Exception as exc:  # duckdb.IOException: another process holds the file
                if "lock" not in str(exc).lower():
                    raise
                raise WarehouseError(
                    f"{path} is in use by another process (a running `revops serve`, or "
                    "another command); wait for it or stop it (a key can be revoked on a "
                    "running server with DELETE /keys/{key_id})"
                ) from None
            # A query's freed memory stays in DuckDB's allocator (jemalloc) until something
            # purges it; its background threads return it to the system as the query ends.
            # Measured 2026-12-06 (bench/scale.py, each step's own growth, main -> this): at
            # 10x the revenue step 194/190 -> 166/169 MB, quality 311/327 -> 276/285, forecast
            # 302/314 -> 299/299, every other step within the runs' noise; at 1x no step grew
            # by more than 3 MB. It is process-wide (a GLOBAL setting): every DuckDB connection
            # of the process shares it.
            con.con.execute("SET allocator_background_threads = true")
        wh = cls(con, text)
        try:
            if create:
                wh.ensure_schema()
            wh._check_pii_key(cipher)
        except BaseException:
            wh.close()
            raise
        return wh

    # -- PII encryption (see revops.warehouse.pii) --------------------------------------------
    def _stored_key_checks(self) -> set[str]:
        if "pii_keys" not in self._existing_columns():
            return set()
        return {str(r[0]) for r in self.sql('SELECT key_check FROM "pii_keys"')}

    def _check_pii_key(self, cipher: PiiCipher | None) -> None:
        """Turn PII mode on when the key matches the one the warehouse was encrypted with.

        A warehouse without a registered key but with PII values already stored in clear is
        refused: mixing plaintext and ciphertext in one column would break equality, and
        encrypting in place would leave the old plaintext in freed file blocks.
        """
        stored = self._stored_key_checks()
        if cipher is None:
            if stored:
                raise WarehouseError(
                    f"this warehouse holds encrypted PII columns; set {PII_KEY_ENV} to the key "
                    "it was encrypted with to open it"
                )
            return
        if stored and cipher.key_check not in stored:
            raise WarehouseError(
                f"{PII_KEY_ENV} is not the key this warehouse's PII columns were encrypted with"
            )
        if not stored:
            if self._has_plaintext_pii():
                raise WarehouseError(
                    f"{PII_KEY_ENV} is set, but this warehouse already holds PII in clear; "
                    "enable PII encryption on a new warehouse and load the data into it "
                    "(or unset the key)"
                )
            if "pii_keys" not in self._existing_columns():  # opened with create=False
                raise WarehouseError(
                    f"{PII_KEY_ENV} is set, but this warehouse has no pii_keys table to register "
                    "the key in; open it once with schema creation (the default)"
                )
            now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
            with self.transaction() as run:
                run(
                    'INSERT INTO "pii_keys" (key_check, created_at) VALUES '
                    f"('{cipher.key_check}', TIMESTAMP '{now}')"
                )
        self.enable_pii(cipher)

    def _has_plaintext_pii(self) -> bool:
        present = self._existing_columns()
        for t in TABLES:
            cols = [c.name for c in t.columns if c.pii and c.name in present.get(t.name, ())]
            if cols:
                cond = " OR ".join(f"{ident(c)} IS NOT NULL" for c in cols)
                if self.sql(f"SELECT 1 FROM {ident(t.name)} WHERE {cond} LIMIT 1"):
                    return True
        return False

    def enable_pii(self, cipher: PiiCipher) -> None:
        """Encrypt PII columns on write and decrypt them in `table()` from now on.

        One vectorized Arrow UDF per PII column (the column is the associated data), registered
        on the DuckDB connection up front so SQL compiled from these expressions (the metric
        layer runs `ibis.to_sql` text) finds them too. The key lives only in the UDF's closure.
        """
        self.pii = cipher
        self._pii_udfs = {}
        for t in TABLES:
            for col in t.columns:
                if col.pii:
                    label = column_label(t.name, col.name)
                    udf = _decrypting_udf(cipher, label)
                    self._pii_udfs.setdefault(t.name, {})[col.name] = udf
        self._register_pii_udfs()

    def _register_pii_udfs(self) -> None:
        import duckdb

        raw = self.con.con
        for udfs in self._pii_udfs.values():
            for udf in udfs.values():
                node = udf(ibis.literal("x")).op()
                fn_name = type(node).__name__
                with contextlib.suppress(duckdb.InvalidInputException):  # not registered yet
                    raw.remove_function(fn_name)
                raw.create_function(fn_name, node.__func__, ["VARCHAR"], "VARCHAR", type="arrow")

    def sibling(self) -> Warehouse:
        """A second connection to this same DuckDB database, for another thread.

        One DuckDB connection runs one statement at a time and holds one transaction, so two
        threads cannot share it; connections of one process to one database file run their
        queries side by side (each in its own transaction) and DuckDB releases the GIL while
        they run. The sibling decrypts PII as this one does; write hooks are the caller's to
        install, since a hook reads through the warehouse it was made for.
        """
        if self.backend != "duckdb":
            raise WarehouseError(f"a sibling connection is for DuckDB, not {self.backend}")
        con = self.con.con.cursor()
        other = Warehouse(ibis.duckdb.from_connection(con), self.url)
        other.pii, other._pii_udfs = self.pii, self._pii_udfs
        other._register_pii_udfs()
        return other

    @property
    def dialect(self) -> str:
        """The SQL dialect Ibis compiles to for this warehouse (`ibis.to_sql(dialect=...)`)."""
        return DIALECTS[self.backend]

    @property
    def spark(self) -> Any:
        """The SparkSession of a Spark warehouse (admin work and tests)."""
        return self.con._session

    def close(self) -> None:
        # Tables still cached (`cache`) are dropped now: Ibis drops one when its expression is
        # garbage-collected, which may be after the connection closed (an error in a finalizer).
        for name in list(getattr(self.con, "_cache_name_to_entry", {})):
            self.con._finalize_cached_table(name)
        # A Spark session is the process's one JVM-side session: stopping it here would make
        # the next RevOps.open in this process pay Spark's start-up again, so it lives on.
        if self.backend != "spark":
            self.con.disconnect()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- DDL ----------------------------------------------------------------------------------
    def ddl(self, t: Table, name: str | None = None, *, temporary: bool = False) -> str:
        types = _SQL_TYPES[self.backend]
        if self.backend == "spark":  # no keys, no temporary tables: Parquet-backed catalog tables
            from revops.warehouse.spark import q

            cols = [f"{q(c.name)} {types[c.type]}" for c in t.columns]
            return (
                f"CREATE TABLE IF NOT EXISTS {q(name or t.name)} ({', '.join(cols)}) USING parquet"
            )
        cols = [f"{ident(c.name)} {types[c.type]}" for c in t.columns]
        if not temporary:
            cols.append(f"PRIMARY KEY ({', '.join(ident(k) for k in t.primary_key)})")
        kind = "TEMPORARY TABLE" if temporary else "TABLE"
        return f"CREATE {kind} IF NOT EXISTS {ident(name or t.name)} ({', '.join(cols)})"

    def ensure_schema(self) -> None:
        """Create every canonical table that does not exist yet, and add the columns the data
        model gained since a table was created, so a warehouse built by an older revops keeps
        loading and querying instead of failing on a missing column."""
        if self.backend == "spark":
            self._ensure_spark_schema()
            return
        present = self._existing_columns()
        if all(c.name in present.get(t.name, ()) for t in TABLES for c in t.columns):
            return
        types = _SQL_TYPES[self.backend]
        with self.transaction() as run:
            if self.backend == "postgres":
                # Two first loads racing would both see no table and both create it; the
                # loser fails on the catalog's unique index. Creation is serialized by a
                # transaction-scoped lock, and what exists is read again under it.
                run(f"SELECT pg_advisory_xact_lock({_SCHEMA_LOCK})")
                present = self._existing_columns(run)
            for t in TABLES:
                if t.name not in present:
                    run(self.ddl(t))
                    continue
                for col in t.columns:
                    if col.name not in present[t.name]:
                        add = f"ADD COLUMN {ident(col.name)} {types[col.type]}"
                        run(f"ALTER TABLE {ident(t.name)} {add}")

    def _ensure_spark_schema(self) -> None:
        """Spark: finish an interrupted write's swap first, then create and widen tables.

        Reading every table's columns costs a metastore round trip per table (seconds for the
        whole model), so the data model's fingerprint is kept as a table property and the
        columns are only read when it changed.
        """
        from revops.warehouse import spark

        session = self.spark
        present = spark.recover(session, spark.table_names(session))
        fingerprint = spark.fingerprint(TABLES)
        if {t.name for t in TABLES} <= present and spark.schema_mark(session, present) == (
            fingerprint
        ):
            return
        for t in TABLES:
            if t.name not in present:
                session.sql(self.ddl(t))
                continue
            have = {c for c, _ in spark.columns(session, t.name)}
            missing = [c for c in t.columns if c.name not in have]
            if missing:
                cols = ", ".join(f"{spark.q(c.name)} {spark.SQL_TYPES[c.type]}" for c in missing)
                session.sql(f"ALTER TABLE {spark.q(t.name)} ADD COLUMNS ({cols})")
        spark.set_schema_mark(session, fingerprint)

    def columns(self) -> dict[str, set[str]]:
        """The columns of every table in the warehouse, by table (custom columns included)."""
        return self._existing_columns()

    def enforced_key(self, name: str) -> tuple[str, ...]:
        """The columns of the primary key the database enforces on table `name` (so their
        values are never NULL and never repeat), sorted; () for a table without one, and on
        Spark, which enforces no key. Read from the catalog, not assumed from the data model,
        so a table made some other way is not trusted to be unique."""
        if self.backend == "spark":
            return ()
        query = (
            "SELECT k.column_name FROM information_schema.table_constraints c "
            "JOIN information_schema.key_column_usage k ON k.constraint_name = c.constraint_name "
            "AND k.table_schema = c.table_schema AND k.table_name = c.table_name "
            "WHERE c.constraint_type = 'PRIMARY KEY' AND c.table_schema = current_schema() "
            f"AND c.table_name = {literal(name)}"
        )
        return tuple(sorted(str(column) for (column,) in self.sql(query)))

    def _existing_columns(self, run: Any = None) -> dict[str, set[str]]:
        if self.backend == "spark":
            from revops.warehouse import spark

            names = spark.table_names(self.spark)
            return {n: {c for c, _ in spark.columns(self.spark, n)} for n in names}
        query = (
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_catalog = current_database() AND table_schema = current_schema()"
        )
        rows = run(query).fetchall() if run is not None else self.sql(query)
        out: dict[str, set[str]] = {}
        for name, column in rows:
            out.setdefault(str(name), set()).add(str(column))
        return out

    # -- reading ------------------------------------------------------------------------------
    def table(self, name: str) -> ibis.Table:
        """The Ibis table for a canonical (or derived) table; PII columns come decrypted."""
        t = self.con.table(name)
        udfs = self._pii_udfs.get(name)
        if not udfs:
            return t
        return t.mutate(**{c: udf(t[c]) for c, udf in udfs.items() if c in t.columns})

    def execute(self, expr: ibis.Expr) -> Any:
        return self.con.execute(expr)

    def cache(self, expr: ibis.Table) -> ibis.Table:
        """`expr` computed once into a table (Ibis' cache, which DuckDB, PostgreSQL and Spark
        each implement), for a result many later queries read; it is dropped when the returned
        table is garbage-collected or the warehouse closes. PostgreSQL keeps it as a temporary
        table of the connection, Spark as a cached temporary view of the session, DuckDB in an
        attached in-memory database shared by the instance's connections, compressed
        (`revops.warehouse.scratch`)."""
        return expr.cache()

    def to_arrow(self, expr: ibis.Table) -> pa.Table:
        return self.con.to_pyarrow(expr)

    def to_arrow_streamed(self, expr: ibis.Table, rows: int = 100_000) -> pa.Table:
        """`to_arrow`, on DuckDB read as a stream of record batches of up to `rows` rows: its
        `to_arrow` materializes the whole result, then copies it into Arrow, so a large result
        is held twice; streamed, only the Arrow table grows (attribution's 211k credit rows at
        10x: +53 MB against +92 MB, 2026-12-06). The same rows in the same order. Elsewhere
        plain `to_arrow` (Ibis builds PostgreSQL's batches from Python tuples, and Spark's
        from its whole result)."""
        if self.backend != "duckdb":
            return self.to_arrow(expr)
        return self.con.to_pyarrow_batches(expr, chunk_size=rows).read_all()

    def count(self, name: str) -> int:
        return int(self.con.execute(self.table(name).count()))

    def sql(self, query: str) -> list[tuple[Any, ...]]:
        """Run one SQL statement and return its rows (for admin work and baselines only).

        Statements are written in the DuckDB/PostgreSQL dialect with double-quoted identifiers;
        on Spark they are translated (sqlglot) first, since Spark SQL reads "x" as a string.
        """
        if self.backend == "spark":
            import sqlglot

            text = sqlglot.transpile(query, read="duckdb", write="spark")[0]
            return [tuple(r) for r in self.spark.sql(text).collect()]
        cur = self.con.raw_sql(query)
        try:
            return list(cur.fetchall())
        finally:
            if self.backend == "postgres":
                cur.close()

    # -- transactions -------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """Yield a `run(sql)` callable whose statements commit together or not at all."""
        if self.backend == "spark":
            raise WarehouseError(
                "Spark has no transactions; this command needs a DuckDB or PostgreSQL "
                "warehouse (docs/spark.md lists what runs on Spark)"
            )
        if self.backend == "duckdb":
            raw = self.con.con
            raw.execute("BEGIN TRANSACTION")
            try:
                yield lambda q: raw.execute(q)
            except BaseException:
                raw.execute("ROLLBACK")
                raise
            raw.execute("COMMIT")
        else:
            pg = self.con.con
            with pg.transaction(), pg.cursor() as cur:
                yield lambda q: cur.execute(q)

    # -- writing ------------------------------------------------------------------------------
    @contextmanager
    def stage(self, name: str, custom: tuple[str, ...] = ()) -> Iterator[Stage]:
        """A `Stage` for rows of table `name` that a later `merge` Batch (`stage=`) writes:
        each slice appended is conformed as a batch is (PII encrypted) and spooled to disk, so
        a big load holds one slice in memory. Its keys must be unique when it is written
        (`Stage.repeated`, `Stage.drop`). Not on Spark, whose writes stage whole tables."""
        if self.backend == "spark":
            raise WarehouseError("a staged write is for DuckDB and PostgreSQL, not Spark")

        def shape_of(data: pa.Table) -> Table:
            return with_custom(table(name), data, custom)

        def conform(t: Table, data: pa.Table) -> pa.Table:
            return self._conform(t, data, unique=True)

        # PII stored in clear is sealed in the stage's files all the same (`Stage.sealed`)
        clear = () if self.pii is not None else tuple(c.name for c in table(name).columns if c.pii)
        with staging(name, conform, shape_of, self._stage_folder(), clear) as staged:
            try:
                yield staged
            finally:
                self._drop_copy(staged)

    def staged_table(self, staged: Stage) -> ibis.Table:
        """The staged rows' columns that the write sets (`Stage.present`) as an Ibis table, so
        a write hook can query them beside the stored tables (`automation.sources.overlaid`):
        DuckDB reads the stage's files in place; PostgreSQL, which reads no files, a temporary
        table they are COPYed into a file at a time (`_copied`), from which the write then
        merges too. Not its sealed columns (PII in clear, which the files hold under the
        stage's own key), nor on Spark, which has no stage."""
        if self.backend == "spark":
            raise WarehouseError("a staged table is read on DuckDB or PostgreSQL, not Spark")
        shape = staged.shape or table(staged.table)
        columns = [c for c in shape.column_names if c in staged.present]
        if set(columns) & set(staged.sealed):
            raise WarehouseError(f"{staged.table}: a hook cannot read sealed staged columns")
        if not staged.files:  # read_parquet refuses an empty list of files
            return ibis.memtable(arrow_schema(shape).empty_table().select(columns))
        if self.backend == "postgres":
            return self.con.table(self._copied(staged)).select(*columns)
        cols = ", ".join(ident(c) for c in columns)
        return self.con.sql(f"SELECT {cols} FROM read_parquet({staged.sql_files()})")

    def _copied(self, staged: Stage) -> str:
        """PostgreSQL: the temporary table holding `staged`'s rows as its files hold them now,
        COPYed a file at a time (one file's rows in memory) on first use; dropped with the
        stage (`stage`). Outside the write's transaction, as a hook runs before it: a temporary
        table is the session's own, and the write only reads it."""
        if (copy := staged.copy_table()) is not None:
            return copy
        self._drop_copy(staged)
        assert staged.shape is not None  # set by the first slice; a stage with files has one
        name = f"_revops_staged_{staged.table}_{secrets.token_hex(4)}"
        with self.transaction() as run:
            run(self.ddl(staged.shape, name, temporary=True))
            for part in staged.batches():
                self._copy(name, staged.shape, part)
        staged.copied = (name, tuple(staged.files))
        return name

    def _drop_copy(self, staged: Stage) -> None:
        """Drop the temporary table `_copied` made of `staged`, if any. A failure is left
        alone: the table goes with the session anyway, and the error that ended the stage is
        the one to report."""
        if staged.copied is None:
            return
        name, staged.copied = staged.copied[0], None
        with contextlib.suppress(Exception):
            self.con.con.execute(f"DROP TABLE IF EXISTS {ident(name)}")

    def hooks_read(self, name: str) -> bool:
        """Whether a write hook may read the rows written to table `name` (a staged batch
        has none in `Batch.data`): the audit hook of an audited write reads every batch, a
        standing hook the tables its `reads` names (every table when it names none)."""
        if self.audit_hook is not None:
            return True
        return any(name in getattr(hook, "reads", {name}) for hook in self.write_hooks)

    def may_stage(self, *names: str) -> bool:
        """Whether a write of tables `names` may hand them over staged (`Batch.stage`, rows on
        disk): not on Spark (no stage), nor in an audited write (its hook reads every batch's
        rows), and every write hook that reads any of them reads a staged batch through
        `Warehouse.staged_table` (`reads_stages`: the automation outbox) rather than its rows
        in `Batch.data`."""
        if self.backend == "spark" or self.audit_hook is not None:
            return False
        return all(
            getattr(hook, "reads_stages", False)
            or not any(name in getattr(hook, "reads", names) for name in names)
            for hook in self.write_hooks
        )

    def _stage_folder(self) -> Path | None:
        """Where a stage's files go: beside a DuckDB file (the disk that holds the data, where
        DuckDB spills too), else the system's temporary folder (TMPDIR), which may be memory
        (tmpfs) on some systems and would then hold the rows in RAM after all."""
        path = self.url.removeprefix("duckdb://")
        if self.backend != "duckdb" or path == ":memory:":
            return None
        return Path(path).resolve().parent

    def write(self, name: str, data: pa.Table, mode: WriteMode = "upsert") -> WriteResult:
        """Write one table atomically; see `write_many`."""
        return self.write_many([Batch(name, data, mode)])[0]

    def write_many(
        self,
        batches: Sequence[Batch],
        *,
        counts: bool = True,
        then: Callable[[list[WriteResult]], Sequence[Batch]] | None = None,
    ) -> list[WriteResult]:
        """Apply several batches in one transaction: all land, or none does.

        `upsert` inserts new primary keys and replaces the rows of existing ones (the last row
        of a key wins when a batch repeats it); `append` inserts only; `replace` empties the
        table first; `delete` removes the stored rows whose keys the batch holds (its count is
        returned as `updated`). Columns missing from `data` are NULL in new rows and left as
        they were in existing rows, so an export that lacks an optional column never erases
        stored values. `merge` is an upsert that rewrites only the stored rows whose values
        differ (and are not newer, see `Batch.newer`) and counts the rest as unchanged:
        reloading an unchanged export changes nothing, and it is faster, as most rows of a
        reload are not touched.

        Telling inserted from updated rows of an upsert costs a join of the batch with the
        whole table; a caller that ignores the split (the intake API's applier, every 100 ms)
        passes `counts=False` and gets every written row counted as inserted.

        `then` builds more batches from the results, applied in the same transaction: a log
        row that must state what the write did (load_log) is exact, not a prediction.
        """
        hook, self.audit_hook = self.audit_hook, None
        if hook is not None:
            batches = [*batches, *hook(batches)]
        for standing in self.write_hooks:
            batches = [*batches, *standing(batches)]
        shapes = [_shape(b) for b in batches]
        staged = [
            (
                b,
                t,
                b.data if b.stage is not None else self._conform(t, b.data, unique=b.unique_keys),
            )
            for b, t in zip(batches, shapes, strict=True)
        ]
        if self.backend == "spark" and any(b.stage is not None for b in batches):
            raise WarehouseError("a staged write is for DuckDB and PostgreSQL, not Spark")
        if any(b.stage is not None and b.mode not in ("merge", "replace") for b in batches):
            raise WarehouseError("a staged batch is written by `merge` or `replace` only")
        results: list[WriteResult] = []
        self.written.update(b.table for b in batches)
        try:
            if self.backend == "spark":
                results = self._write_spark(staged, counts, then)
            else:
                self._write_sql(staged, counts, then, results)
                self._analyze(
                    {b.table for b, r in zip(batches, results, strict=False) if _changed_much(b, r)}
                )
        except WarehouseError:
            raise
        except Exception as exc:
            raise WarehouseError(f"write failed, nothing was changed: {exc}") from exc
        audit = [b.data for b in batches if b.table == "audit_log" and b.data.num_rows]
        if audit:  # keep the chain's head outside the warehouse too (revops.audit.anchor)
            from revops.audit.anchor import anchor_head

            last = audit[-1].slice(audit[-1].num_rows - 1).to_pylist()[0]
            anchor_head(self.url, int(last["seq"]), str(last["hash"]))
        return results

    def replace_where(
        self,
        name: str,
        drop: Callable[[ibis.Table], ir.BooleanValue],
        queries: Sequence[ibis.Table],
    ) -> int:
        """Replace the stored rows of table `name` that `drop` selects (a condition on the
        table) by the rows the `queries` compute, in one transaction; returns the rows
        inserted. Each query gives the table's columns by name (a column it lacks is NULL),
        and their primary keys must be unique among themselves and the rows kept.

        For results as large as the data that the warehouse computes from its own tables
        (attribution's credits per touch, 211k rows at 10x demo scale; the pipeline's stage
        changes): on DuckDB and PostgreSQL they are computed and inserted inside the database,
        with no row passing through Python, where `write_many` would take them as Arrow read
        out of the same warehouse. A repeated key then fails on the table's key, and nothing
        changes. Where a write hook reads the table's rows (`hooks_read`), the table has PII
        columns (stored sealed, which a query cannot do) or the warehouse is Spark, the rows
        are read out and written by `write_many` as one `replace`. No query may read the table
        itself: in place, it is emptied before they run."""
        t = table(name)
        read = {r.name for q in queries for r in q.op().find(ops.PhysicalTable)}
        if name in read:  # the kept rows are set aside and the table emptied before the queries
            raise WarehouseError(f"{name}: rows replacing some of its own are read from it")
        types = ibis.Schema.from_pyarrow(arrow_schema(t))
        shaped = [
            q.select(
                *(
                    (q[c] if c in q.columns else ibis.null()).cast(types[c]).name(c)
                    for c in t.column_names
                )
            )
            for q in queries
        ]
        pii = any(c.pii for c in t.columns)
        if self.backend != "spark" and not self.hooks_read(name) and not pii:
            return self._replace_in_place(t, drop, shaped)
        stored, schema = self.table(name), arrow_schema(t)
        kept = stored.filter(~drop(stored)).select(*t.column_names)
        # not streamed: DuckDB types a literal cast to its own type by the value
        # (`CAST(30 AS BIGINT)` compiles to `30`, an INTEGER) and a stream's batches must
        # match Ibis' schema; `to_arrow` casts the whole result to it
        parts = [self.to_arrow(q) for q in (kept, *shaped)]
        rows = pa.concat_tables([pa.Table.from_arrays(p.columns, schema=schema) for p in parts])
        self.write_many([Batch(name, rows, "replace", unique_keys=True)])
        return rows.num_rows - parts[0].num_rows

    def _replace_in_place(
        self, t: Table, drop: Callable[[ibis.Table], ir.BooleanValue], shaped: list[ibis.Table]
    ) -> int:
        """`replace_where` inside DuckDB or PostgreSQL: the kept rows copied aside, the table
        emptied (`_empty`), then one INSERT of the kept rows and every query's."""
        stored = self.con.table(t.name)
        kept = stored.filter(~drop(stored)).select(*t.column_names)
        for expr in (kept, *shaped):  # memtables are registered outside the transaction
            self.con._run_pre_execute_hooks(expr)
        cols = ", ".join(ident(c) for c in t.column_names)
        keep = ident(f"_revops_kept_{t.name}")
        sources = [keep, *(f"({self.con.compile(q)}) AS q{i}" for i, q in enumerate(shaped))]
        self.written.add(t.name)
        try:
            with self.transaction() as run:
                run(f"CREATE TEMPORARY TABLE {keep} AS {self.con.compile(kept)}")
                before = self._scalar(run, f"SELECT count(*) FROM {keep}")
                self._empty(run, t)
                # one INSERT: DuckDB 1.4 mishandles several into a table re-created in the same
                # transaction (see `_insert_per_file`)
                union = " UNION ALL ".join(f"SELECT {cols} FROM {s}" for s in sources)
                run(f"INSERT INTO {ident(t.name)} ({cols}) {union}")
                run(f"DROP TABLE {keep}")
                added = self._scalar(run, f"SELECT count(*) FROM {ident(t.name)}") - before
        except Exception as exc:
            raise WarehouseError(f"write failed, nothing was changed: {exc}") from exc
        self._analyze({t.name})
        return added

    def _analyze(self, names: Collection[str]) -> None:
        """PostgreSQL: `ANALYZE` tables a committed write changed much, so the next queries
        are planned on their new rows. Autovacuum does it in its own time (and not at all
        where it is off, as on this project's CI machines): at 10x demo scale the lead desk
        ran over 4 minutes on the statistics of the lifecycle history as it was before the
        lifecycle rewrote it, 85 s after an ANALYZE of 0.25 s. A failure (a user who may write
        but does not own the table) is left alone: the write has committed, and statistics
        only speed queries up."""
        if self.backend != "postgres":
            return
        for name in sorted(names):
            with contextlib.suppress(Exception):
                self.con.con.execute(f"ANALYZE {ident(name)}")

    def _write_sql(
        self,
        staged: list[tuple[Batch, Table, pa.Table]],
        counts: bool,
        then: Callable[[list[WriteResult]], Sequence[Batch]] | None,
        results: list[WriteResult],
    ) -> None:
        """DuckDB and PostgreSQL: every batch in one database transaction."""
        with self.transaction() as run:
            for i, (batch, t, data) in enumerate(staged):
                present = frozenset(batch.data.column_names)
                if batch.stage is not None:
                    present = batch.stage.present
                self._add_custom(run, t)
                if batch.mode == "merge":
                    results.append(self._merge(run, t, data, i, present, batch.newer, batch.stage))
                elif batch.stage is not None:
                    results.append(self._replace_staged(run, t, data, i, batch.stage))
                else:
                    results.append(self._apply(run, t, data, batch.mode, i, present, counts))
            for j, batch in enumerate(then(list(results)) if then else (), len(staged)):
                t = with_custom(table(batch.table), batch.data, batch.custom)
                data = self._conform(t, batch.data)
                present = frozenset(batch.data.column_names)
                self._add_custom(run, t)
                results.append(self._apply(run, t, data, batch.mode, j, present, counts))

    def _write_spark(
        self,
        staged: list[tuple[Batch, Table, pa.Table]],
        counts: bool,
        then: Callable[[list[WriteResult]], Sequence[Batch]] | None,
    ) -> list[WriteResult]:
        """Spark: stage every batch's table as a copy, then swap the copies in (see
        `revops.warehouse.spark`); a failure before the swap leaves every table as it was."""
        from revops.warehouse import spark

        def step(batch: Batch, t: Table, data: pa.Table) -> spark.Step:
            present = frozenset(batch.data.column_names)
            return spark.Step(t, data, batch.mode, present, batch.newer)

        write = spark.Write(self.spark, counts)
        try:
            results = [WriteResult(*write.apply(step(*s))) for s in staged]
            for batch in then(list(results)) if then else ():
                t = with_custom(table(batch.table), batch.data, batch.custom)
                data = self._conform(t, batch.data)
                results.append(WriteResult(*write.apply(step(batch, t, data))))
            write.swap()
        except spark.SparkWriteError as exc:
            write.discard()
            raise WarehouseError(f"write failed, nothing was changed: {exc}") from None
        except BaseException:
            write.discard()
            raise
        return results

    def _add_custom(self, run: Any, t: Table) -> None:
        """Create the custom columns (beyond the data model) a batch brings, inside its write."""
        canonical = set(table(t.name).column_names)
        types = _SQL_TYPES[self.backend]
        for col in t.columns:
            if col.name not in canonical:
                add = f"ADD COLUMN IF NOT EXISTS {ident(col.name)} {types[col.type]}"
                run(f"ALTER TABLE {ident(t.name)} {add}")

    def _conform(self, t: Table, data: pa.Table, *, unique: bool = False) -> pa.Table:
        """Cast to the canonical schema, adding missing columns as nulls, dropping repeats
        (unless the caller says its keys are `unique`)."""
        arrays = []
        for col in t.columns:
            typ = ARROW_TYPES[col.type]
            if col.name in data.column_names:
                arrays.append(data.column(col.name).cast(typ))
            else:
                arrays.append(pa.nulls(data.num_rows, typ))
        out = pa.Table.from_arrays(arrays, schema=arrow_schema(t))
        if not unique:
            out = _last_per_key(out, t.primary_key)
        if self.pii is not None:  # before staging: plaintext never reaches the database
            for i, col in enumerate(t.columns):
                if col.pii:
                    label = column_label(t.name, col.name)
                    enc = self.pii.encrypt_column(out.column(i), label)
                    out = out.set_column(i, col.name, enc)
        return out

    def _apply(
        self,
        run: Any,
        t: Table,
        data: pa.Table,
        mode: WriteMode,
        i: int,
        present: frozenset[str],
        counts: bool = True,
    ) -> WriteResult:
        with self._staged(run, t, f"_revops_stage_{t.name}_{i}", data) as stage:
            if mode == "delete":  # rows whose primary key is in the batch are removed
                pk = _key_match(t)
                gone = self._scalar(
                    run, f"SELECT count(*) FROM {ident(stage)} s JOIN {ident(t.name)} t ON {pk}"
                )
                match = f"SELECT 1 FROM {ident(stage)} s WHERE {pk}"
                run(f"DELETE FROM {ident(t.name)} t WHERE EXISTS ({match})")
                return WriteResult(inserted=0, updated=gone)
            if mode == "upsert" and self.backend == "duckdb":
                return self._update_then_insert(run, t, stage, data.num_rows, present, counts)
            if mode == "replace":
                self._empty(run, t)
                updated = 0
            elif mode == "append" or not counts:  # append: a repeated key fails the write
                updated = 0
            else:
                pk = _key_match(t)
                updated = self._scalar(
                    run, f"SELECT count(*) FROM {ident(stage)} s JOIN {ident(t.name)} t ON {pk}"
                )
            cols = ", ".join(ident(c) for c in t.column_names)
            insert = f"INSERT INTO {ident(t.name)} ({cols}) SELECT {cols} FROM {ident(stage)}"
            if mode == "upsert":  # PostgreSQL: see _update_then_insert for why not on DuckDB
                keys = ", ".join(ident(k) for k in t.primary_key)
                rest = _brought(t, present)
                sets = ", ".join(f"{ident(c)} = excluded.{ident(c)}" for c in rest)
                action = f"UPDATE SET {sets}" if rest else "NOTHING"
                insert += f" ON CONFLICT ({keys}) DO {action}"
            run(insert)
        return WriteResult(inserted=data.num_rows - updated, updated=updated)

    def _update_then_insert(
        self, run: Any, t: Table, stage: str, rows: int, present: frozenset[str], counts: bool
    ) -> WriteResult:
        """DuckDB's upsert: UPDATE the stored rows whose keys the batch holds (only the columns
        it brings, so the others keep their stored values), then INSERT its other rows.

        Not INSERT ... ON CONFLICT DO UPDATE: for the lead desk's 353k-row upsert at scale 10
        DuckDB's buffer manager held 264 MB on the conflict path against 123 MB this way, with
        less CPU (2026-12-06); and the UPDATE's count is the updated rows, so no join is spent
        counting them. PostgreSQL keeps ON CONFLICT, which is atomic under concurrent writers
        (the intake API's appliers): there a row another transaction commits between this
        UPDATE and INSERT would fail the INSERT. A DuckDB file has one writing process, and
        its transactions on one key conflict and abort either way.
        """
        on = _key_match(t)
        rest = _brought(t, present)
        updated = 0
        if rest:
            sets = ", ".join(f"{ident(c)} = s.{ident(c)}" for c in rest)
            updated = self._scalar(
                run, f"UPDATE {ident(t.name)} AS t SET {sets} FROM {ident(stage)} AS s WHERE {on}"
            )
        elif counts:  # only keys: the stored rows are left as they are, but still counted
            updated = self._scalar(
                run, f"SELECT count(*) FROM {ident(stage)} s JOIN {ident(t.name)} t ON {on}"
            )
        if updated < rows:  # `updated` counts the stored keys unless only keys came uncounted
            self._insert_new(
                run, t, ident(stage), on, none_stored=updated == 0 and (bool(rest) or counts)
            )
        if not counts:
            return WriteResult(inserted=rows, updated=0)
        return WriteResult(inserted=rows - updated, updated=updated)

    def _merge(
        self,
        run: Any,
        t: Table,
        data: pa.Table,
        i: int,
        present: frozenset[str],
        newer: str | None,
        staged: Stage | None = None,
    ) -> WriteResult:
        """Insert new keys, update the stored rows that differ, count the rest (see write_many).

        No ON CONFLICT: DuckDB's conflict path is about three times slower than an anti-joined
        INSERT plus an UPDATE of only the changed rows. The rows are `data`, or `staged`'s.
        """
        name = f"_revops_stage_{t.name}_{i}"
        rows = data.num_rows if staged is None else staged.rows
        if staged is not None and not staged.files:  # read_parquet refuses an empty list
            return WriteResult(0, 0, 0)
        with self._merge_source(run, t, name, data, staged) as stage:
            on = _key_match(t)
            rest = _brought(t, present)
            differs = " OR ".join(f"s.{ident(c)} IS DISTINCT FROM t.{ident(c)}" for c in rest)
            change = f"({differs or 'FALSE'})"
            if newer is not None and newer in present:
                change += f" AND NOT coalesce(s.{ident(newer)} < t.{ident(newer)}, FALSE)"
            joined = f"FROM {stage} s JOIN {ident(t.name)} t ON {on}"
            matched = self._scalar(run, f"SELECT count(*) {joined}")
            updated = 0
            if matched:
                updated = self._scalar(run, f"SELECT count(*) {joined} WHERE {change}")
            if updated:
                sets = ", ".join(f"{ident(c)} = s.{ident(c)}" for c in rest)
                target = ident(t.name)
                run(f"UPDATE {target} AS t SET {sets} FROM {stage} AS s WHERE {on} AND {change}")
            if matched == 0 and staged is not None and self._insert_per_file(staged):
                for part in staged.parts():
                    self._insert_new(run, t, part, on, none_stored=True)
            elif matched < rows:
                self._insert_new(run, t, stage, on, none_stored=matched == 0)
        return WriteResult(rows - matched, updated, matched - updated)

    def _insert_per_file(self, staged: Stage) -> bool:
        """Whether new rows go into their table one INSERT per staged file (one slice each)
        rather than in one: on DuckDB, for a stage of many slices.

        DuckDB's INSERT holds working memory that grows with all it reads (its threads'
        buffers, kept in order): one INSERT of the lead desk's 181,832 decisions at 10x (68
        MB of text, nine files) peaked 201-215 MB over its start, one per file 151-154; the
        desk step +417/+430 MB against +495/+482, the 10x load 967 MB against 1,035. But an
        INSERT of one file runs on one thread, so a few files go in one: per file everywhere
        made the 1x demo (its largest stage four files) 1 s slower (2026-12-06).

        Only into a table that existed before the transaction (a merge): several INSERTs
        into a table re-created in the same transaction are what DuckDB 1.4 mishandles
        (see `write_credit_tables`)."""
        return self.backend == "duckdb" and len(staged.files) >= _PER_FILE_FROM

    def _replace_staged(
        self, run: Any, t: Table, data: pa.Table, i: int, staged: Stage
    ) -> WriteResult:
        """`replace` from a stage: the table emptied, then the staged rows (unique keys: see
        `Warehouse.stage`) inserted by one INSERT, read as a merge reads them."""
        self._empty(run, t)
        if staged.files:  # read_parquet refuses an empty list of files
            with self._merge_source(run, t, f"_revops_stage_{t.name}_{i}", data, staged) as src:
                self._insert_new(run, t, src, "", none_stored=True)
        return WriteResult(inserted=staged.rows, updated=0)

    @contextmanager
    def _merge_source(
        self, run: Any, t: Table, name: str, data: pa.Table, staged: Stage | None
    ) -> Iterator[str]:
        """What a merge reads its rows from, as SQL: the batch's data (`_staged`), or a stage:
        on DuckDB its Parquet files read in place, on PostgreSQL a temporary table COPYed
        from them a file at a time (each file's rows, then the next: one in memory)."""
        if staged is None:
            with self._staged(run, t, name, data) as stage:
                yield ident(stage)
            return
        if self.backend == "duckdb":
            raw = self.con.con
            openers = staged.openers()
            for fn_name, fn in openers.items():
                raw.create_function(fn_name, fn, ["VARCHAR"], "VARCHAR", type="arrow")
            try:
                yield staged.relation()
            finally:
                for fn_name in openers:
                    raw.remove_function(fn_name)
            return
        if (copy := staged.copy_table()) is not None:
            yield ident(copy)  # a write hook had them copied (`staged_table`)
            return
        run(self.ddl(t, name, temporary=True))
        for part in staged.batches():
            self._copy(name, t, part)
        yield ident(name)
        run(f"DROP TABLE {ident(name)}")

    @staticmethod
    def _insert_new(run: Any, t: Table, stage: str, on: str, *, none_stored: bool) -> None:
        """INSERT the batch's rows whose keys are not stored (`on` joins stage `s` to table `t`;
        `stage` is SQL: a quoted name or a subquery).

        When the write has counted no stored key in the batch (a first write into an empty
        table, as the lead desk's first run), a plain INSERT: DuckDB's anti-join against the
        table held 128-143 MB where the plain INSERT held 82-96 MB, for the desk's 181k
        decisions and 171k clocks at scale 10 (2026-12-06).
        """
        cols, target = ", ".join(ident(c) for c in t.column_names), ident(t.name)
        new = "" if none_stored else f" WHERE NOT EXISTS (SELECT 1 FROM {target} t WHERE {on})"
        run(f"INSERT INTO {target} ({cols}) SELECT {cols} FROM {stage} s{new}")

    def _empty(self, run: Any, t: Table) -> None:
        """Empty a table inside the running transaction.

        DuckDB 1.4 removes deleted rows from a primary-key index one at a time (about 5 s for
        240k rows), so there the table is dropped and re-created from the data model instead:
        instant, and just as transactional (a rollback restores the table and its rows).
        """
        if self.backend == "duckdb":
            run(f"DROP TABLE {ident(t.name)}")
            run(self.ddl(t))
        else:
            run(f"DELETE FROM {ident(t.name)}")

    @contextmanager
    def _staged(self, run: Any, t: Table, stage: str, data: pa.Table) -> Iterator[str]:
        """The batch as a relation the write statements can read, for the length of the write.

        DuckDB reads the Arrow table in place through a registered view: no copy, and no
        temporary table whose creation and drop would cost more than the write itself for the
        small batches of the intake API. PostgreSQL gets a temporary table filled by COPY.
        """
        if self.backend == "duckdb":
            raw = self.con.con
            raw.register(stage, data)
            try:
                yield stage
            finally:
                raw.unregister(stage)
            return
        run(self.ddl(t, stage, temporary=True))
        self._copy(stage, t, data)
        yield stage
        run(f"DROP TABLE {ident(stage)}")

    def _copy(self, stage: str, t: Table, data: pa.Table) -> None:
        """PostgreSQL: COPY `data` (columns of `t`, in order) into the table `stage`."""
        buf = io.BytesIO()
        pacsv.write_csv(data.combine_chunks(), buf, pacsv.WriteOptions(include_header=False))
        cols = ", ".join(ident(c) for c in t.column_names)
        cur = self.con.con.cursor()
        with cur.copy(f"COPY {ident(stage)} ({cols}) FROM STDIN WITH (FORMAT csv)") as copy:
            copy.write(buf.getvalue())

    @staticmethod
    def _scalar(run: Any, query: str) -> int:
        return int(run(query).fetchone()[0])


_TYPE_OF_ARROW = {str(v): k for k, v in ARROW_TYPES.items()}


def _changed_much(batch: Batch, result: WriteResult) -> bool:
    """Whether a write of `batch` changed enough rows of its table to re-read its statistics
    (`Warehouse._analyze`): a `replace` always (it may have removed every row)."""
    return batch.mode == "replace" or result.inserted + result.updated >= _ANALYZE_FROM


def with_custom(t: Table, data: pa.Table, custom: tuple[str, ...]) -> Table:
    """`t` plus the batch's `custom` columns: fields a source mapping keeps beyond the data
    model (typed at ingestion), stored as extra columns so metrics can cut and filter by them."""
    extra = [
        Column(f.name, cast(ColumnType, _TYPE_OF_ARROW[str(f.type)]), "Custom field.")
        for f in data.schema
        if f.name in custom and f.name not in t.column_names and str(f.type) in _TYPE_OF_ARROW
    ]
    return replace(t, columns=t.columns + tuple(extra)) if extra else t


def _shape(b: Batch) -> Table:
    """The table a batch writes: the data model's plus its custom columns."""
    if b.stage is not None and b.stage.shape is not None:
        return b.stage.shape
    return with_custom(table(b.table), b.data, b.custom)


def _key_match(t: Table) -> str:
    """The join condition of a staged batch `s` with the stored table `t`: their keys equal."""
    return " AND ".join(f"s.{ident(k)} = t.{ident(k)}" for k in t.primary_key)


def _brought(t: Table, present: frozenset[str]) -> list[str]:
    """The columns beyond the key that a batch brings: the ones a write sets on stored rows."""
    return [c for c in t.column_names if c not in t.primary_key and c in present]


def _repeats_any(column: pa.ChunkedArray) -> bool:
    """Whether any value (or null) occurs twice. Sorted, a repeat sits next to its twin: this
    costs the sort's indices and one sorted copy, where a hashed distinct count held several
    times the column (+280 MB resident for lifecycle_history's million keys at scale 10).
    Floats keep the distinct count, which counts NaNs as one value where `equal` would not."""
    if pa.types.is_floating(column.type):
        return bool(pc.count_distinct(column, mode="all").as_py() != len(column))
    if column.null_count > 1:
        return True
    ordered = column.take(pc.sort_indices(column)).combine_chunks()
    same = pc.equal(ordered.slice(1), ordered.slice(0, len(ordered) - 1))
    return bool(pc.any(same).as_py())


def _last_per_key(data: pa.Table, keys: tuple[str, ...]) -> pa.Table:
    """Keep the last row of each primary key: a file that repeats a key means 'latest wins'."""
    if data.num_rows == 0:
        return data
    if len(keys) == 1 and not _repeats_any(data.column(keys[0])):
        return data  # the usual batch repeats no key: checking that is far cheaper
    idx = pa.array(range(data.num_rows), pa.int64())
    marked = data.append_column("__row", idx)
    last = marked.group_by(list(keys), use_threads=False).aggregate([("__row", "max")])
    if last.num_rows == data.num_rows:
        return data
    keep = pc.sort_indices(last.column("__row_max"))
    return data.take(last.column("__row_max").take(keep))


def _decrypting_udf(cipher: PiiCipher, label: str) -> Callable[..., Any]:
    """An Ibis pyarrow scalar UDF decrypting one PII column, named after it."""
    safe = "".join(ch if ch.isalnum() else "_" for ch in label)

    def decrypt(value: str) -> str:
        return cipher.decrypt_column(value, label)  # type: ignore[arg-type,return-value,unused-ignore]

    decrypt.__name__ = f"revops_pii_{safe}"
    udf: Callable[..., Any] = ibis.udf.scalar.pyarrow(decrypt, name=decrypt.__name__)
    return udf


def column_sql_type(backend: str, col: Column) -> str:
    return _SQL_TYPES[backend][col.type]
