"""On PostgreSQL a write that changes many rows of a table re-reads its statistics (ANALYZE),
so the queries that follow are planned on the rows now stored, not on what autovacuum last
saw (or never saw, where it is off). `reltuples` is the planner's row count, which ANALYZE of a
small table sets to the exact count."""

from __future__ import annotations

import datetime as dt

import ibis
import pyarrow as pa
import pytest
from pg_reset import empty_tables

import revops.warehouse.warehouse as warehouse_module
from revops.warehouse import Warehouse

pytestmark = pytest.mark.postgres


def _planned_rows(wh: Warehouse, name: str) -> float:
    return float(wh.sql(f"SELECT reltuples FROM pg_class WHERE relname = '{name}'")[0][0])


def _accounts(first: int, n: int) -> pa.Table:
    return pa.table({"account_id": [f"a{i}" for i in range(first, first + n)]})


def test_a_write_of_many_rows_refreshes_the_planner_statistics(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(warehouse_module, "_ANALYZE_FROM", 10)
    with Warehouse.connect(pg_url) as wh:
        empty_tables(wh)
        wh.write("accounts", _accounts(0, 13))  # 13 rows changed: analyzed
        assert _planned_rows(wh, "accounts") == 13
        wh.write("accounts", _accounts(13, 2))  # 2 rows: left to autovacuum
        assert _planned_rows(wh, "accounts") == 13
        wh.write("accounts", _accounts(0, 1), "replace")  # a replace may empty a table
        assert _planned_rows(wh, "accounts") == 1
        quota = {"user_id": ["u1"], "period_start": [dt.date(2026, 1, 1)], "amount": [1.0]}
        wh.write("quotas", pa.table({**quota, "period_end": [dt.date(2026, 3, 31)]}), "replace")
        given = ibis.memtable({**quota, "user_id": ["u2"], "period_end": [dt.date(2026, 3, 31)]})
        wh.replace_where("quotas", lambda t: t.user_id == "none", [given])
        assert _planned_rows(wh, "quotas") == 2
