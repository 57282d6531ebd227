"""The figures on a page equal the CLI's for the same metric and filter: the page's CSV (raw
values) against `revops metrics show NAME --where … --grain all --from … --to … --format csv`,
on every area page, filtered, for each kind of metric the page shows (simple, ratio,
derived, conversion)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner
from web_support import company, sign_in

from revops.api import create_app
from revops.cli import app
from revops.context import RevOps
from revops.reports.as_of import current_state
from revops.web.render import AREAS

# one filter per page (a page is a few seconds: each costs the CI a page's worth of queries);
# the quality metrics have no region, so their page is shown whole
FILTERS = {
    "funnel": ("region", "EMEA"),
    "pipeline": ("region", "NA"),
    "revenue": ("region", "NA"),
    "attribution": ("region", "EMEA"),
    "quality": ("", ""),
    "forecast": ("region", "NA"),
}
# beside the first metric of each type on a page: the hand-worked ones and the point-in-time
ALSO = {"bookings", "mqls", "win_rate", "open_pipeline", "open_opportunities", "sales_velocity"}


def _cli(warehouse: Path, metric: str, where: str | None) -> float | None:
    """`revops metrics show METRIC --grain all` over October 2026 as CSV: the value."""
    args = ["metrics", "show", metric, "--grain", "all", "--format", "csv"]
    args += ["--from", "2026-10-01", "--to", "2026-11-01", "-w", str(warehouse)]
    if where:
        args += ["--where", where]
    r = CliRunner().invoke(app, args, env={"REVOPS_USER": "setup"})
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert len(rows) <= 1, r.stdout
    return float(rows[0]["value"]) if rows and rows[0]["value"] else None


def _snapshot(warehouse: Path) -> list[dict[str, str]]:
    """`revops pipeline snapshot --as-of 2026-10-14 --format csv` (the data's last day)."""
    args = ["pipeline", "snapshot", "--as-of", "2026-10-14", "--format", "csv"]
    r = CliRunner().invoke(app, [*args, "-w", str(warehouse)], env={"REVOPS_USER": "setup"})
    assert r.exit_code == 0, r.output
    return list(csv.DictReader(io.StringIO(r.stdout)))


def test_page_figures_equal_the_clis(tmp_path: Path) -> None:
    ro = company(tmp_path)
    model = ro.model
    shown: dict[tuple[str, str], float | None] = {}  # every figure on the pages
    pages: dict[tuple[str, str], float | None] = {}  # those checked against the CLI
    with TestClient(create_app(ro, journal=tmp_path / "journal")) as client:
        assert sign_in(client, "admin@x.com") == 303
        for area, _ in AREAS:
            for dim, value in [FILTERS[area]]:
                query = f"month=2026-10&dim={dim}&value={value}" if dim else "month=2026-10"
                r = client.get(f"/view/{area}?{query}&csv=figures")
                assert r.status_code == 200, (area, r.text)
                rows = list(csv.DictReader(io.StringIO(r.text)))
                assert rows, area
                kinds: set[str] = set()
                where = f"{dim} == '{value}'" if dim else ""
                for row in rows:
                    key = (row["metric"], where)
                    shown[key] = float(row["value"]) if row["value"] else None
                    kind = type(model.metric(row["metric"])).__name__
                    if kind not in kinds or row["metric"] in ALSO:
                        kinds.add(kind)
                        pages[key] = shown[key]
    ro.close()
    assert shown[("bookings", "region == 'NA'")] == 60_000  # Ada's O1 + O2, by hand
    assert shown[("win_rate", "region == 'NA'")] == 1.0
    assert shown[("mqls", "region == 'EMEA'")] == 1  # P3 (P4's MQL was in September)
    assert pages[("bookings", "region == 'NA'")] == 60_000
    assert len(pages) >= 12
    for (metric, where), value in pages.items():
        if current_state(model, metric):  # today's open deals: the snapshot as of Oct 14
            assert value is None, (metric, where)  # no stage history here: n/a, never $0
            assert _snapshot(tmp_path / "web.duckdb") == []
        cli = _cli(tmp_path / "web.duckdb", metric, where or None)
        if value is None:  # missing on the page is missing in the CLI, never 0
            assert cli is None, (metric, where, cli)
        else:
            assert cli == pytest.approx(value, rel=1e-6), (metric, where, value, cli)


def test_a_custom_field_filters_and_cuts_a_page(ro: RevOps, client: TestClient) -> None:
    # a field a source mapping added to the CRM's deals: not in the data model
    with ro.warehouse.transaction() as run:
        run('ALTER TABLE "opportunities" ADD COLUMN "deal_tier" VARCHAR')
        run("UPDATE \"opportunities\" SET deal_tier = 'gold' WHERE opportunity_id IN ('O1', 'O3')")
    sign_in(client, "admin@x.com")
    page = client.get("/view/pipeline?month=2026-10")
    assert '<option value="deal_tier"' in page.text
    r = client.get("/view/pipeline?month=2026-10&dim=deal_tier&value=gold&csv=figures")
    rows = {row["metric"]: row for row in csv.DictReader(io.StringIO(r.text))}
    assert float(rows["bookings"]["value"]) == 70_000  # O1 40,000 + O3 30,000
    r = client.get("/metric/bookings?month=2026-10&by=deal_tier&csv=breakdown")
    assert r.text.splitlines() == ["deal_tier,value,rows", "gold,70000.0,2", ",20000.0,1"]
