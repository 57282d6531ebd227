"""The area pages link to their report's charts and tables, computed by the report's own
functions (web.report_views), each table with its CSV; a rep, who may read only their own
deals, is refused the report pages, which list everyone's."""

from __future__ import annotations

import csv
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


def test_the_pipeline_report_page_says_why_it_is_empty(client: TestClient) -> None:
    assert sign_in(client, "admin@x.com") == 303
    page = client.get("/view/pipeline/report").text
    assert "n/a: opportunity_stage_history is empty; load stage history first" in page


def test_a_rep_may_not_open_a_report_page(client: TestClient) -> None:
    assert sign_in(client, "ada@x.com") == 303
    assert "/view/pipeline/report" not in client.get("/view/pipeline?month=2026-10").text
    r = client.get("/view/pipeline/report")
    assert r.status_code == 403
    assert "shows every rep" in r.text
