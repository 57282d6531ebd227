"""Each trigger against hand-built rows, on DuckDB and PostgreSQL, evaluated at Wednesday
2025-06-04 12:00 UTC with a 24-hour lookback unless a trigger says otherwise.

Deal o1 (owner a): history h1 Mon 06-02 09:00 Discovery/pipeline, h2 Tue 06-03 15:00
Proposal/best_case, h3 Wed 06-04 10:00 Proposal/commit. Deal o2 (open, owner a): one row on
Mon 05-19 12:00, so with `days: 16` it goes quiet at 06-04 12:00 — inside the window; with
`days: 14` at 06-02 12:00 — outside. o3 is closed. pipeline_changes: c1 (o1, Tue 15:00) a push,
c2 (o1, Wed 10:00) a regression, c3 (o1, Sat 05-31) a push outside the window.
Scores of p1: 40 on Mon, 65 on Tue 11:00 (crosses 60, 25 hours before), 70 on Wed 09:00
(already above); p2: first score 80 on Wed 08:00 (crosses, no earlier score). Consent: p1
opts out of marketing Tue 18:00. Clock k1 of p1 (owner a) due Wed 12:30, still running: due
soon (within 60 minutes, not 15).
"""

from __future__ import annotations

from datetime import date, datetime

import pyarrow as pa
import pytest

from revops.automation.outbox import detect
from revops.automation.sources import stored
from revops.config.automation import Automation
from revops.warehouse import Warehouse

AT = datetime(2025, 6, 4, 12)


def write(wh: Warehouse, name: str, rows: list[dict[str, object]]) -> None:
    wh.write(name, pa.Table.from_pylist(rows))


@pytest.fixture
def company(warehouse: Warehouse) -> Warehouse:
    write(
        warehouse,
        "users",
        [{"user_id": "a", "name": "A", "team": "AE", "role": "ae", "is_active": True}],
    )
    write(
        warehouse,
        "persons",
        [
            {
                "person_id": p,
                "email": f"{p}@x.test",
                "owner_id": "a",
                "country": "US",
                "created_at": datetime(2025, 5, 1),
            }
            for p in ("p1", "p2")
        ],
    )
    opp = {
        "account_id": "acc",
        "owner_id": "a",
        "opportunity_type": "new_business",
        "created_date": date(2025, 5, 1),
        "close_date": date(2025, 7, 1),
        "is_won": False,
    }
    write(
        warehouse,
        "opportunities",
        [
            opp | {"opportunity_id": "o1", "stage": "Proposal", "is_closed": False},
            opp | {"opportunity_id": "o2", "stage": "Discovery", "is_closed": False},
            opp | {"opportunity_id": "o3", "stage": "Closed Lost", "is_closed": True},
        ],
    )
    write(
        warehouse,
        "opportunity_stage_history",
        [
            {
                "history_id": "h1",
                "opportunity_id": "o1",
                "stage": "Discovery",
                "changed_at": datetime(2025, 6, 2, 9),
                "forecast_category": "pipeline",
            },
            {
                "history_id": "h2",
                "opportunity_id": "o1",
                "stage": "Proposal",
                "changed_at": datetime(2025, 6, 3, 15),
                "forecast_category": "best_case",
            },
            {
                "history_id": "h3",
                "opportunity_id": "o1",
                "stage": "Proposal",
                "changed_at": datetime(2025, 6, 4, 10),
                "forecast_category": "commit",
            },
            {
                "history_id": "h4",
                "opportunity_id": "o2",
                "stage": "Discovery",
                "changed_at": datetime(2025, 5, 19, 12),
                "forecast_category": "pipeline",
            },
            {
                "history_id": "h5",
                "opportunity_id": "o3",
                "stage": "Closed Lost",
                "changed_at": datetime(2025, 5, 19, 12),
                "forecast_category": "omitted",
            },
        ],
    )
    change = {
        "opportunity_id": "o1",
        "from_open": True,
        "is_stage_change": False,
        "is_skip": False,
        "stages_skipped": 0,
        "from_stage": "Proposal",
        "to_stage": "Proposal",
    }
    write(
        warehouse,
        "pipeline_changes",
        [
            change
            | {
                "change_id": "c1",
                "changed_at": datetime(2025, 6, 3, 15),
                "is_push": True,
                "days_pushed": 14,
                "is_regression": False,
            },
            change
            | {
                "change_id": "c2",
                "changed_at": datetime(2025, 6, 4, 10),
                "is_push": False,
                "days_pushed": 0,
                "is_regression": True,
            },
            change
            | {
                "change_id": "c3",
                "changed_at": datetime(2025, 5, 31, 10),
                "is_push": True,
                "days_pushed": 7,
                "is_regression": False,
            },
        ],
    )
    score = {"engagement": 0.0}
    write(
        warehouse,
        "lead_scores",
        [
            score
            | {
                "person_id": "p1",
                "scored_at": datetime(2025, 6, 2, 9),
                "fit": 40.0,
                "combined": 40.0,
            },
            score
            | {
                "person_id": "p1",
                "scored_at": datetime(2025, 6, 3, 11),
                "fit": 65.0,
                "combined": 65.0,
            },
            score
            | {
                "person_id": "p1",
                "scored_at": datetime(2025, 6, 4, 9),
                "fit": 70.0,
                "combined": 70.0,
            },
            score
            | {
                "person_id": "p2",
                "scored_at": datetime(2025, 6, 4, 8),
                "fit": 80.0,
                "combined": 80.0,
            },
        ],
    )
    write(
        warehouse,
        "consent_ledger",
        [
            {
                "event_id": "e1",
                "person_id": "p1",
                "purpose": "marketing",
                "channel": "email",
                "status": "opt_out",
                "recorded_at": datetime(2025, 6, 3, 18),
            }
        ],
    )
    write(
        warehouse,
        "sla_clocks",
        [
            {
                "clock_id": "k1",
                "person_id": "p1",
                "decision_id": "d1",
                "owner_id": "a",
                "priority": "default",
                "started_at": datetime(2025, 6, 4, 9),
                "due_at": datetime(2025, 6, 4, 12, 30),
                "breached": False,
                "breach_count": 0,
            }
        ],
    )
    return warehouse


