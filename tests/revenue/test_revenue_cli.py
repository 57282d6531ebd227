"""`revops revenue …` end to end on a small demo company loaded through ingestion."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from revops.cli import app
from revops.demo import generate
from revops.ingest import load_file
from revops.warehouse import Warehouse

runner = CliRunner()
NEEDED = {
    "accounts", "users", "campaign_spend", "subscriptions", "activities",
    "product_usage", "support_tickets", "invoices", "champion_changes",
}  # fmt: skip


@pytest.fixture(scope="module")
def wh_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("revcli")
    url = str(out / "revops.duckdb")
    with Warehouse.connect(url) as wh:
        for f in generate(out / "demo", scale=0.1, seed=7):
            if f.table in NEEDED:
                load_file(wh, f.path, f.table, f.preset)
    result = runner.invoke(app, ["revenue", "run", "-w", url], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert re.search(r"revenue: 2022-1\d to 2026-10: [\d,]+ account-months", result.output)
    return url


def _run(*args: str) -> str:
    result = runner.invoke(app, ["revenue", *args], env={"COLUMNS": "220"})
    assert result.exit_code == 0, result.output
    return result.output


def test_waterfall_retention_and_cohorts(wh_url: str) -> None:
    out = _run("waterfall", "-w", wh_url, "--months", "3")
    assert "2026-10" in out
    assert "2026-07" not in out
    assert "reactivation" in out
    out = _run("retention", "-w", wh_url, "--by", "segment")
    assert "enterprise" in out
    assert "nrr" in out
    out = _run("cohorts", "-w", wh_url, "--kind", "revenue", "--segment", "smb", "--ages", "3")
    assert "Revenue retention by start-month cohort" in out
    assert "(smb)" in out
    bad = runner.invoke(app, ["revenue", "cohorts", "-w", wh_url, "--segment", "huge"])
    assert bad.exit_code == 1
    assert "no segment 'huge'" in bad.output


def test_health_explains_an_account(wh_url: str) -> None:
    out = _run("health", "-w", wh_url)
    assert "score band" in out
    with Warehouse.connect(wh_url) as wh:
        scores = wh.execute(wh.table("health_scores").order_by("score").limit(1))
    account = str(scores["account_id"].iloc[0])
    out = _run("health", "-w", wh_url, "--account", account)
    assert account in out
    assert "points" in out
    assert "History" in out


def test_at_risk_and_report(wh_url: str, tmp_path: Path) -> None:
    out = _run("at-risk", "-w", wh_url, "--csv", str(tmp_path / "risk.csv"))
    assert re.search(r"churn model: AUC 0\.\d+ on [\d,]+ later snapshots", out)
    # each model judged against the health score, in words, whichever way it went
    assert re.search(r"churn model (beats|WITHHELD: it does not beat) the health score", out)
    assert re.search(r"expansion model (beats|WITHHELD: it does not beat) the health score", out)
    # whose churn probability the list uses, the model's or (withheld) the health score's
    assert re.search(
        r"churn_probability: (churn model: risk from|churn probability from the health score)",
        out,
    )
    assert (tmp_path / "risk.csv").read_text().startswith("account_id,account,owner")
    report = tmp_path / "revenue.html"
    _run("report", "-w", wh_url, "--out", str(report))
    html = report.read_text()
    assert html.count("<svg") == 3  # bridge, movements, retention
    assert html.count('<table class="heat">') == 2  # logo and revenue cohorts
    assert "reconciles to the cent" in html
    # churn and expansion verdicts, then whose probability the at-risk list uses
    assert len(re.findall(r"the health score out of time \(AUC", html)) == 2
    assert re.search(
        r"Churn risk here:\s+(churn model: risk|churn probability from the health)", html
    )
    assert "nrr_current_mrr / nrr_base_mrr" in html
    assert not re.search(r"""(src|href)\\s*=\\s*["']?(https?:)?//""", html)
