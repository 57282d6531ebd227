"""Payout snapshots in the warehouse: run, adjust and lock a period; read a statement.

A period is open until locked. Running an open period replaces its lines (adjustments, kept in
their own table, survive); a locked period refuses both, so what was paid stays what was paid.
Each change lands in one transaction with its audit entry.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

import pandas as pd
import pyarrow as pa

from revops.audit import audit_batch
from revops.config.models import OperatingModel
from revops.errors import RevOpsError
from revops.planning.comp.book import RevenueBook
from revops.planning.comp.engine import (
    LINE_COLUMNS,
    PeriodInputs,
    covered,
    plan_period,
    process_period,
    reconcile,
)
from revops.planning.periods import month_end, parse_period
from revops.planning.quotas import prorated_quota
from revops.warehouse import Batch, Warehouse
from revops.warehouse.clock import utc_now
from revops.warehouse.schema import table
from revops.warehouse.warehouse import arrow_schema


def parse_month(text: str) -> tuple[date, date]:
    start, end = parse_period(text)
    if start.replace(day=1) != start or end != month_end(start):
        raise RevOpsError(f"comp periods are months (YYYY-MM); got {text!r}")
    return start, end


def period_status(wh: Warehouse, start: date) -> str | None:
    t = wh.table("comp_periods")
    found = wh.execute(t.filter(t.period_start == start).select("status"))
    return None if found.empty else str(found["status"].iloc[0])


def _require_open(wh: Warehouse, start: date, *, must_exist: bool) -> None:
    status = period_status(wh, start)
    if status == "locked":
        raise RevOpsError(f"comp period {start:%Y-%m} is locked and cannot change")
    if must_exist and status is None:
        raise RevOpsError(f"comp period {start:%Y-%m} has not been run; run `comp run` first")
    later = wh.sql(
        "SELECT min(period_start) FROM comp_periods "
        f"WHERE status = 'locked' AND period_start > DATE '{start}'"
    )
    if later and later[0][0] is not None:
        # draws and clawbacks carry forward: an earlier change would leave the locked later
        # period computed from figures that no longer hold
        raise RevOpsError(
            f"comp period {later[0][0]:%Y-%m} is locked, so the earlier {start:%Y-%m} cannot change"
        )


def _require_earlier_locked(wh: Warehouse, start: date) -> None:
    """Periods lock in order, so a locked period's carried balances are final."""
    rows = wh.sql(
        "SELECT min(period_start) FROM comp_periods "
        f"WHERE status = 'open' AND period_start < DATE '{start}'"
    )
    if rows and rows[0][0] is not None:
        raise RevOpsError(f"lock comp period {rows[0][0]:%Y-%m} first: periods lock in order")


def load_deals(wh: Warehouse) -> pd.DataFrame:
    """Won deals with the account's segment and region, for crediting and SPIFF conditions."""
    opp = wh.table("opportunities")
    acc = wh.table("accounts").select("account_id", "segment", "region")
    expr = (
        opp.filter(opp.is_won)
        .left_join(acc, opp.account_id == acc.account_id)
        .drop("account_id_right")
    )
    deals = wh.execute(expr)
    deals["close_date"] = pd.to_datetime(deals["close_date"]).dt.date
    deals["amount"] = deals["amount"].astype(float).fillna(0.0)
    return deals


def load_churns(wh: Warehouse) -> pd.DataFrame:
    """Account churns from the revenue engine: the last day of the month ARR went to zero."""
    mv = wh.table("arr_movements")
    rows = wh.execute(mv.filter(mv.movement == "churn").select("account_id", "month"))
    months = pd.to_datetime(rows["month"])
    rows["churn_date"] = (months + pd.offsets.MonthEnd(0)).dt.date
    return rows[["account_id", "churn_date"]]


def _lines(wh: Warehouse) -> pd.DataFrame:
    lines = wh.execute(wh.table("comp_lines"))
    for col in ("period_start", "close_date"):
        lines[col] = pd.to_datetime(lines[col]).dt.date
    return lines


def load_activities(wh: Warehouse, start: date, end: date) -> pd.DataFrame:
    """Activities by a user in [start, end], for activity measures (meetings held, …)."""
    act = wh.table("activities")
    day = act.occurred_at.date()
    expr = act.filter(act.user_id.notnull(), day >= start, day <= end).select(
        "user_id", "activity_type", "outcome", "occurred_at"
    )
    out: pd.DataFrame = wh.execute(expr)
    return out


def load_book(wh: Warehouse) -> RevenueBook:
    """Accounts with owner and CSM, ARR per account-month and the ARR movements."""
    acc = wh.table("accounts").select("account_id", "owner_id", "csm_id")
    arr = wh.table("mrr_monthly").select("account_id", "month", "arr")
    mv = wh.table("arr_movements").select("account_id", "month", "movement", "amount")
    return RevenueBook(wh.execute(acc), wh.execute(arr), wh.execute(mv))


def inputs_for(
    wh: Warehouse,
    start: date,
    end: date,
    fiscal_start_month: int = 1,
    activities_from: date | None = None,
    book: bool = False,
) -> tuple[PeriodInputs, pd.DataFrame]:
    users = wh.execute(wh.table("users").select("user_id", "role", "start_date"))
    users["start_date"] = pd.to_datetime(users["start_date"]).dt.date
    quotas = wh.execute(wh.table("quotas"))
    lines = _lines(wh)
    inputs = PeriodInputs(
        period_start=start,
        period_end=end,
        deals=load_deals(wh),
        splits=wh.execute(wh.table("opportunity_splits")),
        quotas=prorated_quota(quotas, start, end),
        reps=users,
        churns=load_churns(wh),
        prior_lines=lines[lines["period_start"] < start],
        quota_rows=quotas,
        fiscal_start_month=fiscal_start_month,
        activities=None if activities_from is None else load_activities(wh, activities_from, end),
        book=load_book(wh) if book else None,
    )
    return inputs, users


