"""A small company for automation tests: one rep with a manager, a CSM, three MQLs, one
account whose health falls, a consent opt-out, and the seed scenario's automations.

Business hours 09:00–17:00 UTC Monday to Friday; 2025-06-02 is a Monday. The leads are routed
at 10:00 to rep `a` with a 2-business-hour SLA (`mql`, 120 minutes), so their clocks are due
at 12:00; at 13:00 nobody has followed up.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

from revops.config.models import OperatingModel
from revops.privacy.consent import ConsentEvent, consent_batch
from revops.routing import route_unassigned
from revops.warehouse import Warehouse

SHIPPED = Path(__file__).parents[2] / "examples" / "revops.yaml"


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2025, 6, day, hour, minute)


ROUTING: dict[str, Any] = {
    "pools": [{"name": "p", "members": [{"user_id": "a"}]}],
    "rules": [{"name": "everyone", "pool": "p"}],
    "sla": {
        "targets": [{"priority": "mql", "minutes": 120}],
        "business_hours": {"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"},
        "escalate_after_breaches": 3,
    },
}


def automations(http_url: str, smtp_port: int) -> dict[str, Any]:
    return {
        "endpoints": [
            {"name": "sales_alerts", "url": f"{http_url}/chat"},
            {"name": "crm_hook", "url": f"{http_url}/hook", "secret_env": "TEST_HOOK_SECRET"},
        ],
        "smtp": {"host": "127.0.0.1", "port": smtp_port, "sender": "revops@co.test"},
        "dispatch": {"backoff_seconds": 0, "timeout_seconds": 1, "max_attempts": 4},
        "rules": [
            {
                "name": "mql_no_followup",
                "trigger": {"type": "sla_breached", "lookback_hours": 72},
                "when": "lifecycle_stage == 'MQL'",
                "actions": [
                    {"type": "task", "title": "Call {record_id} now", "due_in_hours": 2},
                    {
                        "type": "chat",
                        "endpoint": "sales_alerts",
                        "text": "{record_id} waited past its SLA",
                    },
                ],
            },
            {
                "name": "second_breach",
                "trigger": {"type": "sla_breached", "min_breaches": 2, "lookback_hours": 72},
                "actions": [
                    {"type": "escalation", "title": "{owner_id} missed {record_id} twice"},
                    {
                        "type": "email",
                        "to": "manager",
                        "subject": "SLA missed twice",
                        "text": "{record_id}",
                    },
                ],
            },
            {
                "name": "at_risk_account",
                "trigger": {"type": "health_at_risk", "below": 50, "lookback_hours": 1000},
                "actions": [
                    {
                        "type": "task",
                        "title": "Save {record_id}: health {score}",
                        "due_in_hours": 8,
                    },
                    {"type": "chat", "endpoint": "sales_alerts", "text": "{record_id} is at risk"},
                ],
            },
            {
                "name": "mql_nurture",
                "trigger": {
                    "type": "lifecycle_stage_change",
                    "to_stage": "MQL",
                    "lookback_hours": 72,
                },
                "when": "country == 'US'",
                "actions": [
                    {"type": "nurture", "program": "mql_nurture"},
                    {"type": "webhook", "endpoint": "crm_hook"},
                ],
            },
        ],
    }


def model_dict(http_url: str = "http://127.0.0.1:9", smtp_port: int = 25) -> dict[str, Any]:
    data = yaml.safe_load(SHIPPED.read_text())
    data["routing"] = ROUTING
    data["automations"] = automations(http_url, smtp_port)
    return data


def build_model(http_url: str = "http://127.0.0.1:9", smtp_port: int = 25) -> OperatingModel:
    return OperatingModel.model_validate(model_dict(http_url, smtp_port))


def seed(wh: Warehouse, model: OperatingModel) -> None:
    """Users, an account, three MQLs routed at Monday 10:00, p2's marketing opt-out and the
    account's health falling below 50 in May (scored as of May 31)."""
    users = [
        {
            "user_id": "a",
            "name": "Ann",
            "email": "ann@co.test",
            "team": "SDR",
            "role": "sdr",
            "manager_id": "m",
        },
        {"user_id": "m", "name": "Max", "email": "max@co.test", "team": "SDR", "role": "manager"},
        {
            "user_id": "c",
            "name": "Cat",
            "email": "cat@co.test",
            "team": "CS",
            "role": "csm",
            "manager_id": "m",
        },
    ]
    wh.write(
        "users", pa.Table.from_pylist([u | {"is_active": True, "timezone": "UTC"} for u in users])
    )
    wh.write(
        "accounts",
        pa.Table.from_pylist(
            [
                {
                    "account_id": "acc1",
                    "name": "Acme",
                    "owner_id": "c",
                    "created_at": datetime(2024, 1, 1),
                }
            ]
        ),
    )
    persons = [
        {
            "person_id": pid,
            "email": f"{pid}@x.test",
            "country": country,
            "source": "paid",
            "lifecycle_stage": "MQL",
            "account_id": "acc1",
            "created_at": at(2, 9, i),
        }
        for i, (pid, country) in enumerate([("p1", "US"), ("p2", "US"), ("p3", "DE")])
    ]
    wh.write("persons", pa.Table.from_pylist(persons))
    route_unassigned(wh, model.routing, at(2, 10))
    opt_out = ConsentEvent("p2", "marketing", "email", "opt_out", recorded_at=datetime(2025, 5, 1))
    wh.write_many([consent_batch([opt_out], model.privacy)])
    health = [
        {"account_id": "acc1", "month": datetime(2025, 4, 1).date(), "score": 72.0},
        {"account_id": "acc1", "month": datetime(2025, 5, 1).date(), "score": 41.0},
    ]
    wh.write("health_scores", pa.Table.from_pylist(health))


def mql_history() -> pa.Table:
    rows = [
        {"transition_id": f"t-{pid}", "person_id": pid, "from_stage": "Lead", "to_stage": "MQL"}
        | {"changed_at": at(2, 9, 30), "source": "scoring"}
        for pid in ("p1", "p2", "p3")
    ]
    return pa.Table.from_pylist(rows)
