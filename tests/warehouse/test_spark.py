"""What only Spark does: reading a Spark location, and the staged copy-and-swap that makes a
write all-or-nothing without transactions (see revops.warehouse.spark)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from revops.warehouse import Batch, Warehouse, WarehouseError
from revops.warehouse import spark as sp
from revops.warehouse.spark import SparkLocationError, local_driver_memory, parse_location

ON_SPARK = pytest.mark.parametrize("any_backend", [pytest.param("spark", marks=pytest.mark.spark)])


def test_a_local_location_with_its_options() -> None:
    loc = parse_location("spark-local:/data/wh?master=local[2]&partitions=2&database=Sales")
    assert (loc.master, loc.remote, loc.warehouse_dir, loc.database) == (
        "local[2]",
        None,
        "/data/wh",
        "sales",
    )
    assert loc.conf == {"spark.sql.shuffle.partitions": "2"}
    assert parse_location("spark-local:/data/wh").master == "local[*]"


def test_the_local_driver_heap() -> None:
    # A quarter of the machine, between 1 and 8 GB: 24 GB → 6g, 2 GB → 1g, 64 GB → 8g.
    assert local_driver_memory(24 * 2**30) == "6g"
    assert local_driver_memory(2 * 2**30) == "1g"
    assert local_driver_memory(64 * 2**30) == "8g"
    loc = parse_location("spark-local:/data/wh?driver_memory=3g")
    assert loc.conf["spark.driver.memory"] == "3g"


def test_a_cluster_and_a_connect_server() -> None:
    loc = parse_location(
        "spark://node1:7077?warehouse_dir=hdfs://nn/revops&metastore=thrift://m:9083"
    )
    assert (loc.master, loc.warehouse_dir, loc.metastore, loc.database) == (
        "spark://node1:7077",
        "hdfs://nn/revops",
        "thrift://m:9083",
        "revops",
    )
    connect = parse_location("sc://spark.example.com:15002/;token=abc?database=crm")
    assert (connect.remote, connect.master, connect.database) == (
        "sc://spark.example.com:15002/;token=abc",
        None,
        "crm",
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("spark://node1:7077", "add \\?warehouse_dir="),
        ("spark-local:", "give the warehouse directory"),
        ("spark-local:/wh?master=spark://x:7077", "local\\[...\\] master only"),
        ("spark-local:/wh?warehouse=/x", "unknown parameter 'warehouse'"),
        ("spark-local:/wh?database=a-b", "letters, digits and underscores"),
    ],
)
def test_a_location_that_cannot_work_is_refused_in_one_line(url: str, message: str) -> None:
    with pytest.raises(SparkLocationError, match=message):
        parse_location(url)


@ON_SPARK
def test_a_second_warehouse_directory_in_one_process_is_refused(
    any_warehouse: Warehouse, tmp_path: Any
) -> None:
    with pytest.raises(SparkLocationError, match="one process serves one Spark warehouse"):
        Warehouse.connect(f"spark-local:{tmp_path}/other")


@ON_SPARK
def test_a_failure_during_the_swap_puts_every_table_back(
    any_warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    wh = any_warehouse
    wh.write_many(
        [
            Batch("accounts", pa.table({"account_id": ["a1"], "name": ["Acme"]})),
            Batch("users", pa.table({"user_id": ["u1"], "name": ["Ann"]})),
        ]
    )
    swap = sp.Write.swap

    def cut_on_third_rename(self: sp.Write, rename: Any = None) -> None:
        calls: list[tuple[str, str]] = []

        def move(a: str, b: str) -> None:
            calls.append((a, b))
            if len(calls) == 3:  # accounts swapped; users renamed away, its copy not yet in
                raise RuntimeError("the metastore went away")
            self._rename(a, b)

        swap(self, move)

    monkeypatch.setattr(sp.Write, "swap", cut_on_third_rename)
    with pytest.raises(WarehouseError, match="nothing was changed"):
        wh.write_many(
            [
                Batch("accounts", pa.table({"account_id": ["a1"], "name": ["Acme 2"]})),
                Batch("users", pa.table({"user_id": ["u2"], "name": ["Bo"]})),
            ]
        )
    names = wh.columns()
    assert not [n for n in names if n.startswith(("_revops_next_", "_revops_old_"))]
    got = wh.to_arrow(wh.table("accounts").select("account_id", "name")).to_pylist()
    assert got == [{"account_id": "a1", "name": "Acme"}]
    users = wh.to_arrow(wh.table("users").select("user_id")).to_pylist()
    assert users == [{"user_id": "u1"}]


@ON_SPARK
def test_the_next_connection_finishes_a_swap_cut_in_half(any_warehouse: Warehouse) -> None:
    """A process killed between renaming `accounts` away and renaming its copy in leaves
    `_revops_old_accounts` and the staged copy; reconnecting puts the old table back."""
    wh = any_warehouse
    wh.write("accounts", pa.table({"account_id": ["a1"], "name": ["Acme"]}))
    session = wh.spark
    session.sql("CREATE TABLE `_revops_next_accounts_7` USING parquet AS SELECT * FROM accounts")
    session.sql("ALTER TABLE `accounts` RENAME TO `_revops_old_accounts`")
    with Warehouse.connect(wh.url) as again:
        got = again.to_arrow(again.table("accounts").select("account_id", "name")).to_pylist()
        names = again.columns()
    assert got == [{"account_id": "a1", "name": "Acme"}]
    assert "_revops_old_accounts" not in names
    assert "_revops_next_accounts_7" not in names


def test_the_demo_refuses_a_spark_warehouse_in_one_line(tmp_path: Any) -> None:
    from typer.testing import CliRunner

    from revops.cli import app

    url = f"spark-local:{tmp_path}/wh"
    result = CliRunner().invoke(
        app, ["demo", "--out", str(tmp_path / "out"), "--warehouse", url], env={"COLUMNS": "300"}
    )
    assert result.exit_code == 1
    assert "the demo runs on DuckDB or PostgreSQL only" in result.output
    assert "Traceback" not in result.output
