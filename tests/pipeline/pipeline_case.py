"""A hand-worked pipeline: seven deals whose every number the tests below work out by hand.

Stages are the default sales process (ranks Prospecting 0 … Negotiation 4, Closed Won 5). All
stage changes happen at 09:00, so stays are whole days. The as-of date of the worked numbers is
AS_OF = 2026-03-31 (end of day: cutoff 2026-04-01 00:00); a few rows written after it (o4's move
on Apr 5, o6's creation, an activity on Apr 2) must never show up in numbers as of AS_OF.

  o1  u1 a1  Prospecting Jan 1 (10k, close Mar 1) → Discovery Jan 11 → Solution Jan 21
             → close date pushed to Mar 15 on Feb 1 → Closed Won Feb 20 (12k)
  o2  u2 a2  Prospecting Jan 5 (20k) → Proposal Jan 25 (skip) → Discovery Feb 14 (regression)
             → Closed Lost Mar 6
  o3  u2 a1  Prospecting Feb 1 (8k, close Mar 1) → Discovery Feb 11 → pushed to Apr 15 on Mar 1
             → pushed to May 31 on Mar 20; still open; no next step; last activity Feb 15 10:00
  o4  u1 a2  Prospecting Mar 1 (no amount, close Mar 20); activity Mar 25; next step set;
             (after AS_OF: Discovery Apr 5 with 30k)
  o5  u1 a1  Prospecting Jan 10 (5k) → Closed Won Mar 10 (skips four stages)
  o6  u1 a2  created Apr 10 (after AS_OF)
  o7  u2 a1  Prospecting Mar 20 (4k, close Mar 31); activity Mar 28; next step set: clean

Users: u1 (NA) and u2 (EMEA) report to manager m1. Quotas for Q1 2026: u1 30k, u2 10k, m1 40k;
u1 also has a Q2 quota that must not be used as of AS_OF.
"""

from __future__ import annotations

from datetime import date, datetime

import pyarrow as pa

from revops.warehouse import Batch, Warehouse

AS_OF = date(2026, 3, 31)


def _t(month: int, day: int, hour: int = 9) -> datetime:
    return datetime(2026, month, day, hour)


def _d(month: int, day: int) -> date:
    return date(2026, month, day)


OPPS = [
    # id, account, owner, type, stage (today), amount, created, close, closed, won, next_step
    (
        "o1",
        "a1",
        "u1",
        "new_business",
        "Closed Won",
        12_000.0,
        _d(1, 1),
        _d(2, 20),
        True,
        True,
        None,
    ),
    (
        "o2",
        "a2",
        "u2",
        "new_business",
        "Closed Lost",
        20_000.0,
        _d(1, 5),
        _d(3, 6),
        True,
        False,
        None,
    ),
    ("o3", "a1", "u2", "expansion", "Discovery", 8_000.0, _d(2, 1), _d(5, 31), False, False, None),
    (
        "o4",
        "a2",
        "u1",
        "new_business",
        "Discovery",
        30_000.0,
        _d(3, 1),
        _d(3, 20),
        False,
        False,
        "Call back",
    ),
    (
        "o5",
        "a1",
        "u1",
        "new_business",
        "Closed Won",
        5_000.0,
        _d(1, 10),
        _d(3, 10),
        True,
        True,
        None,
    ),
    (
        "o6",
        "a2",
        "u1",
        "new_business",
        "Prospecting",
        6_000.0,
        _d(4, 10),
        _d(7, 31),
        False,
        False,
        "Intro",
    ),
    (
        "o7",
        "a1",
        "u2",
        "new_business",
        "Prospecting",
        4_000.0,
        _d(3, 20),
        _d(3, 31),
        False,
        False,
        "Demo",
    ),
]
OPP_COLS = (
    "opportunity_id",
    "account_id",
    "owner_id",
    "opportunity_type",
    "stage",
    "amount",
    "created_date",
    "close_date",
    "is_closed",
    "is_won",
    "next_step",
)

