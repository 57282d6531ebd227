"""Pipeline analytics as of any date: conversion, time in stage, cycle, win rates, velocity,
coverage, skips and regressions.

Every function reads stage history up to the end of the as-of date only, so a number computed
for last March is the number a sales leader could have seen then, not one quietly revised by
what happened since. Closing (won or lost) is read from history too: the day a deal entered a
won stage is its win date, and its amount then is the value it won.

The functions are pure: Ibis tables in, Ibis tables out. `by` cuts (owner, segment, region,
opportunity_type) join a small attribute table built by `deal_attributes`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import ibis
import ibis.expr.types as ir

from revops.config.pipeline import PipelineConfig
from revops.errors import RevOpsError
from revops.pipeline.snapshot import pipeline_as_of
from revops.pipeline.stages import count_true, cutoff, days_between, stage_entries, stage_moves
from revops.warehouse.sums import exact_mean, exact_sum

DIMENSIONS = ("owner", "segment", "region", "opportunity_type")
DEFAULT_LOOKBACK_DAYS = 365


@dataclass(frozen=True)
class PipelineTables:
    """The warehouse tables pipeline analytics read (Ibis tables; nothing executed here)."""

    history: ir.Table
    opportunities: ir.Table
    accounts: ir.Table
    users: ir.Table
    activities: ir.Table
    quotas: ir.Table

    @classmethod
    def read(cls, table: Callable[[str], ir.Table]) -> PipelineTables:
        """The tables from a warehouse's `table` method (nothing is read until executed)."""
        return cls(
            history=table("opportunity_stage_history"),
            opportunities=table("opportunities"),
            accounts=table("accounts"),
            users=table("users"),
            activities=table("activities"),
            quotas=table("quotas"),
        )


def check_by(by: Sequence[str]) -> tuple[str, ...]:
    bad = [b for b in by if b not in DIMENSIONS]
    if bad:
        choices = ", ".join(DIMENSIONS)
        raise RevOpsError(
            f"cannot cut pipeline analytics by {', '.join(bad)}; choose from {choices}"
        )
    return tuple(by)


def deal_attributes(t: PipelineTables) -> ir.Table:
    """opportunity_id with owner, segment (the account's), region (the owner's) and type."""
    o = t.opportunities
    acc = t.accounts.select("account_id", "segment")
    usr = t.users.select(owner_id=t.users.user_id, region=t.users.region)
    j = o.left_join(acc, "account_id").left_join(usr, "owner_id")
    return j.select(
        "opportunity_id",
        "opportunity_type",
        "segment",
        "region",
        owner=j.owner_id,
        created_date=j.created_date,
    )


def _with_dims(expr: ir.Table, t: PipelineTables, by: Sequence[str]) -> ir.Table:
    if not by:
        return expr
    attrs = deal_attributes(t).select("opportunity_id", *by)
    return expr.join(attrs, "opportunity_id")


def _aggregate(table: ir.Table, by: Sequence[str], **metrics: ir.Value) -> ir.Table:
    """Group by `by`, or aggregate the whole table when there is nothing to group by."""
    return table.group_by(list(by)).aggregate(**metrics) if by else table.aggregate(**metrics)


# -- outcomes -------------------------------------------------------------------------------------
def closes(t: PipelineTables, stages: PipelineConfig, as_of: date) -> ir.Table:
    """Each deal's close as known on `as_of`: opportunity_id, closed_at, won, amount.

    The close is the deal's latest entry into a won or lost stage (a deal re-opened and closed
    again counts once, at its final close); deals open on the as-of date have no row.
    """
    e = stage_entries(t.history, stages, as_of)
    last = ibis.window(group_by=e.opportunity_id, order_by=[e.entered_at.desc(), e.entry_no.desc()])
    e = e.mutate(latest=ibis.row_number().over(last) == 0)
    c = e.filter(e.latest & (e.kind != "open"))
    return c.select("opportunity_id", closed_at=c.entered_at, won=c.kind == "won", amount=c.amount)


