"""Fixtures for the privacy tests: secrets in the environment, a file-backed warehouse."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pg_reset import empty_tables

from revops.warehouse import Warehouse


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVOPS_PSEUDONYM_KEY", "test-pseudonym-key-0123456789")
    monkeypatch.setenv("REVOPS_PRIVACY_SALT", "test-salt")
    monkeypatch.delenv("REVOPS_ENCRYPTION_KEY", raising=False)
    monkeypatch.delenv("REVOPS_API_KEY", raising=False)


@pytest.fixture
def file_warehouse(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Warehouse]:
    """A DuckDB *file* (so its bytes can be read) or a clean PostgreSQL database."""
    if backend == "duckdb":
        wh = Warehouse.connect(tmp_path / "wh.duckdb")
    else:
        wh = Warehouse.connect(request.getfixturevalue("pg_url"))
        empty_tables(wh)
    try:
        yield wh
    finally:
        wh.close()
