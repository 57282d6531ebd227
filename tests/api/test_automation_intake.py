"""`revops serve` fires real-time triggers: a lead posted to the intake API that enters MQL
records its automation event, task and outbox action in the same apply as the lead itself.

max@globex.com is routed to `a` at Tuesday 2025-06-10 10:00 UTC and enters MQL (see
test_intake); the task is due 2 business hours later, 12:00 (a works in UTC)."""

from __future__ import annotations

from api_support import NOW, Api, lead

from revops.audit import verify
from revops.automation import install
from revops.config.automation import AutomationConfig


def test_an_mql_from_the_api_fires_in_the_same_transaction(api: Api) -> None:
    rules = AutomationConfig.model_validate(
        {
            "endpoints": [{"name": "chat", "url": "http://127.0.0.1:9/chat"}],
            "rules": [
                {
                    "name": "new_mql",
                    "trigger": {"type": "lifecycle_stage_change", "to_stage": "MQL"},
                    "when": "country == 'US'",
                    "actions": [
                        {"type": "task", "title": "Call {record_id}", "due_in_hours": 2},
                        {"type": "chat", "endpoint": "chat", "text": "new MQL {record_id}"},
                    ],
                }
            ],
        }
    )
    model = api.ro.model.model_copy(update={"automations": rules})
    install(api.ro.warehouse, model, clock=lambda: NOW)
    r = api.client.post("/leads", json=lead("max@globex.com"), headers=api.headers())
    assert r.status_code == 201, r.text
    pid = r.json()["person_id"]
    wh = api.wh
    assert wh.sql("SELECT automation, record_id FROM automation_events") == [("new_mql", pid)]
    tasks = wh.sql("SELECT assignee_id, due_at FROM tasks")
    assert [(a, str(d)) for a, d in tasks] == [("a", "2025-06-10 12:00:00")]
    assert wh.sql("SELECT kind, status FROM automation_actions ORDER BY position") == [
        ("task", "delivered"),
        ("chat", "pending"),
    ]
    # the lead's own audit entries and the automation's are one unbroken chain
    actions = [a for (a,) in wh.sql("SELECT action FROM audit_log ORDER BY seq")]
    assert "automation.queued" in actions
    assert verify(wh).ok
