"""A returning person through `POST /leads`, and intake validation, on both backends.

The company of api_support plus Nora (nora@globex.com, US, VP Sales at Globex, 500
employees, Software), parked in Nurture since 2025-05-01, with an old demo request on
2025-04-10 (61 days before Tue 2025-06-10 10:00) and no owner. Her new demo request at Tue
10:00 (the example scoring model):
  fit = mid_market 18 + core_industry 15 + vp 25 + core_market 5 = 63;
  engagement: the new request 25 + the old one 25 × 0.5^(61/30) = 6.09 → 31.09, under the
  high-intent cap 40: the earlier touch counts;
  combined 94.09 ≥ 60, a touch after parking → Nurture → MQL through the lifecycle;
  MQL is routable, no clock runs → territory NA → pool na (order) → a, high_intent (a demo
  request) 15 business minutes → due 10:15.
A second request at 10:05 records another touch but she is already MQL with a-s clock
running: no new decision, the same owner and SLA in the answer.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest
from api_support import Api, lead

from revops.quality.utm import audit as utm_audit


def seed_nora(api: Api) -> None:
    wh = api.ro.warehouse
    wh.write(
        "persons",
        pa.Table.from_pylist(
            [
                {"person_id": "nora", "email": "nora@globex.com", "account_id": "globex"}
                | {"company": "Globex", "title": "VP Sales", "country": "US", "employees": 500}
                | {"industry": "Software", "lifecycle_stage": "Nurture"}
                | {"created_at": datetime(2025, 3, 1)}
            ]
        ),
    )
    wh.write(
        "lifecycle_history",
        pa.Table.from_pylist(
            [
                {"transition_id": "n1", "person_id": "nora", "from_stage": "Lead"}
                | {"to_stage": "Nurture", "changed_at": datetime(2025, 5, 1), "source": "crm"}
            ]
        ),
    )
    wh.write(
        "touchpoints",
        pa.Table.from_pylist(
            [
                {"touchpoint_id": "old", "person_id": "nora", "channel": "paid_search"}
                | {"touch_type": "demo_request", "occurred_at": datetime(2025, 4, 10, 10)}
            ]
        ),
    )


def restart(api: Api) -> None:
    """Reload the server's hot state after seeding the warehouse behind its back."""
    svc = api.client.app.state.service  # type: ignore[attr-defined]
    api.client.portal.call(svc._reload)


def test_a_returning_nurture_lead_is_touched_rescored_requalified_and_routed(api: Api) -> None:
    seed_nora(api)
    restart(api)
    r = api.client.post("/leads", json=lead("Nora@Globex.com"), headers=api.headers())
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["person_id"], body["created"], body["duplicate_of"]) == ("nora", False, "nora")
    assert body["touch_id"].startswith("nora-")
    assert body["scores"]["fit"] == 63
    assert body["scores"]["engagement"] == pytest.approx(25 + 25 * 0.5 ** (61 / 30))
    assert body["scores"]["is_mql_ready"] is True
    assert body["stage_changes"] == [
        {"from_stage": "Nurture", "to_stage": "MQL", "status": "accepted", "reason": None}
    ]
    assert body["lifecycle_stage"] == "MQL"
    assert (body["owner"], body["rule"]) == ({"id": "a", "name": "Alice Adams"}, "territories")
    assert body["sla"] == {
        "priority": "high_intent",
        "started_at": "2025-06-10T10:00:00",
        "due_at": "2025-06-10T10:15:00",
    }
    wh = api.wh
    assert wh.sql("SELECT owner_id, lifecycle_stage FROM persons WHERE person_id = 'nora'") == [
        ("a", "MQL")
    ]
    touches = wh.sql("SELECT touch_type FROM touchpoints WHERE person_id = 'nora'")
    assert sorted(t for (t,) in touches) == ["demo_request", "demo_request"]
    assert wh.sql(
        "SELECT from_stage, to_stage, source FROM lifecycle_history "
        "WHERE person_id = 'nora' AND source = 'api'"
    ) == [("Nurture", "MQL", "api")]
    assert wh.sql("SELECT count(*) FROM sla_clocks WHERE person_id = 'nora'") == [(1,)]
    actions = wh.sql("SELECT action FROM audit_log WHERE subject = 'nora'")
    assert actions == [("leads.returned",)]

    api.now[0] = datetime(2025, 6, 10, 10, 5, tzinfo=UTC)
    again = api.client.post("/leads", json=lead("nora@globex.com"), headers=api.headers()).json()
    assert again["stage_changes"] == []
    assert (again["owner"]["id"], again["sla"]["due_at"]) == ("a", "2025-06-10T10:15:00")
    wh = api.wh
    assert wh.sql("SELECT count(*) FROM routing_decisions WHERE person_id = 'nora'") == [(1,)]
    assert wh.sql("SELECT count(*) FROM touchpoints WHERE person_id = 'nora'") == [(3,)]


