"""Payout states: a statement is approved or disputed before its period locks.

Events are append-only (`comp_statement_events`), so the history of who approved or disputed
what, and at which total, stays on record; the latest event per rep and period is the state.
An approval records the statement's total: if the period is re-run and the total changes, the
approval is shown as stale. A period with an open dispute cannot be locked; approving the
statement again (after an adjustment or a re-run) settles it.
"""

from __future__ import annotations

import uuid

import pandas as pd
import pyarrow as pa

from revops.audit import audit_batch
from revops.errors import RevOpsError
from revops.planning.comp.store import parse_month, period_status
from revops.warehouse import Batch, Warehouse
from revops.warehouse.clock import utc_now


def statement_total(wh: Warehouse, start: object, user_id: str) -> float | None:
    """Lines plus adjustments of a rep's period, or None when the rep has no lines."""
    lines = wh.table("comp_lines")
    mine = lines.filter(lines.period_start == start, lines.user_id == user_id)
    n = int(wh.execute(mine.count()))
    if n == 0:
        return None
    adj = wh.table("comp_adjustments")
    extra = wh.execute(adj.filter(adj.period_start == start, adj.user_id == user_id).amount.sum())
    base = float(wh.execute(mine.amount.sum()))
    return round(base + (float(extra) if extra is not None and pd.notna(extra) else 0.0), 2)


def record(wh: Warehouse, period: str, user_id: str, state: str, note: str, actor: str) -> float:
    """Append an approval or dispute of an open, processed period's statement (audited)."""
    start, _ = parse_month(period)
    status = period_status(wh, start)
    if status is None:
        raise RevOpsError(f"comp period {start:%Y-%m} has not been run")
    if status == "locked":
        raise RevOpsError(f"comp period {start:%Y-%m} is locked: its statements are final")
    if state == "disputed" and not note.strip():
        raise RevOpsError("a dispute needs a note saying what is wrong")
    total = statement_total(wh, start, user_id)
    if total is None:
        raise RevOpsError(f"{user_id} has no statement in comp period {start:%Y-%m}")
    row = {
        "event_id": [f"CSE-{start:%Y%m}-{uuid.uuid4().hex[:8]}"],
        "period_start": [start],
        "user_id": [user_id],
        "state": [state],
        "total": [total],
        "note": [note.strip()],
        "actor": [actor],
        "created_at": [utc_now()],
    }
    details = {"state": state, "total": total, "note": note.strip()}
    wh.write_many(
        [
            Batch("comp_statement_events", pa.table(row), "append"),
            audit_batch(wh, actor, f"comp.{state}", f"{start:%Y-%m}/{user_id}", details),
        ]
    )
    return total


def states(wh: Warehouse, period: str) -> pd.DataFrame:
    """user_id, state (approved, approved (stale), disputed), total, note, actor per rep."""
    start, _ = parse_month(period)
    ev = wh.table("comp_statement_events")
    rows: pd.DataFrame = wh.execute(ev.filter(ev.period_start == start))
    cols = ["user_id", "state", "total", "note", "actor"]
    if rows.empty:
        return pd.DataFrame(columns=cols)
    latest = rows.sort_values("created_at", kind="stable").drop_duplicates("user_id", keep="last")
    now = {u: statement_total(wh, start, u) for u in latest["user_id"]}
    stale = [
        s == "approved" and now[u] is not None and abs(float(now[u] or 0) - float(t)) > 0.005
        for u, s, t in zip(latest["user_id"], latest["state"], latest["total"], strict=True)
    ]
    latest.loc[stale, "state"] = "approved (stale: total changed)"
    return latest[cols].sort_values("user_id").reset_index(drop=True)


def open_disputes(wh: Warehouse, period: str) -> list[str]:
    s = states(wh, period)
    return sorted(s.loc[s["state"] == "disputed", "user_id"].astype(str))
