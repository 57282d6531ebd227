"""End to end through the CLI: the demo at small scale (the session's `demo_run`, conftest.py),
then the commands a user runs next."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from revops.cli import app

runner = CliRunner()


def test_demo_closes_with_the_lead_desk(demo_run: tuple[Path, str]) -> None:
    """The desk replayed from the lifecycle: MQLs, SAL acceptance rate and speed to lead."""
    _, output = demo_run
    text = " ".join(output.split())
    found = re.search(
        r"lead desk: ([\d,]+) MQLs routed when they qualified; ([\d,]+) MQLs, SAL acceptance "
        r"rate ([\d.]+)% \(([\d,]+) accepted, ([\d,]+) rejected, [\d,]+ unanswered\), speed to "
        r"lead ([\d,]+) minutes",
        text,
    )
    assert found is not None, text[-600:]
    accepted, rejected = (int(found[i].replace(",", "")) for i in (4, 5))
    assert float(found[3]) == pytest.approx(100 * accepted / (accepted + rejected), abs=0.05)
    assert int(found[6].replace(",", "")) > 0


def test_demo_prints_the_funnel_and_writes_an_offline_report(demo_run: tuple[Path, str]) -> None:
    out, output = demo_run
    for stage in ("Lead", "MQL", "SAL", "SQL", "Opportunity", "Customer"):
        assert stage in output
    assert "quarantined" in output
    html = (out / "reports" / "funnel.html").read_text()
    assert html.count("<svg") >= 7
    # offline: nothing is fetched from anywhere
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "win_rate" in html
    assert "won_deals / closed_deals" in html
    for name in ("quality", "revenue", "attribution"):
        page = (out / "reports" / f"{name}.html").read_text()
        assert "<svg" in page
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)


def test_metrics_show_cuts_by_a_dimension(demo_run: tuple[Path, str]) -> None:
    out, _ = demo_run
    wh = str(out / "revops.duckdb")
    result = runner.invoke(
        app, ["metrics", "show", "win_rate", "--by", "region", "--grain", "all", "-w", wh]
    )
    assert result.exit_code == 0, result.output
    for region in ("NA", "EMEA", "APAC", "LATAM"):
        assert region in result.output
    assert "won_deals / closed_deals" in result.output


def test_user_errors_are_one_red_line(demo_run: tuple[Path, str], tmp_path: Path) -> None:
    out, _ = demo_run
    wh = str(out / "revops.duckdb")
    result = runner.invoke(app, ["metrics", "show", "nope", "-w", wh])
    assert result.exit_code == 1
    assert "unknown metric 'nope'" in result.output
    assert "Traceback" not in result.output
    bad = tmp_path / "bad.csv"
    bad.write_text("foo,bar\n1,2\n")
    result = runner.invoke(app, ["load", str(bad), "--table", "persons", "-w", wh])
    assert result.exit_code == 1
    assert "bad.csv" in result.output


def test_metrics_list_shows_owner_and_formula() -> None:
    result = runner.invoke(app, ["metrics", "list"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert "sales_velocity" in result.output
    assert "marketing_ops" in result.output
    # the figures no metric computes are declared with their engine and formula
    assert "Computed elsewhere" in result.output
    assert "revops pipeline hygiene" in result.output
