"""Time in stage and stage-to-stage conversion, derived from the lifecycle history.

Written as Ibis expressions over `wh.table(...)` so the same definitions compile to DuckDB and
PostgreSQL and run where the data lives. Transitions of one person are ordered by
(changed_at, transition_id) — the order the engine decided them in — so ties on the timestamp
resolve the same way here as in the engine.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
from ibis.expr.builders import LegacyWindowBuilder

from revops.config.models import Lifecycle
from revops.lifecycle.rules import REASON_PREFIXES

SECONDS_PER_DAY = 86_400


def _stage_order(column: ir.StringValue, lifecycle: Lifecycle) -> ir.IntegerValue:
    """A stage's position in revops.yaml, so results read in lifecycle order."""
    names = lifecycle.stage_names
    branches = [(column == name, i) for i, name in enumerate(names)]
    return ibis.cases(*branches, else_=len(names))


def _per_person(history: ir.Table) -> LegacyWindowBuilder:
    return ibis.window(
        group_by=history.person_id, order_by=[history.changed_at, history.transition_id]
    )


def time_in_stage(history: ir.Table) -> ir.Table:
    """One row per stage entered: when, when it was left (NULL while still in it), for how long.

    `days_in_stage` is fractional days until the next accepted transition; NULL while the
    person is still in the stage, so open stints never pose as finished ones.
    """
    w = _per_person(history)
    exited_at = history.changed_at.lead().over(w)
    next_stage = history.to_stage.lead().over(w)
    stints = history.select(
        person_id=history.person_id,
        stage=history.to_stage,
        entered_at=history.changed_at,
        exited_at=exited_at,
        next_stage=next_stage,
    )
    seconds = stints.exited_at.epoch_seconds() - stints.entered_at.epoch_seconds()
    return stints.mutate(days_in_stage=seconds.cast("float64") / SECONDS_PER_DAY)


def time_in_stage_summary(history: ir.Table, lifecycle: Lifecycle) -> ir.Table:
    """Per stage: entries, exits, median and mean days of finished stints, and still in stage."""
    stints = time_in_stage(history)
    summary = stints.group_by("stage").aggregate(
        entries=stints.count(),
        exits=stints.exited_at.count(),
        median_days=stints.days_in_stage.median(),
        mean_days=stints.days_in_stage.mean(),
        still_in_stage=stints.count(where=stints.exited_at.isnull()),
    )
    return summary.order_by(_stage_order(summary.stage, lifecycle))


def stage_conversion(history: ir.Table, lifecycle: Lifecycle) -> ir.Table:
    """Per from_stage → to_stage: transitions, and their share of all exits from from_stage.

    Entries (no from_stage) are not conversions between stages and are left out.
    """
    moves = history.filter(history.from_stage.notnull())
    counts = moves.group_by(["from_stage", "to_stage"]).aggregate(transitions=moves.count())
    exits = counts.transitions.sum().over(ibis.window(group_by=counts.from_stage))
    out = counts.mutate(share_of_exits=counts.transitions.cast("float64") / exits)
    return out.order_by(
        [_stage_order(out.from_stage, lifecycle), _stage_order(out.to_stage, lifecycle)]
    )


def funnel_conversion(history: ir.Table, lifecycle: Lifecycle) -> ir.Table:
    """For consecutive funnel stages N → N+1: persons who ever reached N, and of them how many
    reached N+1 afterwards (at any later transition, however they got there).

    `conversion` is reached_next / reached, NULL when nobody reached N.
    """
    funnel = [s.name for s in lifecycle.stages if s.kind == "funnel"]
    seq = history.mutate(seq=ibis.row_number().over(_per_person(history)))
    firsts = {f"first_{i}": seq.seq.min(where=seq.to_stage == n) for i, n in enumerate(funnel)}
    lasts = {f"last_{i}": seq.seq.max(where=seq.to_stage == n) for i, n in enumerate(funnel)}
    people = seq.group_by("person_id").aggregate(**firsts, **lasts)
    steps = []
    for i in range(len(funnel) - 1):
        first, last_next = people[f"first_{i}"], people[f"last_{i + 1}"]
        reached = first.notnull()
        later = reached & (last_next > first).fill_null(False)
        counts = people.aggregate(
            reached=people.person_id.count(where=reached),
            reached_next=people.person_id.count(where=later),
        )
        steps.append(
            counts.select(
                step=ibis.literal(i + 1),
                stage=ibis.literal(funnel[i]),
                next_stage=ibis.literal(funnel[i + 1]),
                reached=counts.reached,
                reached_next=counts.reached_next,
            )
        )
    if not steps:
        raise ValueError("the lifecycle has fewer than two funnel stages; nothing to convert")
    table = ibis.union(*steps)
    conversion = table.reached_next.cast("float64") / table.reached.nullif(0)
    return table.mutate(conversion=conversion).order_by("step")


def rejection_summary(rejections: ir.Table) -> ir.Table:
    """Rejections counted by reason kind (the rule broken) and the stage that was asked for."""
    kind = ibis.cases(
        *[(rejections.reason.startswith(prefix), k) for k, prefix in REASON_PREFIXES],
        else_="other",
    )
    tagged = rejections.mutate(reason_kind=kind)
    out = tagged.group_by(["reason_kind", "to_stage"]).aggregate(rejections=tagged.count())
    return out.order_by([ibis.desc("rejections"), "reason_kind", "to_stage"])
