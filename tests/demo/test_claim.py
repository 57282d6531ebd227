"""`revops demo` writes its own warehouse and never destroys one it did not create.

Each test runs on a DuckDB file and on a real PostgreSQL database: a warehouse holding someone's
rows (an access grant, an account) is refused with one line and left untouched; `--force`
replaces it; a warehouse the demo made (its `demo_origin` row) or an empty one is reused.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pytest
from pg_reset import empty_tables
from typer.testing import CliRunner

from revops.cli import app
from revops.demo.claim import ForeignWarehouseError, check_ownership, claim
from revops.warehouse import Warehouse


@pytest.fixture
def url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """An empty warehouse URL on each backend (no DuckDB file yet; a truncated database)."""
    if backend == "duckdb":
        yield str(tmp_path / "company.duckdb")
        return
    pg = str(request.getfixturevalue("pg_url"))
    with Warehouse.connect(pg) as wh:
        empty_tables(wh)
    yield pg


def _someones_data(url: str) -> None:
    """A company's warehouse: one access grant and one account."""
    with Warehouse.connect(url) as wh:
        wh.write(
            "access_grants",
            pa.table(
                {
                    "user_name": ["ana"],
                    "role": ["revops_admin"],
                    "granted_by": ["ana"],
                    "granted_at": pa.array([datetime(2026, 1, 5)], pa.timestamp("us")),
                }
            ),
        )
        wh.write(
            "accounts",
            pa.table(
                {
                    "account_id": ["001A"],
                    "name": ["Acme"],
                    "created_at": pa.array([datetime(2026, 1, 5)], pa.timestamp("us")),
                }
            ),
        )


def _counts(url: str) -> dict[str, int]:
    with Warehouse.connect(url) as wh:
        return {n: wh.count(n) for n in ("access_grants", "accounts", "demo_origin")}


def test_a_foreign_warehouse_is_refused_and_left_as_it_was(url: str) -> None:
    _someones_data(url)
    with pytest.raises(ForeignWarehouseError, match="--force") as err:
        claim(url, seed=7, scale=0.01)
    assert "access_grants" in str(err.value)
    assert "accounts" in str(err.value)
    assert "\n" not in str(err.value)
    assert _counts(url) == {"access_grants": 1, "accounts": 1, "demo_origin": 0}


def test_the_cli_refuses_in_one_line_before_generating(url: str, tmp_path: Path) -> None:
    _someones_data(url)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        ["demo", "--scale", "0.01", "--out", str(out), "--warehouse", url],
        env={"COLUMNS": "400"},
    )
    assert result.exit_code == 1
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error:")
    assert "did not create" in result.output
    assert "Traceback" not in result.output
    assert not (out / "demo").exists()  # nothing generated either
    assert _counts(url) == {"access_grants": 1, "accounts": 1, "demo_origin": 0}


def test_force_replaces_it_and_marks_it_as_the_demos(url: str) -> None:
    _someones_data(url)
    claim(url, seed=7, scale=0.01, force=True)
    assert _counts(url) == {"access_grants": 0, "accounts": 0, "demo_origin": 1}
    check_ownership(url)  # the demo may now replace it without --force


def test_the_demos_own_warehouse_is_replaced_without_force(url: str) -> None:
    claim(url, seed=7, scale=0.01)  # empty: free to use
    _someones_data(url)  # what a demo run loads
    claim(url, seed=8, scale=0.01)
    assert _counts(url) == {"access_grants": 0, "accounts": 0, "demo_origin": 1}
    with Warehouse.connect(url) as wh:
        assert wh.sql("SELECT seed FROM demo_origin") == [(8,)]


def test_a_file_that_is_not_a_duckdb_warehouse_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.duckdb"
    path.write_text("my notes\n")
    with pytest.raises(ForeignWarehouseError, match="not a DuckDB warehouse"):
        claim(str(path), seed=7, scale=0.01)
    assert path.read_text() == "my notes\n"
