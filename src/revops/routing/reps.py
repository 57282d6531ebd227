"""Rep operations: pause, unpause, out of office and capacity, outside config versions.

A rep calling in sick is an operational fact, not a change to the operating model: it must
take effect in minutes, by whoever runs the desk, without an approval and a new version. So
these live in `rep_operations`, an append-only log (each entry audited), and routing applies
them over the operating model's own `paused`, `out_of_office` and pool caps: the latest
pause/unpause of a rep wins (over the config's `paused` too), every out-of-office range counts,
the latest capacity replaces the pool's caps for that rep.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

import pyarrow as pa

from revops.audit import audit_batch
from revops.errors import RevOpsError
from revops.routing.calendar import aware
from revops.routing.round_robin import RoutingState
from revops.warehouse import Batch, Warehouse
from revops.warehouse.clock import naive_utc
from revops.warehouse.schema import table
from revops.warehouse.warehouse import arrow_schema

Operation = Literal["pause", "unpause", "ooo", "capacity"]
SCHEMA = arrow_schema(table("rep_operations"))


@dataclass(frozen=True)
class RepStatus:
    """Where a rep stands for routing now."""

    user_id: str
    paused: bool
    out_of_office: tuple[tuple[datetime, datetime], ...]
    daily_cap: int | None
    weekly_cap: int | None
    capacity_set: bool


def operation(
    user_id: str,
    op: Operation,
    actor: str,
    at: datetime,
    *,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    daily_cap: int | None = None,
    weekly_cap: int | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    """One rep_operations row, checked: out of office needs start < end, capacity a cap."""
    if op == "ooo" and (starts_at is None or ends_at is None or aware(ends_at) <= aware(starts_at)):
        raise RevOpsError("out of office needs a start and an end after it")
    if op == "capacity" and daily_cap is None and weekly_cap is None:
        raise RevOpsError("capacity needs a daily or a weekly cap")
    if any(c is not None and c < 0 for c in (daily_cap, weekly_cap)):
        raise RevOpsError("a cap is a number of leads, 0 or more")
    when = naive_utc(at)
    key = f"{user_id}|{op}|{when.isoformat()}|{starts_at}|{ends_at}|{daily_cap}|{weekly_cap}"
    return {
        "operation_id": hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()[:20],
        "user_id": user_id,
        "operation": op,
        "starts_at": naive_utc(aware(starts_at)) if starts_at else None,
        "ends_at": naive_utc(aware(ends_at)) if ends_at else None,
        "daily_cap": daily_cap,
        "weekly_cap": weekly_cap,
        "reason": reason,
        "actor": actor,
        "recorded_at": when,
    }


def load_operations(wh: Warehouse) -> list[dict[str, Any]]:
    t = wh.table("rep_operations")
    return wh.to_arrow(t.order_by(["recorded_at", "operation_id"])).to_pylist()


def statuses(rows: Iterable[Mapping[str, Any]], paused: Iterable[str] = ()) -> dict[str, RepStatus]:
    """Each rep's status from the operations in recording order, over the config's `paused`."""
    out: dict[str, RepStatus] = {u: RepStatus(u, True, (), None, None, False) for u in paused}
    for r in rows:
        u = r["user_id"]
        cur = out.get(u, RepStatus(u, False, (), None, None, False))
        op = r["operation"]
        if op in ("pause", "unpause"):
            cur = replace(cur, paused=op == "pause")
        elif op == "ooo":
            span = (aware(r["starts_at"]), aware(r["ends_at"]))
            cur = replace(cur, out_of_office=(*cur.out_of_office, span))
        elif op == "capacity":
            cur = replace(
                cur, daily_cap=r["daily_cap"], weekly_cap=r["weekly_cap"], capacity_set=True
            )
        out[u] = cur
    return out


def apply_operations(state: RoutingState, rows: Iterable[Mapping[str, Any]]) -> RoutingState:
    """The routing state with the rep operations applied (pure)."""
    found = statuses(rows, state.paused)
    ooo = dict(state.out_of_office)
    caps = dict(state.caps)
    for u, s in found.items():
        if s.out_of_office:
            ooo[u] = (*ooo.get(u, ()), *s.out_of_office)
        if s.capacity_set:
            caps[u] = (s.daily_cap, s.weekly_cap)
    paused = frozenset(u for u, s in found.items() if s.paused)
    return replace(state, paused=paused, out_of_office=ooo, caps=caps)


def record(wh: Warehouse, row: Mapping[str, Any], actor: str) -> None:
    """Store one operation with its audit entry, in one transaction."""
    users = wh.table("users")
    if wh.to_arrow(users.filter(users.user_id == row["user_id"]).select("user_id")).num_rows == 0:
        raise RevOpsError(f"no user {row['user_id']!r}")
    details = {k: _plain(v) for k, v in row.items() if v is not None and k != "user_id"}
    note = audit_batch(wh, actor, f"reps.{row['operation']}", row["user_id"], details)
    wh.write_many([Batch("rep_operations", pa.Table.from_pylist([dict(row)], SCHEMA)), note])


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value
