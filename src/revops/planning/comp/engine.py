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

A plan whose `plan_period` is a quarter or a year measures attainment over that (fiscal) period,
not the month, so a big month cannot run up accelerators a quarter would not reach: in the
months before the period's last, each credited deal pays an *advance* (credited ACV × base rate
× `advance_share`); in the last month the period's deals are paid by the tiers against the
period quota (the commission lines above, over every deal of the period) and each advance is
taken back by a *true-up* line on the same deal, so a deal's lines always sum to what it earned.
`deal_cap` bounds one credited deal's commission and `period_cap` the period's (a multiple of
its variable pay at target); whatever a cap removes is a `cap` line saying which cap, so a
payout above a cap is never silent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pandas as pd

from revops.config.planning import CompensationConfig, CompPlan, DealCondition
from revops.errors import RevOpsError
from revops.planning.comp.book import RevenueBook, measure
from revops.planning.periods import (
    add_months,
    month_end,
    month_start,
    months_between,
    ramp_fraction,
    tenure_month,
)
from revops.planning.quotas import prorated_quota

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
VARIABLE_KINDS = ("commission", "spiff", "clawback", "advance", "true_up", "cap")
EARNED_KINDS = ("commission", "spiff", "advance", "true_up", "cap")  # what a clawback reverses


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
    quota_rows: pd.DataFrame | None = None  # the quotas table, for quarter and year plans
    fiscal_start_month: int = 1
    activities: pd.DataFrame | None = None  # user_id, activity_type, outcome, occurred_at
    book: RevenueBook | None = None  # accounts and revenue tables, for revenue measures


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


def idle_plans(users: pd.DataFrame, comp: CompensationConfig) -> list[str]:
    """One sentence per plan that nobody is on (no listed user, no user of its roles), so an
    example plan the company has no one for (the demo has no account managers) is said, not
    silently skipped."""
    taken = {p.name for p in plan_of(users, comp).values()}
    out = []
    for plan in comp.plans:
        if plan.name in taken:
            continue
        roles = sorted({r for a in comp.assignments if a.plan == plan.name for r in a.roles})
        who = f"no user has role {' or '.join(roles)}" if roles else "no assignment names it"
        out.append(f"plan {plan.name} pays no one: {who}")
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


def plan_period(
    plan: CompPlan, month: tuple[date, date], fiscal_start_month: int = 1
) -> tuple[date, date]:
    """The plan period holding the month processed (fiscal quarters and years)."""
    first = month_start(month[0])
    if plan.plan_period == "month":
        return month
    into_year = (first.month - fiscal_start_month) % 12
    length = 3 if plan.plan_period == "quarter" else 12
    start = add_months(first, -(into_year % length))
    return start, month_end(add_months(start, length - 1))


def plan_period_quota(
    user_id: str, plan: CompPlan, inputs: PeriodInputs, span: tuple[date, date], start: date | None
) -> float:
    """The quota of a quarter or year plan: the quotas table over the span, else the plan's
    annual quota / 12 × the ramp fraction of each of its months."""
    rows = inputs.quota_rows
    if rows is not None and not rows.empty:
        mine = rows[rows["user_id"].astype(str) == user_id]
        q = prorated_quota(mine, *span).get(user_id)
        if q is not None and q > 0:
            return float(q)
    if plan.annual_quota is None:
        return 0.0
    return sum(
        plan.annual_quota / 12 * ramp_fraction(start, m, plan.ramp) for m in months_between(*span)
    )


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


def _deal_cols(deal: dict[str, Any]) -> dict[str, Any]:
    return {
        "opportunity_id": deal["opportunity_id"],
        "close_date": deal["close_date"],
        "deal_amount": float(deal["amount"]),
        "credit_pct": float(deal["credit_pct"]),
    }


def _advances(out: _Lines, plan: CompPlan, rep_credits: pd.DataFrame, end: date) -> None:
    """Months before the plan period's last: each credited deal pays its advance."""
    rate = plan.rate * plan.advance_share
    deal: dict[str, Any]
    for deal in rep_credits.to_dict("records"):  # type: ignore[assignment]
        credited = float(deal["credited_amount"])
        out.add(
            "advance",
            credited * rate,
            f"advance at {plan.advance_share:.0%} of the base rate {plan.rate:.2%}; "
            f"trued up by the tiers on {end}",
            credited_amount=credited,
            rate=rate,
            **_deal_cols(deal),
        )


def _true_ups(out: _Lines, prior: pd.DataFrame, span: tuple[date, date]) -> None:
    """The period's last month: take back each deal's advances (the tiers now pay it)."""
    ps = pd.to_datetime(prior["period_start"]).dt.date if not prior.empty else None
    if ps is None:
        return
    paid = prior[(prior["kind"] == "advance") & (ps >= span[0]) & (ps <= span[1])]
    for opp, amount in paid.groupby("opportunity_id", sort=True)["amount"].sum().items():
        if abs(amount) > 0.005:
            out.add(
                "true_up",
                -float(amount),
                f"true-up: advances paid on this deal in {span[0]:%Y-%m}..{span[1]:%Y-%m}",
                opportunity_id=opp,
            )


