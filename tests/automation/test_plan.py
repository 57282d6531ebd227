"""Automations in change control: the `automations:` section validates with line-aware errors,
and `revops plan` lists the stored records each new or changed automation would fire on."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from auto_case import build_model, model_dict, mql_history, seed
from pydantic import ValidationError
from typer.testing import CliRunner

from revops.cli import app
from revops.config import load_config
from revops.config.models import OperatingModel
from revops.errors import RevOpsError
from revops.governance import diff_models
from revops.warehouse import Warehouse


def test_plan_lists_the_records_new_automations_fire_on(tmp_path: Path) -> None:
    db = tmp_path / "wh.duckdb"
    old, new = tmp_path / "old.yaml", tmp_path / "new.yaml"
    before = model_dict()
    before["automations"] = {}
    old.write_text(yaml.safe_dump(before))
    after = model_dict()
    after["automations"]["rules"] = [
        r for r in after["automations"]["rules"] if r["name"] in ("mql_nurture", "at_risk_account")
    ]
    new.write_text(yaml.safe_dump(after))
    with Warehouse.connect(db) as wh:
        seed(wh, build_model())
        wh.write("lifecycle_history", mql_history(), "append")
    args = ["plan", str(new), "--at", "2025-06-02T13:00", "-c", str(old), "-w", str(db)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert (
        "automation mql_nurture: would fire on 2 records as of 2025-06-02 13:00 "
        "(nurture blocked 1, nurture delivered 1, webhook pending 2)"
    ) in text
    assert "persons p1 owner a at 2025-06-02 09:30:00" in text
    assert "automation at_risk_account: would fire on 1 records" in text
    assert "accounts acc1 owner c" in text
    with Warehouse.connect(db) as wh:
        assert wh.count("automation_events") == 0  # plan writes nothing


def test_diff_names_changed_automations_only() -> None:
    a = build_model()
    data = model_dict()
    data["automations"]["rules"][0]["when"] = "lifecycle_stage in ['MQL', 'SQL']"
    b = OperatingModel.model_validate(data)
    d = diff_models(a, b)
    assert d.changed_automations == ("mql_no_followup",)
    assert any("automations.rules[mql_no_followup].when" in c.text() for c in d.changes)


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"when": "acount.segment == 'x'"}, "persons has no column 'acount.segment'"),
        ({"when": "__import__('os')"}, "only the functions"),
        ({"trigger": {"type": "sla_breached", "to_stage": "MQL"}}, "takes no to_stage"),
        ({"trigger": {"type": "score_threshold"}}, "needs a threshold"),
        ({"actions": [{"type": "chat", "endpoint": "nope", "text": "x"}]}, "unknown endpoint"),
        (
            {
                "actions": [
                    {
                        "type": "nurture",
                        "program": "p",
                        "consent": {"purpose": "spam", "channel": "email"},
                    }
                ]
            },
            "unknown consent purpose",
        ),
    ],
)
def test_bad_automations_are_refused(patch: dict[str, object], message: str) -> None:
    data = model_dict()
    data["automations"]["rules"][0].update(patch)
    with pytest.raises(ValidationError, match=message):
        OperatingModel.model_validate(data)


def test_errors_name_the_line(tmp_path: Path) -> None:
    data = model_dict()
    data["automations"]["rules"][3]["trigger"]["type"] = "contract_signed"
    path = tmp_path / "revops.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    line = [s.strip() for s in path.read_text().splitlines()].index("type: contract_signed") + 1
    with pytest.raises(
        RevOpsError, match=r"automations.rules\[3\] \(mql_nurture\).trigger.type"
    ) as info:
        load_config(path)
    assert f"revops.yaml:{line}:" in str(info.value)


def test_templates_read_only_the_events_own_fields() -> None:
    from revops.automation.actions import render

    values = {"record_id": "p1", "score": 41.5, "owner_id": None}
    text = "{record_id} at {score} for {owner_id}; {record_id.__class__} {nope} {0}"
    assert render(text, values) == "p1 at 41.5 for –; {record_id.__class__} {nope} {0}"
