"""Who a task goes to: a role of the record (`assignee: owner | manager | csm`).

`csm` is the customer success manager of the record's account (accounts.csm_id): Globex has
one (`c`), Initech has none, so its save task falls back to its owner, the AE `a`, and the
action says why. Both accounts' health fell below 50 in May.
"""

from __future__ import annotations

import json
from datetime import datetime

import pyarrow as pa
import pytest
from auto_case import at, model_dict

from revops.automation import inbox, install, queue
from revops.automation.actions import People, resolve_assignee
from revops.config.automation import Action
from revops.config.models import OperatingModel
from revops.warehouse import Warehouse

PEOPLE = People(timezone={}, manager={"a": "m"}, email={})
NO_CSM = "the account has no customer success manager; assigned to the owner"


@pytest.mark.parametrize(
    ("action", "csm", "expected"),
    [
        ({"type": "task", "title": "t", "assignee": "csm"}, "c", ("c", None)),
        ({"type": "task", "title": "t", "assignee": "csm"}, None, ("a", NO_CSM)),
        ({"type": "task", "title": "t", "assignee": "owner"}, "c", ("a", None)),
        ({"type": "task", "title": "t", "assignee": "manager"}, "c", ("m", None)),
        ({"type": "escalation", "title": "t"}, "c", ("m", None)),
    ],
)
def test_a_role_resolves_to_a_user(
    action: dict[str, str], csm: str | None, expected: tuple[str, str | None]
) -> None:
    assert resolve_assignee(Action.model_validate(action), "a", csm, PEOPLE) == expected


def test_an_unknown_role_is_refused() -> None:
    with pytest.raises(ValueError, match="assignee"):
        Action.model_validate({"type": "task", "title": "t", "assignee": "cfo"})


def csm_model() -> OperatingModel:
    data = model_dict()
    data["automations"]["rules"] = [
        {
            "name": "at_risk_account",
            "trigger": {"type": "health_at_risk", "below": 50, "lookback_hours": 1000},
            "actions": [{"type": "task", "assignee": "csm", "title": "Save {record_id}"}],
        }
    ]
    return OperatingModel.model_validate(data)


def test_the_csm_of_the_account_gets_the_task_else_its_owner(warehouse: Warehouse) -> None:
    model = csm_model()
    users = [
        {"user_id": "a", "name": "Ann", "role": "ae", "manager_id": "m"},
        {"user_id": "m", "name": "Max", "role": "manager"},
        {"user_id": "c", "name": "Cat", "role": "csm", "manager_id": "m"},
    ]
    warehouse.write(
        "users",
        pa.Table.from_pylist([u | {"is_active": True, "timezone": "UTC"} for u in users]),
    )
    accounts = [
        {"account_id": "globex", "name": "Globex", "owner_id": "a", "csm_id": "c"},
        {"account_id": "initech", "name": "Initech", "owner_id": "a", "csm_id": None},
    ]
    warehouse.write(
        "accounts",
        pa.Table.from_pylist([r | {"created_at": datetime(2024, 1, 1)} for r in accounts]),
    )
    health = [
        {"account_id": acct, "month": datetime(2025, month, 1).date(), "score": score}
        for acct in ("globex", "initech")
        for month, score in ((4, 72.0), (5, 41.0))
    ]
    warehouse.write("health_scores", pa.Table.from_pylist(health))
    install(warehouse, model, clock=lambda: at(2, 9))

    queue(warehouse, model, at(2, 13))

    got = {t["record_id"]: t["assignee_id"] for t in inbox.tasks(warehouse)}
    assert got == {"globex": "c", "initech": "a"}
    actions = warehouse.to_arrow(warehouse.table("automation_actions")).to_pylist()
    notes = {a["target"]: json.loads(a["payload"]).get("note") for a in actions}
    assert notes == {"c": None, "a": NO_CSM}
    assert {a["status"] for a in actions} == {"delivered"}
