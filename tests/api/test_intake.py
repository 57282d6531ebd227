"""POST /leads end to end against the hand-built company (see conftest), on both backends.

Hand-worked answers at Tuesday 2025-06-10 10:00 UTC:
* max@globex.com, US, VP Sales, 500 employees, Software, demo request: domain globex.com →
  Globex (smb, so `named_accounts` does not hold) → territory NA → pool na (order) → a.
  Fit = mid_market 18 + core_industry 15 + vp 25 + core_market 5 = 63; engagement = a
  demo_request touch of age 0 = 25; combined 88 ≥ 60 with fit ≥ 20 → MQL-ready, so the lead
  enters Lead then MQL. SLA high_intent 15 business minutes, a in UTC → due 10:15.
* the next US lead goes to b (order pool), the one after back to a.
* x@acme.de → Acme (enterprise, owned) → owner own by `named_accounts`; default SLA 480
  business minutes from Tue 10:00 UTC → Tue 7 h (420) + Wed 60 → Wed 10:00 UTC.
* a DE lead with a free-mail address and no company → territory EMEA → c, in Berlin: Tue
  12:00–17:00 local (300) + Wed 09:00–12:00 (180) → Wed 12:00 CEST = 10:00 UTC.
* a student → queue nurture (no owner, no clock); FR matches nothing → fallback triage.
  Those four ask for a meeting as the CRO of a 500-person company (MQL needs a company and a
  country, so they name Initech, no account): fit c_level 30 + mid_market
  18 (+ core_market 5 for DE and US) ≥ 48, engagement meeting 20, combined ≥ 68 ≥ 60 → MQL, a
  routable stage; the student requests a demo (fit 45 + 5 ≥ 20, fast-tracked).
* routing.routable_stages is MQL: a lead that is not MQL-ready (an email and a country: fit 5,
  engagement 0) enters Lead, is stored and scored, and is not routed; the answer says why.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from api_support import Api, lead

from revops.api.journal import JournalError
from revops.audit import verify
from revops.warehouse.warehouse import WarehouseError

CRO_MEETING = {"company": "Initech", "title": "CRO", "employees": 500, "form": "meeting"}


def post(api: Api, body: dict[str, Any], **headers: str) -> Any:
    return api.client.post("/leads", json=body, headers=api.headers(**headers))


def test_new_lead_gets_the_hand_worked_owner_scores_stage_and_clock(api: Api) -> None:
    r = post(api, lead("max@globex.com"))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["created"]
    assert body["duplicate_of"] is None
    assert body["owner"] == {"id": "a", "name": "Alice Adams"}
    assert body["rule"] == "territories"
    assert body["reason"] == "in territory 'NA' → pool na (order) → a"
    assert body["account"] == {
        "account_id": "globex",
        "name": "Globex",
        "confidence": 0.97,
        "reason": "domain globex.com",
    }
    assert body["scores"] == {
        "fit": 63.0,
        "engagement": 25.0,
        "combined": 88.0,
        "is_mql_ready": True,
    }
    assert body["lifecycle_stage"] == "MQL"
    assert body["sla"] == {
        "priority": "high_intent",
        "started_at": "2025-06-10T10:00:00",
        "due_at": "2025-06-10T10:15:00",
    }
    pid = body["person_id"]
    stored = api.wh.sql(
        f"SELECT owner_id, account_id, lifecycle_stage FROM persons WHERE person_id = '{pid}'"
    )
    assert stored == [("a", "globex", "MQL")]
    stages = api.wh.sql(
        f"SELECT to_stage FROM lifecycle_history WHERE person_id = '{pid}' ORDER BY transition_id"
    )
    assert [s for (s,) in stages] == ["Lead", "MQL"]
    assert api.wh.sql(f"SELECT count(*) FROM sla_clocks WHERE person_id = '{pid}'") == [(1,)]
    assert api.wh.sql(f"SELECT combined FROM lead_scores WHERE person_id = '{pid}'") == [(88.0,)]


def test_round_robin_named_accounts_territories_queues_and_fallback(api: Api) -> None:
    owners = [post(api, lead(f"u{i}@globex.com")).json()["owner"]["id"] for i in range(3)]
    assert owners == ["a", "b", "a"]

    acme = post(api, {"email": "x@acme.de", "country": "DE", **CRO_MEETING}).json()
    assert acme["lifecycle_stage"] == "MQL"
    assert (acme["owner"]["id"], acme["rule"]) == ("own", "named_accounts")
    assert acme["reason"] == "account 'acme' is owned → owner own"
    assert acme["sla"]["due_at"] == "2025-06-11T10:00:00"

    emea = post(api, {"email": "k@gmail.com", "country": "DE", **CRO_MEETING}).json()
    assert emea["account"] is None
    assert (emea["owner"]["id"], emea["sla"]["due_at"]) == ("c", "2025-06-11T10:00:00")

    student = {"company": "Initech", "title": "Student", "employees": 1000, "industry": "Software"}
    student = post(
        api, {"email": "s@uni.edu", "country": "US", "form": "demo_request", **student}
    ).json()
    assert student["lifecycle_stage"] == "MQL"
    assert (student["owner"], student["queue"], student["rule"], student["sla"]) == (
        None,
        "nurture",
        "students",
        None,
    )
    nowhere = post(api, {"email": "f@example.fr", "country": "FR", **CRO_MEETING}).json()
    assert (nowhere["queue"], nowhere["rule"], nowhere["reason"]) == (
        "triage",
        None,
        "no rule matched",
    )


def test_a_lead_outside_the_routable_stages_is_stored_and_scored_not_routed(api: Api) -> None:
    decisions = api.wh.count("routing_decisions")
    r = post(api, {"email": "quiet@globex.com", "country": "us"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["created"]
    assert body["scores"] == {
        "fit": 5.0,
        "engagement": 0.0,
        "combined": 5.0,
        "is_mql_ready": False,
    }
    assert body["lifecycle_stage"] == "Lead"
    assert (body["owner"], body["queue"], body["rule"], body["decision_id"], body["sla"]) == (
        None,
        None,
        None,
        None,
        None,
    )
    assert body["reason"] == (
        "not routed: stage Lead is not routable (routing.routable_stages: MQL)"
    )
    pid = body["person_id"]
    stored = api.wh.sql(
        f"SELECT owner_id, country, lifecycle_stage FROM persons WHERE person_id = '{pid}'"
    )
    assert stored == [(None, "US", "Lead")]
    assert api.wh.sql(f"SELECT combined FROM lead_scores WHERE person_id = '{pid}'") == [(5.0,)]
    assert api.wh.count("routing_decisions") == decisions
    assert api.wh.sql(f"SELECT count(*) FROM sla_clocks WHERE person_id = '{pid}'") == [(0,)]
    # the round robin did not move: the next MQL-ready US lead goes to a, the pool's first
    assert post(api, lead("next@globex.com")).json()["owner"]["id"] == "a"


def test_duplicate_email_returns_the_existing_person(api: Api) -> None:
    before = api.wh.count("persons")
    r = post(api, {"email": "  JANE@Acme.de ", "first_name": "Jane"})
    assert r.status_code == 200
    body = r.json()
    assert (body["person_id"], body["created"], body["duplicate_of"]) == ("p1", False, "p1")
    assert body["owner"] == {"id": "own", "name": "Olga Owner"}
    assert api.wh.count("persons") == before

    first = post(api, lead("new@globex.com")).json()
    again = post(api, lead("NEW@globex.com")).json()
    assert again["duplicate_of"] == first["person_id"]
    assert (again["owner"], again["rule"], again["reason"]) == (
        first["owner"],
        first["rule"],
        first["reason"],
    )


def test_idempotent_retry_writes_once_and_a_changed_body_is_refused(api: Api) -> None:
    persons, audit = api.wh.count("persons"), api.wh.count("audit_log")
    first = post(api, lead("once@globex.com"), **{"Idempotency-Key": "form-42"})
    retry = post(api, lead("once@globex.com"), **{"Idempotency-Key": "form-42"})
    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert (api.wh.count("persons"), api.wh.count("audit_log")) == (persons + 1, audit + 1)
    assert api.wh.count("api_idempotency") == 1

    changed = post(api, lead("other@globex.com"), **{"Idempotency-Key": "form-42"})
    assert changed.status_code == 422
    assert changed.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]
    assert api.wh.count("persons") == persons + 1


def test_bad_input_is_a_422_naming_the_field(api: Api) -> None:
    cases = [
        ({"first_name": "No Email"}, ["body", "email"], "missing"),
        ({"email": "not-an-email"}, ["body", "email"], "value_error"),
        ({"email": "a@b.com", "nickname": "x"}, ["body", "nickname"], "extra_forbidden"),
        ({"email": "a@b.com", "country": "Narnia"}, ["body", "country"], "value_error"),
        ({"email": "a@b.com", "employees": -3}, ["body", "employees"], "greater_than_equal"),
        ({"email": "a@b.com", "form": "carrier_pigeon"}, ["body", "form"], "literal_error"),
        ({"email": "a@b.com", "title": "CEO\x00"}, ["body", "title"], "value_error"),
    ]
    for body, loc, kind in cases:
        r = post(api, body)
        assert r.status_code == 422, body
        error = r.json()["detail"][0]
        assert (error["loc"], error["type"]) == (loc, kind), (body, error)
    assert "valid email" in post(api, {"email": "nobody"}).json()["detail"][0]["msg"]
    assert api.wh.sql("SELECT count(*) FROM persons WHERE person_id LIKE 'api-%'") == [(0,)]


def test_group_commit_keeps_order_fairness_and_one_audit_chain(api: Api) -> None:
    """Leads admitted while a group is being written share the next commit; round-robin turns
    and the audit chain stay exactly as if they had been sent one by one."""
    import asyncio

    import httpx2

    async def burst() -> list[dict[str, Any]]:
        transport = httpx2.ASGITransport(app=api.client.app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://t") as c:
            calls = [
                c.post("/leads", json=lead(f"g{i}@globex.com"), headers=api.headers())
                for i in range(24)
            ]
            return [r.json() for r in await asyncio.gather(*calls)]

    answers = api.client.portal.call(burst)  # the app's own event loop
    owners = [a["owner"]["id"] for a in answers]
    assert sorted(owners) == ["a"] * 12 + ["b"] * 12
    assert len({a["person_id"] for a in answers}) == 24
    check = verify(api.wh)
    assert check.ok, check.problems


def test_health_needs_no_key(api: Api) -> None:
    r = api.client.get("/health")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"


def test_a_failed_journal_write_answers_503_writes_nothing_and_rolls_the_state_back(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = api.client.app.state.service  # type: ignore[attr-defined]
    persons, audit = api.wh.count("persons"), api.wh.count("audit_log")
    journal = service.journal
    real = journal.append

    def broken(number: int, batches: Any) -> Any:
        monkeypatch.setattr(journal, "append", real)  # fail once
        raise JournalError("cannot write the intake journal: [Errno 28] No space left on device")

    monkeypatch.setattr(journal, "append", broken)
    failed = post(api, lead("first@globex.com"), **{"Idempotency-Key": "k1"})
    assert failed.status_code == 503
    assert "not stored" in failed.json()["detail"]
    assert failed.headers["Retry-After"] == "1"
    assert (api.wh.count("persons"), api.wh.count("audit_log")) == (persons, audit)
    # the failed lead took a's turn in memory only: after the rollback a is still next, and
    # the retry with the same idempotency key is a fresh attempt, not a replay of the 503
    retry = post(api, lead("first@globex.com"), **{"Idempotency-Key": "k1"})
    assert retry.status_code == 201
    assert retry.json()["owner"]["id"] == "a"
    assert "Idempotent-Replayed" not in retry.headers
    assert post(api, lead("second@globex.com")).json()["owner"]["id"] == "b"
    check = verify(api.wh)
    assert check.ok, check.problems


def test_a_failed_apply_keeps_the_answer_retries_and_shows_in_health(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lead is durable in the journal, so it is answered; the warehouse write is retried
    (with backoff) until it lands, exactly once, and /health shows the lag meanwhile."""
    wh = api.ro.warehouse
    persons = api.wh.count("persons")
    real = wh.write_many
    gate = threading.Event()

    def broken(batches: Any, **kw: Any) -> Any:
        if not gate.is_set():
            raise WarehouseError("write failed, nothing was changed: connection lost")
        return real(batches, **kw)

    monkeypatch.setattr(wh, "write_many", broken)
    r = post(api, lead("durable@globex.com"))
    assert r.status_code == 201
    health: dict[str, Any] = {}
    for _ in range(200):  # until the applier has failed at least once
        health = api.client.get("/health").json()
        if health["last_apply_error"]:
            break
        time.sleep(0.01)
    assert health["journal_lag_groups"] == 1
    assert "connection lost" in health["last_apply_error"]
    assert health["commits"]["apply_failures"] >= 1
    gate.set()
    pid = r.json()["person_id"]
    assert api.wh.sql(f"SELECT count(*) FROM persons WHERE person_id = '{pid}'") == [(1,)]
    assert api.wh.count("persons") == persons + 1
    health = api.client.get("/health").json()
    assert (health["journal_lag_groups"], health["last_apply_error"]) == (0, None)


