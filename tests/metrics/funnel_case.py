"""A small, hand-worked funnel: every metric of examples/revops.yaml is computed by hand below.

Accounts   A1 smb/NA, A2 mid_market/EMEA, A3 enterprise/APAC      (A9 is referenced, not stored)
Users      U1 NA, U2 EMEA, U3 APAC
Campaigns  C1 paid_search, C2 events                               (C3 is referenced, not stored)
Persons    id  created           source       campaign account owner
           P1  2024-01-05 10:00  paid_search  C1       A1      U1
           P2  2024-01-10 09:00  paid_search  C1       A2      U2
           P3  2024-01-20 12:00  events       C2       A3      U1
           P4  2024-01-25 08:00  organic      -        -       -
           P5  2024-02-02 10:00  events       C2       A1      U3
           P6  2024-02-14 15:00  paid_search  C1       A2      U2
           P7  2024-02-20 11:00  organic      -        A3      U3
           P8  2024-02-28 16:00  events       C2       -       U1
           (P9 appears in lifecycle_history only: every dimension through it is NULL)

Lifecycle (besides a Lead row per person at creation):
  P1 MQL 01-15 09:00, SAL 01-20, SQL 02-01 09:00, Opportunity 02-15, Customer 03-10
  P2 MQL 01-25, SAL 02-05, SQL 02-10 10:00, Customer 08-20 (> 180 days after SQL: Aug 8)
  P9 MQL 01-18
  P3 MQL 02-10 12:00, SQL 05-20 (> 90 days: the window ends May 10 12:00)
  P4 MQL 03-30 08:00 (> 60 days after creation: the window ends Mar 25 08:00)
  P5 MQL 02-05, SAL 02-06, Recycled 02-15, MQL 02-20, SQL 02-25
  P6 MQL 02-16 12:00, SQL 05-16 12:00 (exactly 90 days: inside, the window is inclusive)
  P7 MQL 02-22
  P8 SQL 02-28 17:00, then MQL 02-29 09:00 (an SQL *before* the MQL does not convert it)

Opportunities  id amount type          source       acct owner created    close      closed won
               O1 1000   new_business  paid_search  A1   U1    2024-01-10 2024-02-20 yes    yes
               O2 2000   new_business  paid_search  A2   U2    2024-01-15 2024-02-10 yes    no
               O3 5000   expansion     events       A3   U1    2024-01-20 2024-03-05 yes    yes
               O4 3000   renewal       events       A1   U3    2024-02-01 2024-03-15 yes    yes
               O5 4000   new_business  organic      A2   U2    2024-02-10 2024-04-30 no     no
               O6 1500   expansion     paid_search  A3   U3    2024-02-20 2024-03-20 yes    no
               O7 2500   new_business  organic      A9   U2    2024-03-01 2024-03-25 yes    yes
Spend  C1 01-05 100, C1 01-20 200, C2 02-10 300, C1 02-15 50, C3 03-01 400
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from revops.warehouse import Warehouse

D = dt.date
T = dt.datetime
NB, EXP, PS, EV = "new_business", "expansion", "paid_search", "events"


def _persons() -> pa.Table:
    rows = [
        ("P1", T(2024, 1, 5, 10), PS, "C1", "A1", "U1"),
        ("P2", T(2024, 1, 10, 9), PS, "C1", "A2", "U2"),
        ("P3", T(2024, 1, 20, 12), "events", "C2", "A3", "U1"),
        ("P4", T(2024, 1, 25, 8), "organic", None, None, None),
        ("P5", T(2024, 2, 2, 10), "events", "C2", "A1", "U3"),
        ("P6", T(2024, 2, 14, 15), PS, "C1", "A2", "U2"),
        ("P7", T(2024, 2, 20, 11), "organic", None, "A3", "U3"),
        ("P8", T(2024, 2, 28, 16), "events", "C2", None, "U1"),
    ]
    cols = ["person_id", "created_at", "source", "source_campaign_id", "account_id", "owner_id"]
    table = {c: [r[i] for r in rows] for i, c in enumerate(cols)}
    table["email"] = [f"{r[0].lower()}@example.com" for r in rows]
    return pa.table(table)


HISTORY = [
    ("P1", "Lead", T(2024, 1, 5, 10)),
    ("P2", "Lead", T(2024, 1, 10, 9)),
    ("P3", "Lead", T(2024, 1, 20, 12)),
    ("P4", "Lead", T(2024, 1, 25, 8)),
    ("P5", "Lead", T(2024, 2, 2, 10)),
    ("P6", "Lead", T(2024, 2, 14, 15)),
    ("P7", "Lead", T(2024, 2, 20, 11)),
    ("P8", "Lead", T(2024, 2, 28, 16)),
    ("P1", "MQL", T(2024, 1, 15, 9)),
    ("P1", "SAL", T(2024, 1, 20, 9)),
    ("P1", "SQL", T(2024, 2, 1, 9)),
    ("P1", "Opportunity", T(2024, 2, 15, 9)),
    ("P1", "Customer", T(2024, 3, 10, 9)),
    ("P2", "MQL", T(2024, 1, 25, 10)),
    ("P2", "SAL", T(2024, 2, 5, 10)),
    ("P2", "SQL", T(2024, 2, 10, 10)),
    ("P2", "Customer", T(2024, 8, 20, 10)),
    ("P9", "MQL", T(2024, 1, 18, 14)),
    ("P3", "MQL", T(2024, 2, 10, 12)),
    ("P3", "SQL", T(2024, 5, 20, 12)),
    ("P4", "MQL", T(2024, 3, 30, 8)),
    ("P5", "MQL", T(2024, 2, 5, 10)),
    ("P5", "SAL", T(2024, 2, 6, 10)),
    ("P5", "Recycled", T(2024, 2, 15, 10)),
    ("P5", "MQL", T(2024, 2, 20, 10)),
    ("P5", "SQL", T(2024, 2, 25, 10)),
    ("P6", "MQL", T(2024, 2, 16, 12)),
    ("P6", "SQL", T(2024, 5, 16, 12)),
    ("P7", "MQL", T(2024, 2, 22, 11)),
    ("P8", "SQL", T(2024, 2, 28, 17)),
    ("P8", "MQL", T(2024, 2, 29, 9)),
]

OPPORTUNITIES = [
    # id, amount, type, lead_source, campaign, account, owner, created, close, closed, won
    ("O1", 1000.0, NB, PS, "C1", "A1", "U1", D(2024, 1, 10), D(2024, 2, 20), True, True),
    ("O2", 2000.0, NB, PS, "C1", "A2", "U2", D(2024, 1, 15), D(2024, 2, 10), True, False),
    ("O3", 5000.0, EXP, EV, "C2", "A3", "U1", D(2024, 1, 20), D(2024, 3, 5), True, True),
    ("O4", 3000.0, "renewal", EV, "C2", "A1", "U3", D(2024, 2, 1), D(2024, 3, 15), True, True),
    ("O5", 4000.0, NB, "organic", None, "A2", "U2", D(2024, 2, 10), D(2024, 4, 30), False, False),
    ("O6", 1500.0, EXP, PS, "C1", "A3", "U3", D(2024, 2, 20), D(2024, 3, 20), True, False),
    ("O7", 2500.0, NB, "organic", None, "A9", "U2", D(2024, 3, 1), D(2024, 3, 25), True, True),
]  # fmt: skip


def load(wh: Warehouse) -> None:
    """Write the case into an empty warehouse."""
    wh.write(
        "accounts",
        pa.table(
            {
                "account_id": ["A1", "A2", "A3"],
                "name": ["Acme", "Globex", "Initech"],
                "segment": ["smb", "mid_market", "enterprise"],
                "region": ["NA", "EMEA", "APAC"],
                "created_at": [T(2023, 1, 1)] * 3,
            }
        ),
    )
    wh.write(
        "users",
        pa.table(
            {
                "user_id": ["U1", "U2", "U3"],
                "name": ["Ann", "Bob", "Cy"],
                "team": ["AE"] * 3,
                "role": ["ae"] * 3,
                "region": ["NA", "EMEA", "APAC"],
                "is_active": [True] * 3,
            }
        ),
    )
    wh.write(
        "campaigns",
        pa.table(
            {
                "campaign_id": ["C1", "C2"],
                "name": ["Search", "Expo"],
                "channel": ["paid_search", "events"],
            }
        ),
    )
    wh.write("persons", _persons())
    wh.write(
        "lifecycle_history",
        pa.table(
            {
                "transition_id": [f"h{i:02d}" for i in range(len(HISTORY))],
                "person_id": [h[0] for h in HISTORY],
                "to_stage": [h[1] for h in HISTORY],
                "changed_at": [h[2] for h in HISTORY],
            }
        ),
    )
    cols = [
        "opportunity_id", "amount", "opportunity_type", "lead_source", "campaign_id",
        "account_id", "owner_id", "created_date", "close_date", "is_closed", "is_won",
    ]  # fmt: skip
    opps = {c: [o[i] for o in OPPORTUNITIES] for i, c in enumerate(cols)}
    opps["stage"] = ["x"] * len(OPPORTUNITIES)
    wh.write("opportunities", pa.table(opps))
    wh.write(
        "campaign_spend",
        pa.table(
            {
                "campaign_id": ["C1", "C1", "C2", "C1", "C3"],
                "spend_date": [
                    D(2024, 1, 5), D(2024, 1, 20), D(2024, 2, 10), D(2024, 2, 15), D(2024, 3, 1),
                ],
                "amount": [100.0, 200.0, 300.0, 50.0, 400.0],
            }
        ),
    )  # fmt: skip
