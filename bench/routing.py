"""Benchmark: one in-process routing decision, precompiled rules against recompiling per lead.

A realistic rule set (a nurture filter, three condition rules, account-based routing, four
territories feeding order and count pools with caps and working hours) routes N random leads in
sequence, threading the state. Each decision is timed alone; median and p99 are printed. The
baseline builds the router from the config for every lead, which is what an engine that
re-reads its rules per decision pays; both must pick the same owners.

Usage: python bench/routing.py [--leads 100000] [--baseline 5000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--leads", type=int, default=100_000)
    ap.add_argument("--baseline", type=int, default=5_000)
    args = ap.parse_args()
    cfg, users = config()
    items = leads(args.leads)
    fast, owners = run(items, users, cfg, precompiled=True)
    slow, base_owners = run(items[: args.baseline], users, cfg, precompiled=False)
    assert owners[: args.baseline] == base_owners, "baseline picked different owners"
    report("precompiled router", fast)
    report("recompile per decision", slow)
    ratio = statistics.median(slow) / statistics.median(fast)
    print(f"median speed-up: {ratio:.1f}x; decisions agree on the first {args.baseline:,} leads")


if __name__ == "__main__":
    main()
