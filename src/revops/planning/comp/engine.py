"""Processing one compensation period: a pure function from deals and plans to statement lines.

Inputs are plain frames, so a period can be recomputed, tested by hand and explained line by
line. For each rep on a plan, in order:

1. credit: every won deal of the plan's types closed in the period credits each split holder
   its percent (the owner 100 % when the deal has no splits);
2. commission: credited bookings fill the period quota in close-date order; the part of a deal
   that falls inside a tier earns rate × that tier's multiplier (marginal tiers, so crossing
   100 % only accelerates the bookings above 100 %). One line per deal and tier slice;
3. SPIFFs: a flat amount × credit share per credited deal closed inside the SPIFF's dates that
   meets its conditions;
4. clawbacks: when an account churns in the period within `clawback_days` after a deal's close,
   the commission and SPIFFs paid on that deal (earlier periods and this one, less what was
   already clawed back) are reversed;
5. base pay: OTE × base share / 12;
6. draw: while the draw applies, variable pay below the draw is topped up to it; a recoverable
   draw's outstanding balance is recovered from later variable pay above the draw.

The period quota is the quotas table's (prorated to the month), else the plan's annual quota /
12 × its ramp fraction. With a zero quota (ramp month 0) bookings earn the base rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pandas as pd

from revops.config.planning import CompensationConfig, CompPlan, DealCondition
from revops.errors import RevOpsError
from revops.planning.periods import ramp_fraction, tenure_month

LINE_COLUMNS = [
    "line_id",
    "period_start",
    "user_id",
    "plan",
    "kind",
    "opportunity_id",
    "close_date",
    "deal_amount",
    "credit_pct",
    "credited_amount",
    "tier",
    "rate",
    "amount",
    "note",
]
VARIABLE_KINDS = ("commission", "spiff", "clawback")


@dataclass(frozen=True)
class PeriodInputs:
    """Everything a period's processing reads.

    deals: won deals, all time (opportunity_id, account_id, owner_id, opportunity_type, amount,
        close_date, plus any field a SPIFF tests, e.g. segment, region);
    splits: opportunity_id, user_id, percent; quotas: period quota per user_id (Series);
    reps: user_id, start_date; churns: account_id, churn_date;
    prior_lines: comp_lines of earlier periods (LINE_COLUMNS).
    """

    period_start: date
    period_end: date
    deals: pd.DataFrame
    splits: pd.DataFrame
    quotas: pd.Series
    reps: pd.DataFrame
    churns: pd.DataFrame
    prior_lines: pd.DataFrame


def plan_of(users: pd.DataFrame, comp: CompensationConfig) -> dict[str, CompPlan]:
    """user_id → plan: listed users first, then users whose role an assignment names."""
    out: dict[str, CompPlan] = {}
    for a in comp.assignments:
        for uid in a.users:
            out.setdefault(uid, comp.plan(a.plan))
    for a in comp.assignments:
        if not a.roles:
            continue
        for uid, role in zip(users["user_id"], users["role"], strict=True):
            if role in a.roles:
                out.setdefault(str(uid), comp.plan(a.plan))
    return out


def credits(
    deals: pd.DataFrame, splits: pd.DataFrame, max_split_percent: float = 100.0
) -> pd.DataFrame:
    """One row per (deal, credited rep) with credit_pct and credited_amount.

    Deals with splits credit their split holders; others credit the owner 100 %. Splits that add
    up to more than `max_split_percent` are an error naming the deal.
    """
    base = deals[["opportunity_id", "owner_id", "amount"]]
    if not splits.empty:
        sums = splits.groupby("opportunity_id")["percent"].sum()
        bad = sums[(sums > max_split_percent + 1e-9) | (sums <= 0)]
        if not bad.empty:
            opp = bad.index[0]
            raise RevOpsError(
                f"opportunity {opp}: split credits add up to {bad.iloc[0]:g}% "
                f"(allowed: up to {max_split_percent:g}%)"
            )
        if (splits["percent"] < 0).any():
            raise RevOpsError("opportunity_splits: a percent is negative")
    split = splits[splits["opportunity_id"].isin(base["opportunity_id"])]
    has_split = base["opportunity_id"].isin(split["opportunity_id"])
    owned = base[~has_split].assign(user_id=lambda d: d["owner_id"], credit_pct=100.0)
    shared = base[has_split].merge(
        split.rename(columns={"percent": "credit_pct"}), on="opportunity_id", how="inner"
    )
    parts = [f for f in (owned, shared) if not f.empty]
    out = pd.concat(parts, ignore_index=True) if len(parts) > 1 else (parts or [owned])[0].copy()
    out["credited_amount"] = out["amount"] * out["credit_pct"] / 100.0
    return out[["opportunity_id", "user_id", "credit_pct", "credited_amount"]]


def _matches(cond: DealCondition, deal: dict[str, Any]) -> bool:
    value = deal.get(cond.field)
    want = cond.value
    try:
        if cond.op == "eq":
            return bool(value == want)
        if cond.op == "ne":
            return bool(value != want)
        if cond.op == "in":
            return value in want
        if cond.op == "not_in":
            return value not in want
        if value is None:
            return False
        if cond.op == "gt":
            return bool(value > want)
        if cond.op == "gte":
            return bool(value >= want)
        if cond.op == "lt":
            return bool(value < want)
        return bool(value <= want)
    except TypeError:
        return False


def period_quota(
    user_id: str, plan: CompPlan, inputs: PeriodInputs, start_date: date | None
) -> float:
    """The quota the tiers measure against this period (see the module docstring)."""
    q = inputs.quotas.get(user_id)
    if q is not None and not (isinstance(q, float) and math.isnan(q)):
        return float(q)
    if plan.annual_quota is None:
        return 0.0
    return plan.annual_quota / 12 * ramp_fraction(start_date, inputs.period_start, plan.ramp)


class _Lines:
    """Accumulates one rep's lines with sequential ids."""

    def __init__(self, period: date, user_id: str, plan: str) -> None:
        self.period, self.user_id, self.plan = period, user_id, plan
        self.rows: list[dict[str, Any]] = []

    def add(self, kind: str, amount: float, note: str, **deal: Any) -> None:
        row = dict.fromkeys(LINE_COLUMNS)
        row.update(deal)
        row.update(
            line_id=f"{self.period:%Y-%m}-{self.user_id}-{len(self.rows) + 1:04d}",
            period_start=self.period,
            user_id=self.user_id,
            plan=self.plan,
            kind=kind,
            amount=round(amount, 2),
            note=note,
        )
        self.rows.append(row)

    def total(self, kinds: tuple[str, ...]) -> float:
        return sum(r["amount"] for r in self.rows if r["kind"] in kinds)


