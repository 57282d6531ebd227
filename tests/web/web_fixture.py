"""A small company, built by hand, for the web workspace's tests (not the demo: seconds, and
every figure can be worked out on paper).

Reps: Ada (U1, NA) and Bo (U2, EMEA), both reporting to Mia (M1, NA). October 2026:
- won: O1 Ada 40,000, O2 Ada 20,000, O3 Bo 30,000 → bookings 90,000 (NA 60,000, EMEA 30,000);
- lost: O4 Bo 10,000 → closed 4, won 3, win rate 75 %;
September 2026 bookings: O5 Ada 15,000. October 2025 bookings: O6 Bo 12,000.
MQLs in October 2026: P1, P2 (NA accounts... by the person's account's region) and P3 (EMEA) = 3;
September 2026: P4 = 1. Targets: bookings 100,000 and MQLs 4 for October 2026.
People who sign in: admin@x.com (revops_admin, not a rep), ada@x.com, bo@x.com, mia@x.com
(reps, viewers by role), viewer@x.com (a viewer who is not a rep). Password for all: PASSWORD.
"""

from __future__ import annotations

from datetime import date, datetime

import pyarrow as pa

from revops.access import Principal, grant
from revops.access.passwords import set_password
from revops.config import DEFAULT_CONFIG, load_config
from revops.config.models import OperatingModel
from revops.config.planning import CompensationConfig, CompPlan, Tier
from revops.planning.comp import run_period
from revops.warehouse import Warehouse

PASSWORD = "correct horse battery"
ADMIN = Principal("setup", "revops_admin")
MONTH = "2026-10"


def model() -> OperatingModel:
    base = load_config(DEFAULT_CONFIG).model
    plan = CompPlan(
        name="ae",
        ote=120_000,
        base_share=0.5,
        base_rate=0.1,
        tiers=(Tier(from_attainment=0, multiplier=1), Tier(from_attainment=1, multiplier=2)),
    )
    comp = CompensationConfig(plans=(plan,), assignments=({"plan": "ae", "roles": ("ae",)},))
    targets = {"bookings": {MONTH: 100_000.0}, "mqls": {MONTH: 4.0}}
    metrics = tuple(
        m.model_copy(update={"targets": targets[m.name]}) if m.name in targets else m
        for m in base.metrics
    )
    return base.model_copy(update={"compensation": comp, "metrics": metrics})


def _ts(day: str) -> datetime:
    return datetime.fromisoformat(day)


def seed(wh: Warehouse) -> None:
    users = {
        "user_id": ["M1", "U1", "U2"],
        "name": ["Mia", "Ada", "Bo"],
        "email": ["mia@x.com", "ada@x.com", "bo@x.com"],
        "team": ["Sales", "NA AE", "EMEA AE"],
        "role": ["manager", "ae", "ae"],
        "region": ["NA", "NA", "EMEA"],
        "manager_id": [None, "M1", "M1"],
        "is_active": [True, True, True],
        "start_date": [date(2020, 1, 6)] * 3,
    }
    accounts = {
        "account_id": ["A1", "A2", "A3"],
        "name": ["Acme", "Bravo", "Corex"],
        "region": ["NA", "EMEA", "NA"],
        "segment": ["smb", "mid_market", "enterprise"],
        "employees": [10, 200, 5000],
        "owner_id": ["U1", "U2", "U1"],
        "created_at": [_ts("2024-01-01")] * 3,
    }
    opps = [
        ("O1", "A1", "U1", 40_000.0, "2026-08-01", "2026-10-05", True),
        ("O2", "A3", "U1", 20_000.0, "2026-09-01", "2026-10-20", True),
        ("O3", "A2", "U2", 30_000.0, "2026-09-10", "2026-10-12", True),
        ("O4", "A2", "U2", 10_000.0, "2026-09-15", "2026-10-25", False),
        ("O5", "A1", "U1", 15_000.0, "2026-07-01", "2026-09-15", True),
        ("O6", "A2", "U2", 12_000.0, "2025-08-01", "2025-10-10", True),
    ]
    opportunities = {
        "opportunity_id": [o[0] for o in opps],
        "name": [f"Deal {o[0]}" for o in opps],
        "account_id": [o[1] for o in opps],
        "owner_id": [o[2] for o in opps],
        "opportunity_type": ["new_business"] * len(opps),
        "stage": ["Closed Won" if o[6] else "Closed Lost" for o in opps],
        "amount": [o[3] for o in opps],
        "created_date": [date.fromisoformat(o[4]) for o in opps],
        "close_date": [date.fromisoformat(o[5]) for o in opps],
        "is_closed": [True] * len(opps),
        "is_won": [o[6] for o in opps],
    }
    people = [
        ("P1", "A1", "U1", "2026-10-03"),
        ("P2", "A3", "U1", "2026-10-09"),
        ("P3", "A2", "U2", "2026-10-14"),
        ("P4", "A2", "U2", "2026-09-21"),
    ]
    persons = {
        "person_id": [p[0] for p in people],
        "email": [f"{p[0].lower()}@buyer.example" for p in people],
        "account_id": [p[1] for p in people],
        "owner_id": [p[2] for p in people],
        "source": ["paid_search"] * len(people),
        "person_type": ["lead"] * len(people),
        "created_at": [_ts("2026-08-01")] * len(people),
    }
    history = {
        "transition_id": [f"T{p[0]}" for p in people],
        "person_id": [p[0] for p in people],
        "from_stage": ["Lead"] * len(people),
        "to_stage": ["MQL"] * len(people),
        "changed_at": [_ts(p[3] + "T10:00:00") for p in people],
    }
    quotas = {
        "user_id": ["U1", "U2"],
        "period_start": [date(2026, 10, 1)] * 2,
        "period_end": [date(2026, 10, 31)] * 2,
        "amount": [50_000.0, 50_000.0],
    }
    for name, data in (
        ("users", users),
        ("accounts", accounts),
        ("opportunities", opportunities),
        ("persons", persons),
        ("lifecycle_history", history),
        ("quotas", quotas),
    ):
        wh.write(name, pa.table(data))
    run_period(wh, model(), MONTH, "setup")
    grant(wh, ADMIN, "admin@x.com", "revops_admin")
    for who in ("admin@x.com", "ada@x.com", "bo@x.com", "mia@x.com", "viewer@x.com"):
        set_password(wh, ADMIN, who, PASSWORD)
