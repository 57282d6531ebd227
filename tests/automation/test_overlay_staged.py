"""The overlay of a staged batch (`Batch.stage`: rows in files, `Batch.data` empty) reads as the
table the write leaves, as the overlay of the same rows held in `Batch.data` does.

A staged `merge` sets only the columns it brings: the plain reading is the held upsert of whole
rows (the other columns as stored) for stored keys, and of the brought columns alone for new
keys (which the write inserts with the others empty).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from revops.automation.sources import overlaid
from revops.warehouse import Batch, Warehouse

MADE = dt.datetime(2024, 1, 1)
IDS = [f"p{i}" for i in range(6)]
STAGES = st.sampled_from([None, "Lead", "MQL"])


def _read(wh: Warehouse, batches: list[Batch], name: str, key: str) -> list[dict[str, Any]]:
    return wh.to_arrow(overlaid(wh, batches)(name).order_by(key)).to_pylist()


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    stored=st.dictionaries(st.sampled_from(IDS), STAGES, max_size=5),
    pairs=st.dictionaries(st.sampled_from(IDS), STAGES, max_size=5),
)
def test_a_staged_merge_reads_as_the_held_rows(
    warehouse: Warehouse, stored: dict[str, str | None], pairs: dict[str, str | None]
) -> None:
    """DuckDB reads the stage's files in place, PostgreSQL a temporary table they are copied
    into, which the write then merges from (one warehouse for every example: `replace` sets
    each example's stored rows)."""
    wh = warehouse
    ids = sorted(stored)
    wh.write(
        "persons",
        pa.table(
            {
                "person_id": pa.array(ids, pa.string()),
                "owner_id": pa.array([f"u-{i}" for i in ids], pa.string()),
                "lifecycle_stage": pa.array([stored[i] for i in ids], pa.string()),
                "created_at": pa.array([MADE] * len(ids), pa.timestamp("us")),
            }
        ),
        "replace",
    )
    new = pa.table(
        {
            "person_id": pa.array(list(pairs), pa.string()),
            "lifecycle_stage": pa.array(list(pairs.values()), pa.string()),
        }
    )
    whole = wh.to_arrow(wh.table("persons").drop("lifecycle_stage"))
    known = whole.join(new, "person_id", join_type="inner")
    fresh = new.filter(pa.compute.invert(pa.compute.is_in(new["person_id"], whole["person_id"])))
    held = [Batch("persons", known, "upsert"), Batch("persons", fresh, "upsert")]
    with wh.stage("persons") as stage:
        stage.append(new, pa.array(range(new.num_rows), pa.int64()).to_numpy())
        staged = [Batch("persons", stage.empty, "merge", stage=stage)]
        assert _read(wh, staged, "persons", "person_id") == _read(wh, held, "persons", "person_id")
        wh.write_many(staged)  # and the write itself agrees
        after = wh.to_arrow(wh.table("persons").order_by("person_id")).to_pylist()
        assert after == _read(wh, held, "persons", "person_id")


def _copies(wh: Warehouse) -> list[str]:
    """The temporary tables this PostgreSQL session holds of stages (`Warehouse._copied`)."""
    return [
        str(name)
        for (name,) in wh.sql(
            "SELECT relname FROM pg_class WHERE relnamespace = pg_my_temp_schema() "
            "AND relname LIKE '\\_revops\\_staged\\_%'"
        )
    ]


def test_a_staged_replace_reads_as_its_rows(warehouse: Warehouse) -> None:
    """Read by the hook, then written, then gone: on PostgreSQL one copy of the stage, which
    the write reads as the hook did, dropped with the stage."""
    wh = warehouse
    rows = pa.table(
        {
            "transition_id": ["t2", "t1"],
            "person_id": ["p1", "p2"],
            "to_stage": ["MQL", "Lead"],
            "changed_at": pa.array([MADE, MADE], pa.timestamp("us")),
        }
    )
    wh.write(
        "lifecycle_history", rows.slice(0, 1).set_column(0, "transition_id", pa.array(["old"]))
    )
    held = [Batch("lifecycle_history", rows, "replace")]
    pg = wh.backend == "postgres"
    with wh.stage("lifecycle_history") as stage:
        stage.append(rows, pa.array([0, 1], pa.int64()).to_numpy())
        staged = [Batch("lifecycle_history", stage.empty, "replace", stage=stage)]
        got = _read(wh, staged, "lifecycle_history", "transition_id")
        assert got == _read(wh, held, "lifecycle_history", "transition_id")
        assert [r["transition_id"] for r in got] == ["t1", "t2"]
        if pg:
            copies = _copies(wh)
            assert len(copies) == 1
            _read(wh, staged, "lifecycle_history", "transition_id")
            assert _copies(wh) == copies  # read again, not copied again
        wh.write_many(staged)
        stored = wh.to_arrow(wh.table("lifecycle_history").order_by("transition_id"))
        assert stored.to_pylist() == got
    if pg:
        assert _copies(wh) == []
