"""The area pages link to their report's charts and tables, computed by the report's own
functions (web.report_views), each table with its CSV; a rep, who may read only their own
deals, is refused the report pages, which list everyone's."""

from __future__ import annotations

import csv
import html
import io

from fastapi.testclient import TestClient
from web_support import sign_in

from revops.context import RevOps
from revops.quality.check import check


def test_the_quality_report_page_is_the_reports(ro: RevOps, client: TestClient) -> None:
    assert sign_in(client, "admin@x.com") == 303
    area = client.get("/view/quality?month=2026-10").text
    assert 'href="/view/quality/report"' in area
    page = client.get("/view/quality/report")
    assert page.status_code == 200
    assert "From the quality report" in page.text
    r = client.get("/view/quality/report?csv=violations")
    assert r.status_code == 200
    rows = list(csv.DictReader(io.StringIO(r.text)))
    failing = check(ro.warehouse, ro.model).failing  # what `revops quality check` lists
    assert sorted((v["table"], v["field"], v["rule"], int(v["violations"])) for v in rows) == (
        sorted((f.table, f.field, f.rule, f.violations) for f in failing)
    )


def test_a_report_page_says_why_it_is_empty(client: TestClient) -> None:
    """The small company has no stage history, revenue tables, touches or backtest: each
    report page says what is missing and which command makes it (the demo's pages are
    reconciled with the CLI in tests/reports/test_reconciliation.py)."""
    assert sign_in(client, "admin@x.com") == 303
    why = {
        "pipeline": "opportunity_stage_history is empty; load stage history first",
        "revenue": "no revenue tables yet: run `revops revenue run` first",
        "attribution": "no opportunity conversion has a touch in its lookback window",
        "forecast": "no backtest stored yet: run `revops forecast backtest` first",
    }
    for area, reason in why.items():
        assert f'href="/view/{area}/report"' in client.get(f"/view/{area}?month=2026-10").text
        page = client.get(f"/view/{area}/report")
        assert page.status_code == 200, area
        assert f"n/a: {html.escape(reason, quote=True)}" in page.text, area
    assert "is not a fiscal quarter" in client.get("/view/forecast/report?period=x").text


def test_a_rep_may_not_open_a_report_page(client: TestClient) -> None:
    assert sign_in(client, "ada@x.com") == 303
    for area in ("pipeline", "revenue", "attribution", "forecast"):
        assert f"/view/{area}/report" not in client.get(f"/view/{area}?month=2026-10").text
        r = client.get(f"/view/{area}/report")
        assert r.status_code == 403, area
        assert "shows every rep" in r.text


def test_a_report_table_reads_dates_months_and_missing_times() -> None:
    """A missing time (NaT, a datetime to Python) is an empty cell, never a crash; a month
    column reads 2026-10; a record's id opens its page."""
    import pandas as pd

    from revops.web.report_views import frame_grid

    frame = pd.DataFrame(
        {
            "month": [pd.Timestamp("2026-10-01"), pd.Timestamp("2026-11-01")],
            "last_activity": [pd.NaT, pd.Timestamp("2026-10-14 09:30")],
            "opportunity_id": ["O1", "O/2"],
        }
    )
    grid = frame_grid("t", "T", frame, "USD", {"month": "month"})
    assert [[c.text for c in row] for row in grid.rows] == [
        ["2026-10", "", "O1"],
        ["2026-11", "2026-10-14", "O/2"],
    ]
    assert grid.rows[1][2].href == "/records/opportunities/O%2F2"
    assert grid.csv().splitlines()[1] == "2026-10-01 00:00:00,,O1"
