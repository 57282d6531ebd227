"""kill -9 the intake server while it answers leads, run an audit-writing CLI command, restart:
every lead answered 201 is stored once and the audit chain (and its anchor) verifies.

This was the attack that stranded 40 answered leads: the journal's audit entries were numbered
from the server's memory, the CLI took those numbers, and the restart refused to start.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import socket
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx2
import pytest
from killing import run_cli

from revops.api.applier import NICE
from revops.api.journal import holds_records
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
        gc.freeze()  # never collect what the fork copied (see killing.run_cli)
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
            app = create_app(ro, applier="process")
            uvicorn.run(app, host="127.0.0.1", port=port, log_level="error")
        except BaseException:
            import traceback

            traceback.print_exc()
            code = 70
        finally:
            os._exit(code)
    deadline = time.monotonic() + 180  # a loaded 2-core machine: two interpreters start
    while time.monotonic() < deadline:
        try:
            if httpx2.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return pid
        except httpx2.HTTPError:
            time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    raise AssertionError("the server did not come up")


def health(port: int) -> dict[str, Any]:
    answer: dict[str, Any] = httpx2.get(f"http://127.0.0.1:{port}/health", timeout=5).json()
    return answer


def alive(pid: int) -> bool:
    """Running, not a zombie (a dead grandchild waits for init to reap it, lock released)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_gone(pid: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while alive(pid):
        assert time.monotonic() < deadline, f"process {pid} did not end"
        time.sleep(0.05)


def open_files(pid: int) -> set[str]:
    """The files the process has open (/proc/PID/fd)."""
    out = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            out.add(os.readlink(fd))
    return out


def client_of(port: int, headers: dict[str, str]) -> httpx2.Client:
    """A client with time for a loaded 2-core machine (a first read imports and checks keys)."""
    return httpx2.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=60)


def niceness(pid: int) -> int:
    return os.getpriority(os.PRIO_PROCESS, pid)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seeded_server(path: Path) -> tuple[int, int, dict[str, str]]:
    """The hand-built company and its keys in a new DuckDB file at `path`, served with a 30 s
    apply interval (answered groups stay in the journal): the server's pid, its port and an
    admin's headers."""
    with Warehouse.connect(str(path)) as wh:
        seed(wh)
        wh.write("api_keys", KEY_ROWS)
    port = free_port()
    pid = serve(path, port, apply_interval=30.0)
    return pid, port, {"Authorization": f"Bearer {TOKENS['revops_admin']}"}


def kill_write_restart(folder: Path, leads: int = LEADS) -> dict[str, int]:
    """The scenario of the module docstring (REVOPS_USER set by the caller): answered leads
    lost, applied more than once, and whether the chain verifies (1) with its anchor."""
    path = folder / "w.duckdb"
    pid, port, headers = seeded_server(path)
    applier = health(port)["applier_pid"]
    acked: list[str] = []
    try:
        with client_of(port, headers) as client:
            for i in range(leads):
                r = client.post("/leads", json=lead(f"k{i}@globex.com"))
                assert r.status_code == 201
                acked.append(r.json()["person_id"])
    finally:
        # right after the last answer, both processes: groups are journaled, not applied
        os.kill(pid, signal.SIGKILL)
        os.kill(applier, signal.SIGKILL)
        os.waitpid(pid, 0)
        wait_gone(applier)  # its DuckDB lock goes with it
    journal = Path(f"{path}.intake-journal")
    assert holds_records(journal)  # answered, not applied

    assert run_cli(["keys", "create", "after-crash", "--role", "viewer", "-w", str(path)]) == 0

    pid = serve(path, port)  # the restart must come up (it refused to, before)
    try:
        with client_of(port, headers) as client:
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


def test_the_server_never_opens_the_warehouse_and_restarts_a_killed_applier(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The process that answers holds no handle on the DuckDB file (the applier does) and
    runs at a higher CPU priority than it; kill -9 of the applier shows on /health, a new one
    starts (at the same lower priority) and applies every answered lead."""
    monkeypatch.setenv("REVOPS_USER", "ops")
    path = tmp_path / "w.duckdb"
    pid, port, headers = seeded_server(path)
    try:
        with client_of(port, headers) as client:
            first = health(port)
            applier = first["applier_pid"]
            acked = []
            for i in range(10):
                r = client.post("/leads", json=lead(f"r{i}@globex.com"))
                assert r.status_code == 201
                acked.append(r.json()["person_id"])
            assert client.get(f"/leads/{acked[0]}").status_code == 200  # applied through it
            database = {str(path), f"{path}.wal"}  # DuckDB's file and its write-ahead log
            assert str(path) in open_files(applier)
            assert not open_files(pid) & database
            assert niceness(applier) == min(niceness(pid) + NICE, 19)

            for i in range(10, 20):  # answered, left in the journal (30 s interval)
                r = client.post("/leads", json=lead(f"r{i}@globex.com"))
                assert r.status_code == 201
                acked.append(r.json()["person_id"])
            assert health(port)["journal_lag_groups"] > 0
            os.kill(applier, signal.SIGKILL)
            wait_gone(applier)
            deadline = time.monotonic() + 60
            seen = health(port)
            while seen["applier_pid"] in (None, applier) and time.monotonic() < deadline:
                time.sleep(0.1)
                seen = health(port)
            assert seen["commits"]["applier_restarts"] == 1
            assert seen["applier_pid"] not in (None, applier)
            assert "exited (code -9)" in (seen["last_apply_error"] or "")
            assert niceness(seen["applier_pid"]) == min(niceness(pid) + NICE, 19)

            assert all(client.get(f"/leads/{p}").status_code == 200 for p in acked)
            r = client.post("/leads", json=lead("after@globex.com"))
            assert r.status_code == 201
            assert client.get(f"/leads/{r.json()['person_id']}").status_code == 200
            assert health(port)["last_apply_error"] is None
    finally:
        os.kill(pid, signal.SIGTERM)
        os.waitpid(pid, 0)
    with Warehouse.connect(str(path), create=False) as wh:
        (created,) = wh.sql("SELECT count(*) FROM \"audit_log\" WHERE action = 'leads.created'")
        assert created[0] == 21  # each answered lead once
        assert verify(wh).ok
