"""Pipeline hygiene: the rules in `pipeline.hygiene` of revops.yaml, evaluated on open deals as
of a date, each flag carrying its evidence; and a per-rep scorecard.

A forecast is only as good as the deals under it. Each rule names one way an open deal stops
telling the truth: a close date already behind us, no one working it, no amount or next step,
stuck far longer than deals usually stay in its stage, or a close date pushed again and again.
Rules are evaluated on the deal as it stood on the as-of date (stage, amount and close date from
stage history; activities and pushes up to that day; the usual stage time from stays completed
by then). `next_step` is not historised in the CRM, so that rule reads today's value.

`deal_flags` is one wide row per open deal (a boolean per rule plus the numbers behind it);
`flag_rows` turns it into one row per (deal, rule that fired); `evidence` words them for people.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from revops.config.pipeline import PipelineConfig
from revops.pipeline.analytics import PipelineTables, stage_durations
from revops.pipeline.snapshot import pipeline_as_of
from revops.pipeline.stages import (
    close_date_pushes,
    count_true,
    cutoff,
    days_between,
    stage_entries,
)
from revops.warehouse.sums import exact_sum

RULES = (
    "close_date_past",
    "no_activity",
    "missing_amount",
    "missing_next_step",
    "stuck_in_stage",
    "pushed_close_date",
)
RULE_LABELS = {
    "close_date_past": "Close date in the past",
    "no_activity": "No recent activity",
    "missing_amount": "Missing amount",
    "missing_next_step": "Missing next step",
    "stuck_in_stage": "Stuck in stage",
    "pushed_close_date": "Close date pushed",
}


def usual_stage_days(t: PipelineTables, stages: PipelineConfig, as_of: date) -> ir.Table:
    """Per open stage, the configured percentile of completed stays and how many there were."""
    rule = stages.hygiene.stuck_in_stage
    d = stage_durations(t, stages, as_of)
    return d.group_by("stage").aggregate(
        usual_days=d.days.quantile(rule.percentile / 100), samples=d.count()
    )


def deal_flags(
    t: PipelineTables, stages: PipelineConfig, as_of: date, usual: ir.Table | None = None
) -> ir.Table:
    """One row per deal open on `as_of` with a boolean per rule and the evidence behind each.

    Columns: as_of, opportunity_id, owner_id, stage, amount, close_date, next_step, still_open,
    days_overdue, last_activity_at, days_idle, days_in_stage, usual_days, pushes,
    first_close_date, one boolean column per rule in RULES (False for disabled rules), flagged.
    `usual` is `usual_stage_days` when the caller has read it already (the engine reads its
    few rows first, so its windows over every deal's history do not run inside this query).
    """
    cfg = stages.hygiene
    end = ibis.literal(cutoff(as_of))
    snap = pipeline_as_of(t.history, t.opportunities, [as_of], stages, open_only=True)
    # Every per-deal figure below is read for the open deals only: their history and
    # activities, not every deal's (the windows partition by deal, so a deal's rows give the
    # same figures alone), which keeps each join's build side the size of the open pipeline.
    open_ids = snap.select("opportunity_id")
    history = t.history.semi_join(open_ids, "opportunity_id")

    acts = t.activities.filter(
        t.activities.opportunity_id.notnull() & (t.activities.occurred_at < end)
    ).semi_join(open_ids, "opportunity_id")
    last_act = acts.group_by("opportunity_id").aggregate(last_activity_at=acts.occurred_at.max())

    e = stage_entries(history, stages, as_of)
    current = e.filter(e.left_at.isnull()).select("opportunity_id", stage_entered_at=e.entered_at)

    pushes = close_date_pushes(history, as_of).select(
        "opportunity_id", "pushes", "first_close_date"
    )
    if usual is None:
        usual = usual_stage_days(t, stages, as_of)
    # next_step is today's value; for a deal closed since the as-of date it says nothing about
    # then, so it is only judged on deals still open now.
    o = t.opportunities
    nxt = o.select("opportunity_id", "next_step", still_open=~o.is_closed)

    j = (
        snap.left_join(last_act, "opportunity_id")
        .left_join(current, "opportunity_id")
        .left_join(pushes, "opportunity_id")
        .left_join(nxt, "opportunity_id")
        .left_join(usual, "stage")
    )
    since = j.last_activity_at.fill_null(j.created_date.cast("timestamp"))
    j = j.select(
        "as_of",
        "opportunity_id",
        "owner_id",
        "stage",
        "amount",
        "close_date",
        "next_step",
        "still_open",
        "last_activity_at",
        "first_close_date",
        days_overdue=ibis.literal(as_of).delta(j.close_date, unit="day"),
        days_idle=days_between(since, end),
        days_in_stage=days_between(j.stage_entered_at, end),
        usual_days=ibis.cases(
            (j.samples >= cfg.stuck_in_stage.min_samples, j.usual_days),
            else_=ibis.null("float64"),
        ),
        pushes=j.pushes.fill_null(0),
    )
    no = ibis.literal(False)
    flags = {
        "close_date_past": (j.days_overdue > cfg.close_date_past.grace_days).fill_null(False)
        if cfg.close_date_past.enabled
        else no,
        "no_activity": (j.days_idle > cfg.no_activity.days).fill_null(False)
        if cfg.no_activity.enabled
        else no,
        "missing_amount": (j.amount.isnull() | (j.amount <= 0))
        if cfg.missing_amount.enabled
        else no,
        "missing_next_step": (
            j.still_open & (j.next_step.isnull() | (j.next_step.strip() == ""))
        ).fill_null(False)
        if cfg.missing_next_step.enabled
        else no,
        "stuck_in_stage": (j.days_in_stage > j.usual_days * cfg.stuck_in_stage.multiple).fill_null(
            False
        )
        if cfg.stuck_in_stage.enabled
        else no,
        "pushed_close_date": (j.pushes >= cfg.pushed_close_date.min_pushes)
        if cfg.pushed_close_date.enabled
        else no,
    }
    j = j.mutate(**flags)
    any_flag = ibis.literal(False)
    for rule in RULES:
        any_flag = any_flag | j[rule]
    return j.mutate(flagged=any_flag)


def flag_rows(wide: ir.Table, stages: PipelineConfig) -> ir.Table:
    """One row per (open deal, enabled rule that fired), with the rule's measured value and the
    threshold it crossed: as_of, opportunity_id, owner_id, stage, amount, rule, value, threshold.
    """
    cfg = stages.hygiene
    spec: dict[str, tuple[ir.Value, ir.Value]] = {
        "close_date_past": (
            wide.days_overdue.cast("float64"),
            ibis.literal(float(cfg.close_date_past.grace_days)),
        ),
        "no_activity": (wide.days_idle, ibis.literal(float(cfg.no_activity.days))),
        "missing_amount": (wide.amount, ibis.literal(0.0)),
        "missing_next_step": (ibis.null("float64"), ibis.null("float64")),
        "stuck_in_stage": (wide.days_in_stage, wide.usual_days * cfg.stuck_in_stage.multiple),
        "pushed_close_date": (
            wide.pushes.cast("float64"),
            ibis.literal(float(cfg.pushed_close_date.min_pushes)),
        ),
    }
    parts = []
    for rule in cfg.enabled:
        value, threshold = spec[rule]
        fired = wide.filter(wide[rule])
        parts.append(
            fired.select(
                "as_of",
                "opportunity_id",
                "owner_id",
                "stage",
                "amount",
                "close_date",
                "last_activity_at",
                "first_close_date",
                rule=ibis.literal(rule),
                value=value.cast("float64"),
                threshold=threshold.cast("float64"),
            )
        )
    if not parts:  # every rule switched off: no flags, same columns
        value, threshold = spec["missing_amount"]
        none = wide.filter(ibis.literal(False))
        return none.select(
            "as_of",
            "opportunity_id",
            "owner_id",
            "stage",
            "amount",
            "close_date",
            "last_activity_at",
            "first_close_date",
            rule=ibis.literal("none"),
            value=value.cast("float64"),
            threshold=threshold.cast("float64"),
        )
    out = parts[0]
    for part in parts[1:]:
        out = out.union(part)
    return out


def scorecard(wide: ir.Table, stages: PipelineConfig) -> ir.Table:
    """Per rep: open deals and value, flagged deals, share clean, deals per rule, value at risk.

    Columns: owner_id, open_deals, open_value, flagged_deals, clean_share, value_at_risk, then
    one count column per enabled rule.
    """
    amount = wide.amount.fill_null(0.0)
    per_rule = {rule: count_true(wide[rule]) for rule in stages.hygiene.enabled}
    agg = wide.group_by("owner_id").aggregate(
        open_deals=wide.count(),
        open_value=exact_sum(amount),
        flagged_deals=count_true(wide.flagged),
        value_at_risk=exact_sum(amount, where=wide.flagged),
        **per_rule,
    )
    agg = agg.mutate(
        clean_share=1.0 - agg.flagged_deals.cast("float64") / agg.open_deals,
        value_at_risk=agg.value_at_risk.fill_null(0.0),
    )
    rules = list(stages.hygiene.enabled)
    cols = ["owner_id", "open_deals", "open_value", "flagged_deals", "clean_share", "value_at_risk"]
    return agg.select(*cols, *rules).order_by([agg.clean_share, agg.owner_id])


def _day(value: Any) -> str:
    return "never" if value is None or pd.isna(value) else pd.Timestamp(value).date().isoformat()


def evidence(row: pd.Series) -> str:
    """A flag row (from `flag_rows`) as the sentence a rep would read."""
    rule, value, threshold = row["rule"], row["value"], row["threshold"]
    if rule == "close_date_past":
        return f"close date {_day(row['close_date'])} is {value:.0f} days past"
    if rule == "no_activity":
        last = row["last_activity_at"]
        if pd.isna(last):
            return f"no activity since creation, {value:.0f} days ago (limit {threshold:.0f})"
        return f"last activity {_day(last)}, {value:.0f} days ago (limit {threshold:.0f})"
    if rule == "missing_amount":
        return "no amount" if pd.isna(value) else f"amount is {value:,.0f}"
    if rule == "missing_next_step":
        return "next step is empty"
    if rule == "stuck_in_stage":
        return f"{value:.0f} days in {row['stage']}; usual is {threshold:.1f} days"
    if rule == "pushed_close_date":
        return (
            f"close date pushed {value:.0f} times (from {_day(row['first_close_date'])} "
            f"to {_day(row['close_date'])})"
        )
    raise ValueError(f"unknown hygiene rule {rule!r}")


def with_evidence(flags: pd.DataFrame) -> pd.DataFrame:
    """Flag rows with an `evidence` sentence, sorted by deal and rule order."""
    out = flags.copy()
    out["evidence"] = [evidence(r) for _, r in out.iterrows()] if len(out) else []
    order = {r: i for i, r in enumerate(RULES)}
    out["_order"] = out["rule"].map(order)
    out = out.sort_values(["owner_id", "opportunity_id", "_order"]).drop(columns="_order")
    return out.reset_index(drop=True)