def _caps(out: _Lines, plan: CompPlan, span: tuple[date, date], prior: pd.DataFrame) -> None:
    """Cut what exceeds the deal and period caps, one `cap` line each, saying which cap.

    What the plan period has paid so far (earlier months' advances and caps) counts too, so
    advances cannot run past a cap that the true-up would only enforce later.
    """
    kinds = ("commission", "advance", "true_up", "cap")
    ps = pd.to_datetime(prior["period_start"]).dt.date if not prior.empty else None
    before = prior[(ps >= span[0]) & (ps <= span[1])] if ps is not None else prior
    now = pd.DataFrame(out.rows, columns=LINE_COLUMNS)
    pays = [f[f["kind"].isin(kinds)] for f in (before, now)]
    n = len(out.rows)
    if plan.deal_cap is not None:
        per_deal = pd.Series(0.0, index=pd.Index([], dtype=object))
        for pay in pays:
            deal_sums = pay.dropna(subset=["opportunity_id"]).groupby("opportunity_id")["amount"]
            per_deal = per_deal.add(deal_sums.sum().astype(float), fill_value=0.0)
        for opp, amount in per_deal[per_deal > plan.deal_cap + 0.005].sort_index().items():
            out.add(
                "cap",
                plan.deal_cap - float(amount),
                f"deal cap {plan.deal_cap:,.2f}: {float(amount):,.2f} earned on the deal",
                opportunity_id=opp,
            )
    if plan.period_cap is None:
        return
    months = len(months_between(*span))
    limit = plan.period_cap * plan.variable_annual * months / 12
    total = sum(float(p["amount"].sum()) for p in pays) + sum(r["amount"] for r in out.rows[n:])
    if total > limit + 0.005:
        out.add(
            "cap",
            limit - total,
            f"period cap {plan.period_cap:g}× variable at target = {limit:,.2f} for "
            f"{span[0]:%Y-%m}..{span[1]:%Y-%m}: {total:,.2f} earned",
        )


def tiered(attainment: float, plan: CompPlan) -> float:
    """Σ over the plan's tiers of the attainment inside each × its multiplier (marginal)."""
    bounds = [t.from_attainment for t in plan.tiers] + [math.inf]
    return sum(
        max(0.0, min(attainment, bounds[i + 1]) - bounds[i]) * t.multiplier
        for i, t in enumerate(plan.tiers)
    )


def _activity_measures(
    out: _Lines, plan: CompPlan, inputs: PeriodInputs, span: tuple[date, date]
) -> None:
    """At the plan period's end: each activity measure's count against its target, tiered."""
    acts = inputs.activities
    months = len(months_between(*span))
    for m in plan.activity_measures:
        count = 0
        if acts is not None and not acts.empty:
            day = pd.to_datetime(acts["occurred_at"]).dt.date
            hit = (
                (acts["user_id"].astype(str) == out.user_id)
                & (acts["activity_type"] == m.activity_type)
                & (day >= span[0])
                & (day <= span[1])
            )
            if m.outcome is not None:
                hit &= acts["outcome"] == m.outcome
            count = int(hit.sum())
        target = m.target_per_month * months
        at_target = plan.variable_annual * m.weight * months / 12
        att = count / target
        out.add(
            "commission",
            at_target * tiered(att, plan),
            f"{m.name}: {count} {m.activity_type}s of {target:g} ({att:.0%}) through the tiers, "
            f"× {at_target:,.2f} at target ({m.weight:.0%} of variable)",
            credited_amount=float(count),
            rate=at_target / target,
        )