def win_rates(
    t: PipelineTables,
    stages: PipelineConfig,
    as_of: date,
    *,
    since: date | None = None,
    by: Sequence[str] = (),
) -> ir.Table:
    """Win rate by count and by value, average deal size and sales cycle for deals closed in
    [since, as_of] (default: the year to `as_of`).

    Columns: *by, closed, won, closed_value, won_value, win_rate, win_rate_value, avg_deal_size,
    cycle_days_mean, cycle_days_median, cycle_days_p90 (whole days from creation to the win).
    """
    by = check_by(by)
    start = since or as_of - timedelta(days=DEFAULT_LOOKBACK_DAYS)
    c = closes(t, stages, as_of)
    c = c.filter(c.closed_at >= ibis.literal(start).cast("timestamp"))
    created = t.opportunities.select("opportunity_id", "created_date")
    c = c.join(created, "opportunity_id")
    c = _with_dims(c, t, by)
    # Whole days from the creation date to the day of the win, as the dictionary's
    # sales_cycle_days counts them (created_date to close_date): one figure, one number.
    cycle = days_between(c.created_date.cast("timestamp"), c.closed_at.truncate("D"))
    won_cycle = ibis.cases((c.won, cycle), else_=ibis.null("float64"))
    # A deal without an amount is missing from the values (counted in *_missing_amount), never
    # a 0 that would drag the average deal size down.
    amount, unknown = c.amount, c.amount.isnull()
    agg = _aggregate(
        c,
        by,
        closed=c.count(),
        won=count_true(c.won),
        closed_value=exact_sum(amount),
        won_value=exact_sum(amount, where=c.won),
        won_priced=amount.count(where=c.won),
        closed_missing_amount=count_true(unknown),
        won_missing_amount=count_true(unknown & c.won),
        cycle_days_mean=exact_mean(won_cycle),
        cycle_days_median=won_cycle.quantile(0.5),
        cycle_days_p90=won_cycle.quantile(0.9),
    )
    # no won deal at all is $0 won; won deals that all lack an amount are an unknown value
    agg = agg.mutate(won_value=ibis.ifelse(agg.won == 0, 0.0, agg.won_value))
    return agg.mutate(
        win_rate=agg.won.cast("float64") / agg.closed.nullif(0),
        win_rate_value=agg.won_value / agg.closed_value.nullif(0),
        avg_deal_size=agg.won_value / agg.won_priced.nullif(0),
    ).drop("won_priced")


def open_pipeline(
    t: PipelineTables, stages: PipelineConfig, as_of: date, *, by: Sequence[str] = ()
) -> ir.Table:
    """Open deals and their value on `as_of` (from the point-in-time snapshot)."""
    by = check_by(by)
    snap = pipeline_as_of(t.history, t.opportunities, [as_of], stages, open_only=True)
    snap = _with_dims(snap, t, by)
    return _aggregate(
        snap,
        by,
        open_deals=snap.count(),
        open_value=exact_sum(snap.amount),
        open_missing_amount=count_true(snap.amount.isnull()),
    )


def sales_velocity(
    t: PipelineTables,
    stages: PipelineConfig,
    as_of: date,
    *,
    since: date | None = None,
    by: Sequence[str] = (),
    rates: ir.Table | None = None,
) -> ir.Table:
    """Sales velocity on `as_of`: open deals × win rate × average deal size ÷ cycle length.

    The revenue per day the open pipeline should produce at the recent (trailing year by
    default) win rate, deal size and sales cycle. Columns: *by, open_deals, open_value,
    win_rate, avg_deal_size, cycle_days, velocity_per_day. `rates` is `win_rates` with the
    same arguments when the caller has read it already (a row per `by` group): the engine
    shows both, and each alone holds half the memory the two hold in one query.
    """
    by = check_by(by)
    o = open_pipeline(t, stages, as_of, by=by)
    if rates is None:
        rates = win_rates(t, stages, as_of, since=since, by=by)
    w = rates.select(*by, "win_rate", "avg_deal_size", cycle_days="cycle_days_mean")
    j = o.join(w, list(by), how="left") if by else o.cross_join(w)
    j = j.select(*by, "open_deals", "open_value", "win_rate", "avg_deal_size", "cycle_days")
    return j.mutate(
        velocity_per_day=j.open_deals.cast("float64")
        * j.win_rate
        * j.avg_deal_size
        / j.cycle_days.nullif(0)
    )


