"""The renewal_due trigger against hand-worked subscriptions, on DuckDB and PostgreSQL.

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

from revops.automation.outbox import detect, queue
from revops.automation.sources import stored
from revops.config.automation import Automation, Trigger
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
