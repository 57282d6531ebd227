"""The merge log: before-images in, exact restores out.

Rows are stored as JSON with ISO timestamps, and decoded back through the data model's column
types, so a record restored by `unmerge` is byte-for-byte the record that was merged. An unmerge
is refused while a later merge still in force involves the same records: restoring the old
survivor image would silently drop what that later merge did, so it must be undone first.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pyarrow as pa

from revops.errors import RevOpsError
from revops.warehouse import Warehouse
from revops.warehouse.schema import table as schema_table
from revops.warehouse.warehouse import ARROW_TYPES, Batch

__all__ = [
    "MergeError",
    "UnmergeResult",
    "dumps_row",
    "loads_row",
    "next_sequence",
    "read_log",
    "rows_to_arrow",
    "unmerge",
]

Row = dict[str, Any]


class MergeError(RevOpsError, ValueError):
    """A merge or unmerge that cannot be done as asked; nothing was changed."""


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__} in the merge log")


def dumps_row(row: Any) -> str:
    return json.dumps(row, default=_default, sort_keys=True)


def loads_row(text: str) -> Row:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise MergeError("corrupt merge log entry")
    return value


def _typed(kind: str, value: Any) -> Any:
    if value is None or not isinstance(value, str):
        return value
    if kind == "timestamp":
        return datetime.fromisoformat(value)
    if kind == "date":
        return date.fromisoformat(value)
    return value


def rows_to_arrow(table: str, rows: Sequence[Row]) -> pa.Table:
    """Row dicts (Python values or decoded JSON) as an Arrow table of the canonical schema."""
    spec = schema_table(table)
    arrays = [
        pa.array([_typed(c.type, r.get(c.name)) for r in rows], ARROW_TYPES[c.type])
        for c in spec.columns
    ]
    return pa.Table.from_arrays(arrays, names=list(spec.column_names))


def read_log(wh: Warehouse) -> pa.Table:
    """The merge log, oldest first."""
    return wh.to_arrow(wh.table("merge_log").order_by(["sequence", "merged_id"]))


def next_sequence(wh: Warehouse) -> int:
    top = wh.execute(wh.table("merge_log").sequence.max())
    return 1 if top is None or top != top else int(top) + 1


@dataclass(frozen=True)
class UnmergeResult:
    merge_id: str
    table: str
    survivor_id: str
    restored_ids: tuple[str, ...]
    children: dict[str, int]


def unmerge(wh: Warehouse, merge_id: str, *, now: datetime | None = None) -> UnmergeResult:
    """Undo merge `merge_id`: restore both before-images and point children back, atomically."""
    log = read_log(wh).to_pylist()
    mine = [r for r in log if r["merge_id"] == merge_id]
    if not mine:
        raise MergeError(f"no merge {merge_id!r} in merge_log")
    if any(r["undone_at"] is not None for r in mine):
        raise MergeError(f"merge {merge_id} was already undone")
    table, survivor = mine[0]["table_name"], mine[0]["survivor_id"]
    group = {survivor, *(r["merged_id"] for r in mine)}
    later = sorted(
        {
            r["merge_id"]
            for r in log
            if r["undone_at"] is None
            and r["sequence"] > mine[0]["sequence"]
            and r["table_name"] == table
            and ({r["survivor_id"], r["merged_id"]} & group)
        }
    )
    if later:
        raise MergeError(f"undo the later merge(s) of the same records first: {', '.join(later)}")
    restored = [loads_row(mine[0]["survivor_before"])] + [
        loads_row(r["merged_before"]) for r in mine
    ]
    batches = [Batch(table, rows_to_arrow(table, restored), "upsert")]
    counts: dict[str, int] = {}
    moves: dict[str, tuple[list[str], list[str]]] = {}
    for r in mine:
        for child, pks in loads_row(r["children"]).items():
            entry = moves.setdefault(child, ([], []))
            entry[0].extend(pks)
            entry[1].extend([r["merged_id"]] * len(pks))
    for child, (pks, parents) in moves.items():
        spec = schema_table(child)
        key = spec.primary_key[0]
        col = next(rel.column for rel in spec.relations if rel.table == table)
        t = wh.table(child)
        still = set(
            wh.to_arrow(t.filter(t[key].isin(pks) & (t[col] == survivor)).select(key))[
                key
            ].to_pylist()
        )
        back = [(pk, p) for pk, p in zip(pks, parents, strict=True) if pk in still]
        counts[child] = len(back)
        if back:
            data = pa.table(
                {key: pa.array([b[0] for b in back]), col: pa.array([b[1] for b in back])}
            )
            batches.append(Batch(child, data, "upsert"))
    when = (now or datetime.now()).replace(microsecond=0)
    done = pa.table(
        {
            "merge_id": pa.array([merge_id] * len(mine)),
            "merged_id": pa.array([r["merged_id"] for r in mine]),
            "undone_at": pa.array([when] * len(mine), pa.timestamp("us")),
        }
    )
    batches.append(Batch("merge_log", done, "upsert"))
    wh.write_many(batches)
    return UnmergeResult(merge_id, table, survivor, tuple(r["merged_id"] for r in mine), counts)