def _commission(out: _Lines, plan: CompPlan, quota: float, rep_credits: pd.DataFrame) -> None:
    rate = plan.rate
    bounds = [t.from_attainment for t in plan.tiers] + [math.inf]
    booked = 0.0
    deal: dict[str, Any]
    for deal in rep_credits.to_dict("records"):  # type: ignore[assignment]
        remaining = float(deal["credited_amount"])
        deal_cols = {
            "opportunity_id": deal["opportunity_id"],
            "close_date": deal["close_date"],
            "deal_amount": float(deal["amount"]),
            "credit_pct": float(deal["credit_pct"]),
        }
        if quota <= 0:
            note = "no quota this period (ramp): base rate"
            out.add(
                "commission",
                remaining * rate,
                note,
                credited_amount=remaining,
                tier=1,
                rate=rate,
                **deal_cols,
            )
            continue
        while remaining > 1e-9:
            att = booked / quota
            t = max(i for i, b in enumerate(bounds[:-1]) if att >= b - 1e-12)
            room = bounds[t + 1] * quota - booked
            take = min(remaining, room)
            tier_rate = rate * plan.tiers[t].multiplier
            upper = "∞" if math.isinf(bounds[t + 1]) else f"{bounds[t + 1]:.0%}"
            mult = plan.tiers[t].multiplier
            note = f"tier {t + 1} ({bounds[t]:.0%}–{upper} of quota {quota:,.2f}) × {mult:g}"
            out.add(
                "commission",
                take * tier_rate,
                note,
                credited_amount=take,
                tier=t + 1,
                rate=tier_rate,
                **deal_cols,
            )
            booked += take
            remaining -= take


def _spiffs(out: _Lines, plan: CompPlan, rep_credits: pd.DataFrame) -> None:
    deal: dict[str, Any]
    for deal in rep_credits.to_dict("records"):  # type: ignore[assignment]
        for spiff in plan.spiffs:
            closed = deal["close_date"]
            if not spiff.start <= closed <= spiff.end:
                continue
            if all(_matches(c, deal) for c in spiff.when):
                share = float(deal["credit_pct"]) / 100.0
                out.add(
                    "spiff",
                    spiff.amount * share,
                    f"SPIFF {spiff.name} ({spiff.start}–{spiff.end})",
                    opportunity_id=deal["opportunity_id"],
                    close_date=closed,
                    deal_amount=float(deal["amount"]),
                    credit_pct=float(deal["credit_pct"]),
                )


def _clawbacks(out: _Lines, plan: CompPlan, inputs: PeriodInputs, prior: pd.DataFrame) -> None:
    if plan.clawback_days is None or inputs.churns.empty:
        return
    churns = inputs.churns[
        (inputs.churns["churn_date"] >= inputs.period_start)
        & (inputs.churns["churn_date"] <= inputs.period_end)
    ]
    if churns.empty:
        return
    current = pd.DataFrame(out.rows, columns=LINE_COLUMNS)
    parts = [f for f in (prior, current) if not f.empty]
    paid = pd.concat(parts, ignore_index=True) if len(parts) > 1 else (parts or [current])[0]
    window = timedelta(days=plan.clawback_days)
    for account_id, churned in zip(churns["account_id"], churns["churn_date"], strict=True):
        deals = inputs.deals[
            (inputs.deals["account_id"] == account_id)
            & (inputs.deals["close_date"] <= churned)
            & (inputs.deals["close_date"] >= churned - window)
        ]
        for deal in deals.itertuples(index=False):
            lines = paid[paid["opportunity_id"] == deal.opportunity_id]
            earned = float(lines.loc[lines["kind"].isin(["commission", "spiff"]), "amount"].sum())
            clawed = float(lines.loc[lines["kind"] == "clawback", "amount"].sum())
            due = earned + clawed  # clawed is negative
            if due > 0.005:
                days = (churned - deal.close_date).days
                out.add(
                    "clawback",
                    -due,
                    f"account {account_id} churned {churned}, {days} days after close "
                    f"(window {plan.clawback_days})",
                    opportunity_id=deal.opportunity_id,
                    close_date=deal.close_date,
                    deal_amount=float(deal.amount),
                )