def pipeline_created(
    t: PipelineTables,
    stages: PipelineConfig,
    as_of: date,
    *,
    grain: str = "month",
    since: date | None = None,
    by: Sequence[str] = (),
) -> ir.Table:
    """Deals created per period with their value when first recorded, as known on `as_of`.

    Columns: period, *by, created, created_value. The first history row's amount is what the
    rep entered at creation; later edits do not rewrite what a past period created.
    """
    by = check_by(by)
    e = stage_entries(t.history, stages, as_of)
    first = e.filter(e.entry_no == 1).select("opportunity_id", "amount")
    opp = t.opportunities.select("opportunity_id", "created_date")
    j = first.join(opp, "opportunity_id")
    if since is not None:
        j = j.filter(j.created_date >= since)
    j = j.filter(j.created_date <= as_of)
    j = _with_dims(j, t, by)
    j = j.mutate(period=j.created_date.truncate(_unit(grain)))
    return j.group_by(["period", *by]).aggregate(
        created=j.count(),
        created_value=exact_sum(j.amount),
        created_missing_amount=count_true(j.amount.isnull()),
    )


def _unit(grain: str) -> str:
    units = {"week": "W", "month": "M", "quarter": "Q", "year": "Y"}
    if grain not in units:
        raise RevOpsError(f"grain {grain!r} is not one of {', '.join(units)}")
    return units[grain]


# -- stages ---------------------------------------------------------------------------------------
def stage_conversion(
    t: PipelineTables, stages: PipelineConfig, as_of: date, *, by: Sequence[str] = ()
) -> ir.Table:
    """Of the deals that entered each open stage, the share that later reached the next stage
    or beyond (a won stage counts as beyond every open stage; a skip over the next stage counts
    as reaching it).

    Each deal counts once per stage (its first entry). Columns: *by, stage, rank, entered,
    advanced (reached a higher rank after entering), lost (closed lost without advancing),
    pending (still open without having advanced), conversion = advanced / entered and
    resolved_conversion = advanced / (advanced + lost), which ignores deals still in play.
    """
    by = check_by(by)
    e = stage_entries(t.history, stages, as_of)
    later = ibis.window(
        group_by=e.opportunity_id, order_by=[e.entered_at, e.entry_no], rows=(1, None)
    )
    whole = ibis.window(group_by=e.opportunity_id, order_by=[e.entered_at, e.entry_no])
    # The deal's final kind is its last entry's, read on every row by the same window, not
    # joined back from the latest entry: the join kept every entry materialized for both sides
    # (at 10x 143 MB of DuckDB's memory for this query).
    e = e.mutate(max_later=e.rank.max().over(later), final_kind=e.kind.last().over(whole))
    firsts = e.filter(e.first_entry & (e.kind == "open"))
    firsts = _with_dims(firsts, t, by)
    advanced = firsts.max_later.notnull() & (firsts.max_later > firsts.rank)
    agg = firsts.group_by([*by, "stage", "rank"]).aggregate(
        entered=firsts.count(),
        advanced=count_true(advanced),
        lost=count_true((~advanced) & (firsts.final_kind == "lost")),
        pending=count_true((~advanced) & (firsts.final_kind == "open")),
    )
    return agg.mutate(
        conversion=agg.advanced.cast("float64") / agg.entered.nullif(0),
        resolved_conversion=agg.advanced.cast("float64") / (agg.advanced + agg.lost).nullif(0),
    ).order_by([*by, "rank"])


def stage_durations(t: PipelineTables, stages: PipelineConfig, as_of: date) -> ir.Table:
    """Completed stays in open stages known on `as_of`: opportunity_id, stage, rank, days."""
    e = stage_entries(t.history, stages, as_of)
    done = e.filter((e.kind == "open") & e.left_at.notnull())
    return done.select(
        "opportunity_id", "stage", "rank", days=days_between(done.entered_at, done.left_at)
    )


