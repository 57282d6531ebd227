"""Benchmark: one in-process routing decision, and `POST /leads` against the running server.

Part 1. A realistic rule set (a nurture filter, three condition rules, account-based routing,
four territories feeding order and count pools with caps and working hours) routes N random
leads in sequence, threading the state. Each decision is timed alone; median and p99 are
printed. The baseline builds the router from the config for every lead, which is what an engine
that re-reads its rules per decision pays; both must pick the same owners.

Part 2. A demo company (`revops demo --scale S`) in a temporary folder, a marketing_ops key,
and `revops serve` (uvicorn) in a subprocess on 127.0.0.1 with the DuckDB file. After a warm-up,
an open-loop client sends `POST /leads` at a fixed rate for a fixed time, each with a unique
email (a mix of demo account domains, free mail and unknown companies). Latency is measured
from each request's scheduled send time, so a stalled server cannot hide queueing delay
(no coordinated omission). The client is raw asyncio HTTP/1.1 over a keep-alive connection
pool, far cheaper than an HTTP library, since it shares the machine with the server.

Part 3. The cost of one intake apply (an upsert of 200 persons) into tables of 10k, 100k and
1M rows, with the inserted/updated count join the applier used to run (baseline) and without.

Usage: python bench/routing.py [--leads 100000] [--baseline 5000] [--check]
                               [--rate 500] [--seconds 10] [--scale 0.1] [--no-server]
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
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
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


class Client:
    """Minimal HTTP/1.1 keep-alive client: a pool of connections, one request at a time each."""

    def __init__(self, host: str, port: int, token: str) -> None:
        self.host, self.port = host, port
        self.auth = f"Authorization: Bearer {token}\r\n"
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.opened = 0

    async def post(self, path: str, body: bytes) -> int:
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
            if status_line:
                break
            writer.close()
            if not reused:
                raise OSError("connection closed before a response")
        length = 0
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        await reader.readexactly(length)
        self.idle.append((reader, writer))
        return int(status_line.split()[1])

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        self.opened += 1
        return await asyncio.open_connection(self.host, self.port)


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
    client: Client, payloads: list[bytes], rate: float
) -> tuple[list[float], Counter[int], float]:
    """Send `payloads` at `rate` per second, open loop; latencies (ms) from scheduled time."""
    latencies: list[float] = []
    errors: Counter[int] = Counter()  # status (0: no response) → count, for non-2xx answers
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05

    async def one(at: float, body: bytes) -> None:
        try:
            status = await client.post("/leads", body)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            status = 0
        latencies.append((loop.time() - at) * 1000)
        if status not in (200, 201):
            errors[status] += 1

    tasks = []
    for i, body in enumerate(payloads):
        at = start + i / rate
        delay = at - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(at, body)))
    await asyncio.gather(*tasks)
    return latencies, errors, loop.time() - start


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


async def watch_lag(port: int, out: list[int]) -> None:
    """Sample /health's journal lag while the load runs (in a thread: urllib blocks)."""
    import urllib.request

    def one() -> int:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
            return int(json.loads(r.read())["journal_lag_groups"])

    while True:
        await asyncio.sleep(0.25)
        out.append(await asyncio.to_thread(one))


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


