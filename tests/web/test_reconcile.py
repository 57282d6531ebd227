"""The figures on a page equal the CLI's for the same metric and filter: the page's CSV (raw
values) against `revops metrics show NAME --where … --grain all --from … --to …`."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner
from web_support import company, sign_in

from revops.api import create_app
from revops.cli import app
from revops.config import DEFAULT_CONFIG, load_config
from revops.context import RevOps
from revops.reports.formatting import format_value

CASES = [
    ("pipeline", "region", "NA", ["bookings", "closed_deals", "win_rate", "avg_deal_size"]),
    ("funnel", "region", "EMEA", ["mqls"]),
]


def test_page_figures_equal_the_clis(tmp_path: Path) -> None:
    ro = company(tmp_path)
    pages: dict[tuple[str, str], float | None] = {}
    with TestClient(create_app(ro, journal=tmp_path / "journal")) as client:
        assert sign_in(client, "admin@x.com") == 303
        for area, dim, value, metrics in CASES:
            r = client.get(f"/view/{area}?month=2026-10&dim={dim}&value={value}&csv=figures")
            assert r.status_code == 200
            rows = {row["metric"]: row for row in csv.DictReader(io.StringIO(r.text))}
            for m in metrics:
                raw = rows[m]["value"]
                pages[(m, f"{dim} == '{value}'")] = float(raw) if raw else None
    ro.close()
    assert pages[("bookings", "region == 'NA'")] == 60_000  # Ada's O1 + O2, by hand
    assert pages[("win_rate", "region == 'NA'")] == 1.0
    assert pages[("mqls", "region == 'EMEA'")] == 1  # P3 (P4's MQL was in September)
    model = load_config(DEFAULT_CONFIG).model
    for (metric, where), value in pages.items():
        r = CliRunner().invoke(
            app,
            [
                *("metrics", "show", metric, "--where", where, "--grain", "all"),
                *("--from", "2026-10-01", "--to", "2026-11-01"),
                *("-w", str(tmp_path / "web.duckdb")),
            ],
            env={"REVOPS_USER": "setup", "COLUMNS": "200"},
        )
        assert r.exit_code == 0, r.output
        shown = format_value(value, model.metric(metric).format, model.company.currency)
        assert re.search(rf"│\s*{re.escape(shown)}\s*│", r.output), (metric, shown, r.output)


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