def time_in_stage(
    t: PipelineTables, stages: PipelineConfig, as_of: date, *, by: Sequence[str] = ()
) -> ir.Table:
    """Days spent in each open stage: completed stays (median, mean, p75, p90) plus how many
    deals are in the stage right now and for how long (median).

    Columns: *by, stage, rank, stays, median_days, mean_days, p75_days, p90_days, in_stage_now,
    current_median_days.
    """
    by = check_by(by)
    e = stage_entries(t.history, stages, as_of)
    e = e.filter(e.kind == "open")
    end = ibis.literal(cutoff(as_of))
    e = e.mutate(
        done=e.left_at.notnull(),
        days=days_between(e.entered_at, e.left_at.fill_null(end)),
    )
    e = _with_dims(e, t, by)
    done_days = ibis.cases((e.done, e.days), else_=ibis.null("float64"))
    now_days = ibis.cases((~e.done, e.days), else_=ibis.null("float64"))
    agg = e.group_by([*by, "stage", "rank"]).aggregate(
        stays=count_true(e.done),
        median_days=done_days.quantile(0.5),
        mean_days=exact_mean(done_days),  # the same in every run (warehouse.sums)
        p75_days=done_days.quantile(0.75),
        p90_days=done_days.quantile(0.9),
        in_stage_now=count_true(~e.done),
        current_median_days=now_days.quantile(0.5),
    )
    return agg.order_by([*by, "rank"])


def skips_and_regressions(
    t: PipelineTables, stages: PipelineConfig, as_of: date, *, by: Sequence[str] = ()
) -> ir.Table:
    """Moves out of each open stage: how many skipped ahead and how many went back.

    Columns: *by, stage, rank, moves, skips, stages_skipped, regressions, skip_rate,
    regression_rate (shares of the moves out of the stage).
    """
    by = check_by(by)
    m = stage_moves(t.history, stages, as_of)
    m = _with_dims(m, t, by)
    rank_of = {name: i for i, name in enumerate(stages.open_stages)}
    m = m.mutate(rank=ibis.cases(*[(m.from_stage == n, r) for n, r in rank_of.items()], else_=-1))
    agg = m.group_by([*by, m.from_stage.name("stage"), "rank"]).aggregate(
        moves=m.count(),
        skips=count_true(m.is_skip),
        stages_skipped=m.skipped.sum(),
        regressions=count_true(m.is_regression),
    )
    return agg.mutate(
        skip_rate=agg.skips.cast("float64") / agg.moves.nullif(0),
        regression_rate=agg.regressions.cast("float64") / agg.moves.nullif(0),
    ).order_by([*by, "rank"])


# -- coverage -------------------------------------------------------------------------------------
def _quotas_on(t: PipelineTables, day: date) -> ir.Table:
    """The quotas whose period contains `day`: user_id, period_start, period_end, quota."""
    d = ibis.literal(day)
    q = t.quotas.filter((t.quotas.period_start <= d) & (t.quotas.period_end >= d))
    return q.select("user_id", "period_start", "period_end", quota=q.amount)


def quota_bookings(
    t: PipelineTables, stages: PipelineConfig, as_of: date, quota_day: date | None = None
) -> ir.Table:
    """Per quota of `coverage`, what its holder won in the period up to `as_of`: user_id,
    period_start, period_end, quota, booked."""
    q = _quotas_on(t, quota_day or as_of)
    c = closes(t, stages, as_of).filter(lambda r: r.won)
    own = t.opportunities.select("opportunity_id", "owner_id")
    won = c.join(own, "opportunity_id")
    qb = q.left_join(
        won,
        [
            q.user_id == won.owner_id,
            won.closed_at >= q.period_start.cast("timestamp"),
        ],
    )
    # no won deal is 0 booked; won deals whose amounts are all missing leave it unknown
    return qb.group_by(["user_id", "period_start", "period_end", "quota"]).aggregate(
        booked=ibis.ifelse(qb.opportunity_id.count() == 0, 0.0, exact_sum(qb.amount))
    )


