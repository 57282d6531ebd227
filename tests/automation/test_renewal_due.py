"""The renewal_due trigger against hand-worked subscriptions, on DuckDB and PostgreSQL, and
the writeback action it can run.

Account acc (owner a) has s1, started 2025-03-15 on the default 12-month term, so its next
renewal after 2026-01-01 is 2026-03-15. With `days: 30` it comes within reach on 2026-02-13:
evaluated 2026-02-20 (23 days ahead) it fires, evaluated 2026-02-10 (33 days ahead) it does not.
s2 started the same day but ended 2025-12-31: it never fires. s3 started 2024-01-31 on a 6-month
term: its renewals fall on 2024-07-31, 2025-01-31, 2025-07-31, 2026-01-31 (never clamped, since
each is start + k·6 months), so on 2026-01-20 it is 11 days ahead.
"""

from __future__ import annotations

from datetime import date, datetime

import pyarrow as pa
import pytest
from auto_case import model_dict
from receivers import HttpReceiver

from revops.automation.dispatcher import run_pass
from revops.automation.inbox import retry
from revops.automation.outbox import detect, queue
from revops.automation.sources import stored
from revops.config.automation import Action, Automation, Trigger
from revops.config.models import OperatingModel
from revops.warehouse import Warehouse


def rule(trigger: dict[str, object]) -> Automation:
    return Automation.model_validate(
        {"name": "renewal", "trigger": trigger, "actions": [{"type": "task", "title": "x"}]}
    )


@pytest.fixture
def subs(warehouse: Warehouse) -> Warehouse:
    warehouse.write(
        "users",
        pa.Table.from_pylist(
            [{"user_id": "a", "name": "A", "team": "CS", "role": "csm", "is_active": True}]
        ),
    )
    warehouse.write(
        "accounts",
        pa.Table.from_pylist([{"account_id": "acc", "name": "Acme", "owner_id": "a"}]),
    )
    sub = {"account_id": "acc", "product": "core", "mrr": 100.0}
    warehouse.write(
        "subscriptions",
        pa.Table.from_pylist(
            [
                sub | {"subscription_id": "s1", "start_date": date(2025, 3, 15), "end_date": None},
                sub
                | {
                    "subscription_id": "s2",
                    "start_date": date(2025, 3, 15),
                    "end_date": date(2025, 12, 31),
                },
                sub | {"subscription_id": "s3", "start_date": date(2024, 1, 31), "end_date": None},
            ]
        ),
    )
    return warehouse


def fired(wh: Warehouse, trigger: dict[str, object], at: datetime) -> list[tuple[str, ...]]:
    events = detect(wh, stored(wh), [rule(trigger)], at)
    return sorted((e["record_id"], e["owner_id"], e["source_key"]) for e in events)


def test_fires_within_the_days_before_the_anniversary(subs: Warehouse) -> None:
    t = {"type": "renewal_due", "days": 30}
    assert fired(subs, t, datetime(2026, 2, 20, 9)) == [("acc", "a", "s1|2026-03-15")]
    assert fired(subs, t, datetime(2026, 2, 10, 9)) == []
    # on the renewal day itself it is still due; the day after, the next one is a year off
    assert fired(subs, t, datetime(2026, 3, 15, 23)) == [("acc", "a", "s1|2026-03-15")]
    assert fired(subs, t, datetime(2026, 3, 16)) == []
    assert fired(subs, t, datetime(2026, 2, 14, 12)) == [("acc", "a", "s1|2026-03-15")]
    # before its start no anniversary is near: the first renewal is 2026-03-15
    assert fired(subs, t, datetime(2025, 2, 20)) == []


def test_term_months(subs: Warehouse) -> None:
    t = {"type": "renewal_due", "days": 11, "term_months": 6}
    assert fired(subs, t, datetime(2026, 1, 20)) == [("acc", "a", "s3|2026-01-31")]
    assert fired(subs, {**t, "days": 10}, datetime(2026, 1, 20)) == []
    # 2025-07-20: s3 renews 2025-07-31 (11 days); s1 on a 6-month term renews 2025-09-15
    assert fired(subs, t, datetime(2025, 7, 20)) == [("acc", "a", "s3|2025-07-31")]


def test_fires_once_across_two_evaluations(subs: Warehouse) -> None:
    data = model_dict()
    data["automations"] = {
        "rules": [
            {
                "name": "renewal",
                "trigger": {"type": "renewal_due", "days": 30},
                "actions": [{"type": "task", "title": "Renew {subscription_id} by {renewal_date}"}],
            }
        ]
    }
    model = OperatingModel.model_validate(data)
    first = queue(subs, model, datetime(2026, 2, 20, 9))
    second = queue(subs, model, datetime(2026, 2, 21, 9))
    assert [(e["record_id"], e["source_key"]) for e in first.events] == [("acc", "s1|2026-03-15")]
    assert second.events == ()
    tasks = subs.to_arrow(subs.table("tasks")).to_pylist()
    assert [(t["title"], t["assignee_id"]) for t in tasks] == [("Renew s1 by 2026-03-15", "a")]


