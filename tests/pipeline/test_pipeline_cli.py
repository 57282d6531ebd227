"""`revops pipeline …` and `revops report pipeline` on the hand-worked case (DuckDB file)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pipeline_case import load
from typer.testing import CliRunner

from revops.cli import app
from revops.warehouse import Warehouse

runner = CliRunner()
ENV = {"COLUMNS": "200"}


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = str(tmp_path_factory.mktemp("pipeline") / "revops.duckdb")
    with Warehouse.connect(path) as wh:
        load(wh)
    return path


def _run(db: str, *args: str) -> str:
    result = runner.invoke(app, [*args, "--warehouse", db], env=ENV)
    assert result.exit_code == 0, result.output
    return result.output


def test_snapshot_as_of_a_past_date(db: str) -> None:
    out = _run(db, "pipeline", "snapshot", "--as-of", "2026-03-31", "--deals")
    # Prospecting: o4 (no amount) and o7 4k; Discovery: o3 8k (see pipeline_case.py).
    assert re.search(r"Prospecting\s*│\s*2\s*│\s*\$4,000", out)
    assert re.search(r"Discovery\s*│\s*1\s*│\s*\$8,000", out)
    assert "o6" not in out  # created Apr 10
    # default as-of: the newest stage change (Apr 10), when o4 had moved to Discovery with 30k
    assert re.search(r"Discovery\s*│\s*2\s*│\s*\$38,000", _run(db, "pipeline", "snapshot"))


def test_metrics_and_hygiene(db: str) -> None:
    out = _run(db, "pipeline", "metrics", "--as-of", "2026-03-31")
    assert re.search(r"win rate\s*│\s*66\.7%", out)
    assert re.search(r"cycle days\s*│\s*54\.5", out)  # whole days, as the dictionary counts
    assert re.search(r"velocity per day\s*│\s*\$312", out)  # 17,000 / 54.5
    assert "Stage skips and regressions" in out
    assert re.search(r"Ugo Two\s*│.*│\s*0\.4×\s*│", out)  # u2, by name  # coverage 4k / 10k
    out = _run(db, "pipeline", "hygiene", "--as-of", "2026-03-31", "--rep", "u1")
    assert "close date 2026-03-20 is 11 days past" in out
    assert "no amount" in out
    assert "o3" not in out  # u2's deal


def test_bad_input_is_one_red_line(db: str) -> None:
    result = runner.invoke(app, ["pipeline", "snapshot", "--by", "colour", "-w", db], env=ENV)
    assert result.exit_code == 1
    assert "--by 'colour'" in result.output
    result = runner.invoke(app, ["pipeline", "metrics", "--as-of", "March", "-w", db], env=ENV)
    assert result.exit_code == 1
    assert "is not a date" in result.output
    result = runner.invoke(app, ["pipeline", "hygiene", "--rep", "zz", "-w", db], env=ENV)
    assert "no user 'zz' (by id, email or name)" in result.output


def test_report_is_offline_html(db: str, tmp_path: Path) -> None:
    out = tmp_path / "pipeline.html"
    _run(db, "report", "pipeline", "--out", str(out), "--as-of", "2026-03-31")
    html = out.read_text()
    assert html.count("<svg") >= 6
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "close date 2026-03-20 is 11 days past" in html
    assert "Pipeline coverage" in html