def test_an_erased_person_is_refused_and_nothing_is_written(
    warehouse: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataclasses import replace
    from datetime import datetime

    import pyarrow as pa
    from api_support import EXAMPLE, KEY_ROWS, NOW, ROUTING, TOKENS, seed
    from fastapi.testclient import TestClient

    from revops.api import create_app
    from revops.config import load_config
    from revops.context import RevOps
    from revops.privacy.identifiers import normalize_email, salted_hash

    monkeypatch.setenv("REVOPS_PRIVACY_SALT", "api-test-salt")
    seed(warehouse)
    warehouse.write("api_keys", KEY_ROWS)
    # The tombstone an erasure of gone@globex.com leaves: only the salted hash of the email.
    digest = salted_hash(b"api-test-salt", normalize_email("gone@globex.com"))
    tomb = {
        "tombstone_id": ["t1"],
        "email_hash": [digest],
        "erased_at": [datetime(2025, 1, 1)],
        "reason": ["GDPR Art. 17"],
    }
    warehouse.write("privacy_tombstones", pa.table(tomb))
    loaded = load_config(EXAMPLE)
    ro = RevOps(
        replace(loaded, model=loaded.model.model_copy(update={"routing": ROUTING})), warehouse
    )
    app = create_app(ro, clock=lambda: NOW, journal=tmp_path / "journal")
    headers = {"Authorization": f"Bearer {TOKENS['revops_admin']}"}
    with TestClient(app) as client:
        before = warehouse.count("persons")
        refused = client.post("/leads", json=lead(" Gone@Globex.com"), headers=headers)
        assert refused.status_code == 422
        detail = refused.json()["detail"][0]
        assert detail["loc"] == ["body", "email"]
        assert detail["type"] == "erased_person"
        assert (
            client.post("/leads", json=lead("kept@globex.com"), headers=headers).status_code == 201
        )
    assert warehouse.count("persons") == before + 1
