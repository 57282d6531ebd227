"""Benchmark: one in-process routing decision, and `POST /leads` against the running server.

Part 1. A realistic rule set (a nurture filter, three condition rules, account-based routing,
four territories feeding order and count pools with caps and working hours) routes N random
leads in sequence, threading the state. Each decision is timed alone; median and p99 are
printed. The baseline builds the router from the config for every lead, which is what an engine
that re-reads its rules per decision pays; both must pick the same owners.

Part 2. A demo company (`revops demo --scale S`, or a copy of `--warehouse FILE`) in a
temporary folder, a marketing_ops key, and `revops serve` (uvicorn) in a subprocess on
127.0.0.1 with the DuckDB file. After a warm-up, an open-loop client sends `POST /leads` at a
fixed rate for a fixed time, each with a unique email (a mix of demo account domains, free mail
and unknown companies). Latency is measured from each request's scheduled send time, so a
stalled server cannot hide queueing delay (no coordinated omission). The client is raw asyncio
HTTP/1.1 over a keep-alive connection pool, far cheaper than an HTTP library, since it shares
the machine with the server. Phases: the first rate; then `--grow` more leads posted through
the same API (closed loop) and the first rate again, so p99 before and after growth compare;
then every further rate (1,000 req/s by default). Each phase prints the CPU per lead of the
server (the process that answers), of its applier (the child process that writes the
warehouse) and of the load generator, the load average before and after it, an fsync probe of
the journal's disk just before it, and the baseline measured in the same run right after it: a
minimal FastAPI app (one pydantic model, no I/O) under the same uvicorn settings at the same
rate, the floor that HTTP and scheduling on this machine leave. At the end the warehouse must
have grown by exactly the leads answered 201 (each lead is new), else the run fails; the
journal line splits the server's CPU into its journal thread's and the rest (the event loop).

Part 3. The CPU cost of one intake apply (1,000 journal groups of 2 persons appended) into
tables of 10k, 100k and 1M rows: as a thousand chunks, as the applier wrote them (baseline),
and combined into one chunk, as it writes them now.

Usage: python bench/routing.py [--leads 100000] [--baseline 5000] [--check]
                               [--rates 500,1000] [--seconds 60] [--grow 100000]
                               [--scale 1] [--warehouse out/demo.duckdb] [--no-server]
                               [--apply-sizes 10000,100000,1000000]
                               [--postgres postgresql://postgres@127.0.0.1:5432/postgres]

`--check` (CI, a few seconds): part 1 only, 2,000 leads, the first 500 also through the
recompiling baseline; exit 1 unless both pick the same owner for every lead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import uvloop

from revops.config.routing import RoutingConfig
from revops.routing import RoutingState, UserInfo
from revops.routing.engine import Router, compile_routing

COUNTRIES = ["US", "CA", "GB", "DE", "FR", "JP", "AU", "BR", "MX", "IN", "ZZ"]
INDUSTRIES = ["Finance", "Retail", "Software", "Health", "Manufacturing"]
TZ = {"NA": "America/New_York", "EMEA": "Europe/Berlin", "APAC": "Asia/Tokyo", "LATAM": "UTC"}


def config() -> tuple[RoutingConfig, list[UserInfo]]:
    users = [UserInfo(f"{r}{i}", active=i != 5, timezone=TZ[r]) for r in TZ for i in range(6)]

    def pool(region: str, mode: str) -> dict[str, Any]:
        return {
            "name": region,
            "mode": mode,
            "daily_cap": 400,
            "working_hours": {"start": "07:00", "end": "20:00"},
            "members": [{"user_id": f"{region}{i}", "weight": 1 + i % 3} for i in range(6)],
        }

    cfg = RoutingConfig.model_validate(
        {
            "holidays": ["2025-12-25"],
            "paused": ["NA4"],
            "pools": [
                pool("NA", "count"),
                pool("EMEA", "order"),
                pool("APAC", "count"),
                pool("LATAM", "order"),
            ],
            "rules": [
                {
                    "name": "students",
                    "when": [{"field": "title", "op": "contains", "value": "student"}],
                    "queue": "nurture",
                },
                {
                    "name": "competitors",
                    "when": [{"field": "industry", "op": "in", "value": ["Competitor"]}],
                    "queue": "spam",
                },
                {
                    "name": "strategic",
                    "when": [{"field": "employees", "op": "gte", "value": 50000}],
                    "owner": "NA0",
                },
                {
                    "name": "named",
                    "kind": "account_owner",
                    "when": [
                        {
                            "field": "account.segment",
                            "op": "in",
                            "value": ["enterprise", "mid_market"],
                        }
                    ],
                },
                {
                    "name": "territories",
                    "kind": "territory",
                    "territories": [
                        {"name": "NA", "countries": ["US", "CA"], "pool": "NA"},
                        {"name": "EMEA", "countries": ["GB", "DE", "FR"], "pool": "EMEA"},
                        {"name": "APAC", "countries": ["JP", "AU", "IN"], "pool": "APAC"},
                        {"name": "LATAM", "countries": ["BR", "MX"], "pool": "LATAM"},
                    ],
                },
            ],
        }
    )
    return cfg, users


def leads(n: int, seed: int = 7) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    rng = random.Random(seed)
    out: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
    for i in range(n):
        lead = {
            "person_id": f"p{i}",
            "country": rng.choice(COUNTRIES),
            "title": rng.choice(["CFO", "VP Sales", "Student", "Analyst"]),
            "industry": rng.choice(INDUSTRIES),
            "employees": rng.choice([None, 10, 500, 5000, 80000]),
        }
        account = None
        if rng.random() < 0.3:
            account = {
                "account_id": f"a{i % 500}",
                "owner_id": f"EMEA{i % 6}",
                "segment": rng.choice(["smb", "mid_market", "enterprise"]),
            }
        out.append((lead, account))
    return out


def run(
    items: list[tuple[dict[str, Any], dict[str, Any] | None]],
    users: list[UserInfo],
    cfg: RoutingConfig,
    precompiled: bool,
) -> tuple[list[float], list[str | None]]:
    state = RoutingState.initial(users, cfg)
    router = compile_routing(cfg)
    start = datetime(2025, 6, 2, tzinfo=UTC)
    times: list[float] = []
    owners: list[str | None] = []
    for i, (lead, account) in enumerate(items):
        at = start + timedelta(seconds=37 * i)
        t0 = time.perf_counter_ns()
        r = router if precompiled else Router(cfg)
        d = r.route(lead, account, state, at)
        times.append((time.perf_counter_ns() - t0) / 1000)
        state = d.state
        owners.append(d.owner_id or d.queue)
    return times, owners


def report(name: str, times: list[float]) -> None:
    q = statistics.quantiles(times, n=100)
    print(
        f"{name:<28} n={len(times):>7,}  median {statistics.median(times):8.1f} µs"
        f"  p99 {q[98]:8.1f} µs  total {sum(times) / 1e6:6.2f} s"
    )


# -- part 2: the intake API under load ---------------------------------------------------------
GOAL_RPS, GOAL_P99_MS = 500, 20.0
MAX_CONNECTIONS = 256  # the client's open sockets at most; more requests wait for one
REQUEST_TIMEOUT = 10.0  # seconds from a request's scheduled time until it counts as timed out
NO_RESPONSE, TIMED_OUT = 0, -1  # pseudo statuses in the error counts


def raise_fd_limit() -> int:
    """Raise this process's open-file limit to its hard limit (a heavily overloaded run holds
    up to MAX_CONNECTIONS sockets besides its files); the limit now in force."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


