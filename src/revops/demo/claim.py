"""The demo's own warehouse: `revops demo` replaces only a warehouse it created.

The demo starts from an empty warehouse so its numbers are reproducible, which means deleting
what is there. A warehouse the demo made carries a `demo_origin` row; one without it that holds
any row (a company's data, API keys, access grants) is someone's work and is refused with one
line unless the user says `--force`. An empty warehouse (no file, or tables without rows) is
free to use. DuckDB and PostgreSQL follow the same rule; the warehouse is inspected with the
driver directly, before any schema is created in it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pyarrow as pa

from revops.errors import RevOpsError
from revops.warehouse import TABLES, Warehouse

MARKER = "demo_origin"
GENERATOR = "revops demo"


class ForeignWarehouseError(RevOpsError):
    """The demo was pointed at a warehouse it did not create and that holds data."""


def _is_postgres(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


def _duckdb_path(url: str) -> Path:
    return Path(url.removeprefix("duckdb://"))


def _held(execute: Callable[[str], Any]) -> list[str]:
    """Canonical tables holding at least one row, through one driver's `execute(sql)`."""
    present = {
        str(r[0])
        for r in execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        ).fetchall()
    }
    return [
        t.name
        for t in TABLES
        if t.name in present and execute(f'SELECT 1 FROM "{t.name}" LIMIT 1').fetchone()
    ]


def _postgres_held(url: str) -> list[str]:
    import psycopg

    parts = urlparse(url)
    with psycopg.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        user=unquote(parts.username) if parts.username else "postgres",
        password=unquote(parts.password) if parts.password else None,
        dbname=parts.path.lstrip("/") or "postgres",
        autocommit=True,
    ) as con:
        return _held(con.execute)


def _duckdb_held(path: Path) -> list[str]:
    import duckdb

    if not path.exists():
        return []
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        if "lock" in str(exc).lower():
            raise ForeignWarehouseError(
                f"{path} is in use by another process; stop it or pass another --warehouse"
            ) from None
        raise ForeignWarehouseError(
            f"{path} exists and is not a DuckDB warehouse; the demo will not overwrite it "
            "(pass another --warehouse, or --force to replace it)"
        ) from None
    try:
        return _held(con.execute)
    finally:
        con.close()


def check_ownership(url: str) -> None:
    """Refuse (ForeignWarehouseError, one line) a warehouse that holds rows but no demo marker."""
    held = _postgres_held(url) if _is_postgres(url) else _duckdb_held(_duckdb_path(url))
    if MARKER in held or not held:
        return
    shown = ", ".join(held[:3]) + (f" and {len(held) - 3} more" if len(held) > 3 else "")
    raise ForeignWarehouseError(
        f"{url} holds data the demo did not create ({shown}); the demo writes its own "
        "warehouse: pass another --warehouse, or --force to replace this one"
    )


def _empty(url: str) -> None:
    """Delete every canonical row (PostgreSQL) or the DuckDB file and its WAL."""
    if _is_postgres(url):
        wh = Warehouse.connect(url, pii_from_env=False)
        try:
            with wh.transaction() as run:
                for t in TABLES:
                    run(f'TRUNCATE TABLE "{t.name}"')
        finally:
            wh.close()
        return
    path = _duckdb_path(url)
    for p in (path, path.with_suffix(path.suffix + ".wal")):
        p.unlink(missing_ok=True)


def claim(url: str, *, seed: int, scale: float, force: bool = False) -> None:
    """Make `url` an empty warehouse marked as the demo's; refuse a foreign one unless `force`."""
    from revops.warehouse.spark import is_spark_url

    if is_spark_url(url):  # engines the demo runs need transactions (docs/spark.md)
        raise ForeignWarehouseError(
            f"{url}: the demo runs on DuckDB or PostgreSQL only; on Spark, `revops load` your "
            "exports and run the engines docs/spark.md lists"
        )
    if not force:
        check_ownership(url)
    _empty(url)
    now = datetime.now(UTC).replace(tzinfo=None)
    marker = pa.table(
        {
            "generator": [GENERATOR],
            "seed": pa.array([seed], pa.int64()),
            "scale": pa.array([scale], pa.float64()),
            "created_at": pa.array([now], pa.timestamp("us")),
        }
    )
    with Warehouse.connect(url) as wh:
        wh.write(MARKER, marker, mode="replace")
