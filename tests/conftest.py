"""Shared fixtures: one `warehouse` fixture that runs a test on DuckDB and on PostgreSQL, and
`any_warehouse` that runs the shared backend suite (tests/warehouse/test_backends.py) on DuckDB,
PostgreSQL and Apache Spark.

PostgreSQL is real: the server at $REVOPS_TEST_PG (default 127.0.0.1:5432, database `test`),
started with pg_ctlcluster if it is installed but stopped. Each test session gets its own fresh
database, dropped at the end. Outside CI a missing server skips the PostgreSQL half with a loud
reason; under CI (CI=true) it is an error, so CI never passes by skipping.

Spark is real too: local mode (`local[2]`, two shuffle partitions, no UI), one session for the
whole test run because starting the JVM costs seconds, a warehouse directory under tmp, and one
catalog database whose filled tables are re-created empty after each test (`reset_spark`).
Without Java or pyspark the Spark half skips, except under CI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, settings
from pg_reset import empty_tables

# The CLI's console reads COLUMNS once, when `revops.cli._common` is first imported. The CLI
# imports its commands lazily, so without this the first test to run a command would pin the
# width for the whole session to whatever COLUMNS its CliRunner set (200 in some tests), and the
# 80-column tests after it would measure a 200-column table. One process per command, as users
# run it, reads its own terminal. A pytest-xdist worker inherits COLUMNS=80 from its controller,
# which would pin the console to 80 columns before any CliRunner sets its own width: dropped.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.pop("COLUMNS", None)
import revops.cli._common  # noqa: F401
from revops.warehouse import TABLES, Warehouse

# Hypothesis judges speed by wall time: on a loaded machine (CI beside other work, or several
# test runs at once) example generation and a single example can take longer than its defaults
# allow, which fails a property that holds. What a property asserts is its outcome, not its speed
# (speed is measured in bench/), so neither check applies here.
settings.register_profile(
    "revops", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile("revops")

PG_ADMIN = os.environ.get("REVOPS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Group the tests for pytest-xdist's `--dist loadgroup` (pyproject's addopts): a file's
    tests stay together, so its module-scoped fixtures (demo warehouses, servers, a browser) are
    built on one worker only, and all Spark tests share one worker, so one JVM starts, not two.
    Runs before xdist reads the groups (tryfirst)."""
    if not config.pluginmanager.hasplugin("xdist"):
        return
    for item in items:
        group = "spark" if item.get_closest_marker("spark") else item.nodeid.split("::")[0]
        item.add_marker(pytest.mark.xdist_group(group))


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Fail a test that xdist did not put in its group (its node id ends `@group` when it did).

    With pytest 9 it silently did not: xdist 3.8 writes `item._nodeid`, which pytest 9 no
    longer reads, so every file was spread over both workers, each module fixture was built
    twice and Spark started two JVMs. Hence the pytest pin in pyproject.toml, and this check,
    which says so instead of a suite that quietly does its costliest setup twice.
    """
    mark = item.get_closest_marker("xdist_group")
    if mark is None or not getattr(item.config.option, "loadgroup", False):
        return
    if not item.nodeid.endswith(f"@{mark.args[0]}"):
        pytest.fail(
            f"pytest-xdist did not put this test in its group {mark.args[0]!r}: this pytest "
            f"({pytest.__version__}) and pytest-xdist do not work together (see the pytest pin "
            "in pyproject.toml)",
            pytrace=False,
        )


def _pg_reachable() -> bool:
    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


def _start_pg() -> None:
    if shutil.which("pg_ctlcluster") and Path("/etc/postgresql").exists():
        for version in os.listdir("/etc/postgresql"):
            subprocess.run(
                ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
                check=False,
                capture_output=True,
            )


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session."""
    if not _pg_reachable():
        _start_pg()
    if not _pg_reachable():
        msg = f"PostgreSQL is not reachable at {PG_ADMIN} (run .ci/run, which installs it)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    name = f"revops_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(autouse=True)
def _state_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Audit anchors of PostgreSQL warehouses (kept in the state directory) per test: every
    test truncates the session database, which an anchor from an earlier test would flag."""
    monkeypatch.setenv("REVOPS_STATE_DIR", str(tmp_path_factory.mktemp("state")))


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def spark_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The Spark warehouse of this test run: one local session, started on first use (the
    first connection creates the tables) and stopped at the end."""
    missing = None
    if shutil.which("java") is None:
        missing = "Java is not installed (run .ci/run, which installs openjdk-17-jre-headless)"
    else:
        try:
            import pyspark  # noqa: F401
        except ImportError:
            missing = "pyspark is not installed (pip install -e '.[dev]')"
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"Spark tests cannot run: {missing}")
        pytest.skip(f"Spark tests cannot run: {missing}")
    wd = tmp_path_factory.mktemp("spark")
    yield f"spark-local:{wd}?master=local[2]&partitions=2&database=revops_test"
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        active.stop()


