"""`revops quality check | fix | undo | utm | scorecard` end to end on a small DuckDB file."""

from __future__ import annotations

import re
from pathlib import Path

from quality_data import load
from typer.testing import CliRunner

from revops.cli import app
from revops.config import DEFAULT_CONFIG
from revops.warehouse import Warehouse

runner = CliRunner()
WIDE = {"COLUMNS": "200"}


def _warehouse(tmp_path: Path) -> list[str]:
    """Options naming a loaded DuckDB file and the shipped operating model."""
    path = str(tmp_path / "w.duckdb")
    with Warehouse.connect(path) as wh:
        load(wh)
    return ["-w", path, "-c", str(DEFAULT_CONFIG)]


def test_check_fix_undo_round_trip(tmp_path: Path) -> None:
    wh = _warehouse(tmp_path)
    checked = runner.invoke(app, ["quality", "check", *wh], env=WIDE)
    assert checked.exit_code == 0, checked.output
    assert "phone_e164" in checked.output
    assert "country_iso" in checked.output

    dry = runner.invoke(app, ["quality", "fix", "--dry-run", *wh], env=WIDE)
    assert dry.exit_code == 0, dry.output
    assert "dry run" in dry.output
    assert "+14155550100" in dry.output

    fixed = runner.invoke(app, ["quality", "fix", *wh], env=WIDE)
    assert fixed.exit_code == 0, fixed.output
    run_id = re.search(r"revops quality undo (\S+)", fixed.output)
    assert run_id is not None
    again = runner.invoke(app, ["quality", "fix", *wh], env=WIDE)
    assert "nothing to fix" in again.output

    undone = runner.invoke(app, ["quality", "undo", run_id.group(1), *wh], env=WIDE)
    assert undone.exit_code == 0, undone.output
    assert "restored" in undone.output
    twice = runner.invoke(app, ["quality", "undo", run_id.group(1), *wh], env=WIDE)
    assert twice.exit_code == 1
    assert "already undone" in twice.output


def test_utm_and_scorecard_with_html(tmp_path: Path) -> None:
    wh = _warehouse(tmp_path)
    utm = runner.invoke(app, ["quality", "utm", *wh], env=WIDE)
    assert utm.exit_code == 0, utm.output
    assert "Campaigns without spend" in utm.output

    html = tmp_path / "quality.html"
    card = runner.invoke(app, ["quality", "scorecard", *wh, "--html", str(html)], env=WIDE)
    assert card.exit_code == 0, card.output
    assert "Data quality scorecard" in card.output
    assert "Trend" in card.output
    page = html.read_text(encoding="utf-8")
    assert "<svg" in page
    assert "hsl(" in page  # the heat table
    assert "dq_filled_cells / dq_cells" in page  # tiles carry their formula
    assert "P1, P2, P4, P5" in page  # sample keys of the phone rule
    assert "built-in method" not in page
    assert "gmail" not in page  # sample values (PII) stay out of the report
    assert not re.search(r"(src|href)=\"https?://", page)  # offline: nothing fetched