def server_bench(rate: float, seconds: float, scale: float, port: int, pg: str | None) -> None:
    with tempfile.TemporaryDirectory(prefix="revops-bench-") as tmp, ExitStack() as stack:
        folder = Path(tmp)
        t0 = time.perf_counter()
        url = stack.enter_context(postgres_database(pg)) if pg else str(folder / "revops.duckdb")
        backend = "PostgreSQL" if pg else "DuckDB file"
        wh = build_demo(folder, scale, url)
        token, domains = bench_key_and_domains(wh)
        print(f"\ndemo company at scale {scale} built in {time.perf_counter() - t0:.0f} s")
        proc = subprocess.Popen(
            [
                revops_cli(),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--warehouse",
                str(wh),
            ],
            env={**os.environ, "REVOPS_JOURNAL_DIR": str(folder / "journals")},
        )
        try:
            wait_up(port, proc)
            n = int(rate * seconds)
            payloads = bodies(n + 500, domains)

            async def drive() -> tuple[list[float], Counter[int], float, int, list[int]]:
                client = Client("127.0.0.1", port, token)
                await load(client, payloads[:500], 100.0)  # warm-up: key check, code paths
                lags: list[int] = []
                watch = asyncio.create_task(watch_lag(port, lags))
                lat, errors, elapsed = await load(client, payloads[500:], rate)
                watch.cancel()
                return lat, errors, elapsed, client.opened, lags

            lat, errors, elapsed, opened, lags = uvloop.run(drive())
            health = wait_up(port, proc)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    q = statistics.quantiles(lat, n=100)
    achieved = len(lat) / elapsed
    print(f"POST /leads, open loop at {rate:.0f} req/s for {seconds:.0f} s ({len(lat):,} requests,")
    print(f"  {opened} connections, {backend}, one uvicorn process, same 2-core machine)")
    print(f"  achieved     {achieved:8.1f} req/s   goal {GOAL_RPS} req/s")
    print(f"  p50          {statistics.median(lat):8.1f} ms")
    print(f"  p99          {q[98]:8.1f} ms      goal < {GOAL_P99_MS:.0f} ms")
    print(f"  max          {max(lat):8.1f} ms")
    kinds = ", ".join(f"{n} × {s or 'no response'}" for s, n in sorted(errors.items()))
    print(f"  errors       {sum(errors.values()):8d}      {kinds}")
    c = health["commits"]
    print(
        f"  journal: {c['commits']:.0f} fsyncs, {c['leads_per_commit']:.1f} leads each, "
        f"settle {c['settle_ms_per_commit']:.1f} ms + encode/write/fsync "
        f"{c['journal_ms_per_commit']:.1f} ms per group (max {c['settle_ms_max']:.1f} + "
        f"{c['journal_ms_max']:.1f}), {c['journal_bytes_per_commit'] / 1024:.0f} KiB per group"
    )
    print(
        f"  warehouse: {c['applies']:.0f} applies, {c['groups_per_apply']:.1f} groups each, "
        f"{c['apply_ms_per_apply']:.1f} ms per apply, {c['apply_failures']:.0f} failures; "
        f"lag (groups journaled, not applied) sampled every 0.25 s: "
        f"median {statistics.median(lags or [0]):.0f}, max {max(lags or [0])}, "
        f"after the run {health['journal_lag_groups']}"
    )


def apply_growth(sizes: list[int], batch: int = 200, repeats: int = 5) -> None:
    """Part 3: what one intake apply costs as the warehouse grows. The applier upserts each
    group's persons; telling inserted from updated rows took a join of the batch with the
    whole table (the baseline, `counts=True`); the applier now skips it (`counts=False`).
    Both must leave the same table."""
    import pyarrow as pa

    from revops.warehouse import Batch, Warehouse

    what = f"upsert {batch} persons into a table of N (DuckDB file, median of {repeats})"
    print(f"\nintake apply: {what}")
    with tempfile.TemporaryDirectory(prefix="revops-apply-") as tmp:
        for size in sizes:
            times: dict[bool, float] = {}
            finals = []
            for counts in (True, False):
                with Warehouse.connect(str(Path(tmp) / f"w{size}{counts}.duckdb")) as wh:
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
                        ids = [f"p{i}" for i in range(r * batch, r * batch + batch // 2)]
                        ids += [f"n{r}-{i}" for i in range(batch // 2)]  # half new, half known
                        data = pa.table(
                            {
                                "person_id": ids,
                                "email": [f"{i}@y.io" for i in ids],
                                "created_at": pa.array([datetime(2025, 2, 1)] * batch),
                            }
                        )
                        t0 = time.perf_counter()
                        wh.write_many([Batch("persons", data)], counts=counts)
                        runs.append(time.perf_counter() - t0)
                    times[counts] = statistics.median(runs)
                    finals.append(wh.sql('SELECT count(*), count(DISTINCT email) FROM "persons"'))
            assert finals[0] == finals[1], "the two applies left different tables"
            print(
                f"  N={size:>9,}  with count join {1000 * times[True]:7.1f} ms   "
                f"without {1000 * times[False]:7.1f} ms   (same table: {finals[0][0][0]:,} rows)"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--leads", type=int, default=100_000)
    ap.add_argument("--baseline", type=int, default=5_000)
    ap.add_argument("--rate", type=float, default=GOAL_RPS, help="POST /leads per second")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--scale", type=float, default=0.1, help="demo company scale")
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
    if args.check:
        args.leads, args.baseline, args.no_server = 2_000, 500, True
    cfg, users = config()
    items = leads(args.leads)
    fast, owners = run(items, users, cfg, precompiled=True)
    slow, base_owners = run(items[: args.baseline], users, cfg, precompiled=False)
    if owners[: args.baseline] != base_owners:
        sys.exit("check failed: the recompiling baseline picked different owners")
    if args.check:
        print(f"check passed: both routers pick the same owner for {args.baseline} leads")
        return
    report("precompiled router", fast)
    report("recompile per decision", slow)
    ratio = statistics.median(slow) / statistics.median(fast)
    print(f"median speed-up: {ratio:.1f}x; decisions agree on the first {args.baseline:,} leads")
    apply_growth([int(n) for n in args.apply_sizes.split(",") if n])
    if not args.no_server:
        server_bench(args.rate, args.seconds, args.scale, args.port, None)
        if args.postgres:
            server_bench(args.rate, args.seconds, args.scale, args.port + 1, args.postgres)


if __name__ == "__main__":
    main()
