"""SLA clocks in the warehouse, on DuckDB and PostgreSQL, hand-worked across a weekend.

Business hours 09:00–17:00 Monday to Friday, each owner's own timezone. Users a (New York,
UTC-4 in June) and b (UTC); one order pool [a, b]; 2025-06-06 is a Friday. Routing at
Fri 20:50 UTC (16:50 in New York) in creation order:
  p1 demo_request (high_intent, 15 min) → a: 10 min Fri + 5 Mon → Mon 06-09 09:05 NY = 13:05 UTC
  p2 event (1440 min)                   → b: Fri is over; Mon, Tue, Wed 480 each → Wed 17:00 UTC
  p3 paid (default 480 min)             → a: 10 min Fri + 470 Mon → Mon 16:50 NY = 20:50 UTC
  p4 paid                               → b: Mon 09:00 + 480 → Mon 17:00 UTC
Then: p1 accepted Mon 13:00 UTC (on time, 3850 wall minutes after assignment), p4 accepted
Mon 16:00 (on time, 4030 minutes), p3 rejected
Mon 21:00 as a student (10 minutes late, 4330 minutes) → Disqualified. p2 is never answered:
at Wed 17:30 its first breach re-arms b's clock from the missed deadline (Thu, Fri, Mon →
Mon 06-16 17:00 UTC); at Mon 06-16 18:00 the second breach escalates: re-routed to a (the pool's
next member), whose new clock runs Mon 14:00–17:00 NY (180), Tue, Wed (480 each), Thu 300 →
Thu 06-19 14:00 NY = 18:00 UTC.
An acceptance the lifecycle refuses (p4 moved to Nurture first: Nurture → SAL is not a
transition) is an error and records nothing: the clock keeps running.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from revops.config import load_config
from revops.config.routing import RoutingConfig
from revops.errors import RevOpsError
from revops.metrics import compute
from revops.routing import route_unassigned
from revops.routing.sla_store import (
    LifecycleRefused,
    accept,
    detect_breaches,
    open_clocks,
    reject,
)
from revops.warehouse import Warehouse

SHIPPED = load_config(Path(__file__).parents[2] / "examples" / "revops.yaml").model
CFG = RoutingConfig.model_validate(
    {
        "pools": [{"name": "p", "members": [{"user_id": "a"}, {"user_id": "b"}]}],
        "rules": [{"name": "everyone", "pool": "p"}],
        "sla": {
            "targets": [
                {
                    "priority": "high_intent",
                    "minutes": 15,
                    "when": [{"field": "source", "op": "in", "value": ["demo_request"]}],
                },
                {
                    "priority": "event",
                    "minutes": 1440,
                    "when": [{"field": "source", "value": "event"}],
                },
            ],
            "default_minutes": 480,
            "escalate_after_breaches": 2,
        },
    }
)
MODEL = SHIPPED.model_copy(update={"routing": CFG})
FRI = datetime(2025, 6, 6, 20, 50, tzinfo=UTC)


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2025, 6, day, hour, minute)  # naive UTC, as the warehouse returns it


def seed(wh: Warehouse) -> None:
    wh.write(
        "users",
        pa.Table.from_pylist(
            [
                {"user_id": u, "name": u, "team": "SDR", "role": "sdr", "is_active": True}
                | {"timezone": tz}
                for u, tz in (("a", "America/New_York"), ("b", "UTC"))
            ]
        ),
    )
    wh.write(
        "persons",
        pa.Table.from_pylist(
            [
                {
                    "person_id": pid,
                    "email": f"{pid}@x.com",
                    "company": "X",
                    "country": "US",
                    "source": source,
                    "lifecycle_stage": stage,
                    "created_at": datetime(2025, 6, 1, i),
                }
                for i, (pid, source, stage) in enumerate(
                    [
                        ("p1", "demo_request", "MQL"),
                        ("p2", "event", "MQL"),
                        ("p3", "paid", "MQL"),
                        ("p4", "paid", "MQL"),
                    ]
                )
            ]
        ),
    )


def clocks(wh: Warehouse) -> list[dict[str, object]]:
    return wh.to_arrow(wh.table("sla_clocks").order_by(["started_at", "person_id"])).to_pylist()


def rows(wh: Warehouse, table: str) -> list[dict[str, object]]:
    return wh.to_arrow(wh.table(table)).to_pylist()


def stage(wh: Warehouse, pid: str) -> object:
    t = wh.table("persons")
    return wh.to_arrow(t.filter(t.person_id == pid)).to_pylist()[0]["lifecycle_stage"]


def run_scenario(wh: Warehouse) -> None:
    seed(wh)
    route_unassigned(wh, CFG, FRI)
    accept(wh, MODEL, "p1", utc(9, 13))
    accept(wh, MODEL, "p4", utc(9, 16))
    reject(wh, MODEL, "p3", "student", utc(9, 21))
    detect_breaches(wh, MODEL, utc(11, 17, 30))
    detect_breaches(wh, MODEL, utc(16, 18))


def test_routing_starts_clocks_in_each_owners_business_hours(warehouse: Warehouse) -> None:
    seed(warehouse)
    routed = route_unassigned(warehouse, CFG, FRI)
    got = {
        c["person_id"]: (c["owner_id"], c["priority"], c["due_at"], c["breached"])
        for c in clocks(warehouse)
    }
    assert got == {
        "p1": ("a", "high_intent", utc(9, 13, 5), False),
        "p2": ("b", "event", utc(11, 17), False),
        "p3": ("a", "default", utc(9, 20, 50), False),
        "p4": ("b", "default", utc(9, 17), False),
    }
    assert {c["decision_id"] for c in clocks(warehouse)} == {r.decision_id for r in routed}
    assert all(c["closed_at"] is None for c in clocks(warehouse))


def test_accept_moves_the_lead_to_sal_in_one_go(warehouse: Warehouse) -> None:
    seed(warehouse)
    route_unassigned(warehouse, CFG, FRI)
    done = accept(warehouse, MODEL, "p1", utc(9, 13))
    assert done.met
    assert done.lifecycle is not None
    assert done.lifecycle.status == "accepted"
    history = rows(warehouse, "lifecycle_history")
    assert [(h["person_id"], h["from_stage"], h["to_stage"], h["source"]) for h in history] == [
        ("p1", "MQL", "SAL", "sla")
    ]
    assert [e["stage"] for e in rows(warehouse, "lifecycle_events")] == ["SAL"]
    assert stage(warehouse, "p1") == "SAL"
    assert "p1" not in open_clocks(warehouse, ["p1"])
    with pytest.raises(RevOpsError, match="no running SLA clock"):
        accept(warehouse, MODEL, "p1", utc(9, 14))

    warehouse.write("persons", pa.table({"person_id": ["p4"], "lifecycle_stage": ["Nurture"]}))
    before = clocks(warehouse)
    with pytest.raises(LifecycleRefused, match="p4: not accepted, the lifecycle refuses SAL"):
        accept(warehouse, MODEL, "p4", utc(9, 16))
    assert clocks(warehouse) == before  # nothing half-applied: p4's clock still runs
    assert "p4" in open_clocks(warehouse, ["p4"])
    assert rows(warehouse, "lifecycle_rejections") == []
    assert [e["stage"] for e in rows(warehouse, "lifecycle_events")] == ["SAL"]
    assert stage(warehouse, "p4") == "Nurture"


def test_reject_needs_a_listed_reason_and_applies_the_reentry_stage(
    warehouse: Warehouse,
) -> None:
    seed(warehouse)
    route_unassigned(warehouse, CFG, FRI)
    with pytest.raises(RevOpsError, match="rejection reason 'meh' is not one of"):
        reject(warehouse, MODEL, "p3", "meh", utc(9, 21))
    assert "p3" in open_clocks(warehouse, ["p3"])
    assert rows(warehouse, "lifecycle_events") == []

    done = reject(warehouse, MODEL, "p3", "student", utc(9, 21))
    assert not done.met
    assert stage(warehouse, "p3") == "Disqualified"
    (c,) = [c for c in clocks(warehouse) if c["person_id"] == "p3"]
    assert (c["response"], c["rejection_reason"], c["breached"], c["breach_count"]) == (
        "rejected",
        "student",
        True,
        1,
    )
    recycle = MODEL.routing.sla.reentry["existing_opportunity"]
    assert recycle == "Recycled"
    reject(warehouse, MODEL, "p2", "no_contact_info", utc(9, 10))
    assert stage(warehouse, "p2") == "Nurture"


def test_breaches_rearm_then_escalate_by_rerouting(warehouse: Warehouse) -> None:
    seed(warehouse)
    route_unassigned(warehouse, CFG, FRI)
    assert detect_breaches(warehouse, MODEL, utc(9, 13)).breached == ()  # p1 due at 13:05
    accept(warehouse, MODEL, "p1", utc(9, 13))
    accept(warehouse, MODEL, "p4", utc(9, 16))
    reject(warehouse, MODEL, "p3", "student", utc(9, 21))
    first = detect_breaches(warehouse, MODEL, utc(11, 17, 30))
    assert (first.rearmed, first.escalated) == (("p2",), ())
    (rearmed,) = [
        c for c in open_clocks(warehouse, ["p2"]).values() if c["started_at"] == utc(11, 17)
    ]
    assert (rearmed["owner_id"], rearmed["due_at"], rearmed["breach_count"]) == (
        "b",
        utc(16, 17),
        1,
    )

    second = detect_breaches(warehouse, MODEL, utc(16, 18))
    assert second.rearmed == ()
    assert [(r.person_id, r.decision.owner_id) for r in second.escalated] == [("p2", "a")]
    escalated = [c for c in clocks(warehouse) if c["escalated_to"] is not None]
    assert [(c["person_id"], c["owner_id"], c["breach_count"]) for c in escalated] == [
        ("p2", "b", 2)
    ]
    new = open_clocks(warehouse, ["p2"])["p2"]
    assert (new["owner_id"], new["started_at"], new["due_at"]) == ("a", utc(16, 18), utc(19, 18))
    steps = sorted(rows(warehouse, "sla_escalations"), key=lambda r: r["breach_count"])
    assert [
        (r["person_id"], r["step"], r["breach_count"], r["notified_user_id"], r["rerouted_to"])
        for r in steps
    ] == [("p2", "remind_owner", 1, "b", None), ("p2", "reroute", 2, None, "a")]


def test_a_reroute_its_escalation_row_and_audit_entry_are_one_transaction(
    warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same scenario: p2's second breach re-routes it. A failing write leaves nothing of
    it (no decision, no escalation row, no audit entry, the clock still running); the retry
    writes the re-assignment, the reroute row and the audit entry together, once."""
    seed(warehouse)
    route_unassigned(warehouse, CFG, FRI)
    for pid in ("p1", "p3", "p4"):
        accept(warehouse, MODEL, pid, utc(9, 13))
    detect_breaches(warehouse, MODEL, utc(11, 17, 30), actor="ops")
    before = {t: warehouse.count(t) for t in ("routing_decisions", "sla_escalations", "audit_log")}
    original = Warehouse.write_many
    calls: list[list[str]] = []

    def failing(self: Warehouse, batches: list[object], *args: object, **kw: object) -> object:
        calls.append([b.table for b in batches])  # type: ignore[attr-defined]
        raise RevOpsError("disk full")

    monkeypatch.setattr(Warehouse, "write_many", failing)
    with pytest.raises(RevOpsError, match="disk full"):
        detect_breaches(warehouse, MODEL, utc(16, 18), actor="ops")
    monkeypatch.setattr(Warehouse, "write_many", original)
    assert len(calls) == 1  # everything was handed to one write
    assert {"routing_decisions", "persons", "sla_clocks", "sla_escalations", "audit_log"} <= set(
        calls[0]
    )
    after = {t: warehouse.count(t) for t in before}
    assert after == before
    assert open_clocks(warehouse, ["p2"])["p2"]["owner_id"] == "b"

    report = detect_breaches(warehouse, MODEL, utc(16, 18), actor="ops")
    assert [(r.person_id, r.decision.owner_id) for r in report.escalated] == [("p2", "a")]
    assert warehouse.count("routing_decisions") == before["routing_decisions"] + 1
    assert warehouse.count("sla_escalations") == before["sla_escalations"] + 1
    (entry,) = [r for r in rows(warehouse, "audit_log") if r["action"] == "routing.escalated"][-1:]
    assert entry["subject"] == "1 SLA breaches, 1 leads re-routed"


