"""Every write mode against a plain-Python model, on DuckDB and PostgreSQL.

Random sequences of `write_many` calls (one to three batches each, in one transaction) of every
mode, on a table with a two-column key (`quotas`): random subsets of the columns present, keys
repeated within a batch and across batches, NULL values and now and then a NULL key. After each
call the stored table and the returned counts must be what a dict of rows gives by the rules of
`Warehouse.write_many`'s docstring: the last row of a repeated key wins; a column missing from
the batch is NULL in new rows and left as stored in existing ones; `counts=False` counts every
row as inserted; `append` of a stored key, or any NULL key outside `delete`, fails the whole
call and changes nothing. DuckDB's upsert (UPDATE then INSERT) and PostgreSQL's (ON CONFLICT)
are different statements; this holds both to the same model.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from revops.warehouse import Batch, Warehouse, WarehouseError
from revops.warehouse.schema import table
from revops.warehouse.warehouse import arrow_schema

TABLE = table("quotas")
KEYS = TABLE.primary_key  # (user_id, period_start)
REST = tuple(c for c in TABLE.column_names if c not in KEYS)
SCHEMA = arrow_schema(TABLE)
Row = dict[str, Any]
Key = tuple[Any, ...]

VALUES: dict[str, st.SearchStrategy[Any]] = {
    "user_id": st.sampled_from(["u1", "u2", "u3"]),
    "period_start": st.sampled_from([dt.date(2026, 1, 1), dt.date(2026, 4, 1)]),
    # NULL as one value among several, so a stored value a later batch must keep is common
    "period_end": st.sampled_from([None, dt.date(2026, 3, 31), dt.date(2026, 6, 30)]),
    "amount": st.sampled_from([None, 0.0, 1.5, -2.25, 125_000.0]),
    "method": st.sampled_from([None, "", "top-down", "a,b", 'say "x"']),
    "set_at": st.sampled_from(
        [None, dt.datetime(2026, 1, 1, 9), dt.datetime(2026, 1, 1, 9, 0, 0, 1)]
    ),
}


@dataclass(frozen=True)
class Write:
    mode: str
    rows: list[Row]  # only the present columns
    newer: str | None


@st.composite
def writes(draw: st.DrawFn) -> Write:
    mode = draw(st.sampled_from(["upsert", "merge", "append", "replace", "delete"]))
    keys_only = draw(st.integers(0, 3)) == 0  # a batch of keys alone is its own statement path
    present = [] if keys_only else [c for c in REST if draw(st.booleans())]
    values = {c: VALUES[c] for c in (*KEYS, *present)}
    if draw(st.integers(0, 9)) == 0:  # now and then a batch that may hold a NULL key
        values["user_id"] = st.none() | values["user_id"]
    rows = draw(st.lists(st.fixed_dictionaries(values), max_size=6))
    newer = "set_at" if mode == "merge" and "set_at" in present and draw(st.booleans()) else None
    return Write(mode, rows, newer)


def _key(row: Row) -> Key:
    return tuple(row[k] for k in KEYS)


def _last_per_key(rows: list[Row]) -> dict[Key, Row]:
    out: dict[Key, Row] = {}
    for row in rows:
        out[_key(row)] = row
    return out


def _apply(state: dict[Key, Row], w: Write, counts: bool) -> tuple[int, int, int]:
    """`w` applied to `state` in place, by the docstring's rules: (inserted, updated, unchanged);
    ValueError where the write must fail."""
    batch = _last_per_key(w.rows)
    if w.mode == "delete":
        gone = [k for k in batch if k in state]
        for k in gone:
            del state[k]
        return 0, len(gone), 0
    if any(v is None for k in batch for v in k):
        raise ValueError("a NULL key")
    if w.mode == "replace":
        state.clear()
    if w.mode == "append" and any(k in state for k in batch):
        raise ValueError("a stored key")
    inserted = updated = unchanged = 0
    for k, row in batch.items():
        if k not in state:
            state[k] = {c: row.get(c) for c in TABLE.column_names}
            inserted += 1
            continue
        stored = state[k]
        brought = {c: v for c, v in row.items() if c not in KEYS}
        if w.mode == "merge":
            older = (
                w.newer is not None
                and row[w.newer] is not None
                and stored[w.newer] is not None
                and row[w.newer] < stored[w.newer]
            )
            if older or all(stored[c] == v for c, v in brought.items()):
                unchanged += 1
                continue
        stored.update(brought)
        updated += 1
    if not counts and w.mode != "merge":
        return inserted + updated, 0, 0
    return inserted, updated, unchanged


def _stored(wh: Warehouse) -> dict[Key, Row]:
    rows = wh.to_arrow(wh.table(TABLE.name)).to_pylist()
    return {_key(r): r for r in rows}


def _batch(w: Write) -> Batch:
    fields = [SCHEMA.field(c) for c in (*KEYS, *(c for c in REST if w.rows and c in w.rows[0]))]
    if not w.rows:  # an empty batch still brings its columns
        fields = [SCHEMA.field(c) for c in KEYS]
    data = pa.Table.from_pylist(w.rows, schema=pa.schema(fields))
    return Batch(TABLE.name, data, w.mode, newer=w.newer)  # type: ignore[arg-type]


@pytest.mark.parametrize("counts", [True, False])
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(calls=st.lists(st.lists(writes(), min_size=1, max_size=3), min_size=1, max_size=5))
def test_every_write_mode_agrees_with_a_dict_model(
    warehouse: Warehouse, counts: bool, calls: list[list[Write]]
) -> None:
    wh = warehouse
    with wh.transaction() as run:  # hypothesis reuses the fixture's warehouse across examples
        run(f'DELETE FROM "{TABLE.name}"')
    state: dict[Key, Row] = {}
    for call in calls:
        after = {k: dict(v) for k, v in state.items()}
        try:
            expected: list[tuple[int, int, int]] | None = [_apply(after, w, counts) for w in call]
        except ValueError:
            expected = None
        if expected is None:
            with pytest.raises(WarehouseError, match="nothing was changed"):
                wh.write_many([_batch(w) for w in call], counts=counts)
        else:
            got = wh.write_many([_batch(w) for w in call], counts=counts)
            assert [(r.inserted, r.updated, r.unchanged) for r in got] == expected
            state = after
        assert _stored(wh) == state