def _revenue_measures(
    out: _Lines, plan: CompPlan, inputs: PeriodInputs, span: tuple[date, date]
) -> None:
    """At the plan period's end: each revenue measure of the rep's book, tiered; an undefined
    one (no ARR on the book to retain) pays nothing and says why."""
    months = len(months_between(*span))
    for m in plan.revenue_measures:
        if inputs.book is None:
            raise RevOpsError(f"plan {plan.name!r}: measure {m.name} needs the revenue tables")
        got = measure(m, out.user_id, inputs.book, span)
        at_target = plan.variable_annual * m.weight * months / 12
        pay = 0.0 if got.attainment is None else at_target * tiered(got.attainment, plan)
        att = "" if got.attainment is None else f" ({got.attainment:.0%}) through the tiers"
        out.add(
            "commission",
            pay,
            f"{got.note}{att}, × {at_target:,.2f} at target ({m.weight:.0%} of variable)",
            credited_amount=got.value,
            rate=at_target,
        )


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
    cols = {"opportunity_id": object, "kind": object, "amount": float}
    parts = [f[list(cols)].astype(cols) for f in (prior, current) if not f.empty]
    paid = pd.concat(parts, ignore_index=True) if parts else current[list(cols)]
    window = timedelta(days=plan.clawback_days)
    for account_id, churned in zip(churns["account_id"], churns["churn_date"], strict=True):
        deals = inputs.deals[
            (inputs.deals["account_id"] == account_id)
            & (inputs.deals["close_date"] <= churned)
            & (inputs.deals["close_date"] >= churned - window)
        ]
        for deal in deals.itertuples(index=False):
            lines = paid[paid["opportunity_id"] == deal.opportunity_id]
            earned = float(lines.loc[lines["kind"].isin(EARNED_KINDS), "amount"].sum())
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
    spans: dict[tuple[date, date], pd.DataFrame] = {}
    for user_id in sorted(plans):
        plan = plans[user_id]
        start = _as_date(starts.get(user_id))

        def rep_deals(frame: pd.DataFrame, plan: CompPlan = plan, uid: str = user_id) -> Any:
            return frame[
                (frame["user_id"] == uid)
                & frame["opportunity_type"].isin(plan.opportunity_types)
                & (frame["credited_amount"] > 0)
            ]

        mine = rep_deals(credited)
        out = _Lines(inputs.period_start, user_id, plan.name)
        rep_prior = prior[prior["user_id"] == user_id]
        span = plan_period(
            plan, (inputs.period_start, inputs.period_end), inputs.fiscal_start_month
        )
        last_month = inputs.period_end >= span[1]
        if plan.rate <= 0:
            pass  # no bookings measure (an activity-only plan, say an SDR's)
        elif plan.plan_period == "month":
            _commission(out, plan, period_quota(user_id, plan, inputs, start), mine)
        elif not last_month:
            _advances(out, plan, mine, span[1])
        else:
            if span not in spans:
                spans[span] = _credited(inputs, comp, span)
            quota = plan_period_quota(user_id, plan, inputs, span, start)
            _commission(out, plan, quota, rep_deals(spans[span]))
            _true_ups(out, rep_prior, span)
        if last_month:
            _activity_measures(out, plan, inputs, span)
            _revenue_measures(out, plan, inputs, span)
        _caps(out, plan, span, rep_prior)
        _spiffs(out, plan, mine)
        _clawbacks(out, plan, inputs, rep_prior)
        if start is None or start <= inputs.period_end:
            out.add("base", plan.ote * plan.base_share / 12, "base salary: OTE × base share / 12")
        _draw(out, plan, inputs, rep_prior, start)
        rows.extend(out.rows)
    return pd.DataFrame(rows, columns=LINE_COLUMNS)


def _credited(inputs: PeriodInputs, comp: CompensationConfig, span: tuple[date, date]) -> Any:
    """Credited deals closed in `span` (up to the month processed), in close-date order."""
    deals = inputs.deals
    hit = deals[(deals["close_date"] >= span[0]) & (deals["close_date"] <= inputs.period_end)]
    out = credits(hit, inputs.splits, comp.max_split_percent).merge(
        hit, on="opportunity_id", how="left"
    )
    return out.sort_values(["close_date", "opportunity_id", "user_id"], kind="stable")


def _as_date(value: object) -> date | None:
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date()
    return value if isinstance(value, date) else None


def covered(plan: CompPlan, month: tuple[date, date], fiscal_start_month: int) -> tuple[date, date]:
    """Close dates a month's commission or advance lines pay: the month, or in the last month
    of a quarter or year plan the whole plan period so far (the tiers pay all of it then)."""
    span = plan_period(plan, month, fiscal_start_month)
    return (span[0], month[1]) if month[1] >= span[1] else month


def reconcile(
    lines: pd.DataFrame,
    deals: pd.DataFrame,
    splits: pd.DataFrame,
    period: tuple[date, date],
    types: tuple[str, ...],
    user_id: str | None = None,
) -> pd.DataFrame:
    """Per deal and rep: bookings × split share, worked out afresh, against the lines.

    `expected` credits every won deal of `types` closed in `period` (see `covered`) from the
    deals and splits tables (independently of the lines); `credited` sums the deal's commission
    slices and advances. A deal the engine skipped, or credited twice, shows as a non-zero
    `diff`.
    """
    won = deals[
        deals["opportunity_type"].isin(types)
        & (deals["close_date"] >= period[0])
        & (deals["close_date"] <= period[1])
        & (deals["amount"] > 0)
    ]
    expect = credits(won, splits, math.inf).rename(columns={"credited_amount": "expected"})
    com = lines[lines["kind"].isin(["commission", "advance"]) & lines["opportunity_id"].notna()]
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
