"""Capacity planning: how much the team can sell month by month, and the hires a target needs.

Each rep contributes, in month m (0 = the plan's first month), their ramp fraction that month
times the chance they are still here, (1 − annual attrition) ** (m / 12): expected productive
headcount, in fully ramped reps. Capacity in bookings is that times a ramped rep's monthly
productivity. Hires join on the plan's first month and ramp like everyone else.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from revops.errors import RevOpsError
from revops.planning.periods import ramp_fraction

MAX_HIRES = 1000


def capacity_plan(
    starts: list[date | None],
    months: list[date],
    ramp: tuple[float, ...],
    annual_attrition: float,
    productivity: float,
    hires: int = 0,
) -> pd.DataFrame:
    """month, headcount (expected), ramped_reps (productive FTE), capacity (bookings)."""
    rows = []
    hire_start = months[0] if months else None
    for m, month in enumerate(months):
        survive = (1 - annual_attrition) ** (m / 12)
        fte = sum(ramp_fraction(s, month, ramp) for s in starts)
        fte += hires * ramp_fraction(hire_start, month, ramp)
        people = sum(1 for s in starts if s is None or s <= month) + hires
        rows.append(
            {
                "month": month,
                "headcount": people * survive,
                "ramped_reps": fte * survive,
                "capacity": fte * survive * productivity,
            }
        )
    return pd.DataFrame(rows, columns=["month", "headcount", "ramped_reps", "capacity"])


def hires_needed(
    target: float,
    starts: list[date | None],
    months: list[date],
    ramp: tuple[float, ...],
    annual_attrition: float,
    productivity: float,
) -> int:
    """The fewest hires (starting the first month) for capacity over `months` to reach target."""

    def total(h: int) -> float:
        plan = capacity_plan(starts, months, ramp, annual_attrition, productivity, h)
        return float(plan["capacity"].sum())

    if total(0) >= target:
        return 0
    if total(MAX_HIRES) < target:
        raise RevOpsError(
            f"target {target:,.0f} is out of reach within the horizon even with {MAX_HIRES} hires "
            "(ramp too slow for the period)"
        )
    lo, hi = 0, MAX_HIRES  # total is increasing in h: bisect for the first h reaching target
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if total(mid) < target else (lo, mid)
    return hi


def measured_productivity(
    bookings: float, starts: list[date | None], months: list[date], ramp: tuple[float, ...]
) -> float:
    """Bookings per fully ramped rep-month over a past window (ramp-weighted headcount)."""
    fte_months = sum(ramp_fraction(s, m, ramp) for m in months for s in starts)
    if fte_months <= 0:
        raise RevOpsError("cannot measure productivity: no ramped rep-months in the lookback")
    return bookings / fte_months