def run_period(wh: Warehouse, model: OperatingModel, period: str, actor: str) -> pd.DataFrame:
    """Process (or reprocess) an open period; returns its lines."""
    start, end = parse_month(period)
    _require_open(wh, start, must_exist=False)
    fy = model.company.fiscal_year_start_month
    measured = [p for p in model.compensation.plans if p.activity_measures]
    since = min((plan_period(p, (start, end), fy)[0] for p in measured), default=None)
    book = any(p.revenue_measures for p in model.compensation.plans)
    inputs, users = inputs_for(wh, start, end, fy, since, book)
    lines = process_period(inputs, model.compensation, users)
    kept = _lines(wh)
    kept = kept[kept["period_start"] != start]
    runs = wh.sql(f"SELECT runs FROM comp_periods WHERE period_start = DATE '{start}'")
    row = {
        "period_start": [start],
        "period_end": [end],
        "status": ["open"],
        "runs": [int(runs[0][0]) + 1 if runs else 1],
        "processed_at": [utc_now()],
    }
    schema = arrow_schema(table("comp_lines"))
    parts = [
        pa.Table.from_pandas(frame[LINE_COLUMNS], schema=schema, preserve_index=False)
        for frame in (kept, lines)
        if not frame.empty
    ]
    data = pa.concat_tables(parts).combine_chunks() if parts else schema.empty_table()
    details = {"lines": len(lines), "total": round(float(lines["amount"].sum()), 2)}
    wh.write_many(
        [
            Batch("comp_lines", data, "replace"),
            Batch("comp_periods", pa.table(row), "upsert"),
            audit_batch(wh, actor, "comp.processed", f"{start:%Y-%m}", details),
        ]
    )
    return lines


def adjust(wh: Warehouse, period: str, user_id: str, amount: float, note: str, actor: str) -> str:
    """Add a manual adjustment to an open, processed period (audited); returns its id."""
    start, _ = parse_month(period)
    _require_open(wh, start, must_exist=True)
    if not note.strip():
        raise RevOpsError("an adjustment needs a note saying why")
    adj_id = f"ADJ-{start:%Y%m}-{uuid.uuid4().hex[:8]}"
    row = {
        "adjustment_id": [adj_id],
        "period_start": [start],
        "user_id": [user_id],
        "amount": [float(amount)],
        "note": [note],
        "actor": [actor],
        "created_at": [utc_now()],
    }
    details = {"user_id": user_id, "amount": amount, "note": note}
    wh.write_many(
        [
            Batch("comp_adjustments", pa.table(row), "append"),
            audit_batch(wh, actor, "comp.adjusted", adj_id, details),
        ]
    )
    return adj_id


def lock(wh: Warehouse, period: str, actor: str) -> None:
    """Lock a processed period for good (audited)."""
    from revops.planning.comp.approval import open_disputes

    start, _ = parse_month(period)
    _require_open(wh, start, must_exist=True)
    _require_earlier_locked(wh, start)
    disputed = open_disputes(wh, period)
    if disputed:
        raise RevOpsError(
            f"comp period {start:%Y-%m} has open disputes ({', '.join(disputed)}): adjust or "
            "re-run, then approve those statements before locking"
        )
    total = wh.sql(
        f"SELECT coalesce(sum(amount), 0) FROM comp_lines WHERE period_start = DATE '{start}'"
    )
    row = {
        "period_start": [start],
        "status": ["locked"],
        "locked_at": [utc_now()],
        "locked_by": [actor],
    }
    wh.write_many(
        [
            Batch("comp_periods", pa.table(row), "upsert"),
            audit_batch(wh, actor, "comp.locked", f"{start:%Y-%m}", {"total": float(total[0][0])}),
        ]
    )


@dataclass(frozen=True)
class Statement:
    """One rep's period: every line, the adjustments, totals and the bookings reconciliation."""

    user_id: str
    period_start: date
    status: str
    lines: pd.DataFrame
    adjustments: pd.DataFrame
    reconciliation: pd.DataFrame

    @property
    def totals(self) -> dict[str, float]:
        by_kind = self.lines.groupby("kind")["amount"].sum().to_dict()
        out = {str(k): float(v) for k, v in by_kind.items()}
        out["adjustments"] = float(self.adjustments["amount"].sum())
        out["total"] = float(self.lines["amount"].sum()) + out["adjustments"]
        return out

    @property
    def reconciles(self) -> bool:
        return bool((self.reconciliation["diff"].abs() < 0.005).all())


def statement(wh: Warehouse, model: OperatingModel, period: str, user_id: str) -> Statement:
    """A rep's lines and adjustments, reconciled against the deals and splits tables."""
    start, end = parse_month(period)
    status = period_status(wh, start)
    if status is None:
        raise RevOpsError(f"comp period {start:%Y-%m} has not been run")
    lines = _lines(wh)
    mine = lines[(lines["period_start"] == start) & (lines["user_id"] == user_id)]
    if mine.empty:
        raise RevOpsError(f"{user_id} has no lines in comp period {start:%Y-%m}")
    plan = model.compensation.plan(str(mine["plan"].iloc[0]))
    adj = wh.table("comp_adjustments")
    adjustments = wh.execute(adj.filter(adj.period_start == start, adj.user_id == user_id))
    splits = wh.execute(wh.table("opportunity_splits"))
    window = covered(plan, (start, end), model.company.fiscal_year_start_month)
    recon = reconcile(mine, load_deals(wh), splits, window, plan.opportunity_types, user_id)
    return Statement(user_id, start, status, mine.reset_index(drop=True), adjustments, recon)