def _draw(
    out: _Lines, plan: CompPlan, inputs: PeriodInputs, prior: pd.DataFrame, start: date | None
) -> None:
    draw = plan.draw
    if draw is None:
        return
    k = tenure_month(start, inputs.period_start)
    active = draw.months is None or (k is not None and 1 <= k <= draw.months)
    floor = draw.amount if active else 0.0
    earned = out.total(VARIABLE_KINDS)
    if active and earned < floor:
        kind = "recoverable" if draw.recoverable else "non-recoverable"
        out.add("draw", floor - earned, f"{kind} draw of {floor:,.2f}: top-up of variable pay")
        return
    if not draw.recoverable:
        return
    balance = float(prior.loc[prior["kind"].isin(["draw", "draw_recovery"]), "amount"].sum())
    recover = min(balance, earned - floor)
    if recover > 0.005:
        out.add(
            "draw_recovery",
            -recover,
            f"recovers draw balance {balance:,.2f} from variable pay above {floor:,.2f}",
        )


def process_period(
    inputs: PeriodInputs, comp: CompensationConfig, users: pd.DataFrame
) -> pd.DataFrame:
    """Every statement line of the period, for every rep on a plan (LINE_COLUMNS)."""
    plans = plan_of(users, comp)
    deals = inputs.deals
    in_period = deals[
        (deals["close_date"] >= inputs.period_start) & (deals["close_date"] <= inputs.period_end)
    ]
    credited = credits(in_period, inputs.splits, comp.max_split_percent).merge(
        in_period, on="opportunity_id", how="left"
    )
    credited = credited.sort_values(["close_date", "opportunity_id", "user_id"], kind="stable")
    starts = dict(zip(inputs.reps["user_id"].astype(str), inputs.reps["start_date"], strict=True))
    prior = inputs.prior_lines
    rows: list[dict[str, Any]] = []
    for user_id in sorted(plans):
        plan = plans[user_id]
        start = _as_date(starts.get(user_id))
        mine = credited[
            (credited["user_id"] == user_id)
            & credited["opportunity_type"].isin(plan.opportunity_types)
            & (credited["credited_amount"] > 0)
        ]
        out = _Lines(inputs.period_start, user_id, plan.name)
        rep_prior = prior[prior["user_id"] == user_id]
        _commission(out, plan, period_quota(user_id, plan, inputs, start), mine)
        _spiffs(out, plan, mine)
        _clawbacks(out, plan, inputs, rep_prior)
        if start is None or start <= inputs.period_end:
            out.add("base", plan.ote * plan.base_share / 12, "base salary: OTE × base share / 12")
        _draw(out, plan, inputs, rep_prior, start)
        rows.extend(out.rows)
    return pd.DataFrame(rows, columns=LINE_COLUMNS)


def _as_date(value: object) -> date | None:
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date()
    return value if isinstance(value, date) else None


def reconcile(
    lines: pd.DataFrame,
    deals: pd.DataFrame,
    splits: pd.DataFrame,
    period: tuple[date, date],
    types: tuple[str, ...],
    user_id: str | None = None,
) -> pd.DataFrame:
    """Per deal and rep: bookings × split share, worked out afresh, against the lines.

    `expected` credits every won deal of `types` closed in the period from the deals and splits
    tables (independently of the lines); `credited` sums the deal's commission slices. A deal
    the engine skipped, or credited twice, shows as a non-zero `diff`.
    """
    won = deals[
        deals["opportunity_type"].isin(types)
        & (deals["close_date"] >= period[0])
        & (deals["close_date"] <= period[1])
        & (deals["amount"] > 0)
    ]
    expect = credits(won, splits, math.inf).rename(columns={"credited_amount": "expected"})
    com = lines[lines["kind"] == "commission"]
    got = com.groupby(["opportunity_id", "user_id"], as_index=False)["credited_amount"].sum()
    out = expect.merge(got, on=["opportunity_id", "user_id"], how="outer")
    if user_id is not None:
        out = out[out["user_id"] == user_id]
    out = out.merge(deals[["opportunity_id", "amount"]], on="opportunity_id", how="left")
    out["expected"] = out["expected"].fillna(0.0)
    out["credited"] = out["credited_amount"].fillna(0.0)
    out["diff"] = (out["credited"] - out["expected"]).round(6)
    cols = ["opportunity_id", "user_id", "amount", "credit_pct", "expected", "credited", "diff"]
    return out[cols].sort_values(["opportunity_id", "user_id"]).reset_index(drop=True)