def test_escalation_reminds_the_owner_then_the_manager_then_reroutes(
    warehouse: Warehouse,
) -> None:
    """escalation [remind_owner, remind_manager, reroute]; b's manager is a. p2 (b's, due Wed
    06-11 17:00): breach 1 at Wed 17:30 reminds b (re-armed: due Mon 06-16 17:00); breach 2
    at Mon 18:00 reminds a, b's manager (re-armed from Mon 17:00 by 1440 business minutes:
    Tue, Wed, Thu → Thu 06-19 17:00); breach 3 at Thu 18:00 re-routes it to a."""
    sla = CFG.sla.model_copy(update={"escalation": ("remind_owner", "remind_manager", "reroute")})
    model = MODEL.model_copy(update={"routing": CFG.model_copy(update={"sla": sla})})
    seed(warehouse)
    warehouse.write("users", pa.table({"user_id": ["b"], "manager_id": ["a"]}))
    route_unassigned(warehouse, model.routing, FRI)
    for pid in ("p1", "p3", "p4"):
        accept(warehouse, model, pid, utc(9, 10))
    assert detect_breaches(warehouse, model, utc(11, 17, 30)).reminded == ("p2",)
    second = detect_breaches(warehouse, model, utc(16, 18))
    assert (second.reminded, second.escalated) == (("p2",), ())
    assert open_clocks(warehouse, ["p2"])["p2"]["due_at"] == utc(19, 17)
    third = detect_breaches(warehouse, model, utc(19, 18))
    assert [(r.person_id, r.decision.owner_id) for r in third.escalated] == [("p2", "a")]
    steps = sorted(rows(warehouse, "sla_escalations"), key=lambda r: r["breach_count"])
    assert [(r["step"], r["notified_user_id"], r["rerouted_to"]) for r in steps] == [
        ("remind_owner", "b", None),
        ("remind_manager", "a", None),
        ("reroute", None, "a"),
    ]
    t = warehouse.table("persons")
    assert warehouse.to_arrow(t.filter(t.person_id == "p2")).to_pylist()[0]["owner_id"] == "a"


