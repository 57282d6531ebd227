"""The CLI on a DuckDB file: a dispatcher killed with SIGKILL mid-batch loses nothing, and
`automate list | history | dry-run | retry`, `tasks list | done` and `export-list` work."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import yaml
from auto_case import at, build_model, model_dict, mql_history, seed
from receivers import HttpReceiver
from typer.testing import CliRunner

from revops.automation import inbox, queue
from revops.cli import app
from revops.warehouse import Warehouse

REVOPS = str(Path(sys.executable).parent / "revops")


def prepared(tmp_path: Path, url: str, *, queued: bool = True) -> tuple[Path, Path, list[str]]:
    db, cfg = tmp_path / "wh.duckdb", tmp_path / "revops.yaml"
    cfg.write_text(yaml.safe_dump(model_dict(url)))
    model = build_model(url)
    with Warehouse.connect(db) as wh:
        seed(wh, model)
        wh.write("lifecycle_history", mql_history(), "append")
        if queued:
            queue(wh, model, at(2, 13))
        ids = [str(a["action_id"]) for a in inbox.actions(wh, status="pending")]
    return db, cfg, ids


def test_sigkill_mid_batch_loses_nothing(
    tmp_path: Path, http_receiver: HttpReceiver, hook_secret: None
) -> None:
    db, cfg, ids = prepared(tmp_path, http_receiver.url)
    assert len(ids) == 6
    http_receiver.delay_seconds = 0.5
    args = ["automate", "watch", "--interval", "0.1", "-c", str(cfg), "-w", str(db)]
    child = subprocess.Popen([REVOPS, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while sum(http_receiver.received.values()) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    got = set(http_receiver.store)
    assert 2 <= len(got) < len(ids), "killed mid-batch"
    http_receiver.delay_seconds = 0.0
    # the killed dispatcher's lease (30 s) has not lapsed, but its process is gone: the next
    # pass on this host takes the lease over at once and sends the rest
    with Warehouse.connect(db) as wh:
        ((holder, expires),) = wh.sql("SELECT holder, expires_at FROM automation_leases")
    assert holder.split(":")[1] == str(child.pid)
    assert expires > datetime.now(UTC).replace(tzinfo=None)  # still running when retried
    run = subprocess.run(
        [REVOPS, "automate", "run", "-c", str(cfg), "-w", str(db)],
        check=False,
        capture_output=True,
        text=True,
    )
    assert "another dispatcher holds the lease" not in run.stdout
    assert run.returncode == 0, run.stdout + run.stderr
    assert set(http_receiver.store) == set(ids)  # nothing lost, each key stored once
    with Warehouse.connect(db) as wh:
        assert {a["status"] for a in inbox.actions(wh) if a["kind"] in ("chat", "webhook")} == {
            "delivered"
        }


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    db, cfg, _ = prepared(tmp_path, "http://127.0.0.1:9", queued=False)
    args = ["automate", "dry-run", "--at", "2025-06-02T13:00", "-c", str(cfg), "-w", str(db)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())  # Rich wraps at the terminal width
    assert "mql_no_followup: 3 records (chat pending 3, task delivered 3)" in text
    assert (
        "mql_nurture: 2 records (nurture blocked 1, nurture delivered 1, webhook pending 2)" in text
    )
    with Warehouse.connect(db) as wh:
        assert wh.count("automation_events") == wh.count("tasks") == 0


def test_cli_commands(tmp_path: Path, http_receiver: HttpReceiver, hook_secret: None) -> None:
    db, cfg, ids = prepared(tmp_path, http_receiver.url)
    runner = CliRunner()
    common = ["-c", str(cfg), "-w", str(db)]

    def ok(*args: str) -> str:
        result = runner.invoke(app, [*args, *common])
        assert result.exit_code == 0, result.output
        return " ".join(result.output.split())  # Rich wraps at the terminal width

    listed = ok("automate", "list")
    assert "mql_no_followup" in listed
    assert "pending 6" in listed
    assert "no automation would fire" in ok("automate", "dry-run", "--at", "2025-06-02T15:00")
    http_receiver.fail_keys = {ids[0]: "400"}
    assert "delivered 5, retrying 0, dead 1" in ok("automate", "run")
    assert ids[0] in ok("automate", "history", "--status", "dead")
    http_receiver.fail_keys = {}
    assert "1 actions back" in ok("automate", "retry", ids[0])
    assert "delivered 1" in ok("automate", "run")
    tasks = ok("tasks", "list", "--assignee", "a")
    with Warehouse.connect(db) as wh:
        first = inbox.tasks(wh, assignee="a")[0]["task_id"]
    assert str(first) in tasks
    ok("tasks", "done", str(first))
    assert "was done at" in runner.invoke(app, ["tasks", "done", str(first), *common]).output
    out = tmp_path / "nurture.csv"
    assert "1 members of mql_nurture" in ok(
        "automate", "export-list", "mql_nurture", "--out", str(out)
    )
    assert out.read_text().splitlines()[1].startswith("mql_nurture,p1,p1@x.test")
