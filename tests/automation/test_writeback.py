"""Write-back on the demo warehouse: the Salesforce and HubSpot import files revops writes,
re-imported through their presets with `revops load`, leave the warehouse as it was; a field
revops cleared goes out as Salesforce's `#N/A` and comes back empty; a push reaches a real HTTP
receiver that fails on purpose, once per idempotency key, with the file the plan shows."""

from __future__ import annotations

import csv
import io
import json
import shutil
import time
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
import yaml
from receivers import HttpReceiver
from typer.testing import CliRunner

from revops.automation.writeback import plan
from revops.cli import app
from revops.config.loader import load_config
from revops.warehouse import Warehouse

SHIPPED = Path(__file__).parents[2] / "examples" / "revops.yaml"
# object → table it loads into, per system
OBJECTS = {
    "salesforce": {
        "Lead": "persons",
        "Contact": "persons",
        "Account": "accounts",
        "Opportunity": "opportunities",
    },
    "hubspot": {"contacts": "persons", "companies": "accounts", "deals": "opportunities"},
}
WATCHED = ("persons", "accounts", "opportunities", "lifecycle_events", "lifecycle_history")


def cli_out(*args: str | Path) -> str:
    """A command's standard output alone (csv or json; messages go to stderr)."""
    result = CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.stdout


