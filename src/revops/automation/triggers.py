"""Triggers: which source rows fire an automation, as Ibis expressions over warehouse tables.

Each trigger turns its source table into candidate events with the same columns: the record
(`record_id`), its owner at the time, when the change happened (`occurred_at`), the columns that
identify the source row (`KEYS`, joined into the event's source key, so one row fires one event
however often triggers run) and a few particulars for messages. Only changes within
`lookback_hours` before `at` fire, so loading last year's history fires nothing.

Implemented: lifecycle stage change, score crossing a threshold, SLA due soon and breached,
no follow-up within N business minutes of an assignment,
deal pushed, regressed and stalled, a deal's forecast call changing, a pipeline hygiene flag
raised (the rules of `pipeline.hygiene`, evaluated as of the day), health at risk (entering it),
consent change, renewal due (an active subscription's next anniversary of its start date, on
the trigger's term, within N days).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import date, datetime, timedelta

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from revops.automation.sources import Tables
from revops.config.automation import Trigger
from revops.config.pipeline import PipelineConfig
from revops.config.routing import RoutingConfig, WorkingHours
from revops.errors import RevOpsError
from revops.routing.calendar import aware
from revops.routing.sla import business_deadline
from revops.warehouse.clock import naive_utc

# The source table each trigger type reads; the outbox hook runs a trigger only when a write
# touches its source. Hygiene flags are evaluated by passes only: they read the whole pipeline.
SOURCES: dict[str, str | None] = {
    "lifecycle_stage_change": "lifecycle_history",
    "score_threshold": "lead_scores",
    "sla_due_soon": "sla_clocks",
    "sla_breached": "sla_clocks",
    "sla_no_followup": "sla_clocks",
    "deal_pushed": "pipeline_changes",
    "deal_regressed": "pipeline_changes",
    "deal_stalled": "opportunity_stage_history",
    "forecast_call_change": "opportunity_stage_history",
    "hygiene_flag": None,
    "health_at_risk": "health_scores",
    "consent_change": "consent_ledger",
    "renewal_due": "subscriptions",
}
# Columns identifying the source row of each trigger's candidates.
KEYS: dict[str, tuple[str, ...]] = {
    "lifecycle_stage_change": ("source_row",),
    "score_threshold": ("record_id", "scored_at"),
    "sla_due_soon": ("source_row",),
    "sla_breached": ("source_row",),
    "sla_no_followup": ("decision_id",),
    "deal_pushed": ("source_row",),
    "deal_regressed": ("source_row",),
    "deal_stalled": ("record_id", "last_change"),
    "forecast_call_change": ("source_row",),
    "hygiene_flag": ("record_id", "rule", "close_date", "last_activity_at", "stage"),
    "health_at_risk": ("record_id", "month"),
    "consent_change": ("source_row",),
    "renewal_due": ("subscription_id", "renewal_date"),
}

# The source-table columns whose values make up KEYS, in order: the outbox hook keeps only the
# candidates a write's own rows produce (None: a time-based trigger with no such row).
SOURCE_KEYS: dict[str, tuple[str, ...] | None] = {
    "lifecycle_stage_change": ("transition_id",),
    "score_threshold": ("person_id", "scored_at"),
    "sla_due_soon": ("clock_id",),
    "sla_breached": ("clock_id",),
    "sla_no_followup": None,
    "deal_pushed": ("change_id",),
    "deal_regressed": ("change_id",),
    "deal_stalled": None,
    "forecast_call_change": ("history_id",),
    "hygiene_flag": None,
    "health_at_risk": ("account_id", "month"),
    "consent_change": ("event_id",),
    "renewal_due": None,
}


def _owner(tables: Tables, name: str, pk: str, rows: ir.Table, column: str) -> ir.Table:
    """`rows` with the owner of the record in `column` (from table `name`)."""
    rec = tables(name)
    owners = rec.select(_rid=rec[pk], owner_id=rec.owner_id)
    joined = rows.left_join(owners, rows[column] == owners._rid)
    return joined.drop("_rid")


def _window(t: ir.Table, column: str, at: datetime, trigger: Trigger) -> ir.BooleanValue:
    since = at - timedelta(hours=trigger.lookback_hours)
    return (t[column] >= ibis.literal(since)) & (t[column] <= ibis.literal(at))


def lifecycle_stage_change(tables: Tables, trigger: Trigger, at: datetime) -> ir.Table:
    h = tables("lifecycle_history")
    cond = _window(h, "changed_at", at, trigger)
    if trigger.to_stage is not None:
        cond &= h.to_stage == trigger.to_stage
    if trigger.from_stage is not None:
        cond &= h.from_stage == trigger.from_stage
    rows = h.filter(cond).select(
        record_id=h.person_id,
        source_row=h.transition_id,
        occurred_at=h.changed_at,
        from_stage=h.from_stage,
        to_stage=h.to_stage,
    )
    return _owner(tables, "persons", "person_id", rows, "record_id")


def score_threshold(tables: Tables, trigger: Trigger, at: datetime) -> ir.Table:
    """A score reaching the threshold from below (or on the person's first score)."""
    s = tables("lead_scores")
    assert trigger.threshold is not None
    w = ibis.window(group_by=s.person_id, order_by=s.scored_at)
    scored = s.mutate(_value=s[trigger.score], _prev=s[trigger.score].lag().over(w))
    limit = ibis.literal(trigger.threshold)
    cond = _window(scored, "scored_at", at, trigger) & (scored._value >= limit)
    cond &= scored._prev.isnull() | (scored._prev < limit)
    rows = scored.filter(cond).select(
        record_id=scored.person_id,
        scored_at=scored.scored_at,
        occurred_at=scored.scored_at,
        score=scored._value,
        previous=scored._prev,
    )
    return _owner(tables, "persons", "person_id", rows, "record_id")


def _clock_rows(c: ir.Table, cond: ir.BooleanValue, breach: ir.Value) -> ir.Table:
    return c.filter(cond).select(
        record_id=c.person_id,
        source_row=c.clock_id,
        owner_id=c.owner_id,
        occurred_at=c.due_at,
        due_at=c.due_at,
        priority=c.priority,
        breach=breach,
    )


def sla_breached(tables: Tables, trigger: Trigger, at: datetime) -> ir.Table:
    """A clock flagged breached, or still running past its deadline (no follow-up): the owner's
    Nth breach on the lead, N counted as `route breaches` will count it."""
    c = tables("sla_clocks")
    running_late = c.closed_at.isnull() & c.responded_at.isnull() & (c.due_at < ibis.literal(at))
    flagged = c.breached.fill_null(False)
    number = ibis.ifelse(flagged, c.breach_count, c.breach_count + 1)
    cond = (flagged | running_late) & (number >= trigger.min_breaches)
    return _clock_rows(c, cond & _window(c, "due_at", at, trigger), number)


def sla_due_soon(tables: Tables, trigger: Trigger, at: datetime) -> ir.Table:
    c = tables("sla_clocks")
    assert trigger.within_minutes is not None
    until = at + timedelta(minutes=trigger.within_minutes)
    running = c.closed_at.isnull() & c.responded_at.isnull()
    cond = running & (c.due_at >= ibis.literal(at)) & (c.due_at <= ibis.literal(until))
    return _clock_rows(c, cond, c.breach_count)


_NO_FOLLOWUP = pa.schema(
    [
        ("record_id", pa.string()),
        ("source_row", pa.string()),
        ("decision_id", pa.string()),
        ("owner_id", pa.string()),
        ("occurred_at", pa.timestamp("us")),
        ("due_at", pa.timestamp("us")),
        ("priority", pa.string()),
        ("breach", pa.int64()),
        ("started_at", pa.timestamp("us")),
    ]
)


# More than any two UTC offsets of one zone can differ (each is under a day either side).
_OFFSET_SPAN = timedelta(days=2)
# How far back the bound is looked for: beyond it, every old clock is read as before.
_FURTHEST = timedelta(days=4096)


def too_old_to_fire(
    since: datetime, minutes: int, timezone: str, hours: WorkingHours, holidays: Collection[date]
) -> datetime | None:
    """An instant (naive UTC) such that a clock started then or earlier in `timezone` has its
    follow-up deadline before `since`, so it can no longer fire; None when none is found.

    The deadline in local wall time never decreases as the local start moves later, and a zone's
    wall time and UTC differ by less than `_OFFSET_SPAN` however its offset changes: so if a start
    L is due before `since - _OFFSET_SPAN`, every start up to `L - _OFFSET_SPAN` is due before
    `since`. L is the latest whole minute found by bisection; the bound only has to be safe, and
    lets the old backlog of unanswered clocks stay unread."""
    limit = since - _OFFSET_SPAN

    def early(start: datetime) -> bool:
        return naive_utc(business_deadline(start, minutes, timezone, hours, holidays)) < limit

    late, step = limit, timedelta(days=1)
    good = limit - step
    try:
        while not early(good):
            late, step = good, step * 2
            if step > _FURTHEST:
                return None
            good = limit - step
        while late - good > timedelta(minutes=1):
            middle = good + (late - good) // 2
            good, late = (middle, late) if early(middle) else (good, middle)
    except (RevOpsError, KeyError, ValueError):
        # no business time at all, or a zone no one can read: nothing is left unread, and the
        # clocks that need the zone fail as they always did
        return None
    return good - _OFFSET_SPAN


def sla_no_followup(
    tables: Tables, trigger: Trigger, at: datetime, routing: RoutingConfig
) -> ir.Table:
    """A lead still unanswered `after_minutes` business minutes after it was assigned: fires
    at that instant (within the lookback), once per assignment.

    An assignment is a routing decision: its first clock starts at the assignment and the
    re-armed clocks after breaches keep its decision_id, so the wait is counted from the first
    clock's start and the event is keyed by the decision (a lead whose short SLA was already
    breached and re-armed still gets its one alert; a re-routed lead, a new decision, gets a
    new one). It fires while the decision has a running clock (no response, not closed).

    Business time is the SLA's: the owner's timezone (users.timezone, else the routing
    default), `routing.sla.business_hours` and `routing.holidays`, through the same
    `business_deadline` that set the clocks' own due_at. No SQL dialect walks a working
    calendar, so the running clocks are read and their follow-up deadlines computed here, all
    but those provably due before the lookback (`too_old_to_fire`): the intake hook runs this on
    every applied batch, and unanswered leads pile up. The
    answer is a memtable with the columns of the other clock triggers plus `decision_id` and
    `started_at` (the assignment).
    """
    minutes = trigger.after_minutes
    assert minutes is not None
    since = at - timedelta(hours=trigger.lookback_hours)
    c = tables("sla_clocks")
    firsts = c.group_by(_did=c.decision_id).aggregate(assigned_at=c.started_at.min())
    running = c.filter(c.closed_at.isnull(), c.responded_at.isnull())
    joined = running.join(firsts, running.decision_id == firsts._did)
    # business minutes are never fewer than wall minutes: an assignment younger than
    # `minutes` cannot be due yet, so it is not read at all
    young = ibis.literal(at - timedelta(minutes=minutes))
    recent = joined.assigned_at <= young
    # nor is an assignment so old that its deadline fell before the lookback in every zone
    # (users are the reps: few, read whole)
    u = tables("users").select("user_id", "timezone").to_pyarrow().to_pylist()
    zones = {r["user_id"]: r["timezone"] for r in u}
    hours, holidays = routing.sla.business_hours, routing.holidays
    in_use = {str(z) for z in zones.values() if z} | {routing.default_timezone}
    bounds = [too_old_to_fire(since, minutes, tz, hours, holidays) for tz in sorted(in_use)]
    if all(b is not None for b in bounds):
        recent &= joined.assigned_at > ibis.literal(min(b for b in bounds if b is not None))
    clocks = (
        joined.filter(recent)
        .select(
            "clock_id",
            "person_id",
            "decision_id",
            "owner_id",
            "priority",
            "assigned_at",
            "due_at",
            "breach_count",
        )
        .to_pyarrow()
    )
    out: list[dict[str, object]] = []
    for r in clocks.to_pylist():
        tz = zones.get(r["owner_id"]) or routing.default_timezone
        start = aware(r["assigned_at"])
        due = naive_utc(business_deadline(start, minutes, tz, hours, holidays))
        if since <= due <= at:
            out.append(
                {
                    "record_id": r["person_id"],
                    "source_row": r["clock_id"],
                    "decision_id": r["decision_id"],
                    "owner_id": r["owner_id"],
                    "occurred_at": due,
                    "due_at": r["due_at"],
                    "priority": r["priority"],
                    "breach": r["breach_count"],
                    "started_at": r["assigned_at"],
                }
            )
    out.sort(key=lambda r: (str(r["occurred_at"]), str(r["decision_id"])))
    return ibis.memtable(pa.Table.from_pylist(out, schema=_NO_FOLLOWUP))


def _deal_change(tables: Tables, trigger: Trigger, at: datetime, flag: str) -> ir.Table:
    p = tables("pipeline_changes")
    cond = p[flag].fill_null(False) & _window(p, "changed_at", at, trigger)
    rows = p.filter(cond).select(
        record_id=p.opportunity_id,
        source_row=p.change_id,
        occurred_at=p.changed_at,
        from_stage=p.from_stage,
        to_stage=p.to_stage,
        days_pushed=p.days_pushed,
    )
    return _owner(tables, "opportunities", "opportunity_id", rows, "record_id")


def deal_pushed(tables: Tables, trigger: Trigger, at: datetime) -> ir.Table:
    return _deal_change(tables, trigger, at, "is_push")


def deal_regressed(tables: Tables, trigger: Trigger, at: datetime) -> ir.Table:
    return _deal_change(tables, trigger, at, "is_regression")


def deal_stalled(tables: Tables, trigger: Trigger, at: datetime) -> ir.Table:
    """An open deal whose stage has not changed for `days`: it fires when the quiet spell
    reaches `days` (within the lookback), once per spell."""
    assert trigger.days is not None
    h = tables("opportunity_stage_history")
    o = tables("opportunities")
    last = h.group_by(h.opportunity_id).aggregate(last_change=h.changed_at.max())
    quiet = last.mutate(occurred_at=last.last_change + ibis.interval(days=trigger.days))
    open_deals = o.filter(~o.is_closed.fill_null(False)).select(
        _oid=o.opportunity_id, owner_id=o.owner_id, stage=o.stage
    )
    joined = quiet.join(open_deals, quiet.opportunity_id == open_deals._oid)
    cond = _window(joined, "occurred_at", at, trigger)
    return joined.filter(cond).select(
        record_id=joined.opportunity_id,
        last_change=joined.last_change,
        owner_id=joined.owner_id,
        occurred_at=joined.occurred_at,
        stage=joined.stage,
    )


def forecast_call_change(tables: Tables, trigger: Trigger, at: datetime) -> ir.Table:
    """A deal's forecast category differing from its previous stage-history row."""
    h = tables("opportunity_stage_history")
    w = ibis.window(group_by=h.opportunity_id, order_by=[h.changed_at, h.history_id])
    calls = h.mutate(_before=h.forecast_category.lag().over(w))
    changed = calls._before.notnull() & calls.forecast_category.notnull()
    cond = changed & (calls.forecast_category != calls._before)
    cond &= _window(calls, "changed_at", at, trigger)
    if trigger.to_category is not None:
        cond &= calls.forecast_category == trigger.to_category
    rows = calls.filter(cond).select(
        record_id=calls.opportunity_id,
        source_row=calls.history_id,
        occurred_at=calls.changed_at,
        from_category=calls._before,
        to_category=calls.forecast_category,
        amount=calls.amount,
    )
    return _owner(tables, "opportunities", "opportunity_id", rows, "record_id")


def hygiene_flag(
    tables: Tables, trigger: Trigger, at: datetime, pipeline: PipelineConfig
) -> ir.Table:
    """A hygiene rule firing on an open deal as of `at`'s day. One event per episode: the key
    holds the close date, last activity and stage, so a deal flagged again after any of them
    changed (a new close date now past, new silence, a new stage to be stuck in) fires again."""
    from revops.pipeline.analytics import PipelineTables
    from revops.pipeline.hygiene import deal_flags, flag_rows

    flags = flag_rows(deal_flags(PipelineTables.read(tables), pipeline, at.date()), pipeline)
    if trigger.rule is not None:
        flags = flags.filter(flags.rule == trigger.rule)
    return flags.select(
        record_id=flags.opportunity_id,
        rule=flags.rule,
        close_date=flags.close_date,
        last_activity_at=flags.last_activity_at,
        stage=flags.stage,
        owner_id=flags.owner_id,
        occurred_at=ibis.literal(at),
        value=flags.value,
        threshold=flags.threshold,
    )


def health_at_risk(tables: Tables, trigger: Trigger, at: datetime) -> ir.Table:
    """An account entering at-risk: its score falls below `below` (or its 3-month trend drops
    by `drop` or more) at a month end where the month before it did not. The event happens at
    the scored month's end, so the lookback must span the time the revenue run takes to land."""
    h = tables("health_scores")
    risky = ibis.literal(False)
    if trigger.below is not None:
        risky |= h.score < trigger.below
    if trigger.drop is not None:
        risky |= h.trend_3m <= -trigger.drop
    w = ibis.window(group_by=h.account_id, order_by=h.month)
    scored = h.mutate(_risky=risky.fill_null(False))
    scored = scored.mutate(_before=scored._risky.lag().over(w).fill_null(False))
    month_end = (scored.month.cast("timestamp") + ibis.interval(months=1)).name("occurred_at")
    scored = scored.mutate(occurred_at=month_end)
    cond = scored._risky & ~scored._before & _window(scored, "occurred_at", at, trigger)
    rows = scored.filter(cond).select(
        record_id=scored.account_id,
        month=scored.month,
        occurred_at=scored.occurred_at,
        score=scored.score,
        trend_3m=scored.trend_3m,
    )
    return _owner(tables, "accounts", "account_id", rows, "record_id")


def consent_change(tables: Tables, trigger: Trigger, at: datetime) -> ir.Table:
    ledger = tables("consent_ledger")
    cond = _window(ledger, "recorded_at", at, trigger)
    if trigger.purpose is not None:
        cond &= ledger.purpose.isin([trigger.purpose, "*"])
    if trigger.status is not None:
        cond &= ledger.status == trigger.status
    rows = ledger.filter(cond).select(
        record_id=ledger.person_id,
        source_row=ledger.event_id,
        occurred_at=ledger.recorded_at,
        purpose=ledger.purpose,
        channel=ledger.channel,
        status=ledger.status,
    )
    return _owner(tables, "persons", "person_id", rows, "record_id")


def renewal_due(tables: Tables, trigger: Trigger, at: datetime) -> ir.Table:
    """An active subscription (no end date) whose next renewal falls within `days` days of
    `at`'s day: it fires on the account, once per renewal (keyed by subscription and date).

    Subscriptions store no renewal date, so it is the next anniversary of `start_date` on a
    term of `term_months`: start + k terms for the smallest k >= 1 not before `at`'s day (month
    arithmetic clamps to the month's last day, as both backends do). There is no lookback: a
    renewal still ahead is live, however long it has been within reach, like `sla_due_soon`.
    The event happens when the renewal came within reach (renewal date minus `days`).
    """
    assert trigger.days is not None
    term, today = trigger.term_months, at.date()
    s = tables("subscriptions")
    active = s.filter(s.end_date.isnull())
    elapsed = (today.year - active.start_date.year()) * 12 + (
        today.month - active.start_date.month()
    )
    # whole terms before `at`'s month: the renewal is that many terms on, or one more
    terms = ibis.greatest(elapsed // term, 1)
    first = active.start_date + (terms * term).as_interval("M")
    second = active.start_date + ((terms + 1) * term).as_interval("M")
    day = ibis.literal(today)
    renewal = ibis.ifelse(first.cast("date") >= day, first, second).cast("date")
    due = active.mutate(renewal_date=renewal)
    until = ibis.literal(today + timedelta(days=trigger.days))
    due = due.filter(due.renewal_date >= day, due.renewal_date <= until)
    rows = due.select(
        record_id=due.account_id,
        subscription_id=due.subscription_id,
        renewal_date=due.renewal_date,
        occurred_at=(due.renewal_date - ibis.interval(days=trigger.days)).cast("timestamp"),
        product=due.product,
        mrr=due.mrr,
    )
    return _owner(tables, "accounts", "account_id", rows, "record_id")


CANDIDATES: dict[str, Callable[[Tables, Trigger, datetime], ir.Table]] = {
    "lifecycle_stage_change": lifecycle_stage_change,
    "score_threshold": score_threshold,
    "sla_due_soon": sla_due_soon,
    "sla_breached": sla_breached,
    "deal_pushed": deal_pushed,
    "deal_regressed": deal_regressed,
    "deal_stalled": deal_stalled,
    "forecast_call_change": forecast_call_change,
    "health_at_risk": health_at_risk,
    "consent_change": consent_change,
    "renewal_due": renewal_due,
}


def candidates(
    tables: Tables,
    trigger: Trigger,
    at: datetime,
    pipeline: PipelineConfig | None = None,
    routing: RoutingConfig | None = None,
) -> ir.Table:
    """Rows that fire `trigger` as of `at` (naive UTC): record_id, owner_id, occurred_at, the
    trigger's key columns and particulars. `pipeline` holds the hygiene rules, `routing` the
    SLA calendar (business hours, holidays, default timezone) of `sla_no_followup`."""
    if trigger.type == "hygiene_flag":
        return hygiene_flag(tables, trigger, at, pipeline or PipelineConfig())
    if trigger.type == "sla_no_followup":
        return sla_no_followup(tables, trigger, at, routing or RoutingConfig())
    return CANDIDATES[trigger.type](tables, trigger, at)
