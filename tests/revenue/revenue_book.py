"""A hand-worked subscription book where January 2025 has all five ARR movements.

MRR at 2024-12-31: A 100, B 200, C 80                       = 380 (ARR 4,560)
MRR at 2025-01-31: A 150, B 120, D 90, E 40                 = 400 (ARR 4,800)
  A +50 add-on (expansion +600), B 200 -> 120 (contraction -960), C ends 2025-01-15 (churn
  -960), D back after lapsing since 2024-06-30 (reactivation +1,080), E first line (new +480):
  4,560 + 480 + 600 - 960 - 960 + 1,080 = 4,800.
MRR at 2024-01-31 (the NRR base): A 100, B 200, C 80, D 60 = 440; those four now: 150 + 120 +
  0 + 90 = 360 -> NRR 360/440; GRR (100 + 120 + 0 + 60)/440 = 280/440.
F starts and ends inside March 2024: never live at a month end, so never counted.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from revops.warehouse import Warehouse

D = dt.date
SUBS = [
    # id, account, product, mrr, start, end
    ("S1", "A", "Core", 100.0, D(2024, 1, 1), None),
    ("S2", "A", "Add-on", 50.0, D(2025, 1, 10), None),
    ("S3", "B", "Core", 200.0, D(2024, 1, 1), D(2024, 12, 31)),
    ("S4", "B", "Core", 120.0, D(2025, 1, 1), None),
    ("S5", "C", "Core", 80.0, D(2024, 1, 1), D(2025, 1, 15)),
    ("S6", "D", "Core", 60.0, D(2024, 1, 1), D(2024, 6, 30)),
    ("S7", "D", "Core", 90.0, D(2025, 1, 5), None),
    ("S8", "E", "Core", 40.0, D(2025, 1, 20), None),
    ("S9", "F", "Core", 30.0, D(2024, 3, 1), D(2024, 3, 20)),
]
ACCOUNTS = {"A": "smb", "B": "enterprise", "C": "smb", "D": "smb", "E": "enterprise", "F": "smb"}
JAN25 = D(2025, 1, 1)


def load_book(wh: Warehouse, spend: float = 1000.0) -> None:
    cols = list(zip(*SUBS, strict=True))
    subs = pa.table(
        {
            "subscription_id": cols[0],
            "account_id": cols[1],
            "product": cols[2],
            "mrr": cols[3],
            "start_date": cols[4],
            "end_date": pa.array(cols[5], pa.date32()),
        }
    )
    accounts = pa.table(
        {
            "account_id": list(ACCOUNTS),
            "name": [f"Account {a}" for a in ACCOUNTS],
            "segment": list(ACCOUNTS.values()),
            "created_at": [dt.datetime(2023, 6, 1)] * len(ACCOUNTS),
        }
    )
    spend_rows = pa.table(
        {"campaign_id": ["C1"], "spend_date": [D(2025, 1, 15)], "amount": [spend]}
    )
    wh.write("subscriptions", subs, "replace")
    wh.write("accounts", accounts, "replace")
    wh.write("campaign_spend", spend_rows, "replace")
