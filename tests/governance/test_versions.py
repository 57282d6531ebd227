"""Config versions: apply, history, rollback and the active model, with their audit entries."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from gov_case import OLD, new_dict

from revops.audit import entries, verify
from revops.context import RevOps
from revops.errors import RevOpsError
from revops.governance import versions
from revops.governance.versions import load_text, sha256
from revops.warehouse import Warehouse

OLD_TEXT = yaml.safe_dump(OLD, sort_keys=False)
NEW_TEXT = yaml.safe_dump(new_dict(), sort_keys=False)


def test_apply_history_rollback_round_trip(warehouse: Warehouse) -> None:
    old, new = load_text(OLD_TEXT, "old.yaml"), load_text(NEW_TEXT, "new.yaml")
    assert versions.active(warehouse) is None
    assert versions.active_config(warehouse) is None

    v1 = versions.apply(
        warehouse, new, actor="boss", approved_by="cfo", reason="stricter MQL", baseline=old
    )
    assert v1.version == 1
    rows = versions.history(warehouse)
    assert [(v.version, v.approved_by, v.sha256) for v in rows] == [
        (0, versions.BASELINE_APPROVER, sha256(OLD_TEXT)),
        (1, "cfo", sha256(NEW_TEXT)),
    ]
    assert rows[1].reason == "stricter MQL"
    assert rows[1].source == "new.yaml"
    active = versions.active_config(warehouse)
    assert active is not None
    assert active.model == new.model
    assert active.text == NEW_TEXT

    with pytest.raises(RevOpsError, match="already the active operating model"):
        versions.apply(warehouse, new, actor="boss", approved_by="cfo", reason="again")

    v2 = versions.rollback(warehouse, 0, actor="boss", reason="MQL volume fell by half")
    assert (v2.version, v2.restores, v2.rolled_back_from, v2.approved_by) == (2, 0, 1, "boss")
    active = versions.active_config(warehouse)
    assert active is not None
    assert active.model == old.model
    assert active.text == OLD_TEXT
    with pytest.raises(RevOpsError, match="nothing to roll back"):
        versions.rollback(warehouse, 0, actor="boss", reason="twice")
    with pytest.raises(RevOpsError, match="no config version 9; versions: 0, 1, 2"):
        versions.rollback(warehouse, 9, actor="boss", reason="typo")

    log = entries(warehouse)
    assert [(e.action, e.subject, e.actor) for e in log] == [
        ("config.baseline", "version 0", "boss"),
        ("config.applied", "version 1", "boss"),
        ("config.rolled_back", "version 2", "boss"),
    ]
    assert '"approved_by":"cfo"' in log[1].details
    assert '"previous":0' in log[1].details
    assert verify(warehouse).ok


@pytest.mark.parametrize(
    ("approved_by", "reason", "missing"),
    [("", "why", "--approved-by"), ("cfo", "  ", "--reason")],
)
def test_apply_needs_approver_and_reason(
    warehouse: Warehouse, approved_by: str, reason: str, missing: str
) -> None:
    new = load_text(NEW_TEXT, "new.yaml")
    with pytest.raises(RevOpsError, match=f"{missing} is required"):
        versions.apply(warehouse, new, actor="boss", approved_by=approved_by, reason=reason)
    assert versions.history(warehouse) == []
    assert entries(warehouse) == []


def test_no_baseline_when_applying_the_model_in_use(warehouse: Warehouse) -> None:
    old = load_text(OLD_TEXT, "old.yaml")
    versions.apply(warehouse, old, actor="boss", approved_by="cfo", reason="start", baseline=old)
    assert [v.version for v in versions.history(warehouse)] == [1]


def test_an_active_text_that_no_longer_validates_is_a_clear_error(warehouse: Warehouse) -> None:
    new = load_text(NEW_TEXT, "new.yaml")
    versions.apply(warehouse, new, actor="boss", approved_by="cfo", reason="r")
    with warehouse.transaction() as run:
        run("UPDATE \"config_versions\" SET yaml = 'company: {name: X}' WHERE version = 1")
    with pytest.raises(RevOpsError, match=r"active operating model \(version 1 .*--config"):
        versions.active_config(warehouse)


def test_revops_open_uses_the_active_version_unless_a_config_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REVOPS_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    url = str(tmp_path / "wh.duckdb")
    old_file = tmp_path / "old.yaml"
    old_file.write_text(OLD_TEXT)
    with Warehouse.connect(url) as wh:
        versions.apply(
            wh, load_text(NEW_TEXT, "new.yaml"), actor="boss", approved_by="cfo", reason="r"
        )
    ro = RevOps.open(None, url)
    try:
        assert ro.config.text == NEW_TEXT
        assert str(ro.config.path) == "config version 1"
    finally:
        ro.close()
    ro = RevOps.open(old_file, url)
    try:
        assert ro.config.text == OLD_TEXT
    finally:
        ro.close()
    monkeypatch.setenv("REVOPS_CONFIG", str(old_file))
    ro = RevOps.open(None, url)
    try:
        assert ro.config.text == OLD_TEXT
    finally:
        ro.close()