class Client:
    """Minimal HTTP/1.1 keep-alive client: a pool of at most `max_connections` connections,
    one request at a time each. A request waits for a free connection (its latency, measured
    by the caller from its scheduled time, includes that wait), so an overloaded server costs
    the client neither file descriptors nor memory without bound. Any failure closes the
    connection it happened on: a half-read answer never leaves a socket behind."""

    def __init__(
        self, host: str, port: int, token: str, max_connections: int = MAX_CONNECTIONS
    ) -> None:
        self.host, self.port = host, port
        self.auth = f"Authorization: Bearer {token}\r\n"
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.slots = asyncio.Semaphore(max_connections)
        self.opened = 0
        self.open_now = self.most_open = 0  # sockets open now, and at most at once
        self.statuses: Counter[int] = Counter()  # every answer's status, for the final check
        self.unanswered = 0  # requests that failed or timed out after a connection was taken

    async def post(self, path: str, body: bytes) -> int:
        async with self.slots:  # a request cancelled while waiting here was never sent
            try:
                return await self._post(path, body)
            except BaseException:
                self.unanswered += 1  # sent, maybe stored, but its answer was never read
                raise

    async def _post(self, path: str, body: bytes) -> int:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\n{self.auth}"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        while True:
            reused = bool(self.idle)  # the server closes idle keep-alive connections
            reader, writer = self.idle.pop() if reused else await self._open()
            try:
                writer.write(head + body)
                await writer.drain()
                status_line = await reader.readline()
            except (ConnectionError, asyncio.IncompleteReadError):
                status_line = b""
            except BaseException:  # cancelled (a timeout): the connection is in an unknown state
                self._close(writer)
                raise
            if status_line:
                break
            self._close(writer)
            if not reused:
                raise OSError("connection closed before a response")
        try:
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            await reader.readexactly(length)
            status = int(status_line.split()[1])
        except BaseException:
            self._close(writer)
            raise
        self.idle.append((reader, writer))
        self.statuses[status] += 1
        return status

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        self.opened += 1
        pair = await asyncio.open_connection(self.host, self.port)
        self.open_now += 1
        self.most_open = max(self.most_open, self.open_now)
        return pair

    def _close(self, writer: asyncio.StreamWriter) -> None:
        self.open_now -= 1
        writer.close()

    def close(self) -> None:
        while self.idle:
            self._close(self.idle.pop()[1])


