"""Benchmark: automation events per second, from trigger evaluation to delivery, and the lag.

A DuckDB warehouse in a temporary folder holds 20 reps and N persons. Leads enter MQL in chunks
(one `lifecycle_history` write per chunk, as `lifecycle run` or the intake API writes them).
An automation fires on the stage change, filtered by a condition on the person's country, and
sends a signed webhook to a local HTTP receiver (127.0.0.1, deduplicating on the idempotency
key). After each chunk's write a dispatcher pass delivers what the write queued.

revops: the write hook evaluates the trigger and records events, actions and the audit entry
in the chunk's own transaction (the transactional outbox); the dispatcher sends them and
records the outcomes. Baseline: the same trigger code evaluated after the write, each event
POSTed straight from that loop: no outbox, no retry bookkeeping, no audit (what a cron script
calling a webhook does, and what loses events when it dies between the write and the send).
Both must deliver the same records.

Printed: events/s over the whole run and the lag of each delivery (receipt at the receiver
minus the start of the write that caused it), p50 and p99.

Usage: python bench/automation.py [--persons 2000] [--chunk 100] [--check]
`--check` (CI, a few seconds): 60 persons in chunks of 20; exit 1 unless both paths deliver the
same records, each key once.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

from revops.automation import dispatch, install
from revops.automation.channels import send_http
from revops.automation.outbox import detect
from revops.automation.sources import stored
from revops.config.models import OperatingModel
from revops.warehouse import Warehouse
from revops.warehouse.clock import utc_now

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "revops.yaml"
COUNTRIES = ["US", "DE", "GB", "FR", "JP"]


class Receiver:
    """Stores the first body per idempotency key and when it arrived."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.bodies: dict[str, Any] = {}
        self.repeats = 0
        lock = threading.Lock()
        me = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                key = self.headers.get("X-Revops-Idempotency-Key", "")
                with lock:
                    if key in me.arrived:
                        me.repeats += 1
                    else:
                        me.arrived[key] = time.perf_counter()
                        me.bodies[key] = json.loads(body)
                self.send_response(200)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def model(url: str) -> OperatingModel:
    data = yaml.safe_load(EXAMPLE.read_text())
    data["automations"] = {
        "endpoints": [{"name": "hook", "url": f"{url}/hook", "secret_env": "BENCH_HOOK_SECRET"}],
        "dispatch": {"batch_size": 1000, "record_every": 100},
        "rules": [
            {
                "name": "new_mql",
                "trigger": {"type": "lifecycle_stage_change", "to_stage": "MQL"},
                "when": "country in ['US', 'DE', 'GB']",
                "actions": [{"type": "webhook", "endpoint": "hook"}],
            }
        ],
    }
    return OperatingModel.model_validate(data)


def seeded(path: Path, persons: int) -> Warehouse:
    wh = Warehouse.connect(path)
    users = [
        {"user_id": f"u{i}", "name": f"Rep {i}", "team": "SDR", "role": "sdr", "is_active": True}
        for i in range(20)
    ]
    wh.write("users", pa.Table.from_pylist(users))
    now = utc_now()
    rows = [
        {
            "person_id": f"p{i:06d}",
            "email": f"p{i}@x.test",
            "country": COUNTRIES[i % len(COUNTRIES)],
            "owner_id": f"u{i % 20}",
            "lifecycle_stage": "Lead",
            "created_at": now - timedelta(days=1),
        }
        for i in range(persons)
    ]
    wh.write("persons", pa.Table.from_pylist(rows))
    return wh


def history(ids: list[str]) -> pa.Table:
    now = utc_now()
    return pa.Table.from_pylist(
        [
            {"transition_id": f"t-{pid}", "person_id": pid, "from_stage": "Lead"}
            | {"to_stage": "MQL", "changed_at": now, "source": "scoring"}
            for pid in ids
        ]
    )


def chunks(persons: int, size: int) -> list[list[str]]:
    ids = [f"p{i:06d}" for i in range(persons)]
    return [ids[i : i + size] for i in range(0, persons, size)]


