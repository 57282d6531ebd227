"""Warehouse edges of planning: read reps, store territory designs and apply one.

Everything here is I/O; the decisions live in potential.py and territories.py. Applying a design
writes `accounts.owner_id` together with its audit entry in one transaction, and refuses when
owners changed since the design was made, so a stale proposal never overwrites newer work.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict

import pandas as pd
import pyarrow as pa

from revops.audit import audit_batch
from revops.config.planning import TerritoryConfig
from revops.errors import RevOpsError
from revops.planning.territories import Design
from revops.warehouse import Batch, Warehouse
from revops.warehouse.clock import utc_now


def load_reps(wh: Warehouse, roles: tuple[str, ...]) -> pd.DataFrame:
    """Active users in `roles` with a region: user_id, region, segment (territory), start_date."""
    users = wh.table("users")
    terr = wh.table("territories").select("territory_id", t_segment="segment")
    expr = (
        users.filter(users.is_active, users.role.isin(list(roles)), users.region.notnull())
        .left_join(terr, users.territory_id == terr.territory_id)
        .select(
            users.user_id,
            users.name,
            users.region,
            segment=terr.t_segment,
            start_date=users.start_date,
        )
        .order_by("user_id")
    )
    return wh.execute(expr)


def save_design(wh: Warehouse, design: Design, cfg: TerritoryConfig) -> str:
    """Store a proposal (summary and every account's proposed owner); returns its id."""
    design_id = f"TD-{utc_now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"
    summary = {
        "design_id": [design_id],
        "created_at": [utc_now()],
        "status": ["proposed"],
        "solver_status": [design.solver_status],
        "solve_seconds": [design.solve_seconds],
        "accounts": [len(design.assignments)],
        "reps": [len(design.by_rep)],
        "moved": [design.moved],
        "spread_before": [_finite(design.before.max_min)],
        "spread_after": [_finite(design.after.max_min)],
        "cv_before": [design.before.cv],
        "cv_after": [design.after.cv],
        "workload_cv_before": [design.before.workload_cv],
        "workload_cv_after": [design.after.workload_cv],
        "parameters": [json.dumps(cfg.model_dump(mode="json"), sort_keys=True)],
    }
    rows = design.assignments.assign(design_id=design_id)
    wh.write_many(
        [
            Batch("territory_designs", pa.table(summary), "append"),
            Batch(
                "territory_assignments", pa.Table.from_pandas(rows, preserve_index=False), "append"
            ),
        ]
    )
    return design_id


def _finite(value: float) -> float | None:
    return value if value != float("inf") else None


def apply_design(wh: Warehouse, design_id: str, actor: str) -> int:
    """Write the design's owners to accounts (audited); returns the accounts that changed owner."""
    t = wh.table("territory_designs")
    found = wh.execute(t.filter(t.design_id == design_id).select("status"))
    if found.empty:
        raise RevOpsError(f"unknown territory design {design_id!r}")
    if found["status"].iloc[0] == "applied":
        raise RevOpsError(f"territory design {design_id} is already applied")
    a = wh.table("territory_assignments")
    acc = wh.table("accounts").select("account_id", now_owner="owner_id")
    rows = wh.execute(
        a.filter(a.design_id == design_id)
        .left_join(acc, a.account_id == acc.account_id)
        .select(a.account_id, a.current_owner_id, a.owner_id, acc.now_owner, a.moved)
    )
    stale = rows[rows["current_owner_id"].fillna("") != rows["now_owner"].fillna("")]
    if not stale.empty:
        raise RevOpsError(
            f"territory design {design_id} is stale: {len(stale)} account(s) changed owner since "
            f"it was made (e.g. {stale['account_id'].iloc[0]}); run `territory design` again"
        )
    moved = rows[rows["moved"].astype(bool)]
    owners = pa.table(
        {"account_id": moved["account_id"].astype(str), "owner_id": moved["owner_id"].astype(str)}
    )
    status = pa.table(
        {
            "design_id": [design_id],
            "status": ["applied"],
            "applied_at": [utc_now()],
            "applied_by": [actor],
        }
    )
    details = {"moved": len(moved), "accounts": len(rows)}
    wh.write_many(
        [
            Batch("accounts", owners, "upsert"),
            Batch("territory_designs", status, "upsert"),
            audit_batch(wh, actor, "territory.applied", design_id, details),
        ]
    )
    return len(moved)


def load_assignments(wh: Warehouse, design_id: str) -> pd.DataFrame:
    """A stored design's assignment rows; an unknown id is a one-line error."""
    a = wh.table("territory_assignments")
    rows = wh.execute(a.filter(a.design_id == design_id))
    if rows.empty:
        raise RevOpsError(f"unknown territory design {design_id!r}")
    return rows


def load_status(wh: Warehouse, design_id: str) -> str:
    """A stored design's solver status: per group, how it was solved or that it fell back."""
    t = wh.table("territory_designs")
    rows = wh.execute(t.filter(t.design_id == design_id).select("solver_status"))
    if rows.empty:
        raise RevOpsError(f"unknown territory design {design_id!r}")
    return str(rows["solver_status"].iloc[0])


def stats_dict(design: Design) -> dict[str, object]:
    """Before/after figures of a design, for printing and the audit log."""
    return {"before": asdict(design.before), "after": asdict(design.after), "moved": design.moved}