def test_only_unanswered_leads_breach(warehouse: Warehouse) -> None:
    run_scenario(warehouse)
    got = [
        (c["person_id"], c["owner_id"], c["response"], c["breached"], c["breach_count"])
        for c in clocks(warehouse)
    ]
    assert got == [
        ("p1", "a", "accepted", False, 0),
        ("p2", "b", None, True, 1),
        ("p3", "a", "rejected", True, 1),
        ("p4", "b", "accepted", False, 0),
        ("p2", "b", None, True, 2),
        ("p2", "a", None, False, 0),
    ]
    assert [c["escalated_to"] for c in clocks(warehouse)] == [None, None, None, None, "a", None]


EXPECTED = {
    "sla_responses": 3,  # p1 p3 p4
    "sla_met": 2,  # p1 p4
    "sla_clocks_due": 5,  # the three answered, p2's two breached clocks (a's new one runs)
    "sla_adherence": 2 / 5,
    "sla_accepted": 2,
    "acceptance_rate": 2 / 3,
    "speed_to_lead_minutes": (3850 + 4030 + 4330) / 3,
    "conversion_lag_days": (3850 + 4030) / 2 / 1440,
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_sla_metrics(warehouse: Warehouse, name: str) -> None:
    run_scenario(warehouse)
    df = compute(warehouse, MODEL, name, grain=None)
    assert df["value"].tolist() == pytest.approx([EXPECTED[name]])
    by_month = compute(warehouse, MODEL, name)
    assert by_month["value"].tolist() == pytest.approx([EXPECTED[name]])


def test_cli_breaches_reject_and_accept(tmp_path: Path) -> None:
    """Example config; the NY SDR gets `us` at Wed 10:00 NY, default 480 minutes: Wed 420 +
    Thu 60 → due Thu 10:00 NY = 14:00 UTC."""
    from typer.testing import CliRunner

    from revops.cli import app

    sdr = "0055g00N00000GzAEI"
    url = str(tmp_path / "wh.duckdb")
    with Warehouse.connect(url) as wh:
        user = {"user_id": sdr, "name": "Rep", "team": "NA SDR", "role": "sdr"}
        user |= {"is_active": True, "timezone": "America/New_York"}
        wh.write("users", pa.Table.from_pylist([user]))
        lead = {"person_id": "us", "email": "us@x.com", "company": "X", "country": "US"}
        lead |= {"lifecycle_stage": "MQL", "created_at": datetime(2025, 6, 1)}
        wh.write("persons", pa.Table.from_pylist([lead]))
    args = ["-c", str(Path(__file__).parents[2] / "examples" / "revops.yaml"), "-w", url]
    runner = CliRunner()
    env = {"COLUMNS": "200"}

    def run(*cmd: str) -> tuple[int, str]:
        result = runner.invoke(app, [*cmd, *args], env=env)
        return result.exit_code, result.output

    assert run("route", "run", "--since", "2025-06-01", "--at", "2025-06-04T14:00")[0] == 0
    code, out = run("route", "breaches", "--at", "2025-06-05T15:00")
    assert code == 0, out
    assert "us" in out
    assert "2025-06-05 14:00:00" in out
    assert "total overdue: 1" in out
    code, out = run("route", "breaches", "--page", "2", "--at", "2025-06-05T15:00")
    assert (code, "us" in out, "total overdue: 1" in out) == (0, False, True)
    code, out = run("route", "reject", "us", "--reason", "meh", "--at", "2025-06-05T13:00")
    assert code == 1
    assert "rejection reason 'meh' is not one of" in out
    code, out = run("route", "accept", "us", "--at", "2025-06-05T13:00")
    assert code == 0, out
    assert "us accepted, within the SLA" in out
    assert "lifecycle stage: SAL (accepted)" in out
    code, out = run("route", "breaches", "--escalate", "--at", "2025-06-05T15:00")
    assert code == 0, out
    assert "breached 0, re-armed 0, reminded 0, escalated 0" in out