def cli(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def snapshot(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return {t: sorted(con.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in WATCHED}


def read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


@pytest.fixture
def demo_copy(demo_run: tuple[Path, str], tmp_path: Path) -> Path:
    db = tmp_path / "wh.duckdb"
    shutil.copy(demo_run[0] / "revops.duckdb", db)
    return db


def reimport(db: Path, system: str, folder: Path) -> None:
    for name, target in OBJECTS[system].items():
        f = folder / f"{system}.{name}.csv"
        if f.exists():
            cli("load", str(f), "-t", target, "-p", f"{system}.{name}", "-w", str(db))


@pytest.mark.parametrize("system", ["salesforce", "hubspot"])
def test_export_reimported_leaves_the_warehouse_unchanged(
    system: str, demo_copy: Path, tmp_path: Path
) -> None:
    db = demo_copy
    out = tmp_path / "out"
    cli("sync", "export", "-s", system, "--out", str(out), "-w", str(db))
    files = sorted(p.name for p in out.iterdir())
    assert files == sorted(f"{system}.{n}.csv" for n in OBJECTS[system])
    with duckdb.connect(str(db), read_only=True) as con:
        won = con.execute(
            "SELECT opportunity_id, owner_id, stage FROM opportunities WHERE is_won "
            "ORDER BY opportunity_id LIMIT 1"
        ).fetchone()
        mql = con.execute(
            "SELECT person_id FROM persons WHERE lifecycle_stage = 'MQL' ORDER BY 1 LIMIT 1"
        ).fetchone()
        deals = con.execute("SELECT count(*) FROM opportunities").fetchone()
    assert won is not None
    assert mql is not None
    assert deals is not None
    # the system's own format: its key column and field names, a won deal's owner and stage
    if system == "salesforce":
        opp = read_csv(out / "salesforce.Opportunity.csv")
        assert list(opp[0]) == ["Id", "OwnerId", "StageName"]
        assert {"Id": won[0], "OwnerId": won[1], "StageName": "Closed Won"} in opp
        leads = read_csv(out / "salesforce.Lead.csv") + read_csv(out / "salesforce.Contact.csv")
        assert next(r for r in leads if r["Id"] == mql[0])["Lifecycle_Stage__c"] == "MQL"
    else:
        opp = read_csv(out / "hubspot.deals.csv")
        assert list(opp[0]) == ["Record ID", "hubspot_owner_id", "dealstage"]
        assert {"Record ID": won[0], "hubspot_owner_id": won[1], "dealstage": "Closed Won"} in opp
        contacts = read_csv(out / "hubspot.contacts.csv")
        row = next(r for r in contacts if r["Record ID"] == mql[0])
        assert row["lifecyclestage"] == "marketingqualifiedlead"  # HubSpot's internal value
    assert len(opp) == deals[0]  # first sync: every deal
    before = snapshot(db)
    reimport(db, system, out)
    assert snapshot(db) == before
    with duckdb.connect(str(db), read_only=True) as con:
        logged = con.execute(
            "SELECT sum(inserted), sum(updated), sum(quarantined), count(*) FROM load_log "
            f"WHERE file LIKE '{out}/%'"
        ).fetchone()
    assert logged == (0, 0, 0, len(OBJECTS[system]))
    # synced: the next plan holds nothing
    with Warehouse.connect(db) as wh:
        model = load_config(SHIPPED).model
        assert all(not p.rows for p in plan(wh, model, system))


def test_changes_since_the_last_sync_and_a_cleared_owner(demo_copy: Path, tmp_path: Path) -> None:
    """After a first export, revops moves one lead to another owner and clears another's:
    the next Salesforce file holds just those two leads (the cleared owner as #N/A), and its
    re-import leaves the warehouse as revops left it."""
    db = demo_copy
    cli("sync", "export", "-s", "salesforce", "--out", str(tmp_path / "first"), "-w", str(db))
    with duckdb.connect(str(db), read_only=True) as con:
        (a, a_owner), (b, _) = con.execute(
            "SELECT person_id, owner_id FROM persons WHERE person_type = 'lead' "
            "AND owner_id IS NOT NULL ORDER BY person_id LIMIT 2"
        ).fetchall()
        (other,) = con.execute(
            f"SELECT user_id FROM users WHERE user_id <> '{a_owner}' ORDER BY 1 LIMIT 1"
        ).fetchone()
    with Warehouse.connect(db) as wh:
        moved = pa.table({"person_id": [a, b], "owner_id": pa.array([other, None], pa.string())})
        wh.write("persons", moved)
    planned = json.loads(cli_out("sync", "plan", "-s", "salesforce", "--format", "json", "-w", db))
    (summary,) = planned["tables"]
    assert summary["name"] == "write_back"
    lead = next(r for r in summary["rows"] if r["object"] == "salesforce.Lead")
    assert lead["records"] == 2  # the two leads, nothing else: counts as integers
    out = tmp_path / "second"
    cli("sync", "export", "-s", "salesforce", "--out", str(out), "-w", str(db))
    assert sorted(p.name for p in out.iterdir()) == ["salesforce.Lead.csv"]
    rows = {r["Id"]: r for r in read_csv(out / "salesforce.Lead.csv")}
    assert set(rows) == {a, b}
    assert rows[a]["OwnerId"] == other
    assert rows[b]["OwnerId"] == "#N/A"
    before = snapshot(db)
    reimport(db, "salesforce", out)
    assert snapshot(db) == before
    history = cli("sync", "history", "-w", str(db))
    assert "salesforce.Lead" in history
    assert "export" in history
    text = cli_out("sync", "history", "--format", "csv", "-w", db)
    runs = list(csv.DictReader(io.StringIO(text)))
    assert runs[0]["object"] == "salesforce.Lead"
    assert runs[0]["mode"] == "export"
    assert runs[0]["records"] == "2"
    assert runs[0]["file_or_status"] == str(out / "salesforce.Lead.csv")


def test_push_through_a_failing_receiver(
    demo_copy: Path, tmp_path: Path, http_receiver: HttpReceiver
) -> None:
    """Each file is queued in the outbox with the ledger; the receiver answers 503 twice,
    stalls past the client's timeout once and answers 500 once: every file arrives, stored
    once per idempotency key, and its body is the file the plan showed."""
    db = demo_copy
    data = yaml.safe_load(SHIPPED.read_text())
    data["automations"]["endpoints"] = [
        {"name": "sales_alerts", "url": f"{http_receiver.url}/chat"},
        {"name": "crm_sync", "url": f"{http_receiver.url}/writeback"},
    ]
    data["automations"]["dispatch"] = {"backoff_seconds": 0, "timeout_seconds": 1}
    cfg = tmp_path / "revops.yaml"
    cfg.write_text(yaml.safe_dump(data))
    model = load_config(cfg).model
    with Warehouse.connect(db) as wh:
        expected = {f"{p.system}.{p.object}": p.csv() for p in plan(wh, model, "salesforce")}
    http_receiver.failures = ["503", "503", "stall", "500"]
    first = cli("sync", "push", "-s", "salesforce", "-c", str(cfg), "-w", str(db))
    assert "queued 4 files for crm_sync" in first
    for _ in range(5):
        if len(http_receiver.store) == len(expected):
            break
        cli("automate", "run", "-c", str(cfg), "-w", str(db))
    got = {v["object"]: v["csv"] for v in http_receiver.store.values()}
    assert got == expected
    # the stalled request landed after the client gave up; its retry came with the same key
    # and the receiver kept the first copy. The stalled handler counts its request only when
    # its stall ends, which can be after the retry was stored: wait for it, within a bound.
    deadline = time.monotonic() + http_receiver.stall_seconds + 5
    while sum(http_receiver.received.values()) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sorted(http_receiver.received.values()) == [1, 1, 1, 2]
    with duckdb.connect(str(db), read_only=True) as con:
        statuses = con.execute(
            "SELECT a.status, count(*) FROM sync_runs r JOIN automation_actions a "
            "USING (action_id) GROUP BY 1"
        ).fetchall()
        failed = con.execute(
            "SELECT count(*) FROM automation_attempts t JOIN automation_actions a "
            "USING (action_id) WHERE a.kind = 'sync' AND NOT t.ok"
        ).fetchone()
    assert statuses == [("delivered", 4)]
    assert failed == (4,)
    # nothing changed since: a second push queues nothing
    again = cli("sync", "push", "-s", "salesforce", "-c", str(cfg), "-w", str(db))
    assert "queued 0 files" in again
