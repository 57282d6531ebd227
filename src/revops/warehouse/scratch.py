"""Where DuckDB keeps a query result that later queries read (`Warehouse.cache`): compressed.

Ibis caches an expression into a temporary table, and DuckDB stores temporary tables
uncompressed: at the 10x demo the forecast's prepared stage history (265k rows) held 71.5 MB
of DuckDB's memory so, for the whole step, against 9.2 MB for the same rows in an in-memory
database attached with `COMPRESS`, which stores its tables as a file's tables are (DuckDB
1.4.5, 2026-12-06). Every DuckDB connection of a warehouse attaches one such database
(`SCRATCH`, shared by the connections of one database instance) and creates Ibis' cached
tables there, compressed when DuckDB checkpoints that database; Ibis still tracks them and drops
each when its expression is garbage-collected or the warehouse closes. It is the process's
memory only, and goes with the database instance.

A DuckDB transaction writes to one attached database only: a result is not cached inside a
transaction that wrote to the warehouse (none is: engines cache what they read, then write).
"""

from __future__ import annotations

import contextlib

import duckdb
import ibis
from ibis.backends import BaseBackend

from revops.warehouse.sql import ident

SCRATCH = "revops_scratch"  # the attached in-memory database's name
_WHERE = (SCRATCH, "main")


def cache_compressed(con: BaseBackend) -> None:
    """Make Ibis' `cache()` on this DuckDB connection create its tables in `SCRATCH`; a
    read-only database, which cannot attach one, keeps Ibis' temporary tables."""
    try:
        con.raw_sql(f"ATTACH IF NOT EXISTS ':memory:' AS {SCRATCH} (COMPRESS)")
    except duckdb.Error:
        return

    def create(name: str, expr: ibis.Table) -> ibis.Table:
        con.create_table(name, expr, schema=expr.schema(), database=".".join(_WHERE))
        # DuckDB compresses the tables of an in-memory database when it checkpoints it, which
        # it does by itself only after a commit of more than `checkpoint_threshold` (16 MB).
        # It cannot while another connection's write is open (the demo's engines run two at
        # a time): the table then stays as written, uncompressed, until a later checkpoint.
        with contextlib.suppress(duckdb.Error), con.con.cursor() as other:
            other.execute(f"CHECKPOINT {SCRATCH}")
        return con.table(name, database=_WHERE)

    def drop(name: str) -> None:
        # On a connection of its own: Ibis drops the table when its expression is collected,
        # which may be in the middle of a transaction of `con` that wrote to the warehouse;
        # there a write to a second database fails, and the failure aborts that transaction.
        with con.con.cursor() as other:
            other.execute(f"DROP TABLE IF EXISTS {SCRATCH}.main.{ident(name)}")

    # Ibis' cache calls these two (`ibis.backends.CacheHandler`): its own put the table in the
    # `temp` catalog; its bookkeeping (one table per expression, dropped with it) is kept.
    con._create_cached_table = create
    con._drop_cached_table = drop
