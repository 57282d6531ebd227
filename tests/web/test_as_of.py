"""Today's open deals are not a past month's open pipeline: for a month that has ended, the
pages show what stood open at its end (`revops pipeline snapshot --as-of`, rebuilt from stage
history), or n/a with the reason, never $0 from today's open deals bucketed by a close date
that has passed.

On the hand-built company (web_fixture.py), whose data ends on 2026-10-14 (P3's MQL), with
stage history added here and O7 (Ada, NA, 25,000, Discovery since 2026-09-20, expected
2026-11-20) still open:
- 2026-08-31: O1 40,000 and O5 15,000 open (both Ada's, NA): 55,000;
- 2026-09-30: O1 40,000 (NA), O2 20,000 (NA), O3 30,000 (EMEA), O4 10,000 (EMEA), O7 25,000
  (NA) open: 125,000 in 5 deals; NA 85,000; Bo's 40,000;
- 2026-10-14 (October is still running): O2 20,000, O4 10,000, O7 25,000: 55,000 in 3 deals.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
from fastapi.testclient import TestClient
from typer.testing import CliRunner
from web_support import sign_in

from revops.cli import app
from revops.context import RevOps

# (deal, stage, entered, amount, expected close)
HISTORY = [
    ("O1", "Discovery", "2026-08-01", 40_000.0, "2026-10-05"),
    ("O1", "Closed Won", "2026-10-05", 40_000.0, "2026-10-05"),
    ("O2", "Discovery", "2026-09-01", 20_000.0, "2026-10-20"),
    ("O2", "Closed Won", "2026-10-20", 20_000.0, "2026-10-20"),
    ("O3", "Proposal", "2026-09-10", 30_000.0, "2026-10-12"),
    ("O3", "Closed Won", "2026-10-12", 30_000.0, "2026-10-12"),
    ("O4", "Discovery", "2026-09-15", 10_000.0, "2026-10-25"),
    ("O4", "Closed Lost", "2026-10-25", 10_000.0, "2026-10-25"),
    ("O5", "Discovery", "2026-07-01", 15_000.0, "2026-09-15"),
    ("O5", "Closed Won", "2026-09-15", 15_000.0, "2026-09-15"),
    ("O7", "Discovery", "2026-09-20", 25_000.0, "2026-11-20"),
]


def _add_history(ro: RevOps) -> None:
    wh = ro.warehouse
    o7 = wh.execute(
        wh.table("opportunities").filter(wh.table("opportunities").opportunity_id == "O1")
    )
    o7 = o7.assign(
        opportunity_id="O7", name="Deal O7", stage="Discovery", amount=25_000.0,
        created_date=date(2026, 9, 20), close_date=date(2026, 11, 20), is_closed=False,
        is_won=False,
    )  # fmt: skip
    wh.write("opportunities", pa.Table.from_pandas(o7, preserve_index=False), "append")
    rows = {
        "history_id": [f"H{i}" for i in range(len(HISTORY))],
        "opportunity_id": [h[0] for h in HISTORY],
        "stage": [h[1] for h in HISTORY],
        "changed_at": [datetime.fromisoformat(h[2] + "T09:00:00") for h in HISTORY],
        "amount": [h[3] for h in HISTORY],
        "close_date": [date.fromisoformat(h[4]) for h in HISTORY],
    }
    wh.write("opportunity_stage_history", pa.table(rows))


def _figures(client: TestClient, query: str) -> dict[str, str]:
    r = client.get(f"/view/pipeline?{query}&csv=figures")
    assert r.status_code == 200, r.text
    return {row["metric"]: row for row in csv.DictReader(io.StringIO(r.text))}


def _cli(folder: Path, *args: str) -> list[dict[str, str]]:
    """`revops metrics show open_pipeline ARGS --format csv` on the company's warehouse."""
    r = CliRunner().invoke(
        app,
        ["metrics", "show", "open_pipeline", *args, "--format", "csv",
         "-w", str(folder / "web.duckdb")],
        env={"REVOPS_USER": "setup"},
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    return list(csv.DictReader(io.StringIO(r.stdout)))


def test_a_past_month_shows_what_stood_open_then(
    ro: RevOps, client: TestClient, tmp_path: Path
) -> None:
    _add_history(ro)
    assert sign_in(client, "admin@x.com") == 303
    rows = _figures(client, "month=2026-09")
    assert float(rows["open_pipeline"]["value"]) == 125_000
    assert float(rows["open_pipeline"]["previous"]) == 55_000
    assert float(rows["open_opportunities"]["value"]) == 5
    assert rows["sales_velocity"]["value"] == ""  # missing, never $0
    page = client.get("/view/pipeline?month=2026-09").text
    assert "revops pipeline metrics --as-of 2026-09-30" in page
    running = _figures(client, "month=2026-10")
    assert float(running["open_pipeline"]["value"]) == 55_000
    assert float(running["open_opportunities"]["value"]) == 3
    na = _figures(client, "month=2026-09&dim=region&value=NA")
    assert float(na["open_pipeline"]["value"]) == 85_000
    # a filter the snapshot cannot cut by: n/a with the command that answers it
    cut = _figures(client, "month=2026-09&where=amount+%3E+1")
    assert cut["open_pipeline"]["value"] == ""
    # the metric page says the same
    metric = client.get("/metric/open_pipeline?month=2026-09")
    assert '<span class="value" id="value">$125,000</span>' in metric.text
    # `revops metrics show` reads the same: each month that has begun as it stood at its end,
    # every month from --from listed; November (after the data) today's open deals by their
    # expected close date (O7, 25,000)
    months = _cli(tmp_path, "--grain", "month", "--from", "2026-08-01", "--to", "2026-12-01")
    assert [(r["period"][:7], float(r["value"])) for r in months] == [
        ("2026-08", 55_000), ("2026-09", 125_000), ("2026-10", 55_000), ("2026-11", 25_000),
    ]  # fmt: skip
    regions = _cli(tmp_path, "--grain", "all", "--from", "2026-09-01", "--to", "2026-10-01",
                   "--by", "region")  # fmt: skip
    assert {r["region"]: float(r["value"]) for r in regions} == {"NA": 85_000, "EMEA": 40_000}
    cut = _cli(tmp_path, "--grain", "all", "--from", "2026-09-01", "--to", "2026-10-01",
               "--where", "amount > 1")  # fmt: skip
    assert cut[0]["value"] == ""
    assert "revops pipeline snapshot --as-of 2026-09-30 --by DIMENSION" in cut[0]["note"]
    # a rep's own: Bo had 40,000 open at September's end and nothing at August's
    assert sign_in(client, "bo@x.com") == 303
    bo = _figures(client, "month=2026-09")
    assert float(bo["open_pipeline"]["value"]) == 40_000
    assert float(bo["open_pipeline"]["previous"]) == 0


def test_without_stage_history_a_past_month_is_missing(client: TestClient) -> None:
    assert sign_in(client, "admin@x.com") == 303
    rows = _figures(client, "month=2026-09")
    assert rows["open_pipeline"]["value"] == ""
    assert "no stage history to rebuild it from" in client.get("/view/pipeline?month=2026-09").text