def bodies(n: int, domains: list[str], seed: int = 11) -> list[bytes]:
    rng = random.Random(seed)
    run = uuid.uuid4().hex[:8]
    out = []
    for i in range(n):
        kind = rng.random()
        domain = rng.choice(domains) if kind < 0.4 else "gmail.com" if kind < 0.6 else "x.io"
        body = {
            "email": f"bench{run}.{i}@{domain}",
            "first_name": "Bench",
            "last_name": f"Lead{i}",
            "company": rng.choice(["Initech", "Hooli", "Vandelay Industries"]),
            "title": rng.choice(["CFO", "VP Sales", "Analyst", "Head of Ops", "Student"]),
            "country": rng.choice(COUNTRIES[:-1]),
            "employees": rng.choice([20, 300, 2000]),
            "industry": rng.choice(INDUSTRIES),
            "source": rng.choice(["demo_request", "paid_search", "webinar", "organic"]),
            "form": rng.choice(["demo_request", "form_fill", "content_download"]),
        }
        out.append(json.dumps(body).encode())
    return out


async def load(
    client: Client, payloads: list[bytes], rate: float, timeout: float = REQUEST_TIMEOUT
) -> tuple[list[float], Counter[int], float]:
    """Send `payloads` at `rate` per second, open loop; latencies (ms) from scheduled time. A
    request unanswered `timeout` seconds after its scheduled time is abandoned and counted
    (its latency is then the timeout), as is one whose connection failed."""
    latencies: list[float] = []
    errors: Counter[int] = Counter()  # status (NO_RESPONSE, TIMED_OUT) → count, for non-2xx
    clock = time.perf_counter  # uvloop's loop.time() moves in whole milliseconds
    start = clock() + 0.05

    async def one(at: float, body: bytes) -> None:
        try:
            status = await asyncio.wait_for(
                client.post("/leads", body), max(at + timeout - clock(), 0.001)
            )
        except TimeoutError:
            status = TIMED_OUT
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            status = NO_RESPONSE
        latencies.append((clock() - at) * 1000)
        if status not in (200, 201):
            errors[status] += 1

    tasks = []
    for i, body in enumerate(payloads):
        at = start + i / rate
        delay = at - clock()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(at, body)))
    await asyncio.gather(*tasks)
    return latencies, errors, clock() - start


