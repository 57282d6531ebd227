"""`revops metrics show` as a user sees it: missing rows said beside the value, n/a instead of a
0 or an infinity, any column with --by and --where, and one red line for an unknown column."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from funnel_case import load
from typer.testing import CliRunner

from revops.cli import app
from revops.warehouse import Warehouse

CONFIG = str(Path(__file__).parents[2] / "examples" / "revops.yaml")
runner = CliRunner()


@pytest.fixture(scope="module")
def wh_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = str(tmp_path_factory.mktemp("cli") / "revops.duckdb")
    wh = Warehouse.connect(path)
    load(wh)
    with wh.transaction() as run:
        run("UPDATE opportunities SET amount = NULL WHERE opportunity_id = 'O3'")
    wh.close()
    return path


def show(wh_path: str, *args: str) -> str:
    result = runner.invoke(
        app, ["metrics", "show", *args, "--config", CONFIG, "-w", wh_path], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_missing_amounts_are_said_beside_the_value(wh_path: str) -> None:
    # events deals won: O3 (no amount) and O4 3,000
    out = show(wh_path, "avg_deal_size", "--grain", "all", "--where", "lead_source == 'events'")
    # the note sits in its own column beside the value (and in csv/json as `note`)
    assert re.search(r"\$3,000\s*│\s*1 of 2 opportunities without amount", out), out
    assert "where: lead_source == 'events'" in out


def test_no_spend_is_na_not_zero(wh_path: str) -> None:
    out = show(wh_path, "cost_per_lead", "--by", "channel", "--grain", "all")
    organic = next(line for line in out.splitlines() if "organic" in line)
    assert "n/a" in organic
    assert "$0" not in organic


def test_an_unknown_column_is_one_line_listing_what_is_available(wh_path: str) -> None:
    result = runner.invoke(
        app,
        ["metrics", "show", "leads", "--by", "colour", "--config", CONFIG, "-w", wh_path],
        env={"COLUMNS": "2000"},
    )
    assert result.exit_code == 1
    assert "persons has no column 'colour'; available: channel" in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