def run_revops(folder: Path, persons: int, size: int) -> tuple[set[str], float, list[float], int]:
    receiver = Receiver()
    m = model(receiver.url)
    wh = seeded(folder / "revops.duckdb", persons)
    install(wh, m)
    written: dict[str, float] = {}  # record id -> start of the write that fired it
    start = time.perf_counter()
    try:
        for ids in chunks(persons, size):
            t = time.perf_counter()
            for pid in ids:
                written[pid] = t
            wh.write("lifecycle_history", history(ids), "append")
            dispatch(wh, m, "bench")
        elapsed = time.perf_counter() - start
        lags = [
            receiver.arrived[k] - written[b["record"]["id"]] for k, b in receiver.bodies.items()
        ]
        pending = wh.sql("SELECT count(*) FROM automation_actions WHERE status <> 'delivered'")
        assert int(pending[0][0]) == 0, "every action delivered"
        records = {b["record"]["id"] for b in receiver.bodies.values()}
        return records, elapsed, lags, receiver.repeats
    finally:
        wh.close()
        receiver.close()


def run_baseline(folder: Path, persons: int, size: int) -> tuple[set[str], float, list[float]]:
    receiver = Receiver()
    m = model(receiver.url)
    wh = seeded(folder / "baseline.duckdb", persons)
    sent: set[str] = set()
    written: dict[str, float] = {}
    start = time.perf_counter()
    try:
        for ids in chunks(persons, size):
            t = time.perf_counter()
            for pid in ids:
                written[pid] = t
            wh.write("lifecycle_history", history(ids), "append")
            for e in detect(wh, stored(wh), m.automations.rules, utc_now(), routing=m.routing):
                if e["event_id"] in sent:
                    continue
                sent.add(e["event_id"])
                payload = {"id": e["event_id"], "record": {"id": e["record_id"]}}
                send_http(m.automations, "webhook", "hook", e["event_id"], payload)
        elapsed = time.perf_counter() - start
        lags = [
            receiver.arrived[k] - written[b["record"]["id"]] for k, b in receiver.bodies.items()
        ]
        return {b["record"]["id"] for b in receiver.bodies.values()}, elapsed, lags
    finally:
        wh.close()
        receiver.close()


def lag_of(receiver: Receiver, written: dict[str, float]) -> list[float]:
    """Seconds from the start of each record's causing write to its arrival."""
    return [receiver.arrived[k] - written[b["record"]["id"]] for k, b in receiver.bodies.items()]


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--persons", type=int, default=2000)
    parser.add_argument("--chunk", type=int, default=100)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    persons, size = (60, 20) if args.check else (args.persons, args.chunk)
    os.environ.setdefault("BENCH_HOOK_SECRET", "bench-secret")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        os.environ["REVOPS_STATE_DIR"] = str(folder / "state")
        ours, ours_s, ours_lag, repeats = run_revops(folder, persons, size)
        base, base_s, base_lag = run_baseline(folder, persons, size)
    expected = {f"p{i:06d}" for i in range(persons) if COUNTRIES[i % 5] in ("US", "DE", "GB")}
    agree = ours == base == expected and repeats == 0
    n = len(ours)
    print(f"{persons:,} leads entering MQL in chunks of {size}; {n:,} fire (US, DE, GB)")
    print(
        f"revops (outbox, dispatcher, audit): {n / ours_s:,.0f} events/s, "
        f"lag p50 {statistics.median(ours_lag) * 1000:,.1f} ms, p99 {p(ours_lag, 0.99):,.1f} ms"
    )
    print(
        f"baseline (POST from the trigger loop): {n / base_s:,.0f} events/s, "
        f"lag p50 {statistics.median(base_lag) * 1000:,.1f} ms, p99 {p(base_lag, 0.99):,.1f} ms"
    )
    print(f"durable delivery costs {ours_s / base_s:.2f}x the baseline's time")
    if not agree:
        print("MISMATCH: the two paths delivered different records (or a key twice)")
        return 1
    if args.check:
        print("check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