CASES = [
    ({"type": "deal_pushed"}, [("o1", "c1")]),
    ({"type": "deal_regressed"}, [("o1", "c2")]),
    ({"type": "deal_stalled", "days": 16}, [("o2", "o2|2025-05-19T12:00:00")]),
    ({"type": "deal_stalled", "days": 14}, []),
    ({"type": "forecast_call_change"}, [("o1", "h2"), ("o1", "h3")]),
    ({"type": "forecast_call_change", "to_category": "commit"}, [("o1", "h3")]),
    (
        {"type": "score_threshold", "threshold": 60, "lookback_hours": 48},
        [("p1", "p1|2025-06-03T11:00:00"), ("p2", "p2|2025-06-04T08:00:00")],
    ),
    ({"type": "score_threshold", "threshold": 60}, [("p2", "p2|2025-06-04T08:00:00")]),
    ({"type": "consent_change", "status": "opt_out"}, [("p1", "e1")]),
    ({"type": "consent_change", "status": "opt_in"}, []),
    (
        {"type": "hygiene_flag", "rule": "missing_amount"},
        [
            ("o1", "o1|missing_amount|None|None|Proposal"),
            ("o2", "o2|missing_amount|None|None|Discovery"),
        ],
    ),
    ({"type": "sla_due_soon", "within_minutes": 60}, [("p1", "k1")]),
    ({"type": "sla_due_soon", "within_minutes": 15}, []),
]


def test_each_trigger_fires_on_the_hand_worked_rows(company: Warehouse) -> None:
    """Every case on one company (built once per backend, to keep the suite fast)."""
    wrong = []
    for trigger, expected in CASES:
        rule = Automation.model_validate(
            {"name": "t", "trigger": trigger, "actions": [{"type": "task", "title": "x"}]}
        )
        events = detect(company, stored(company), [rule], AT)
        got = sorted((e["record_id"], e["source_key"]) for e in events)
        if got != expected or not {e["owner_id"] for e in events} <= {"a"}:
            wrong.append((trigger, got))
    assert wrong == []


def test_events_come_in_source_key_order_whatever_order_the_warehouse_returns(
    company: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The audit entry lists and hashes the events in their order, and at scale the warehouse
    returns candidates in any order (DuckDB's threads): detect orders them by source key."""
    rule = Automation.model_validate(
        {
            "name": "t",
            "trigger": {"type": "hygiene_flag", "rule": "missing_amount"},
            "actions": [{"type": "task", "title": "x"}],
        }
    )
    read = company.to_arrow
    for order in ("ascending", "descending"):
        monkeypatch.setattr(
            company, "to_arrow", lambda e, o=order: _ordered(read(e), "record_id", o)
        )
        events = detect(company, stored(company), [rule], AT)
        keys = [e["source_key"] for e in events]
        assert len(keys) == 2
        assert keys == sorted(keys)


def _ordered(table: pa.Table, column: str, order: str) -> pa.Table:
    return table.sort_by([(column, order)]) if column in table.column_names else table


def test_the_write_hook_fires_on_the_written_rows_only(company: Warehouse) -> None:
    """Inside a write, only the rows being written fire (timestamp and date keys included);
    the stored p2 crossing fires nothing until a pass looks at it."""
    from auto_case import SHIPPED

    from revops.automation import install
    from revops.config import load_config
    from revops.config.automation import AutomationConfig
    from revops.config.models import OperatingModel

    rules = AutomationConfig.model_validate(
        {
            "rules": [
                {
                    "name": "hot",
                    "trigger": {"type": "score_threshold", "threshold": 60},
                    "actions": [{"type": "task", "title": "x"}],
                },
                {
                    "name": "risk",
                    "trigger": {"type": "health_at_risk", "below": 50, "lookback_hours": 1000},
                    "actions": [{"type": "task", "title": "y"}],
                },
            ]
        }
    )
    shipped: OperatingModel = load_config(SHIPPED).model
    install(company, shipped.model_copy(update={"automations": rules}), clock=lambda: AT)
    crossing = {"person_id": "p3", "scored_at": datetime(2025, 6, 4, 11, 30, 0, 250000)}
    write(
        company,
        "persons",
        [
            {
                "person_id": "p3",
                "email": "p3@x.test",
                "owner_id": "a",
                "created_at": datetime(2025, 6, 1),
            }
        ],
    )
    write(company, "lead_scores", [crossing | {"fit": 61.0, "engagement": 0.0, "combined": 61.0}])
    write(
        company, "health_scores", [{"account_id": "acc", "month": date(2025, 5, 1), "score": 30.0}]
    )
    fired = company.sql("SELECT automation, source_key FROM automation_events ORDER BY automation")
    assert fired == [("hot", "p3|2025-06-04T11:30:00.250000"), ("risk", "acc|2025-05-01")]