def test_needs_days() -> None:
    with pytest.raises(ValueError, match="needs days"):
        Trigger.model_validate({"type": "renewal_due"})
    with pytest.raises(ValueError, match="takes no term_months"):
        Trigger.model_validate({"type": "deal_stalled", "days": 3, "term_months": 6})


def writeback_model(url: str) -> OperatingModel:
    data = model_dict()
    data["automations"] = {
        "endpoints": [{"name": "crm_sync", "url": f"{url}/writeback"}],
        "sync": {"salesforce": "crm_sync"},
        "dispatch": {"backoff_seconds": 0, "timeout_seconds": 1},
        "rules": [
            {
                "name": "renewal_sync",
                "trigger": {"type": "renewal_due", "days": 30},
                "actions": [{"type": "writeback", "system": "salesforce"}],
            }
        ],
    }
    return OperatingModel.model_validate(data)


def test_writeback_action_pushes_the_fired_account_once(
    subs: Warehouse, http_receiver: HttpReceiver
) -> None:
    """acc's renewal fires an automation whose writeback action queues one Salesforce Account
    file with acc's row alone (acc2, same owner, is not in it): owner a and territory t1 set,
    no health score yet so At_Risk__c and Health_Score__c empty. It reaches the receiver once,
    and the ledger now holds acc's owner and territory, so a second pass queues nothing."""
    subs.write(
        "accounts",
        pa.Table.from_pylist(
            [
                {"account_id": "acc", "name": "Acme", "owner_id": "a", "territory_id": "t1"},
                {"account_id": "acc2", "name": "Beta", "owner_id": "a", "territory_id": "t2"},
            ]
        ),
    )
    model = writeback_model(http_receiver.url)
    clock = lambda: datetime(2026, 2, 20, 9)  # noqa: E731
    report = run_pass(subs, model, "test", clock=clock)
    assert report.queued_events == 1
    actions = subs.to_arrow(subs.table("automation_actions")).to_pylist()
    assert [(a["kind"], a["target"], a["status"]) for a in actions] == [
        ("sync", "crm_sync", "delivered")
    ]
    expected = "Id,OwnerId,Territory__c,At_Risk__c,Health_Score__c\nacc,a,t1,,\n"
    assert [(v["object"], v["csv"]) for v in http_receiver.store.values()] == [
        ("salesforce.Account", expected)
    ]
    ledger = subs.to_arrow(subs.table("sync_ledger")).to_pylist()
    assert sorted((r["record_id"], r["field"], r["value"]) for r in ledger) == [
        ("acc", "owner_id", "a"),
        ("acc", "territory_id", "t1"),
    ]
    runs = subs.to_arrow(subs.table("sync_runs")).to_pylist()
    assert [(r["object"], r["mode"], r["records"]) for r in runs] == [("Account", "push", 1)]
    again = run_pass(subs, model, "test", clock=lambda: datetime(2026, 2, 21, 9))
    assert again.queued_events == 0
    assert list(http_receiver.received.values()) == [1]


def test_a_dead_writeback_is_retried_from_the_dead_letter_list(
    subs: Warehouse, http_receiver: HttpReceiver
) -> None:
    """The receiver refuses the file (400: not retried), so the action dies; `automate retry`
    puts it back with the same idempotency key and the next pass delivers the same file."""
    model = writeback_model(http_receiver.url)
    http_receiver.failures = ["400"]
    first = run_pass(subs, model, "test", clock=lambda: datetime(2026, 2, 20, 9))
    assert (first.queued_events, first.dead) == (1, 1)
    assert http_receiver.store == {}
    [aid] = retry(subs, "tester", [], datetime(2026, 2, 20, 10))
    again = run_pass(subs, model, "test", clock=lambda: datetime(2026, 2, 20, 10))
    assert again.queued_events == 0
    assert [(k, v["object"]) for k, v in http_receiver.store.items()] == [
        (aid, "salesforce.Account")
    ]


def test_writeback_needs_its_sync_endpoint() -> None:
    data = model_dict()
    data["automations"] = {
        "rules": [
            {
                "name": "r",
                "trigger": {"type": "renewal_due", "days": 30},
                "actions": [{"type": "writeback", "system": "hubspot"}],
            }
        ]
    }
    with pytest.raises(ValueError, match=r"needs sync\.hubspot"):
        OperatingModel.model_validate(data)
    with pytest.raises(ValueError, match="needs system"):
        Action.model_validate({"type": "writeback"})
