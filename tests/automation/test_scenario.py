"""The seed scenario, end to end on a small warehouse (see conftest for the hand-worked times).

At Monday 13:00 the three MQLs' clocks (due 12:00) are past due with no follow-up: each gets a
task for rep `a`, due 2 business hours later (15:00), and a chat alert. `route breaches` at
13:00 re-arms the clocks from 12:00 (due 14:00); at 15:00 the second breach escalates to the
manager `m` (a task, and an email to max@co.test). Acme's health fell from 72 (April) to 41
(May, below 50): one CSM task for `c` and a chat message. Entering MQL enrols the US persons
in the nurture list, except p2, who opted out of marketing email: that action is blocked.
"""

from __future__ import annotations

import json
from collections import Counter

import pyarrow as pa
import pytest
from auto_case import at, build_model, mql_history, seed
from receivers import HttpReceiver, SmtpReceiver

from revops.automation import inbox, install, queue, run_pass
from revops.routing.sla_store import detect_breaches
from revops.warehouse import Warehouse


def rows(wh: Warehouse, name: str) -> list[dict[str, object]]:
    return wh.to_arrow(wh.table(name)).to_pylist()


def test_seed_scenario(
    warehouse: Warehouse,
    http_receiver: HttpReceiver,
    smtp_receiver: SmtpReceiver,
    hook_secret: None,
) -> None:
    model = build_model(http_receiver.url, smtp_receiver.port)
    seed(warehouse, model)
    install(warehouse, model, clock=lambda: at(2, 9, 45))
    # the lifecycle write fires mql_nurture in the same transaction
    warehouse.write("lifecycle_history", mql_history(), "append")
    events = rows(warehouse, "automation_events")
    assert Counter(e["automation"] for e in events) == {"mql_nurture": 2}  # p3 is in DE
    members = rows(warehouse, "nurture_memberships")
    assert [m["person_id"] for m in members] == ["p1"]
    blocked = [a for a in rows(warehouse, "automation_actions") if a["status"] == "blocked"]
    assert len(blocked) == 1
    assert "marketing over email" in str(blocked[0]["last_error"])

    first = queue(warehouse, model, at(2, 13))
    assert Counter(e["automation"] for e in first.events) == {
        "mql_no_followup": 3,
        "at_risk_account": 1,
    }
    tasks = inbox.tasks(warehouse)
    mql_tasks = [t for t in tasks if t["automation"] == "mql_no_followup"]
    assert sorted(t["record_id"] for t in mql_tasks) == ["p1", "p2", "p3"]
    assert {(t["assignee_id"], t["due_at"]) for t in mql_tasks} == {("a", at(2, 15))}
    csm = [t for t in tasks if t["automation"] == "at_risk_account"]
    assert [(t["assignee_id"], t["record_id"], t["due_at"]) for t in csm] == [
        ("c", "acc1", at(3, 13))  # 8 business hours from Mon 13:00: 4 today, 4 on Tuesday
    ]
    assert queue(warehouse, model, at(2, 13)).events == ()  # recorded once

    detect_breaches(warehouse, model, at(2, 13))  # first breach recorded, clocks re-armed
    assert queue(warehouse, model, at(2, 13, 30)).events == ()  # same clocks, same events
    second = queue(warehouse, model, at(2, 15))  # re-armed clocks (due 14:00) missed too
    assert Counter(e["automation"] for e in second.events) == {
        "mql_no_followup": 3,
        "second_breach": 3,
    }
    escalations = [t for t in inbox.tasks(warehouse) if t["kind"] == "escalation"]
    assert sorted((t["assignee_id"], t["record_id"]) for t in escalations) == [
        ("m", "p1"),
        ("m", "p2"),
        ("m", "p3"),
    ]

    report = run_pass(warehouse, model, "test-dispatcher")
    assert report.leased
    assert report.dead == 0
    assert report.retrying == 0
    outbound = [
        a
        for a in rows(warehouse, "automation_actions")
        if a["kind"] in ("chat", "webhook", "email")
    ]
    assert {a["status"] for a in outbound} == {"delivered"}
    chats = [v for v in http_receiver.store.values() if "text" in v]
    assert sorted(c["text"] for c in chats) == sorted(
        ["acc1 is at risk"] + [f"{p} waited past its SLA" for p in ("p1", "p2", "p3")] * 2
    )
    hooks = [v for v in http_receiver.store.values() if "event_id" in v]
    assert sorted(h["record"]["id"] for h in hooks) == ["p1", "p2"]
    assert http_receiver.bad_signatures == 0
    assert sorted(m["to"] for m in smtp_receiver.store.values()) == ["max@co.test"] * 3
    actions = {a["action_id"] for a in outbound}
    assert (
        set(http_receiver.store) | {k.strip("<>").split("@")[0] for k in smtp_receiver.store}
        == actions
    )
    assert max(http_receiver.received.values()) == 1

    audit = [r for r in rows(warehouse, "audit_log") if str(r["action"]).startswith("automation.")]
    delivered = {r["subject"] for r in audit if r["action"] == "automation.delivered"}
    assert delivered == actions
    queued = [json.loads(str(r["details"])) for r in audit if r["action"] == "automation.queued"]
    assert sum(len(ids) for q in queued for ids in q["actions"].values()) == len(
        rows(warehouse, "automation_actions")
    )


def test_failed_write_records_no_event(warehouse: Warehouse) -> None:
    """The event commits with its change or not at all: a write that fails leaves neither."""
    model = build_model()
    seed(warehouse, model)
    install(warehouse, model, clock=lambda: at(2, 9, 45))
    bad = mql_history().append_column("x", pa.array([1, 2, 3]))
    duplicate = pa.concat_tables([mql_history(), mql_history()])
    warehouse.write("lifecycle_history", mql_history().slice(0, 1), "append")
    assert len(rows(warehouse, "automation_events")) == 1
    with pytest.raises(Exception, match="nothing was changed"):
        warehouse.write("lifecycle_history", duplicate, "append")  # t-p1 again: key conflict
    assert len(rows(warehouse, "automation_events")) == 1
    assert bad.num_rows == 3