def client_check(requests: int = 120, rate: float = 600.0, connections: int = 4) -> str | None:
    """The load generator against a stub server slower than the load (each answer takes
    50 ms, so 4 connections carry 80 req/s of the 600 sent): it must hold at most
    `connections` sockets at once, finish, and count every request as answered or timed out.
    None when it does, else what went wrong."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                await reader.readexactly(length)
                await asyncio.sleep(0.05)
                writer.write(b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass  # the client gave up on it, or the stub is closing
        finally:
            writer.close()

    async def run() -> tuple[list[float], Counter[int], Client]:
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = Client("127.0.0.1", port, "t", max_connections=connections)
        async with server:
            lat, errors, _ = await load(client, [b"{}"] * requests, rate, timeout=0.5)
            client.close()
        return lat, errors, client

    lat, errors, client = uvloop.run(run())
    answered = sum(client.statuses.values())
    if client.most_open > connections:
        return f"the client held {client.most_open} connections at once (bound {connections})"
    if len(lat) != requests or answered + sum(errors.values()) != requests:
        return f"{requests} sent, {len(lat)} timed, {answered} answered, {dict(errors)} failed"
    if not errors[TIMED_OUT] or not answered:
        return f"an overloaded stub should both answer and time out: {dict(errors)}"
    return None


def revops_cli() -> str:
    return str(Path(sys.executable).with_name("revops"))


def build_demo(folder: Path, scale: float, wh: str) -> str:
    subprocess.run(
        [
            revops_cli(),
            "demo",
            "--scale",
            str(scale),
            "--out",
            str(folder / "demo"),
            "--warehouse",
            str(wh),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "REVOPS_USER": "bench"},
    )
    return wh


def bench_key_and_domains(wh_path: str) -> tuple[str, list[str]]:
    from revops.access import create_key
    from revops.warehouse import Warehouse

    with Warehouse.connect(str(wh_path)) as wh:
        token = create_key(wh, "bench", "marketing_ops", "bench").token
        rows = wh.sql("SELECT DISTINCT domain FROM accounts WHERE domain IS NOT NULL LIMIT 500")
    return token, [str(d) for (d,) in rows]


def wait_up(port: int, proc: subprocess.Popen[bytes], timeout: float = 120) -> dict[str, Any]:
    import urllib.request

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"revops serve exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                health: dict[str, Any] = json.loads(r.read())
                return health
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("revops serve did not come up")


@contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database on the server of `admin_url`, dropped afterwards."""
    import psycopg

    name = f"revops_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{admin_url.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


MINIMAL_APP = """
from fastapi import FastAPI
from pydantic import BaseModel


class Lead(BaseModel):
    email: str
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    title: str | None = None
    country: str | None = None
    employees: int | None = None
    industry: str | None = None
    source: str | None = None
    form: str | None = None


app = FastAPI()


@app.post("/leads", status_code=201)
async def leads(lead: Lead) -> dict[str, str]:
    return {"email": lead.email}


@app.get("/health")
async def health() -> dict[str, int]:
    return {"journal_lag_groups": 0}
"""


