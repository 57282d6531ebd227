"""`revops forecast` end to end on a DuckDB file: adjust (authorised, audited), roll-up, snapshot
and changes, probability, and the clear errors a user gets for bad input."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from forecast_case import load_synthetic, load_team
from typer.testing import CliRunner

from revops.audit import entries
from revops.cli import app
from revops.warehouse import Warehouse

runner = CliRunner()


@pytest.fixture
def wh_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("REVOPS_USER", "sales-ops-lead")
    monkeypatch.delenv("REVOPS_API_KEY", raising=False)
    path = str(tmp_path / "f.duckdb")
    with Warehouse.connect(path) as wh:
        load_team(wh)
    return path


def _run(*args: str) -> str:
    result = runner.invoke(app, ["forecast", *args], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    return result.output


def test_adjust_rollup_snapshot_changes(wh_path: str) -> None:
    w = ("--warehouse", wh_path)
    out = _run(
        "adjust",
        "--period",
        "2026Q1",
        "--level",
        "rep",
        "--subject",
        "r2",
        "--category",
        "best_case",
        "--amount",
        "3000",
        "--note",
        "budget frozen",
        *w,
    )
    assert "3,000" in out
    out = _run("rollup", "--period", "2026Q1", "--as-of", "2099-01-01", "--level", "rep", *w)
    assert re.search(r"best case\s+adjusted", out)  # headers read as words
    assert re.search(r"│\s*\$3,000\s*│", out)  # the manager's number, as money
    assert "budget frozen" in out
    _run("probability", "d2", "35", "--note", "champion left", *w)
    _run("snapshot", "--as-of", "2026-03-15", "--backfill-from", "2026-03-01", *w)
    out = _run("changes", "--from", "2026-03-01", "--to", "2026-03-15", "--period", "2026Q1", *w)
    assert "stage_moved" in out
    with Warehouse.connect(wh_path) as wh:
        actions = [e.action for e in entries(wh)]
        assert wh.count("forecast_snapshots") > 0
    assert {"forecast.adjusted", "forecast.probability_set", "forecast.snapshot"} <= set(actions)


def test_bad_input_is_one_red_line(wh_path: str) -> None:
    result = runner.invoke(
        app,
        [
            "forecast",
            "adjust",
            "--period",
            "2026Q9",
            "--level",
            "rep",
            "--subject",
            "r1",
            "--category",
            "commit",
            "--amount",
            "1",
            "--note",
            "x",
            "--warehouse",
            wh_path,
        ],
    )
    assert result.exit_code == 1
    assert "2026Q9" in result.output
    result = runner.invoke(
        app,
        [
            "forecast",
            "changes",
            "--from",
            "2026-01-01",
            "--to",
            "2026-01-08",
            "--warehouse",
            wh_path,
        ],
    )
    assert result.exit_code == 1
    assert "no forecast snapshot" in result.output


def test_backtest_methods_and_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVOPS_USER", "sales-ops-lead")
    path = str(tmp_path / "s.duckdb")
    with Warehouse.connect(path) as wh:
        load_synthetic(wh)
    w = ("--warehouse", path)
    out = _run("backtest", *w)
    assert "overall" in out
    assert "stage_learned" in out
    out = _run("methods", "--period", "2026Q1", *w)
    assert "win_model" in out
    assert "the warehouse's latest data date" in out
    assert "recommended call" in out
    html_path = tmp_path / "forecast.html"
    _run("report", "--period", "2026Q1", "--as-of", "2026-02-15", "--out", str(html_path), *w)
    html = html_path.read_text()
    assert html.count("<svg") == 2
    assert "Win model on later deals" in html
    # judged against the stage probability on the same later rows, in words
    assert "the stage probability out of time" in html
    assert "MAPE" in html
    assert "Recommended call" in html
