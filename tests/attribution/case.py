"""A hand-worked attribution case: four persons, nine touches, two deals, spend and sales cost.

P1 (account AC1, created 01-10 10:00, source webinar): T1 paid_search 01-05, T2 webinar 01-10 10:00
(lead creation), T3 email 01-25, T9 paid_social 02-18, T4 paid_search 03-01. MQL 01-26, SQL 02-15.
P2 (AC1, created 01-20, direct): T5 direct 01-20. Never converts.
P3 (AC2, created 02-01, paid_search): T6 webinar 2023-06-01, T7 paid_search 02-01 (lead creation).
MQL 02-10.
P4 (AC2, created 02-05, email): T8 email 02-05. Never converts.
O1: AC1/P1 new business 10,000, created 02-20, won 03-15. O2: AC2/P3 5,000, created 02-12, lost
04-01. Spend: C1 paid_search 1,000 (01-15) + 500 (02-15), C2 webinar 2,000 (01-10), C3 email 300
(02-01), C4 paid_social 1,200 (02-10). Sales cost 3,000 + 1,000 on 03-01. All dates in 2024.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from revops.warehouse import Warehouse


def ts(month: int, day: int, hour: int = 0, year: int = 2024) -> dt.datetime:
    return dt.datetime(year, month, day, hour)


def d(month: int, day: int) -> dt.date:
    return dt.date(2024, month, day)


PERSONS = [
    ("P1", "AC1", ts(1, 10, 10), "webinar", "C2"),
    ("P2", "AC1", ts(1, 20), "direct", None),
    ("P3", "AC2", ts(2, 1), "paid_search", "C1"),
    ("P4", "AC2", ts(2, 5), "email", "C3"),
]
TOUCHES = [
    ("T1", "P1", ts(1, 5), "paid_search", "C1"),
    ("T2", "P1", ts(1, 10, 10), "webinar", "C2"),
    ("T3", "P1", ts(1, 25), "email", "C3"),
    ("T9", "P1", ts(2, 18), "paid_social", "C4"),
    ("T4", "P1", ts(3, 1), "paid_search", "C1"),
    ("T5", "P2", ts(1, 20), "direct", None),
    ("T6", "P3", ts(6, 1, year=2023), "webinar", "C2"),
    ("T7", "P3", ts(2, 1), "paid_search", "C1"),
    ("T8", "P4", ts(2, 5), "email", "C3"),
]
CAMPAIGNS = [("C1", "paid_search"), ("C2", "webinar"), ("C3", "email"), ("C4", "paid_social")]


def load(wh: Warehouse) -> None:
    rows = {
        "persons": [
            {
                "person_id": p,
                "email": f"{p.lower()}@x.com",
                "account_id": a,
                "created_at": c,
                "source": s,
                "source_campaign_id": camp,
            }
            for p, a, c, s, camp in PERSONS
        ],
        "touchpoints": [
            {
                "touchpoint_id": t,
                "person_id": p,
                "occurred_at": at,
                "channel": ch,
                "touch_type": "web_visit",
                "campaign_id": c,
            }
            for t, p, at, ch, c in TOUCHES
        ],
        "campaigns": [
            {"campaign_id": c, "name": f"Campaign {c}", "channel": ch} for c, ch in CAMPAIGNS
        ],
        "campaign_spend": [
            {"campaign_id": c, "spend_date": day, "amount": amt}
            for c, day, amt in [
                ("C1", d(1, 15), 1000.0),
                ("C1", d(2, 15), 500.0),
                ("C2", d(1, 10), 2000.0),
                ("C3", d(2, 1), 300.0),
                ("C4", d(2, 10), 1200.0),
            ]
        ],
        "sales_costs": [
            {"cost_date": d(3, 1), "category": "salaries", "amount": 3000.0},
            {"cost_date": d(3, 1), "category": "commissions", "amount": 1000.0},
        ],
        "lifecycle_history": [
            {"transition_id": f"L{i}", "person_id": p, "to_stage": s, "changed_at": at}
            for i, (p, s, at) in enumerate(
                [("P1", "MQL", ts(1, 26)), ("P3", "MQL", ts(2, 10)), ("P1", "SQL", ts(2, 15))]
            )
        ],
        "opportunities": [
            {
                "opportunity_id": "O1",
                "account_id": "AC1",
                "owner_id": "U1",
                "person_id": "P1",
                "opportunity_type": "new_business",
                "stage": "Closed Won",
                "amount": 10000.0,
                "created_date": d(2, 20),
                "close_date": d(3, 15),
                "is_closed": True,
                "is_won": True,
            },
            {
                "opportunity_id": "O2",
                "account_id": "AC2",
                "owner_id": "U1",
                "person_id": "P3",
                "opportunity_type": "new_business",
                "stage": "Closed Lost",
                "amount": 5000.0,
                "created_date": d(2, 12),
                "close_date": d(4, 1),
                "is_closed": True,
                "is_won": False,
            },
        ],
    }
    for table, data in rows.items():
        wh.write(table, pa.Table.from_pylist(data))
