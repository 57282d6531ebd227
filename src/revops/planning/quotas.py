"""Quota setting: top-down from a company target, bottom-up from territory potential, and the
reconciliation of the two that a planning meeting argues over.

Top-down spreads the target over reps by *capacity* × *territory potential*. Capacity is the
sum over the period's months of the rep's ramp fraction (0 before the start date, the ramp curve
in the first months, then 1), so a rep in month 2 of a 25/50/75 % ramp carries a quarter of a
veteran's quota that month. Potential is what the rep's accounts could buy in a year; with
`potential_weight` α the rep's weight is capacity × ((1 − α) × the team's mean potential + α ×
their own), so α = 1 shares the target in proportion to potential (a territory twice as rich
carries twice the quota) and α = 0 ignores it (equal quotas for equal capacity).
Bottom-up asks what each rep's accounts can yield: potential × capture rate × capacity / 12, where
the capture rate is the share of potential the company actually booked over the lookback. A
territory far poorer or richer than the rest gives a quota nobody would sign (a few thousand, or
millions), so with `bounds` (lo, hi) each quota is held between lo and hi × the team's yield per
capacity month × the rep's capacity, and the `basis` column says which reps were held and why.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pyarrow as pa

from revops.errors import RevOpsError
from revops.planning.periods import months_between, ramp_fraction


def capacity(reps: pd.DataFrame, start: date, end: date, ramp: tuple[float, ...]) -> pd.Series:
    """Full-quota months each rep carries in [start, end] (index user_id)."""
    months = months_between(start, end)
    values = [sum(ramp_fraction(_day(s), m, ramp) for m in months) for s in reps["start_date"]]
    return pd.Series(values, index=reps["user_id"].astype(str), dtype=float)


def _day(value: object) -> date | None:
    if value is None or (isinstance(value, float) and value != value) or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.date()
    return value if isinstance(value, date) else None


def top_down(
    target: float,
    reps: pd.DataFrame,
    start: date,
    end: date,
    ramp: tuple[float, ...],
    potential: pd.Series | None = None,
    potential_weight: float = 1.0,
) -> pd.DataFrame:
    """user_id, region, capacity, potential, weight, quota: the target shared by weight.

    Without `potential` (or with weight 0) the weight is capacity alone. If every rep with
    capacity has zero potential, the target is shared by capacity and `basis` says so.
    """
    if target <= 0:
        raise RevOpsError(f"quota target must be positive, got {target}")
    cap = capacity(reps, start, end, ramp)
    if float(cap.sum()) <= 0:
        raise RevOpsError("no rep carries quota capacity in the period (all still at ramp 0)")
    out = reps[["user_id", "region"]].copy()
    ids = out["user_id"].astype(str)
    out["capacity"] = cap.to_numpy()
    pot = ids.map(potential if potential is not None else {}).fillna(0.0).astype(float)
    out["potential"] = pot.to_numpy() if potential is not None else float("nan")
    out["weight"] = out["capacity"]
    out["basis"] = "capacity"
    if potential is not None and potential_weight > 0:
        mean = float(pot[out["capacity"] > 0].mean())
        blended = (1 - potential_weight) * mean + potential_weight * pot
        weight = out["capacity"] * blended.to_numpy()
        if float(weight.sum()) > 0:
            out["weight"] = weight
            out["basis"] = "capacity × potential"
        else:
            out["basis"] = "capacity (no rep with capacity has potential)"
    out["quota"] = target * out["weight"] / float(out["weight"].sum())
    return out.reset_index(drop=True)


def capture_rate(bookings: float, potential: float) -> float:
    """Share of annual potential booked per year (bookings over the lookback, annualised)."""
    if potential <= 0:
        raise RevOpsError("cannot measure a capture rate: total potential is 0")
    return bookings / potential


def bottom_up(
    reps: pd.DataFrame,
    rep_potential: pd.Series,
    rate: float,
    start: date,
    end: date,
    cap: pd.Series | None = None,
    bounds: tuple[float, float] | None = None,
) -> pd.DataFrame:
    """user_id, region, potential, capacity, yield, quota, basis.

    yield = potential × rate × capacity / 12 (capacity defaults to the period's months, a
    ramped rep); with `bounds` the quota is the yield held inside the band described above.
    """
    months = len(months_between(start, end))
    out = reps[["user_id", "region"]].copy()
    out["potential"] = out["user_id"].map(rep_potential).fillna(0.0).astype(float)
    ids = out["user_id"].astype(str)
    out["capacity"] = (
        ids.map(cap).fillna(0.0).astype(float).to_numpy() if cap is not None else float(months)
    )
    out["yield"] = out["potential"] * rate * out["capacity"] / 12
    out["quota"] = out["yield"]
    out["basis"] = "territory yield"
    total_cap = float(out["capacity"].sum())
    if bounds is not None and total_cap > 0:
        per_month = float(out["yield"].sum()) / total_cap
        low = bounds[0] * per_month * out["capacity"]
        high = bounds[1] * per_month * out["capacity"]
        out["quota"] = out["yield"].clip(lower=low, upper=high)
        raised, capped = out["yield"] < low, out["yield"] > high
        out.loc[raised, "basis"] = (
            f"raised to {bounds[0]:g}× the team's yield per capacity month: territory too poor"
        )
        out.loc[capped, "basis"] = (
            f"capped at {bounds[1]:g}× the team's yield per capacity month: territory too rich"
        )
    return out.reset_index(drop=True)


def reconcile(top: pd.DataFrame, bottom: pd.DataFrame) -> pd.DataFrame:
    """Per rep: top-down, bottom-up, gap (top − bottom) and ratio, plus a TOTAL row.

    A rep whose top-down quota far exceeds what the territory can yield (ratio ≫ 1) is being
    asked for bookings the accounts do not hold: fix the territory or the target.
    """
    t = top[["user_id", "region", "quota"]].rename(columns={"quota": "top_down"})
    cols = ["user_id", "quota", *(["basis"] if "basis" in bottom.columns else [])]
    b = bottom[cols].rename(columns={"quota": "bottom_up", "basis": "bottom_up_basis"})
    out = t.merge(b, on="user_id", how="outer")
    total = pd.DataFrame(
        [
            {
                "user_id": "TOTAL",
                "region": "",
                "top_down": out["top_down"].sum(),
                "bottom_up": out["bottom_up"].sum(),
                **({"bottom_up_basis": ""} if "bottom_up_basis" in out.columns else {}),
            }
        ]
    )
    out = pd.concat([out, total], ignore_index=True)
    out["gap"] = out["top_down"] - out["bottom_up"]
    out["ratio"] = out["top_down"] / out["bottom_up"].where(out["bottom_up"] > 0)
    return out


def quota_rows(quotas: pd.DataFrame, method: str, start: date, end: date) -> pa.Table:
    """Rows for the `quotas` table."""
    now = datetime.now(UTC).replace(tzinfo=None)
    n = len(quotas)
    return pa.table(
        {
            "user_id": quotas["user_id"].astype(str).tolist(),
            "period_start": [start] * n,
            "period_end": [end] * n,
            "amount": quotas["quota"].astype(float).round(2).tolist(),
            "method": [method] * n,
            "set_at": [now] * n,
        }
    )


def prorated_quota(quotas: pd.DataFrame, start: date, end: date) -> pd.Series:
    """Quota per user for [start, end]: each quota row counts by its share of days overlapping.

    A quarterly quota of 300k gives a 31-day month of a 92-day quarter 300k × 31 / 92, so
    monthly commission and attainment work whatever grain quotas were set at.
    """
    if quotas.empty:
        return pd.Series(dtype=float)
    q = quotas.copy()
    q["ps"] = pd.to_datetime(q["period_start"]).dt.date
    q["pe"] = pd.to_datetime(q["period_end"]).dt.date
    days = []
    for ps, pe in zip(q["ps"], q["pe"], strict=True):
        overlap = (min(pe, end) - max(ps, start)).days + 1
        days.append(max(0, overlap) / ((pe - ps).days + 1))
    q["share"] = days
    q["part"] = q["amount"].astype(float) * q["share"]
    return q.groupby(q["user_id"].astype(str))["part"].sum()


def attainment(credited: pd.DataFrame, quotas: pd.Series, reps: pd.DataFrame) -> pd.DataFrame:
    """user_id, region, bookings (split-credited), quota, attainment (bookings ÷ quota)."""
    booked = credited.groupby("user_id")["credited_amount"].sum()
    out = reps[["user_id", "region"]].copy()
    out["bookings"] = out["user_id"].map(booked).fillna(0.0).astype(float)
    out["quota"] = out["user_id"].map(quotas).astype(float)
    out["attainment"] = out["bookings"] / out["quota"].where(out["quota"] > 0)
    return out.reset_index(drop=True)


def lookback(as_of: date, days: int) -> tuple[date, date]:
    return as_of - timedelta(days=days), as_of