def fsync_probe(folder: Path, n: int = 200, size: int = 30_000) -> tuple[float, float]:
    """Median and p99 (ms) of appending `size` bytes and fsyncing, in `folder`: the floor the
    journal's group commit stands on, on this disk, at this moment."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "fsync-probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    times = []
    try:
        for _ in range(n):
            os.write(fd, b"x" * size)
            t0 = time.perf_counter()
            os.fsync(fd)
            times.append(1000 * (time.perf_counter() - t0))
    finally:
        os.close(fd)
        path.unlink()
    return statistics.median(times), statistics.quantiles(times, n=100)[98]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load_avg() -> str:
    return "{:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


@dataclass
class Phase:
    name: str
    rate: float
    latencies: list[float]
    errors: Counter[int]
    elapsed: float
    cpu_ms_per_lead: float
    applier_cpu_ms_per_lead: float | None
    client_cpu_ms_per_request: float
    load_before: str
    load_after: str
    fsync: tuple[float, float]


async def measure(
    name: str,
    client: Client,
    payloads: list[bytes],
    rate: float,
    pid: int,
    probe_dir: Path,
    applier: int | None = None,
) -> Phase:
    """One open-loop phase, with the fsync probe just before it and the CPU of the server
    and of its applier process during it."""
    fsync = fsync_probe(probe_dir)
    before, cpu0 = load_avg(), cpu_seconds(pid)
    app0 = cpu_seconds(applier) if applier else 0.0
    own0 = time.process_time()
    lat, errors, elapsed = await load(client, payloads, rate)
    own = 1000 * (time.process_time() - own0) / len(payloads)
    cpu = cpu_seconds(pid) - cpu0
    app = 1000 * (cpu_seconds(applier) - app0) / len(payloads) if applier else None
    return Phase(
        name,
        rate,
        lat,
        errors,
        elapsed,
        1000 * cpu / len(payloads),
        app,
        own,
        before,
        load_avg(),
        fsync,
    )


async def grow(client: Client, payloads: list[bytes], concurrency: int) -> Counter[int]:
    """Post `payloads` closed loop, `concurrency` at a time: the warehouse grows by them."""
    errors: Counter[int] = Counter()
    queue = iter(payloads)

    async def worker() -> None:
        for body in queue:
            try:
                status = await asyncio.wait_for(client.post("/leads", body), REQUEST_TIMEOUT)
            except TimeoutError:
                status = TIMED_OUT
            except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
                status = NO_RESPONSE
            if status not in (200, 201):
                errors[status] += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return errors


def status_label(status: int) -> str:
    """An error count's key as words: an HTTP status, or what happened instead of one."""
    if status == TIMED_OUT:
        return f"timed out ({REQUEST_TIMEOUT:.0f} s)"
    return "no response" if status == NO_RESPONSE else str(status)


def kinds(errors: Counter[int]) -> str:
    """Error counts by kind, e.g. "3 × 503, 2 × timed out (10 s)"."""
    return ", ".join(f"{n} × {status_label(s)}" for s, n in sorted(errors.items()))


def print_phase(p: Phase, base: Phase | None) -> None:
    q = statistics.quantiles(p.latencies, n=100)
    what = kinds(p.errors)
    goal = f"goal < {GOAL_P99_MS:.0f} ms" if p.rate == GOAL_RPS else "reported"
    print(f"{p.name}: open loop at {p.rate:.0f} req/s, {len(p.latencies):,} requests")
    print(f"  achieved     {len(p.latencies) / p.elapsed:8.1f} req/s (answers in the phase's time)")
    print(f"  p50          {statistics.median(p.latencies):8.1f} ms")
    print(f"  p99          {q[98]:8.1f} ms      {goal}")
    print(f"  max          {max(p.latencies):8.1f} ms")
    print(f"  errors       {sum(p.errors.values()):8d}      {what}")
    print(f"  server CPU   {p.cpu_ms_per_lead:8.2f} ms per lead (the process that answers)")
    if p.applier_cpu_ms_per_lead is not None:
        print(f"  applier CPU  {p.applier_cpu_ms_per_lead:8.2f} ms per lead (its warehouse writes)")
    print(f"  client CPU   {p.client_cpu_ms_per_request:8.2f} ms per request (load generator)")
    print(f"  fsync        median {p.fsync[0]:.1f} ms, p99 {p.fsync[1]:.1f} ms (30 KB, probe)")
    print(f"  load average {p.load_before} before, {p.load_after} after (uptime)")
    if base is not None:
        b = statistics.quantiles(base.latencies, n=100)
        print(
            f"  baseline: minimal FastAPI app, same uvicorn settings and rate: "
            f"p50 {statistics.median(base.latencies):.1f} ms, p99 {b[98]:.1f} ms, "
            f"{sum(base.errors.values())} errors, CPU {base.cpu_ms_per_lead:.2f} ms per "
            f"request (load {base.load_before})"
        )


def settled(port: int, proc: subprocess.Popen[bytes], timeout: float = 600) -> int:
    """Wait until the server has applied everything it journaled (so a phase does not pay for
    the one before it); the seconds waited."""
    t0 = time.monotonic()
    while wait_up(port, proc)["journal_lag_groups"] and time.monotonic() - t0 < timeout:
        time.sleep(0.5)
    return round(time.monotonic() - t0)


