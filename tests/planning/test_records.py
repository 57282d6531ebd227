"""Pay statements are private: a rep reads their own, a manager their team's, revops_admin and
finance everyone's; every read and refusal is audited, in the CLI and the API alike."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from revops.access import Principal, Role, create_key
from revops.access.records import rep_id, statement_visibility, team
from revops.api import create_app
from revops.audit import entries
from revops.cli import app
from revops.config import DEFAULT_CONFIG, load_config
from revops.context import RevOps
from revops.planning.comp import run_period
from revops.warehouse import Warehouse

from .test_store import _model, _seed

runner = CliRunner()
# vp ← m1 ← (r1, r2); m2 has no reports.
USERS = pd.DataFrame(
    {
        "user_id": ["vp", "m1", "r1", "r2", "m2"],
        "email": ["vp@x.com", "m1@x.com", "Rex@X.com", None, "m2@x.com"],
        "manager_id": [None, "vp", "m1", "m1", "vp"],
    }
)


def test_visibility_by_hand() -> None:
    def sees(name: str, role: str = "viewer") -> set[str] | str:
        vis = statement_visibility(Principal(name, role), USERS)  # type: ignore[arg-type]
        return "everyone" if vis.everyone else set(vis.reps)

    assert sees("r1") == {"r1"}
    assert sees("rex@x.com") == {"r1"}  # by email, any case
    assert sees("m1") == {"m1", "r1", "r2"}
    assert sees("vp") == {"vp", "m1", "r1", "r2", "m2"}
    assert sees("m2") == {"m2"}
    assert sees("stranger") == set()
    # sales_ops runs comp but reads statements by the same rule as anyone else
    assert sees("r2", "sales_ops") == {"r2"}
    assert sees("anyone", "finance") == "everyone"
    assert sees("anyone", "revops_admin") == "everyone"
    assert rep_id(Principal("R1", "viewer"), USERS) == "r1"
    assert team("r1", USERS) == set()
    cyclic = pd.DataFrame({"user_id": ["a", "b"], "email": [None, None], "manager_id": ["b", "a"]})
    assert team("a", cyclic) == {"b"}


@pytest.fixture
def wh_path(tmp_path: Path) -> str:
    path = str(tmp_path / "revops.duckdb")
    with Warehouse.connect(path) as wh:
        _seed(wh)
    return path


def _cli(args: list[str], path: str, user: str) -> tuple[int, str]:
    env = {"COLUMNS": "220", "REVOPS_USER": user, "REVOPS_API_KEY": ""}
    result = runner.invoke(app, [*args, "--warehouse", path], env=env)
    return result.exit_code, result.output


def test_a_rep_cannot_read_another_reps_statement_in_the_cli(wh_path: str) -> None:
    assert _cli(["comp", "run", "--period", "2026-09"], wh_path, "planner")[0] == 0  # admin
    code, out = _cli(["comp", "statement", "U1", "--period", "2026-09"], wh_path, "U2")
    assert code == 1
    assert "may not read U1's statement" in out
    assert "O1" not in out
    code, out = _cli(["comp", "statement", "U1", "--period", "2026-09"], wh_path, "U1")
    assert code == 0, out
    assert "O1" in out
    code, out = _cli(["comp", "statement", "U2", "--period", "2026-09"], wh_path, "planner")
    assert code == 0, out  # revops_admin reads all
    with Warehouse.connect(wh_path) as wh:
        log = [(e.action, e.actor) for e in entries(wh)]
    assert ("comp.statement_refused", "U2") in log
    assert ("comp.statement_read", "U1") in log
    assert ("comp.statement_read", "planner") in log


def test_a_reps_key_cannot_read_another_reps_statement_in_the_api(tmp_path: Path) -> None:
    wh = Warehouse.connect(str(tmp_path / "api.duckdb"))
    _seed(wh)
    model = _model()
    run_period(wh, model, "2026-09", "planner")
    bo = {"user_id": "U2", "name": "Bo", "team": "NA AE", "role": "ae", "is_active": True}
    wh.write("users", pa.Table.from_pylist([{**bo, "manager_id": "U1"}]))
    holders: tuple[tuple[str, Role], ...] = (
        ("U1", "viewer"),
        ("U2", "viewer"),
        ("payroll", "finance"),
    )
    keys = {who: create_key(wh, who, role, "test").token for who, role in holders}
    loaded = load_config(DEFAULT_CONFIG)
    ro = RevOps(replace(loaded, model=model), wh)
    with TestClient(create_app(ro, journal=tmp_path / "journal")) as client:

        def get(user_id: str, key: str) -> tuple[int, Any]:
            r = client.get(
                f"/comp/statements/{user_id}",
                params={"period": "2026-09"},
                headers={"Authorization": f"Bearer {keys[key]}"},
            )
            return r.status_code, r.json()

        code, body = get("U1", "U2")
        assert code == 403
        assert "may not read U1's statement" in str(body["detail"])
        code, body = get("U1", "U1")
        assert code == 200
        assert {line["opportunity_id"] for line in body["lines"]} >= {"O1", "O2"}
        assert body["reconciles"] is True
        assert get("U2", "U1")[0] == 200  # U1 manages U2 now: a manager reads the team's
        assert get("U1", "payroll")[0] == 200
        assert get("U1", "payroll")[1]["user_id"] == "U1"
    refused = [e for e in entries(wh) if e.action == "comp.statement_refused"]
    assert len(refused) == 1
    assert refused[0].actor.startswith("U2 (key ")
    wh.close()


def test_dispute_blocks_the_lock_until_approved(wh_path: str) -> None:
    """A rep disputes their statement; the period cannot lock; an adjustment and an approval
    settle it; a rerun that changes the total makes the approval stale."""
    assert _cli(["comp", "run", "--period", "2026-09"], wh_path, "planner")[0] == 0
    code, out = _cli(["comp", "dispute", "U2", "--period", "2026-09", "--note", "x"], wh_path, "U1")
    assert code == 1
    assert "may not dispute U2's statement" in out
    code, out = _cli(
        ["comp", "dispute", "U1", "--period", "2026-09", "--note", "O2 split is 60/40"],
        wh_path,
        "U1",
    )
    assert code == 0, out
    code, out = _cli(["comp", "lock", "--period", "2026-09"], wh_path, "planner")
    assert code == 1
    assert "open disputes (U1)" in out
    code, out = _cli(["comp", "approve", "U1", "--period", "2026-09"], wh_path, "U1")
    assert code == 1  # a rep cannot approve their own pay
    adjust = ["comp", "adjust", "U1", "--period", "2026-09", "--note"]
    assert _cli([*adjust, "split", "250"], wh_path, "planner")[0] == 0
    code, out = _cli(["comp", "approve", "U1", "--period", "2026-09"], wh_path, "planner")
    assert code == 0, out
    code, out = _cli(["comp", "statement", "U1", "--period", "2026-09"], wh_path, "U1")
    assert "(open, approved)" in out
    assert _cli([*adjust, "late fix", "75"], wh_path, "planner")[0] == 0
    code, out = _cli(["comp", "statement", "U1", "--period", "2026-09"], wh_path, "U1")
    assert "approved (stale: total changed)" in out
    code, out = _cli(["comp", "lock", "--period", "2026-09"], wh_path, "planner")
    assert code == 0, out
    with Warehouse.connect(wh_path) as wh:
        events = wh.execute(wh.table("comp_statement_events")).sort_values("created_at")
        assert events["state"].tolist() == ["disputed", "approved"]
        assert events["actor"].tolist() == ["U1", "planner"]
        log = [e.action for e in entries(wh)]
    assert "comp.disputed" in log
    assert "comp.approved" in log
