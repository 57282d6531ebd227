"""Pay on the pages: every statement read and refusal is audited, as in the CLI and the API,
and a person who is not a rep reads none."""

from __future__ import annotations

from fastapi.testclient import TestClient
from web_support import sign_in

from revops.audit import entries
from revops.context import RevOps


def test_statement_reads_and_refusals_are_audited(client: TestClient, ro: RevOps) -> None:
    sign_in(client, "mia@x.com")  # Ada's and Bo's manager
    listing = client.get("/comp?month=2026-10")
    assert "/comp/U1?" in listing.text
    assert "/comp/U2?" in listing.text
    assert client.get("/comp/U1?month=2026-10").status_code == 200
    client.cookies.clear()
    sign_in(client, "bo@x.com")
    r = client.get("/comp/U1?month=2026-10")
    assert r.status_code == 403
    assert "O1" not in r.text
    client.cookies.clear()
    sign_in(client, "viewer@x.com")  # not a rep: no pay at all
    assert "/comp/U" not in client.get("/comp?month=2026-10").text
    assert client.get("/comp/U2?month=2026-10").status_code == 403
    log = [(e.action, e.actor, e.subject) for e in entries(ro.warehouse)]
    assert ("comp.statement_read", "mia@x.com", "2026-10/U1") in log
    assert ("comp.statement_refused", "bo@x.com", "2026-10/U1") in log
    assert ("comp.statement_refused", "viewer@x.com", "2026-10/U2") in log
    assert ("comp.statements_listed", "mia@x.com", "2026-10") in log