def quota_pipeline(
    t: PipelineTables, stages: PipelineConfig, as_of: date, quota_day: date | None = None
) -> ir.Table:
    """Per quota of `coverage`, its holder's open pipeline on `as_of` closing in the period:
    user_id, period_start, open_pipeline."""
    q = _quotas_on(t, quota_day or as_of)
    snap = pipeline_as_of(t.history, t.opportunities, [as_of], stages, open_only=True)
    qp = q.left_join(
        snap,
        [
            q.user_id == snap.owner_id,
            snap.close_date >= q.period_start,
            snap.close_date <= q.period_end,
        ],
    )
    return qp.group_by(["user_id", "period_start"]).aggregate(
        open_pipeline=ibis.ifelse(qp.opportunity_id.count() == 0, 0.0, exact_sum(qp.amount))
    )


def coverage(
    t: PipelineTables,
    stages: PipelineConfig,
    as_of: date,
    quota_day: date | None = None,
    *,
    booked: ir.Table | None = None,
    pipeline: ir.Table | None = None,
) -> ir.Table:
    """Pipeline coverage per quota holder on `as_of`, and for the company.

    `quota_day` picks the quota period (default: the one containing `as_of`); on a quarter's
    last evening nothing is left to sell in it, so reports pass the next day to show the
    coming quarter's coverage. For each quota whose period contains that day: remaining quota
    = quota − bookings won in the period up to `as_of` (floored at zero); open pipeline = open
    deals of the holder whose close date (as known then) falls in the period; coverage = open
    pipeline ÷ remaining quota. Managers' quotas are shown but left out of the company row when
    a direct report also holds a quota that period, so a team is not counted twice. Columns:
    user_id, period_start, period_end, quota, booked, remaining, open_pipeline, coverage,
    in_total. `booked` and `pipeline` are `quota_bookings` and `quota_pipeline` (a row per
    quota) when the caller has read them already: in one query the deals' closes and the
    open pipeline each held their windows over all stage history at once.
    """
    q = _quotas_on(t, quota_day or as_of)
    if booked is None:
        booked = quota_bookings(t, stages, as_of, quota_day)
    pipe = quota_pipeline(t, stages, as_of, quota_day) if pipeline is None else pipeline

    j = booked.join(pipe, ["user_id", "period_start"])
    j = j.mutate(remaining=ibis.greatest(j.quota - j.booked, 0.0))
    managers = t.users.select(mgr=t.users.manager_id, report=t.users.user_id).join(
        q.select(report=q.user_id), "report"
    )
    managed = managers.select(user_id=managers.mgr).distinct()
    j = j.left_join(managed.mutate(is_manager=True), "user_id")
    j = j.select(
        "user_id",
        "period_start",
        "period_end",
        "quota",
        "booked",
        "remaining",
        "open_pipeline",
        coverage=j.open_pipeline / j.remaining.nullif(0.0),
        in_total=j.is_manager.isnull(),
    )
    return j.order_by("user_id")


def coverage_total(rows: ir.Table) -> ir.Table:
    """The company row of `coverage`: sums over the holders counted in the total."""
    r = rows.filter(rows.in_total)
    agg = r.aggregate(
        quota=exact_sum(r.quota),
        booked=exact_sum(r.booked),
        remaining=exact_sum(r.remaining),
        open_pipeline=exact_sum(r.open_pipeline),
    )
    return agg.mutate(coverage=agg.open_pipeline / agg.remaining.nullif(0.0))


# -- over time ------------------------------------------------------------------------------------
def weekly_dates(start: date, end: date) -> list[date]:
    """Every 7th day from `start` through `end` (the snapshot grid of the report and bench)."""
    if end < start:
        raise RevOpsError(f"end {end} is before start {start}")
    n = (end - start).days // 7
    return [start + timedelta(days=7 * i) for i in range(n + 1)]


def pipeline_over_time(
    t: PipelineTables, stages: PipelineConfig, dates: Sequence[date], *, by: str = "stage"
) -> ir.Table:
    """Open pipeline on each date, split by stage (or a dimension): as_of, key, deals, value."""
    snap = pipeline_as_of(t.history, t.opportunities, dates, stages, open_only=True)
    if by != "stage":
        snap = _with_dims(snap, t, check_by([by]))
    return snap.group_by(["as_of", snap[by].name("key")]).aggregate(
        deals=snap.count(),
        value=exact_sum(snap.amount),
        missing_amount=count_true(snap.amount.isnull()),
    )
