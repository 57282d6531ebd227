"""`revops keys` and `revops access` through the CLI: admin only, token shown once, audited."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from revops.access import verify_key
from revops.audit import entries, verify
from revops.cli import app
from revops.warehouse import Warehouse

runner = CliRunner()


def run(wh: Path, user: str, *args: str) -> tuple[int, str]:
    env = {"REVOPS_USER": user, "COLUMNS": "200", "REVOPS_API_KEY": ""}
    result = runner.invoke(app, [*args, "--warehouse", str(wh)], env=env)
    return result.exit_code, result.output


def test_keys_and_grants_are_admin_only_shown_once_and_audited(tmp_path: Path) -> None:
    wh = tmp_path / "revops.duckdb"
    # alice is the first writer, so she becomes revops_admin
    code, out = run(wh, "alice", "keys", "create", "webform", "--role", "marketing_ops")
    assert code == 0, out
    token = out.strip().splitlines()[-1]
    assert token.startswith("rvk_")
    key_id = token.split("_")[1]

    code, out = run(wh, "alice", "keys", "list")
    assert code == 0
    assert key_id in out
    assert "webform" in out
    assert token not in out
    assert token.split("_", 2)[2] not in out

    assert run(wh, "alice", "access", "grant", "bob", "sales_ops")[0] == 0
    code, out = run(wh, "bob", "access", "list")
    assert code == 0
    assert "bob" in out
    assert "sales_ops" in out
    code, out = run(wh, "bob", "keys", "create", "sneaky", "--role", "revops_admin")
    assert code == 1
    assert "may not access.manage" in out
    code, out = run(wh, "alice", "keys", "create", "x", "--role", "superuser")
    assert code == 1
    assert "unknown role" in out

    with Warehouse.connect(str(wh)) as w:
        assert verify_key(w, token).role == "marketing_ops"
    assert run(wh, "alice", "keys", "revoke", key_id)[0] == 0
    with Warehouse.connect(str(wh)) as w:
        assert w.sql(f"SELECT revoked_at IS NOT NULL FROM api_keys WHERE key_id = '{key_id}'") == [
            (True,)
        ]
        actions = [e.action for e in entries(w)]
        assert actions == [
            "access.bootstrap",
            "access.key_created",
            "access.granted",
            "access.key_revoked",
        ]
        assert verify(w).ok
