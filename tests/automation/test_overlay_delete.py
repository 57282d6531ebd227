"""The pending-write overlay the outbox hook evaluates triggers on, with a source deletion."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from revops.automation.sources import overlaid
from revops.warehouse import Batch, Warehouse


def test_a_delete_batch_removes_its_keys_and_adds_no_row(warehouse: Warehouse) -> None:
    made = dt.datetime(2024, 1, 1)
    stored = pa.table(
        {"account_id": ["A1", "A2"], "name": ["Acme", "Globex"], "created_at": [made, made]}
    )
    warehouse.write("accounts", stored)
    pending = [
        Batch("accounts", pa.table({"account_id": ["A1"]}), "delete"),
        Batch(
            "accounts", pa.table({"account_id": ["A3"], "name": ["Initech"], "created_at": [made]})
        ),
    ]
    view = overlaid(warehouse, pending)("accounts")
    rows = warehouse.execute(view.select("account_id", "name").order_by("account_id"))
    assert rows.values.tolist() == [["A2", "Globex"], ["A3", "Initech"]]
    # and the write itself agrees
    warehouse.write_many(pending)
    assert warehouse.sql("SELECT account_id FROM accounts ORDER BY 1") == [("A2",), ("A3",)]