def reset_spark(wh: Warehouse) -> None:
    """Empty the tables a test filled, so the next test starts from an empty warehouse.

    A fresh catalog database per test would cost creating every table (seconds each time), so
    the tests share one and the tables holding data files are re-created empty instead.
    """
    from revops.warehouse.schema import table

    location = Path(wh.spark.conf.get("spark.sql.warehouse.dir").removeprefix("file:"))
    database = wh.con.current_database
    filled = {
        d.name
        for d in (location / f"{database}.db").glob("*")
        if d.is_dir() and any(f.name.startswith("part-") for f in d.iterdir())
    }
    names = {t.name for t in TABLES}
    for name in sorted((filled | wh.written) & names):
        wh.spark.sql(f"DROP TABLE IF EXISTS `{name}`")
        wh.spark.sql(wh.ddl(table(name)))


@pytest.fixture(
    params=[
        "duckdb",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("spark", marks=pytest.mark.spark),
    ]
)
def any_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def any_warehouse(any_backend: str, request: pytest.FixtureRequest) -> Iterator[Warehouse]:
    """An empty warehouse on DuckDB, PostgreSQL or Spark (the shared backend suite)."""
    if any_backend != "spark":
        yield from _warehouse(any_backend, request)
        return
    wh = Warehouse.connect(request.getfixturevalue("spark_url"))
    try:
        yield wh
    finally:
        reset_spark(wh)
        wh.close()


@pytest.fixture
def warehouse(backend: str, request: pytest.FixtureRequest) -> Iterator[Warehouse]:
    """An empty warehouse on each backend: in-memory DuckDB, or a clean PostgreSQL database."""
    yield from _warehouse(backend, request)


def _warehouse(backend: str, request: pytest.FixtureRequest) -> Iterator[Warehouse]:
    if backend == "duckdb":
        wh = Warehouse.connect(":memory:")
    else:
        wh = Warehouse.connect(request.getfixturevalue("pg_url"))
        canonical = {(t.name, c.name) for t in TABLES for c in t.columns}
        names = {t.name for t in TABLES}
        extra = [
            (table, column)
            for table, column in wh.sql(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema()"
            )
            if table in names and (table, column) not in canonical
        ]
        empty_tables(wh)
        if extra:  # custom columns an earlier test's load added: the session database is shared
            with wh.transaction() as run:
                for table, column in extra:
                    run(f'ALTER TABLE "{table}" DROP COLUMN "{column}"')
    try:
        yield wh
    finally:
        wh.close()


DEMO_SCALE = 0.03  # the small demo the CLI and determinism tests share


def run_demo(out: Path) -> str:
    """`revops demo` at DEMO_SCALE into `out` (warehouse out/revops.duckdb); its output."""
    from typer.testing import CliRunner

    from revops.cli import app

    wh = str(out / "revops.duckdb")
    result = CliRunner().invoke(
        app,
        ["demo", "--scale", str(DEMO_SCALE), "--out", str(out), "--warehouse", wh],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="session")
def demo_runner() -> Callable[[Path], str]:
    """`run_demo`, for tests that need a second demo run beside the session's."""
    return run_demo


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """`revops demo` at small scale, once per session: (output folder, warehouse path followed
    by the demo's printed output). Tests read it and never write to its warehouse."""
    out = tmp_path_factory.mktemp("demo")
    output = run_demo(out)
    return out, str(out / "revops.duckdb") + "\n" + output


@pytest.fixture(scope="session")
def with_own_sdr_pools() -> Callable[[str, str], str]:
    """A function: an operating model's YAML text, with each SDR pool naming the warehouse's
    active SDRs of its team and nobody out of office. The shipped pools name the full-scale
    demo's SDRs by CRM id; a smaller demo has other users, and `plan`, `apply` and
    `validate -w` refuse user ids the warehouse does not know."""

    def rewrite(text: str, warehouse: str) -> str:
        import yaml

        with Warehouse.connect(warehouse) as w:
            sdrs = w.sql(
                "SELECT team, user_id FROM users WHERE role = 'sdr' AND is_active ORDER BY user_id"
            )
        data = yaml.safe_load(text)
        for pool in data["routing"]["pools"]:
            pool["members"] = [{"user_id": u} for team, u in sdrs if team == pool["team"]]
            assert pool["members"], pool["team"]
        data["routing"]["out_of_office"] = []
        return str(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))

    return rewrite