HISTORY = [
    # opportunity, stage, changed_at, amount, close_date
    ("o1", "Prospecting", _t(1, 1), 10_000.0, _d(3, 1)),
    ("o1", "Discovery", _t(1, 11), 10_000.0, _d(3, 1)),
    ("o1", "Solution", _t(1, 21), 10_000.0, _d(3, 1)),
    ("o1", "Solution", _t(2, 1), 10_000.0, _d(3, 15)),
    ("o1", "Closed Won", _t(2, 20), 12_000.0, _d(2, 20)),
    ("o2", "Prospecting", _t(1, 5), 20_000.0, _d(3, 31)),
    ("o2", "Proposal", _t(1, 25), 20_000.0, _d(3, 31)),
    ("o2", "Discovery", _t(2, 14), 20_000.0, _d(3, 31)),
    ("o2", "Closed Lost", _t(3, 6), 20_000.0, _d(3, 6)),
    ("o3", "Prospecting", _t(2, 1), 8_000.0, _d(3, 1)),
    ("o3", "Discovery", _t(2, 11), 8_000.0, _d(3, 1)),
    ("o3", "Discovery", _t(3, 1), 8_000.0, _d(4, 15)),
    ("o3", "Discovery", _t(3, 20), 8_000.0, _d(5, 31)),
    ("o4", "Prospecting", _t(3, 1), None, _d(3, 20)),
    ("o4", "Discovery", _t(4, 5), 30_000.0, _d(3, 20)),
    ("o5", "Prospecting", _t(1, 10), 5_000.0, _d(3, 10)),
    ("o5", "Closed Won", _t(3, 10), 5_000.0, _d(3, 10)),
    ("o6", "Prospecting", _t(4, 10), 6_000.0, _d(7, 31)),
    ("o7", "Prospecting", _t(3, 20), 4_000.0, _d(3, 31)),
]

ACTIVITIES = [
    ("act1", "email", datetime(2026, 2, 15, 10), "o3"),
    ("act2", "call", _t(3, 25), "o4"),
    ("act3", "meeting", _t(3, 28), "o7"),
    ("act4", "call", _t(4, 2), "o3"),  # after AS_OF
]

USERS = {
    "user_id": ["u1", "u2", "m1"],
    "name": ["Una One", "Ugo Two", "Mia Manager"],
    "team": ["NA AE", "EMEA AE", "Sales"],
    "role": ["ae", "ae", "manager"],
    "region": ["NA", "EMEA", "NA"],
    "manager_id": ["m1", "m1", None],
    "is_active": [True, True, True],
}
ACCOUNTS = {
    "account_id": ["a1", "a2"],
    "name": ["Acme", "Globex"],
    "segment": ["smb", "enterprise"],
    "created_at": [datetime(2025, 1, 1), datetime(2025, 1, 1)],
}
QUOTAS = {
    "user_id": ["u1", "u2", "m1", "u1"],
    "period_start": [_d(1, 1), _d(1, 1), _d(1, 1), _d(4, 1)],
    "period_end": [_d(3, 31), _d(3, 31), _d(3, 31), _d(6, 30)],
    "amount": [30_000.0, 10_000.0, 40_000.0, 50_000.0],
}


def load(wh: Warehouse) -> None:
    opps = pa.table({c: [row[i] for row in OPPS] for i, c in enumerate(OPP_COLS)})
    hist_cols = ("opportunity_id", "stage", "changed_at", "amount", "close_date")
    history = pa.table({c: [row[i] for row in HISTORY] for i, c in enumerate(hist_cols)})
    history = history.append_column(
        "history_id", pa.array([f"h{i:02d}" for i in range(len(HISTORY))])
    )
    act_cols = ("activity_id", "activity_type", "occurred_at", "opportunity_id")
    acts = pa.table({c: [row[i] for row in ACTIVITIES] for i, c in enumerate(act_cols)})
    wh.write_many(
        [
            Batch("users", pa.table(USERS)),
            Batch("accounts", pa.table(ACCOUNTS)),
            Batch("opportunities", opps),
            Batch("opportunity_stage_history", history),
            Batch("activities", acts),
            Batch("quotas", pa.table(QUOTAS)),
        ]
    )