def test_a_returning_request_is_idempotent(api: Api) -> None:
    seed_nora(api)
    restart(api)
    headers = api.headers(**{"Idempotency-Key": "again-1"})
    first = api.client.post("/leads", json=lead("nora@globex.com"), headers=headers)
    retry = api.client.post("/leads", json=lead("nora@globex.com"), headers=headers)
    assert first.status_code == retry.status_code == 200
    assert retry.json() == first.json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert api.wh.sql("SELECT count(*) FROM touchpoints WHERE person_id = 'nora'") == [(2,)]


@pytest.mark.parametrize(
    ("given", "stored"),
    [("us", "US"), ("Germany", "DE"), ("DEU", "DE"), (" United States ", "US")],
)
def test_country_names_and_codes_are_normalized(api: Api, given: str, stored: str) -> None:
    r = api.client.post(
        "/leads", json={"email": "n@example.org", "country": given}, headers=api.headers()
    )
    assert r.status_code == 201, r.text
    pid = r.json()["person_id"]
    assert api.wh.sql(f"SELECT country FROM persons WHERE person_id = '{pid}'") == [(stored,)]


def test_an_unknown_source_is_channel_other_and_flagged_by_the_utm_audit(api: Api) -> None:
    """'carrier_pigeon' is no channel: the lead is kept (201) under channel 'other', never a new
    channel, and the value given is the touch's utm_source, which the UTM audit flags."""
    odd = api.client.post(
        "/leads", json=lead("p@globex.com", source="carrier_pigeon"), headers=api.headers()
    )
    assert odd.status_code == 201, odd.text
    pid = odd.json()["person_id"]
    assert api.wh.sql(f"SELECT source FROM persons WHERE person_id = '{pid}'") == [("other",)]
    assert api.wh.sql(f"SELECT channel, utm_source FROM touchpoints WHERE person_id = '{pid}'") == [
        ("other", "carrier_pigeon")
    ]
    flagged = utm_audit(api.wh, api.ro.model.quality.utm).values
    row = flagged[(flagged["field"] == "utm_source") & (flagged["value"] == "carrier_pigeon")]
    assert row["issue"].tolist() == ["unknown"]
    assert "carrier_pigeon" not in set(flagged.loc[flagged["field"] == "channel", "value"])
    nowhere = api.client.post(
        "/leads", json={"email": "q@example.org", "country": "Narnia"}, headers=api.headers()
    )
    assert nowhere.status_code == 422
    assert nowhere.json()["detail"][0]["loc"] == ["body", "country"]
    spelled = api.client.post(
        "/leads", json=lead("s@globex.com", source="Paid Search"), headers=api.headers()
    )
    assert spelled.status_code == 201, spelled.text
    pid = spelled.json()["person_id"]
    assert api.wh.sql(f"SELECT source FROM persons WHERE person_id = '{pid}'") == [("paid_search",)]


def test_reps_pause_and_capacity_take_effect_without_a_config_version(api: Api) -> None:
    """Pausing a (sales_ops) sends the next US lead to b; a viewer may not pause."""
    denied = api.client.post("/reps/a/pause", json={}, headers=api.headers("viewer"))
    assert denied.status_code == 403
    r = api.client.post("/reps/a/pause", json={"reason": "sick"}, headers=api.headers("sales_ops"))
    assert r.status_code == 200, r.text
    assert (r.json()["paused"], r.json()["name"]) == (True, "Alice Adams")
    owners = [
        api.client.post("/leads", json=lead(f"r{i}@globex.com"), headers=api.headers()).json()
        for i in range(2)
    ]
    assert [o["owner"]["id"] for o in owners] == ["b", "b"]
    cap = api.client.post(
        "/reps/b/capacity", json={"daily_cap": 2}, headers=api.headers("sales_ops")
    )
    assert cap.json()["daily_cap"] == 2
    third = api.client.post("/leads", json=lead("r3@globex.com"), headers=api.headers()).json()
    assert (third["owner"], third["queue"]) == (None, "triage")  # a paused, b at 2 of 2
    listed = {r["user_id"]: r for r in api.client.get("/reps", headers=api.headers()).json()}
    assert (listed["a"]["paused"], listed["b"]["daily_cap"]) == (True, 2)
    wh = api.wh
    assert wh.sql("SELECT operation FROM rep_operations ORDER BY recorded_at, operation") == [
        ("capacity",),
        ("pause",),
    ]
    assert wh.count("config_versions") == 0
    bad = api.client.post(
        "/reps/a/ooo",
        json={"starts_at": "2025-06-11T10:00:00", "ends_at": "2025-06-10T10:00:00"},
        headers=api.headers("sales_ops"),
    )
    assert bad.status_code == 422
