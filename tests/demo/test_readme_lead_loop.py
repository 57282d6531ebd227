"""The README's lead-loop commands, in the README's order, on a copy of the small demo, leave the
live API routing the next demo request to an SDR with a 15-minute SLA.

Order (README "Using it"): `lifecycle run`, `score train`, `score apply`, `route run`,
`route breaches --escalate`, `keys create webform --role marketing_ops`, then the API that
`revops serve` runs. Route run and the breach run are pinned to Tuesday 2026-11-03 17:00 UTC
and the API's clock to 18:00, after the demo's data end (2026-10-31), so the test does not
depend on the day it runs.

The shipped pools name the full-scale demo's SDRs by CRM id; the small demo has fewer users
with other ids, so the operating model used here is the shipped one with each SDR pool naming
the small demo's SDRs of its team (what a company does with its own users; `config validate
-w` refuses the shipped pools on this warehouse). On the full-scale demo the shipped model
gives the same answer (measured: Hiroshi Campbell, NA SDR, high_intent due 15 minutes later).

Hand-worked answer: a VP Sales at a new 500-employee US software company (a domain no demo
account has) asks for a demo. Fit mid_market 18 + core_industry 15 + vp 25 + core_market 5 =
63 ≥ min_fit 20; a demo request is fast-tracked → MQL (routable). No account → territory NA
→ pool na_sdr, whose members are NA SDRs (New York, Chicago, Denver, Los Angeles): at 18:00 UTC
(13:00 to 10:00 local, EST after 1 November) all are inside their 08:00-18:00 working hours
and the SLA's 09:00-17:00 business hours, so priority high_intent is due 15 minutes later.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from revops.api import create_app
from revops.cli import app
from revops.config import load_config
from revops.context import RevOps
from revops.warehouse import Warehouse

EXAMPLE = Path(__file__).parents[2] / "examples" / "revops.yaml"
AT = "2026-11-03T17:00"
NOW = datetime(2026, 11, 3, 18, 0, tzinfo=UTC)
TOKEN = re.compile(r"rvk_[A-Za-z0-9_\-]+")


@pytest.fixture
def warehouse_copy(demo_run: tuple[Path, str], tmp_path: Path) -> Path:
    src = demo_run[0] / "revops.duckdb"
    dst = tmp_path / "revops.duckdb"
    shutil.copy(src, dst)
    anchor = src.with_name(src.name + ".audit-anchor")
    if anchor.exists():
        shutil.copy(anchor, dst.with_name(dst.name + ".audit-anchor"))
    return dst


def test_readme_commands_in_order_then_the_api_routes_a_demo_request_to_an_sdr(
    warehouse_copy: Path, tmp_path: Path, with_own_sdr_pools: Callable[[str, str], str]
) -> None:
    wh = str(warehouse_copy)
    scoring = str(tmp_path / "scoring")
    cfg = tmp_path / "revops.yaml"
    cfg.write_text(with_own_sdr_pools(EXAMPLE.read_text(), wh))
    runner = CliRunner()

    def run(*cmd: str, config: bool = True) -> str:
        model = ["-c", str(cfg)] if config else []
        result = runner.invoke(app, [*cmd, *model, "-w", wh], env={"COLUMNS": "200"})
        assert result.exit_code == 0, (cmd, result.output)
        return result.output

    assert "users not checked" not in run("config", "validate", str(cfg), config=False)
    run("lifecycle", "run")
    run("score", "train", "--out", scoring)
    run("score", "apply", "--out", scoring)
    routed = run("route", "run", "--at", AT)
    run("route", "breaches", "--escalate", "--at", AT)
    created = run("keys", "create", "webform", "--role", "marketing_ops")
    token = TOKEN.search(created)
    assert token is not None, created

    with Warehouse.connect(wh) as w:
        ro = RevOps(load_config(cfg), w)
        clock: Callable[[], datetime] = lambda: NOW  # noqa: E731
        with TestClient(create_app(ro, clock=clock, journal=tmp_path / "journal")) as client:
            r = client.post(
                "/leads",
                json={
                    "email": "maria.lopez@northwind-analytics.com",
                    "first_name": "Maria",
                    "last_name": "Lopez",
                    "company": "Northwind Analytics",
                    "title": "VP Sales",
                    "employees": 500,
                    "industry": "Software",
                    "country": "us",
                    "source": "Paid Search",
                    "form": "demo_request",
                },
                headers={"Authorization": f"Bearer {token.group(0)}"},
            )
            assert r.status_code == 201, r.text
            body = r.json()
        sdrs = {u: (role, team) for u, role, team in w.sql("SELECT user_id, role, team FROM users")}
    assert body["lifecycle_stage"] == "MQL", (routed, body)
    assert body["owner"] is not None, (body["reason"], body["queue"], body["rule"])
    assert sdrs[body["owner"]["id"]] == ("sdr", "NA SDR"), body
    assert body["rule"] == "territories"
    sla = body["sla"]
    assert sla["priority"] == "high_intent"
    started = datetime.fromisoformat(sla["started_at"])
    assert started == NOW.replace(tzinfo=None)
    assert datetime.fromisoformat(sla["due_at"]) - started == timedelta(minutes=15)
