"""Small forecast fixtures: a hand-worked team and a seeded synthetic company.

The hand-worked team (`load_team`): vp (NA, no manager) ← m1 (NA) ← r1 (NA), r2 (EMEA).
Fiscal year starts in February (the example model), so 2026Q1 = 2026-02-01 … 2026-04-30.
As of 2026-03-15 (end of day):
  d1 r1 new_business  Closed Won Mar 10, 10k                         → closed    10k
  d2 r1 new_business  Negotiation (commit), close Apr 20, 20k        → commit    20k
  d3 r2 expansion     Proposal (best_case), close Apr 10, 8k         → best_case  8k
  d4 r2 new_business  Discovery (pipeline), close Mar 30, 5k         → pipeline   5k
  d5 r2 new_business  Proposal, close May 20 (next quarter), 7k      → not counted
  d6 r1 renewal       Closed Lost Mar 1, 4k                           → not counted
  d7 r1 new_business  Prospecting Mar 20 (after the as-of date), 9k  → not counted
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pyarrow as pa

from revops.config import DEFAULT_CONFIG, load_config
from revops.config.models import OperatingModel
from revops.warehouse import Batch, Warehouse

USERS = {
    "user_id": ["vp", "m1", "r1", "r2"],
    "name": ["Vera VP", "Mia Manager", "Rex Rep", "Rita Rep"],
    "team": ["exec", "sales", "sales", "sales"],
    "role": ["executive", "manager", "ae", "ae"],
    "region": ["NA", "NA", "NA", "EMEA"],
    "manager_id": [None, "vp", "m1", "m1"],
    "is_active": [True, True, True, True],
}
_STAGE = {
    "Prospecting": ("pipeline", 10.0),
    "Discovery": ("pipeline", 20.0),
    "Solution": ("pipeline", 40.0),
    "Proposal": ("best_case", 60.0),
    "Negotiation": ("commit", 80.0),
    "Closed Won": ("closed", 100.0),
    "Closed Lost": ("omitted", 0.0),
}
# deal, owner, type, [(stage, when, amount, close date)]
TEAM_DEALS: list[tuple[str, str, str, list[tuple[str, datetime, float, date]]]] = [
    (
        "d1",
        "r1",
        "new_business",
        [
            ("Prospecting", datetime(2026, 1, 5, 9), 10_000.0, date(2026, 3, 1)),
            ("Closed Won", datetime(2026, 3, 10, 9), 10_000.0, date(2026, 3, 10)),
        ],
    ),
    (
        "d2",
        "r1",
        "new_business",
        [
            ("Prospecting", datetime(2026, 2, 2, 9), 20_000.0, date(2026, 4, 20)),
            ("Negotiation", datetime(2026, 3, 1, 9), 20_000.0, date(2026, 4, 20)),
        ],
    ),
    (
        "d3",
        "r2",
        "expansion",
        [("Proposal", datetime(2026, 2, 20, 9), 8_000.0, date(2026, 4, 10))],
    ),
    (
        "d4",
        "r2",
        "new_business",
        [("Discovery", datetime(2026, 3, 2, 9), 5_000.0, date(2026, 3, 30))],
    ),
    (
        "d5",
        "r2",
        "new_business",
        [("Proposal", datetime(2026, 3, 3, 9), 7_000.0, date(2026, 5, 20))],
    ),
    (
        "d6",
        "r1",
        "renewal",
        [
            ("Prospecting", datetime(2026, 1, 20, 9), 4_000.0, date(2026, 3, 1)),
            ("Closed Lost", datetime(2026, 3, 1, 9), 4_000.0, date(2026, 3, 1)),
        ],
    ),
    (
        "d7",
        "r1",
        "new_business",
        [("Prospecting", datetime(2026, 3, 20, 9), 9_000.0, date(2026, 4, 25))],
    ),
]


def _rows(
    deals: list[tuple[str, str, str, list[tuple[str, datetime, float, date]]]],
) -> tuple[pa.Table, pa.Table]:
    opp: dict[str, list[object]] = {
        k: []
        for k in (
            "opportunity_id",
            "account_id",
            "owner_id",
            "opportunity_type",
            "stage",
            "amount",
            "forecast_category",
            "probability",
            "created_date",
            "close_date",
            "is_closed",
            "is_won",
        )
    }
    hist: dict[str, list[object]] = {
        k: []
        for k in (
            "history_id",
            "opportunity_id",
            "stage",
            "changed_at",
            "amount",
            "close_date",
            "forecast_category",
            "probability",
        )
    }
    for deal, owner, kind, steps in deals:
        last = steps[-1]
        cat, prob = _STAGE[last[0]]
        for col, val in (
            ("opportunity_id", deal),
            ("account_id", "a1"),
            ("owner_id", owner),
            ("opportunity_type", kind),
            ("stage", last[0]),
            ("amount", last[2]),
            ("forecast_category", cat),
            ("probability", prob),
            ("created_date", steps[0][1].date()),
            ("close_date", last[3]),
            ("is_closed", last[0].startswith("Closed")),
            ("is_won", last[0] == "Closed Won"),
        ):
            opp[col].append(val)
        for i, (stage, when, amount, close) in enumerate(steps):
            c, p = _STAGE[stage]
            for col, val in (
                ("history_id", f"{deal}-{i}"),
                ("opportunity_id", deal),
                ("stage", stage),
                ("changed_at", when),
                ("amount", amount),
                ("close_date", close),
                ("forecast_category", c),
                ("probability", p),
            ):
                hist[col].append(val)
    return pa.table(opp), pa.table(hist)


def load_team(wh: Warehouse) -> None:
    opp, hist = _rows(TEAM_DEALS)
    wh.write_many(
        [
            Batch("users", pa.table(USERS)),
            Batch("opportunities", opp),
            Batch("opportunity_stage_history", hist),
        ]
    )


def synthetic_deals(
    n: int, seed: int, start: date, days: int
) -> list[tuple[str, str, str, list[tuple[str, datetime, float, date]]]]:
    """Deals created evenly over `days`: each walks up the stages and closes won or lost.

    Bigger deals in Negotiation close at a higher rate than small deals in early stages, so the
    learned probabilities and the win model have real signal to find.
    """
    rng = np.random.default_rng(seed)
    stages = ["Prospecting", "Discovery", "Solution", "Proposal", "Negotiation"]
    out = []
    for i in range(n):
        created = datetime.combine(start, datetime.min.time()) + timedelta(
            days=float(rng.uniform(0, days)), hours=9
        )
        cycle = float(rng.uniform(20, 80))
        amount = float(np.round(rng.lognormal(9.5, 0.6), -2))
        kind = ("new_business", "expansion", "renewal")[int(rng.integers(0, 3))]
        won = rng.random() < (0.25 if kind == "new_business" else 0.6)
        reach = 5 if won else int(rng.integers(1, 6))
        close = (created + timedelta(days=cycle)).date()
        steps = []
        for k in range(reach):
            at = created + timedelta(days=cycle * k / 5)
            steps.append((stages[k], at, amount, close))
        end = created + timedelta(days=cycle)
        steps.append(("Closed Won" if won else "Closed Lost", end, amount, end.date()))
        owner = ("r1", "r2")[i % 2]
        out.append((f"s{i:04d}", owner, kind, steps))
    return out


def load_synthetic(wh: Warehouse, n: int = 240, seed: int = 3) -> None:
    opp, hist = _rows(synthetic_deals(n, seed, date(2024, 2, 1), 730))
    wh.write_many(
        [
            Batch("users", pa.table(USERS)),
            Batch("opportunities", opp),
            Batch("opportunity_stage_history", hist),
        ]
    )


def example_model() -> OperatingModel:
    """The shipped example operating model (fiscal year from February, named by its start)."""
    return load_config(DEFAULT_CONFIG).model
