"""kill -9 the intake server while it answers leads, run an audit-writing CLI command, restart:
every lead answered 201 is stored once and the audit chain (and its anchor) verifies.

This was the attack that stranded 40 answered leads: the journal's audit entries were numbered
from the server's memory, the CLI took those numbers, and the restart refused to start.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from killing import run_cli

from revops.audit import verify
from revops.warehouse import Warehouse

sys.path.insert(0, str(Path(__file__).parents[1] / "api"))

from api_support import EXAMPLE, KEY_ROWS, ROUTING, TOKENS, lead, seed

LEADS = 40


def serve(path: Path, port: int, apply_interval: float = 0.1) -> int:
    """`revops serve` in a forked child (uvicorn, the app over the DuckDB file); its pid.
    A long `apply_interval` keeps answered groups in the journal until the kill."""
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            import uvicorn

            from revops.api import create_app
            from revops.api.service import IntakeService
            from revops.config import load_config
            from revops.context import RevOps

            defaults = IntakeService.__init__.__kwdefaults__
            assert defaults is not None
            defaults["apply_interval"] = apply_interval
            loaded = load_config(EXAMPLE)
            model = loaded.model.model_copy(update={"routing": ROUTING})
            ro = RevOps(replace(loaded, model=model), Warehouse.connect(str(path)))
            uvicorn.run(create_app(ro), host="127.0.0.1", port=port, log_level="error")
        except BaseException:
            code = 70
        finally:
            os._exit(code)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return pid
        except httpx.HTTPError:
            time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    raise AssertionError("the server did not come up")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def kill_write_restart(folder: Path, leads: int = LEADS) -> dict[str, int]:
    """The scenario of the module docstring (REVOPS_USER set by the caller): answered leads
    lost, applied more than once, and whether the chain verifies (1) with its anchor."""
    path = folder / "w.duckdb"
    with Warehouse.connect(str(path)) as wh:
        seed(wh)
        wh.write("api_keys", KEY_ROWS)
    headers = {"Authorization": f"Bearer {TOKENS['revops_admin']}"}
    port = free_port()
    pid = serve(path, port, apply_interval=30.0)
    acked: list[str] = []
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers) as client:
            for i in range(leads):
                r = client.post("/leads", json=lead(f"k{i}@globex.com"))
                assert r.status_code == 201
                acked.append(r.json()["person_id"])
    finally:
        os.kill(pid, signal.SIGKILL)  # right after the last answer: groups are unapplied
        os.waitpid(pid, 0)
    journal = Path(f"{path}.intake-journal")
    assert sum(p.stat().st_size for p in journal.glob("*.wal")) > 0  # answered, not applied

    assert run_cli(["keys", "create", "after-crash", "--role", "viewer", "-w", str(path)]) == 0

    pid = serve(path, port)  # the restart must come up (it refused to, before)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers) as client:
            found = sum(client.get(f"/leads/{p}").status_code == 200 for p in acked)
    finally:
        os.kill(pid, signal.SIGTERM)
        os.waitpid(pid, 0)
    with Warehouse.connect(str(path), create=False) as wh:
        stored = {r[0] for r in wh.sql('SELECT person_id FROM "persons"')}
        (created,) = wh.sql("SELECT count(*) FROM \"audit_log\" WHERE action = 'leads.created'")
        check = verify(wh)
    return {
        "lost": len(set(acked) - stored) + (len(acked) - found),
        "applied_twice": created[0] - len(acked),
        "chain_ok": int(check.ok and check.anchored is not None),
    }


def test_kill_then_cli_write_then_restart_loses_no_answered_lead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REVOPS_USER", "ops")
    assert kill_write_restart(tmp_path) == {"lost": 0, "applied_twice": 0, "chain_ok": 1}
