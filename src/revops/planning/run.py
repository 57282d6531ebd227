"""Planning entry points over a warehouse: what the CLI (and an API) call.

Each function reads what it needs, calls the pure planners and, for writes, stores the result
with its audit entry in one transaction. Nothing here decides anything the pure modules do not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd
import pyarrow as pa

from revops.audit import audit_batch
from revops.config.models import OperatingModel
from revops.errors import RevOpsError
from revops.planning.capacity import capacity_plan, hires_needed, measured_productivity
from revops.planning.comp.engine import credits
from revops.planning.periods import add_months, month_start, months_between, parse_period
from revops.planning.potential import load_potential
from revops.planning.quotas import (
    attainment,
    bottom_up,
    capacity,
    capture_rate,
    prorated_quota,
    quota_rows,
    reconcile,
    top_down,
)
from revops.planning.store import load_reps, save_design
from revops.planning.territories import Design, design_territories
from revops.warehouse import Batch, Warehouse


def _starts(reps: pd.DataFrame) -> list[date | None]:
    return [None if pd.isna(s) else pd.Timestamp(s).date() for s in reps["start_date"]]


def run_design(
    wh: Warehouse,
    model: OperatingModel,
    as_of: date,
    time_limit: float | None = None,
    *,
    band: float | None = None,
    max_moves: float | None = None,
) -> tuple[str, Design]:
    """Score accounts, solve the design and store it as a proposal.

    `time_limit`, `band` and `max_moves` override the operating model for this one design, so
    scenarios can be made and compared (`territory compare`) without editing the model.
    """
    cfg = model.planning
    given = {"time_limit_seconds": time_limit, "potential_band": band, "max_moves": max_moves}
    tcfg = cfg.territories.model_copy(update={k: v for k, v in given.items() if v is not None})
    accounts = load_potential(wh, cfg.potential, tcfg.segment_effort, as_of)
    design = design_territories(accounts, load_reps(wh, tcfg.roles), tcfg)
    return save_design(wh, design, tcfg), design


def _bookings(wh: Warehouse, types: tuple[str, ...], start: date, end: date) -> pd.DataFrame:
    """Split-credited bookings of won deals of `types` closed in [start, end]: only those
    deals' three columns are read (every won deal, whole, was 66 MB of the pipeline step's
    peak at 10x demo scale on PostgreSQL)."""
    opp = wh.table("opportunities")
    won = opp.filter(
        opp.is_won, opp.opportunity_type.isin(types), opp.close_date.between(start, end)
    )
    deals = wh.execute(
        won.select("opportunity_id", "owner_id", amount=won.amount.cast("float64").fill_null(0.0))
    )
    splits = wh.execute(wh.table("opportunity_splits"))
    return credits(deals, splits, float("inf"))


def _rep_potential(wh: Warehouse, model: OperatingModel, as_of: date) -> pd.Series:
    cfg = model.planning
    acc = load_potential(wh, cfg.potential, cfg.territories.segment_effort, as_of)
    return acc.groupby("owner_id")["potential"].sum()


@dataclass(frozen=True)
class QuotaPlan:
    quotas: pd.DataFrame  # user_id, region, quota (the method chosen)
    reconciliation: pd.DataFrame | None
    capture_rate: float
    start: date
    end: date


@dataclass(frozen=True)
class QuotaInputs:
    """What quota planning reads as of a day, whatever the period planned: the reps who carry
    quota, their accounts' potential and the capture rate. Planning several periods as of
    one day (the demo plans five quarters) reads them once."""

    as_of: date
    reps: pd.DataFrame
    potential: pd.Series
    rate: float


def quota_inputs(wh: Warehouse, model: OperatingModel, as_of: date) -> QuotaInputs:
    """The reps, their potential and the capture rate (configured, or measured from the
    bookings of the lookback before `as_of`)."""
    qcfg = model.planning.quotas
    reps = load_reps(wh, qcfg.roles)
    if reps.empty:
        raise RevOpsError(f"no active users with roles {', '.join(qcfg.roles)} to carry quota")
    potential = _rep_potential(wh, model, as_of)
    rate = qcfg.capture_rate
    if rate is None:
        since = as_of - timedelta(days=qcfg.capture_lookback_days)
        booked = _bookings(wh, qcfg.opportunity_types, since, as_of)["credited_amount"].sum()
        annual = float(booked) * 365 / qcfg.capture_lookback_days
        rate = capture_rate(annual, float(potential.sum()))
    return QuotaInputs(as_of, reps, potential, rate)


def plan_quotas(
    wh: Warehouse,
    model: OperatingModel,
    period: str,
    method: str,
    target: float | None,
    as_of: date,
    inputs: QuotaInputs | None = None,
) -> QuotaPlan:
    """Top-down, bottom-up and their reconciliation for `period` (nothing written); from
    `inputs` (`quota_inputs` as of `as_of`, read once for several periods) when given."""
    qcfg = model.planning.quotas
    start, end = parse_period(period, model.company.fiscal_year_start_month)
    if inputs is not None and inputs.as_of != as_of:
        raise ValueError(f"quota inputs as of {inputs.as_of}, not {as_of}")
    got = inputs or quota_inputs(wh, model, as_of)
    reps, potential, rate = got.reps, got.potential, got.rate
    cap = capacity(reps, start, end, qcfg.ramp)
    bottom = bottom_up(reps, potential, rate, start, end, cap, qcfg.bottom_up_bounds)
    top = (
        top_down(target, reps, start, end, qcfg.ramp, potential, qcfg.potential_weight)
        if target is not None
        else None
    )
    if method == "top_down":
        if top is None:
            raise RevOpsError("--method top_down needs --target")
        chosen = top
    elif method == "bottom_up":
        chosen = bottom
    else:
        raise RevOpsError(f"unknown quota method {method!r}; use top_down or bottom_up")
    recon = reconcile(top, bottom) if top is not None else None
    return QuotaPlan(chosen[["user_id", "region", "quota", "basis"]], recon, rate, start, end)


def write_quotas(
    wh: Warehouse, plan: QuotaPlan, period: str, method: str, actor: str
) -> tuple[int, int]:
    """Store the quotas (audited); returns (rows written, overlapping rows replaced).

    Quota rows of the same reps that overlap the period are removed in the same transaction:
    attainment prorates every overlapping row, so leaving an old quarter under a new one would
    count both.
    """
    rows = quota_rows(plan.quotas, method, plan.start, plan.end)
    existing = wh.to_arrow(wh.table("quotas"))
    old = existing.to_pandas()
    users = set(plan.quotas["user_id"].astype(str))
    if old.empty:
        keep = old
    else:
        ps = pd.to_datetime(old["period_start"]).dt.date
        pe = pd.to_datetime(old["period_end"]).dt.date
        overlap = old["user_id"].isin(users) & (ps <= plan.end) & (pe >= plan.start)
        keep = old[~overlap]
    replaced = len(old) - len(keep)
    merged = pa.concat_tables(
        [
            pa.Table.from_pandas(keep, schema=existing.schema, preserve_index=False),
            rows.cast(existing.schema),
        ]
    )
    details = {
        "period": period,
        "start": plan.start.isoformat(),
        "end": plan.end.isoformat(),
        "method": method,
        "total": round(float(plan.quotas["quota"].sum()), 2),
        "replaced": replaced,
    }
    wh.write_many(
        [Batch("quotas", merged, "replace"), audit_batch(wh, actor, "quota.set", period, details)]
    )
    return rows.num_rows, replaced


def attainment_table(wh: Warehouse, model: OperatingModel, period: str) -> pd.DataFrame:
    """Split-credited bookings ÷ prorated quota per rep for `period`."""
    qcfg = model.planning.quotas
    start, end = parse_period(period, model.company.fiscal_year_start_month)
    reps = load_reps(wh, qcfg.roles)
    quotas = prorated_quota(wh.execute(wh.table("quotas")), start, end)
    booked = _bookings(wh, qcfg.opportunity_types, start, end)
    return attainment(booked, quotas, reps)


@dataclass(frozen=True)
class CapacityResult:
    plan: pd.DataFrame
    productivity: float
    hires: int | None


def capacity_table(
    wh: Warehouse,
    model: OperatingModel,
    first_month: date,
    months: int,
    target: float | None,
    as_of: date,
) -> CapacityResult:
    """Monthly capacity of today's reps and, with a target, the hires needed to reach it."""
    qcfg, ccfg = model.planning.quotas, model.planning.capacity
    reps = load_reps(wh, qcfg.roles)
    starts = _starts(reps)
    horizon = months_between(
        month_start(first_month), add_months(first_month, months) - timedelta(1)
    )
    productivity = ccfg.productivity
    if productivity is None:
        since = as_of - timedelta(days=ccfg.productivity_lookback_days)
        booked = float(_bookings(wh, qcfg.opportunity_types, since, as_of)["credited_amount"].sum())
        past = months_between(since, as_of)
        productivity = measured_productivity(booked, starts, past, qcfg.ramp)
    plan = capacity_plan(starts, horizon, qcfg.ramp, ccfg.annual_attrition, productivity)
    hires = None
    if target is not None:
        hires = hires_needed(
            target, starts, horizon, qcfg.ramp, ccfg.annual_attrition, productivity
        )
    return CapacityResult(plan, productivity, hires)
