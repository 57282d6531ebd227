from __future__ import annotations

import datetime as dt
import gc

import ibis
import pyarrow as pa
import pytest

from revops.warehouse import Batch, Warehouse, WarehouseError
from revops.warehouse.schema import TABLES, render_markdown, resolve_path, table
from revops.warehouse.scratch import SCRATCH


def _spend(ids: list[str | None], amounts: list[float]) -> pa.Table:
    return pa.table(
        {
            "campaign_id": ids,
            "spend_date": [dt.date(2024, 1, 1)] * len(ids),
            "amount": amounts,
        }
    )


def test_upsert_inserts_then_updates_and_last_row_of_a_key_wins(warehouse: Warehouse) -> None:
    first = warehouse.write("campaign_spend", _spend(["c1", "c2", "c1"], [1.0, 2.0, 3.0]))
    assert (first.inserted, first.updated) == (2, 0)
    again = warehouse.write("campaign_spend", _spend(["c1", "c3"], [5.0, 7.0]))
    assert (again.inserted, again.updated) == (1, 1)
    rows = warehouse.execute(warehouse.table("campaign_spend").order_by("campaign_id"))
    assert rows["amount"].tolist() == [5.0, 2.0, 7.0]


def test_a_failing_batch_rolls_back_every_batch(warehouse: Warehouse) -> None:
    warehouse.write("campaign_spend", _spend(["c1"], [1.0]))
    with pytest.raises(WarehouseError, match="nothing was changed"):
        warehouse.write_many(
            [
                Batch("campaign_spend", _spend(["c9"], [9.0])),
                Batch("campaign_spend", _spend([None], [1.0])),
            ]
        )
    assert warehouse.count("campaign_spend") == 1


def test_replace_empties_the_table_first(warehouse: Warehouse) -> None:
    warehouse.write("campaign_spend", _spend(["c1", "c2"], [1.0, 2.0]))
    warehouse.write("campaign_spend", _spend(["c3"], [3.0]), mode="replace")
    assert warehouse.execute(warehouse.table("campaign_spend"))["campaign_id"].tolist() == ["c3"]


def test_every_relation_and_dimension_path_resolves() -> None:
    for t in TABLES:
        for rel in t.relations:
            assert rel.column in t.column_names
        for path in t.dimensions.values():
            resolve_path(t.name, path)


def test_the_analyst_reference_is_current() -> None:
    from pathlib import Path

    doc = Path(__file__).parents[2] / "docs" / "data-model.md"
    assert doc.read_text() == render_markdown() + "\n", "run: revops tables --markdown"


def test_an_upsert_without_a_column_keeps_its_stored_values(warehouse: Warehouse) -> None:
    full = pa.table(
        {
            "campaign_id": ["c1"],
            "name": ["Spring webinar"],
            "channel": ["webinar"],
            "budget": [5000.0],
        }
    )
    warehouse.write("campaigns", full)
    partial = pa.table(
        {
            "campaign_id": ["c1", "c2"],
            "name": ["Spring webinar 2026", "New"],
            "channel": ["webinar", "events"],
        }
    )
    result = warehouse.write("campaigns", partial)
    assert (result.inserted, result.updated) == (1, 1)
    rows = warehouse.execute(warehouse.table("campaigns").order_by("campaign_id"))
    assert rows["name"].tolist() == ["Spring webinar 2026", "New"]
    assert rows["budget"].tolist()[0] == 5000.0
    assert rows["budget"].isna().tolist() == [False, True]


def test_connecting_adds_columns_the_data_model_gained(warehouse: Warehouse) -> None:
    # A warehouse from an older revops: `campaigns` lacks a column the model now declares.
    dropped = table("campaigns").columns[-1].name
    with warehouse.transaction() as run:
        run(f'ALTER TABLE "campaigns" DROP COLUMN "{dropped}"')
    assert dropped not in warehouse.table("campaigns").columns
    warehouse.ensure_schema()
    assert dropped in warehouse.table("campaigns").columns
    warehouse.ensure_schema()  # idempotent
    assert list(warehouse.table("campaigns").columns) == list(table("campaigns").column_names)


def test_a_batch_whose_first_chunk_is_empty_is_written(warehouse: Warehouse) -> None:
    # pa.concat_tables([empty, rows]) leaves an empty first chunk; PostgreSQL's COPY once got
    # stray bytes from it ("invalid byte sequence 0x00").
    rows = _spend(["c1", "c2"], [10.0, 20.0])
    chunked = pa.concat_tables([rows.slice(0, 0), rows])
    assert chunked.column(0).num_chunks == 2
    warehouse.write("campaign_spend", chunked)
    total = warehouse.sql('SELECT sum(amount) FROM "campaign_spend"')[0][0]
    assert total == 30.0