def start_server(args: list[str], port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(args, env=env)
    try:
        wait_up(port, proc)
    except BaseException:
        proc.terminate()
        proc.wait(timeout=30)
        raise
    return proc


def server_bench(
    rates: list[float],
    seconds: float,
    scale: float,
    port: int,
    pg: str | None,
    warehouse: str | None = None,
    growth: int = 0,
    concurrency: int = 64,
) -> None:
    """Part 2: phases at `rates[0]`, then (with `growth`) that many leads posted and the first
    rate again, then every further rate; each with a minimal FastAPI app's figures at the same
    rate measured in the same run (the floor of HTTP and scheduling on this machine)."""
    with tempfile.TemporaryDirectory(prefix="revops-bench-") as tmp, ExitStack() as stack:
        folder = Path(tmp)
        t0 = time.perf_counter()
        url = stack.enter_context(postgres_database(pg)) if pg else str(folder / "revops.duckdb")
        backend = "PostgreSQL" if pg else "DuckDB file"
        if warehouse and not pg:
            for f in Path(warehouse).parent.glob(Path(warehouse).name + "*"):
                if f.is_file() and not f.name.endswith(".intake-journal"):
                    shutil.copy(f, folder / f.name.replace(Path(warehouse).name, "revops.duckdb"))
            wh, made = url, f"copied from {warehouse}"
        else:
            wh, made = build_demo(folder, scale, url), f"demo company at scale {scale} built"
        token, domains = bench_key_and_domains(wh)
        persons = _count_persons(wh)
        print(f"\n{made} in {time.perf_counter() - t0:.0f} s: {persons:,} persons, {backend}")
        env = {**os.environ, "REVOPS_JOURNAL_DIR": str(folder / "journals")}
        (folder / "minimal_app.py").write_text(MINIMAL_APP)
        base_cmd = [sys.executable, "-m", "uvicorn", "minimal_app:app", "--app-dir", tmp]
        base_cmd += ["--host", "127.0.0.1", "--port", str(port + 10), "--log-level", "warning"]
        base_cmd += ["--loop", "uvloop", "--http", "httptools", "--no-access-log"]
        serve = [revops_cli(), "serve", "--host", "127.0.0.1", "--port", str(port)]
        serve += ["--warehouse", str(wh)]
        payloads = iter(
            bodies(500 + growth + int(sum(rates) * seconds + rates[0] * seconds), domains)
        )

        def take(n: int) -> list[bytes]:
            return [next(payloads) for _ in range(n)]

        plan: list[tuple[str, float]] = [("before growth", rates[0])]
        if growth:
            plan += [("grow", 0.0), (f"after {growth:,} more leads", rates[0])]
        plan += [(f"at {r:.0f} req/s", r) for r in rates[1:]]
        journal_dir = folder / "journals"
        proc = start_server(serve, port, env)
        client = Client("127.0.0.1", port, token)

        async def drive() -> list[Phase]:
            await load(client, take(500), 100.0)  # warm-up: key check, code paths
            phases: list[Phase] = []
            for name, rate in plan:
                if name == "grow":
                    t1, load0 = time.perf_counter(), load_avg()
                    errs = await grow(client, take(growth), concurrency)
                    took = time.perf_counter() - t1
                    print(
                        f"\ngrew the warehouse by {growth:,} leads through POST /leads "
                        f"({concurrency} at a time) in {took:.0f} s = {growth / took:.0f} req/s, "
                        f"{sum(errs.values())} errors ({kinds(errs) or 'none'}); "
                        f"load {load0} before, {load_avg()} after; "
                        f"applied to the warehouse {settled(port, proc)} s later"
                    )
                    continue
                settled(port, proc)
                n = int(rate * seconds)
                applier = wait_up(port, proc).get("applier_pid")
                phase = await measure(name, client, take(n), rate, proc.pid, journal_dir, applier)
                baseline = start_server(base_cmd, port + 10, env)
                try:
                    base_client = Client("127.0.0.1", port + 10, token)
                    base = await measure(
                        "baseline",
                        base_client,
                        bodies(n, domains, seed=13),
                        rate,
                        baseline.pid,
                        journal_dir,
                    )
                finally:
                    baseline.terminate()
                    baseline.wait(timeout=30)
                phases.append(phase)
                print()
                print_phase(phase, base)
            return phases

        try:
            phases = uvloop.run(drive())
            health = wait_up(port, proc)
        finally:
            proc.terminate()
            proc.wait(timeout=60)
        after = _count_persons(wh)
        print(f"\nafter the run: {after:,} persons ({backend})")
    # every lead answered 201 is a new person in the warehouse, once; every lead is unique; a
    # request whose answer was never read (timed out, connection lost) may or may not be stored
    created, answered = client.statuses[201], sum(client.statuses.values())
    unknown, grew = client.unanswered, after - persons
    print(
        f"  answers: {created:,} × 201 created, {answered - created:,} other, {unknown:,} "
        f"unanswered (timed out or failed); the warehouse grew by {grew:,} persons"
    )
    if not created <= grew <= created + unknown:
        sys.exit(
            "check failed: the warehouse does not hold exactly the leads answered 201 "
            "(plus at most those whose answers were never read)"
        )
    c = health["commits"]
    print(
        f"  journal: {c['commits']:.0f} fsyncs, {c['leads_per_commit']:.1f} leads each, "
        f"settle {c['settle_ms_per_commit']:.1f} ms + encode/write/fsync "
        f"{c['journal_ms_per_commit']:.1f} ms per group (max {c['settle_ms_max']:.1f} + "
        f"{c['journal_ms_max']:.1f}), {c['journal_bytes_per_commit'] / 1024:.0f} KiB per group, "
        f"journal thread CPU {c['journal_cpu_ms_per_lead']:.2f} ms per lead (of the server's)"
    )
    print(
        f"  warehouse: {c['applies']:.0f} applies, {c['groups_per_apply']:.1f} groups each, "
        f"{c['apply_ms_per_apply']:.1f} ms per apply, {c['apply_failures']:.0f} failures; "
        f"lag after the run {health['journal_lag_groups']} groups"
    )
    if growth and len(phases) >= 2:
        p = [statistics.quantiles(ph.latencies, n=100)[98] for ph in phases[:2]]
        print(f"  p99 at {rates[0]:.0f} req/s: {p[0]:.1f} ms before growth, {p[1]:.1f} ms after")


def _count_persons(wh: str, wait: float = 120.0) -> int:
    """Persons stored; waits while a stopping server's applier still holds the DuckDB file
    (it finishes the last apply first, at a low priority on a loaded machine)."""
    from revops.warehouse import Warehouse
    from revops.warehouse.warehouse import WarehouseError

    deadline = time.monotonic() + wait
    while True:
        try:
            with Warehouse.connect(str(wh)) as w:
                return int(w.sql('SELECT count(*) FROM "persons"')[0][0])
        except WarehouseError as exc:
            if "in use" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def apply_growth(
    sizes: list[int], groups: int = 1000, per_group: int = 2, repeats: int = 3
) -> None:
    """Part 3: what one intake apply costs as the warehouse grows. An apply gathers about a
    thousand journal groups of a lead or two each; the applier appended each table's rows as
    the groups' concatenation, a thousand tiny chunks (the baseline), and now combines them
    into one chunk first (`api.recovery.merge`). Both must leave the same table."""
    import pyarrow as pa

    from revops.warehouse import Batch, Warehouse

    what = (
        f"append {groups:,} groups of {per_group} persons into a table of N "
        f"(DuckDB file, 1 thread, median of {repeats}; CPU seconds)"
    )
    print(f"\nintake apply: {what}")
    with tempfile.TemporaryDirectory(prefix="revops-apply-") as tmp:
        for size in sizes:
            cpu: dict[bool, float] = {}
            finals = []
            for combined in (False, True):
                with Warehouse.connect(str(Path(tmp) / f"w{size}{combined}.duckdb")) as wh:
                    wh.sql("SET threads = 1")
                    base = pa.table(
                        {
                            "person_id": [f"p{i}" for i in range(size)],
                            "email": [f"p{i}@x.io" for i in range(size)],
                            "created_at": pa.array([datetime(2025, 1, 1)] * size),
                        }
                    )
                    wh.write_many([Batch("persons", base, "append")])
                    runs = []
                    for r in range(repeats):
                        parts = [
                            pa.table(
                                {
                                    "person_id": [f"n{r}-{g}-{i}" for i in range(per_group)],
                                    "email": [f"n{r}-{g}-{i}@y.io" for i in range(per_group)],
                                    "created_at": pa.array([datetime(2025, 2, 1)] * per_group),
                                }
                            )
                            for g in range(groups)
                        ]
                        data = pa.concat_tables(parts)
                        t0 = time.process_time()
                        if combined:
                            data = data.combine_chunks()
                        wh.write_many([Batch("persons", data, "append")], counts=False)
                        runs.append(time.process_time() - t0)
                    cpu[combined] = statistics.median(runs)
                    finals.append(wh.sql('SELECT count(*), count(DISTINCT email) FROM "persons"'))
            assert finals[0] == finals[1], "the two applies left different tables"
            print(
                f"  N={size:>9,}  {groups:,} chunks {1000 * cpu[False]:7.1f} ms   "
                f"one chunk {1000 * cpu[True]:7.1f} ms   (same table: {finals[0][0][0]:,} rows)"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--leads", type=int, default=100_000)
    ap.add_argument("--baseline", type=int, default=5_000)
    ap.add_argument(
        "--rates",
        default=f"{GOAL_RPS},1000",
        help="POST /leads per second, comma-separated: the first is measured before and after "
        "growth, the others after",
    )
    ap.add_argument("--seconds", type=float, default=60.0, help="per measured phase")
    ap.add_argument("--scale", type=float, default=1.0, help="demo company scale")
    ap.add_argument(
        "--warehouse",
        metavar="FILE",
        help="copy this DuckDB demo warehouse instead of building one (e.g. out/demo.duckdb)",
    )
    ap.add_argument(
        "--grow", type=int, default=100_000, help="leads posted between the first two phases"
    )
    ap.add_argument("--concurrency", type=int, default=64, help="requests in flight while growing")
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--no-server", action="store_true", help="only the in-process part")
    ap.add_argument(
        "--postgres",
        metavar="ADMIN_URL",
        help="also run the server part on PostgreSQL (a fresh database on this server)",
    )
    ap.add_argument("--check", action="store_true", help="Tiny agreement check (CI).")
    ap.add_argument(
        "--apply-sizes",
        default="10000,100000,1000000",
        help="table sizes for the intake apply part (comma-separated)",
    )
    args = ap.parse_args()
    raise_fd_limit()
    if args.check:
        args.leads, args.baseline, args.no_server = 2_000, 500, True
    cfg, users = config()
    items = leads(args.leads)
    fast, owners = run(items, users, cfg, precompiled=True)
    slow, base_owners = run(items[: args.baseline], users, cfg, precompiled=False)
    if owners[: args.baseline] != base_owners:
        sys.exit("check failed: the recompiling baseline picked different owners")
    if args.check:
        if problem := client_check():
            sys.exit(f"check failed: load generator under overload: {problem}")
        print(
            f"check passed: both routers pick the same owner for {args.baseline} leads; the "
            "load generator bounds its connections and counts timeouts under overload"
        )
        return
    report("precompiled router", fast)
    report("recompile per decision", slow)
    ratio = statistics.median(slow) / statistics.median(fast)
    print(f"median speed-up: {ratio:.1f}x; decisions agree on the first {args.baseline:,} leads")
    apply_growth([int(n) for n in args.apply_sizes.split(",") if n])
    if not args.no_server:
        rates = [float(r) for r in args.rates.split(",") if r]
        server_bench(
            rates,
            args.seconds,
            args.scale,
            args.port,
            None,
            args.warehouse,
            args.grow,
            args.concurrency,
        )
        if args.postgres:
            server_bench(rates, args.seconds, args.scale, args.port + 1, args.postgres)


if __name__ == "__main__":
    main()