def test_duckdb_returns_freed_query_memory_in_the_background(tmp_path: object) -> None:
    """Warehouse.connect turns on DuckDB's allocator background threads (see its comment: the
    revenue and quality steps' peaks at 10x), on a file and in memory, for siblings too."""
    for url in (":memory:", f"{tmp_path}/w.duckdb"):
        with Warehouse.connect(url) as wh:
            query = "SELECT current_setting('allocator_background_threads')"
            assert wh.sql(query) == [(True,)]
            assert wh.sibling().sql(query) == [(True,)]


def _in_memory_table_bytes(wh: Warehouse) -> int:
    query = "SELECT memory_usage_bytes FROM duckdb_memory() WHERE tag = 'IN_MEMORY_TABLE'"
    return int(wh.sql(query)[0][0])


def _scratch_tables(wh: Warehouse) -> set[str]:
    query = f"SELECT table_name FROM duckdb_tables() WHERE database_name = '{SCRATCH}'"
    return {r[0] for r in wh.sql(query)}


def test_duckdb_caches_a_result_compressed_and_drops_it_with_its_expression(
    tmp_path: object,
) -> None:
    """`Warehouse.cache` on DuckDB (`revops.warehouse.scratch`): the same rows as the
    expression, in the compressed scratch database, in a small part of the memory a temporary
    table of them holds; dropped once its expression is collected, on a sibling too."""
    rows = 300_000
    query = f"SELECT range AS n, range // 1000 AS deal, 'Qualification' AS stage FROM range({rows})"
    with Warehouse.connect(f"{tmp_path}/w.duckdb") as wh:
        expr = wh.con.sql(query)
        before = _in_memory_table_bytes(wh)
        cached = wh.cache(expr)
        compressed = _in_memory_table_bytes(wh) - before
        assert _scratch_tables(wh) == {cached.op().name}
        assert wh.to_arrow(cached.order_by("n")).equals(wh.to_arrow(expr.order_by("n")))
        wh.sql(f"CREATE TEMPORARY TABLE plain AS {query}")
        plain = _in_memory_table_bytes(wh) - before - compressed
        assert 0 < compressed < plain / 4

        del cached
        gc.collect()
        assert _scratch_tables(wh) == set()
        sibling = wh.sibling()
        held = sibling.cache(sibling.con.sql(query))
        assert _scratch_tables(wh) == {held.op().name}
        sibling.close()
        assert _scratch_tables(wh) == set()


def test_a_cached_result_dropped_inside_a_write_transaction_leaves_the_write_whole() -> None:
    """Ibis drops a cached table when its expression is collected, which can happen inside a
    transaction that wrote to the warehouse: a DuckDB transaction writes to one database only,
    so the drop runs on a connection of its own, and the transaction commits."""
    with Warehouse.connect(":memory:") as wh:
        cached = wh.cache(wh.con.sql("SELECT range AS n FROM range(10)"))
        with wh.transaction() as run:
            run(
                "INSERT INTO campaign_spend (campaign_id, spend_date, amount) "
                "VALUES ('c1', DATE '2024-01-01', 5.0)"
            )
            del cached
            gc.collect()
            run(
                "INSERT INTO campaign_spend (campaign_id, spend_date, amount) "
                "VALUES ('c2', DATE '2024-01-01', 7.0)"
            )
        assert wh.sql('SELECT sum(amount) FROM "campaign_spend"') == [(12.0,)]
        assert _scratch_tables(wh) == set()


def test_a_read_only_duckdb_warehouse_caches_in_a_temporary_table(tmp_path: object) -> None:
    """A read-only DuckDB database cannot attach the scratch database: its results are cached
    as Ibis caches them, in temporary tables."""
    path = f"{tmp_path}/w.duckdb"
    Warehouse.connect(path).close()
    with Warehouse(ibis.duckdb.connect(path, read_only=True), path) as wh:
        cached = wh.cache(wh.con.sql("SELECT range AS n FROM range(5)"))
        assert wh.to_arrow(cached.order_by("n"))["n"].to_pylist() == [0, 1, 2, 3, 4]
        assert "temp" in cached.get_name()
