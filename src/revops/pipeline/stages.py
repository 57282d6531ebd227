"""Stage entries and stage changes, read from stage history as known at the end of a day.

A history row is written for every change a CRM tracks (stage, amount, close date), so two rows
in a row can hold the same stage: the second was a close-date push, not a new stage. Analytics
need the stage *entries* (the rows where the stage differs from the deal's previous row) and the
*moves* between them, ranked by the configured sales process: open stages by position, any won
stage after the last open stage, lost stages outside the ranking (losing is not progress).

Everything takes an `as_of` date and drops what was written after it, so a number computed for a
past date is the number a sales leader could have seen that evening.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import ibis
import ibis.expr.types as ir

from revops.config.pipeline import PipelineConfig
from revops.errors import RevOpsError

SECONDS_PER_DAY = 86_400


def cutoff(as_of: date) -> datetime:
    """The instant an as-of date ends: what was written before it was known that day."""
    return datetime.combine(as_of + timedelta(days=1), time())


def known_history(history: ir.Table, as_of: date) -> ir.Table:
    """History rows written by the end of `as_of`."""
    return history.filter(history.changed_at < ibis.literal(cutoff(as_of)))


def stage_rank(stage: ir.StringValue, stages: PipelineConfig) -> ir.IntegerValue:
    """Position in the sales process: 0.. for open stages, one past the last for won, NULL lost."""
    ranks = {name: i for i, name in enumerate(stages.open_stages)}
    ranks.update({name: len(stages.open_stages) for name in stages.won_stages})
    cases = [(stage == name, rank) for name, rank in ranks.items()]
    return ibis.cases(*cases, else_=ibis.null("int64"))


def kind_of(stage: ir.StringValue, stages: PipelineConfig) -> ir.StringValue:
    """'open', 'won' or 'lost' for a stage name, per the operating model."""
    return ibis.cases(
        (stage.isin(stages.won_stages), "won"),
        (stage.isin(stages.lost_stages), "lost"),
        else_="open",
    )


def count_true(condition: ir.BooleanValue) -> ir.IntegerScalar:
    """How many rows satisfy `condition` (PostgreSQL cannot cast a boolean to bigint)."""
    return ibis.cases((condition, 1), else_=0).sum()


def days_between(start: ir.TimestampValue, end: ir.TimestampValue) -> ir.FloatingValue:
    """Fractional days from start to end (identical on DuckDB and PostgreSQL)."""
    return (end.epoch_seconds() - start.epoch_seconds()).cast("float64") / SECONDS_PER_DAY


def undeclared_stages(history: ir.Table, stages: PipelineConfig) -> ir.Table:
    """Stage names in the history that the operating model does not declare (column `stage`)."""
    known = [s.name for s in stages.stages]
    return history.filter(~history.stage.isin(known)).select("stage").distinct()


def require_declared(names: list[str]) -> None:
    """Fail naming the undeclared stages: unranked, they would silently skew every number."""
    if names:
        raise RevOpsError(
            "opportunity_stage_history has stages the operating model does not declare: "
            + ", ".join(repr(n) for n in sorted(names))
            + "; add them under pipeline.stages in revops.yaml"
        )


def stage_entries(history: ir.Table, stages: PipelineConfig, as_of: date) -> ir.Table:
    """One row per entry of a deal into a stage, with when it left and where it went.

    Columns: opportunity_id, stage, kind, rank, entered_at, left_at (NULL while still there on
    the as-of date), next_stage, next_rank, entry_no (1 for the deal's first row), first_entry
    (True for the deal's first entry into this stage), amount, close_date (as entered).
    """
    h = known_history(history, as_of)
    order = ibis.window(group_by=h.opportunity_id, order_by=[h.changed_at, h.history_id])
    h = h.mutate(prev_stage=h.stage.lag().over(order))
    entries = h.filter(h.prev_stage.isnull() | (h.prev_stage != h.stage))
    w = ibis.window(
        group_by=entries.opportunity_id, order_by=[entries.changed_at, entries.history_id]
    )
    entries = entries.mutate(
        entered_at=entries.changed_at,
        left_at=entries.changed_at.lead().over(w),
        next_stage=entries.stage.lead().over(w),
        entry_no=ibis.row_number().over(w) + 1,
    )
    per_stage = ibis.window(
        group_by=[entries.opportunity_id, entries.stage],
        order_by=[entries.entered_at, entries.history_id],
    )
    entries = entries.mutate(
        first_entry=ibis.row_number().over(per_stage) == 0,
        kind=kind_of(entries.stage, stages),
        rank=stage_rank(entries.stage, stages),
        next_rank=stage_rank(entries.next_stage, stages),
    )
    return entries.select(
        "opportunity_id",
        "stage",
        "kind",
        "rank",
        "entered_at",
        "left_at",
        "next_stage",
        "next_rank",
        "entry_no",
        "first_entry",
        "amount",
        "close_date",
    )


def stage_moves(history: ir.Table, stages: PipelineConfig, as_of: date) -> ir.Table:
    """Each move out of an open stage, classified against the configured order.

    A move forward by more than one rank is a skip (`skipped` = stages jumped over: Discovery →
    Proposal skips Solution, so 1); a move to a lower rank is a regression; a move to a lost
    stage is neither. Won ranks after the last open stage, so Discovery → Closed Won
    skips Solution, Proposal and Negotiation.
    """
    e = stage_entries(history, stages, as_of)
    moves = e.filter((e.kind == "open") & e.next_stage.notnull())
    forward = moves.next_rank - moves.rank
    moves = moves.mutate(
        is_skip=moves.next_rank.notnull() & (forward > 1),
        is_regression=moves.next_rank.notnull() & (forward < 0),
        skipped=ibis.greatest(forward - 1, 0).fill_null(0),
    )
    return moves.select(
        "opportunity_id",
        from_stage=moves.stage,
        to_stage=moves.next_stage,
        moved_at=moves.left_at,
        is_skip=moves.is_skip,
        is_regression=moves.is_regression,
        skipped=moves.skipped,
    )


def close_date_pushes(history: ir.Table, as_of: date) -> ir.Table:
    """Per deal, how often its expected close date moved later (rows known by `as_of`).

    Columns: opportunity_id, pushes, first_close_date, last_close_date, days_pushed (from the
    first known close date to the current one). Deals never pushed have pushes = 0.
    """
    h = known_history(history, as_of)
    order = ibis.window(group_by=h.opportunity_id, order_by=[h.changed_at, h.history_id])
    h = h.mutate(prev_close=h.close_date.lag().over(order), seq=ibis.row_number().over(order))
    last = ibis.window(
        group_by=h.opportunity_id,
        order_by=[h.changed_at.desc(), h.history_id.desc()],
    )
    h = h.mutate(rev=ibis.row_number().over(last))
    pushed = h.prev_close.notnull() & (h.close_date > h.prev_close)
    out = h.group_by("opportunity_id").aggregate(
        pushes=count_true(pushed),
        first_close_date=h.close_date.max(where=h.seq == 0),
        last_close_date=h.close_date.max(where=h.rev == 0),
    )
    return out.mutate(
        days_pushed=(out.last_close_date.delta(out.first_close_date, unit="day")).fill_null(0)
    )


def pipeline_changes(history: ir.Table, stages: PipelineConfig) -> ir.Table:
    """Every history row after a deal's first, classified (the `pipeline_changes` table).

    Each row is an event at `changed_at`, so the metric dictionary can count skips, regressions
    and pushes per period straight from it and stay point-in-time: a period's count never
    changes when later history arrives. `days_in_stage` is the time since the deal entered
    `from_stage` (its latest entry), set on stage changes only.
    """
    order = ibis.window(
        group_by=history.opportunity_id, order_by=[history.changed_at, history.history_id]
    )
    h = history.mutate(
        from_stage=history.stage.lag().over(order),
        prev_close=history.close_date.lag().over(order),
    )
    h = h.mutate(
        entry_at=ibis.cases(
            (h.from_stage.isnull() | (h.from_stage != h.stage), h.changed_at),
            else_=ibis.null("timestamp"),
        )
    )
    # the latest entry before this row: a running max over the rows before it, in the same
    # window pass (a lag of the running max up to this row took a third pass over history)
    before = ibis.window(
        group_by=h.opportunity_id, order_by=[h.changed_at, h.history_id], rows=(None, -1)
    )
    h = h.mutate(from_entered=h.entry_at.max().over(before))
    h = h.filter(h.from_stage.notnull())
    from_rank = stage_rank(h.from_stage, stages)
    to_rank = stage_rank(h.stage, stages)
    from_open = h.from_stage.isin(stages.open_stages)
    forward = to_rank - from_rank
    moved = h.from_stage != h.stage
    ranked = from_open & to_rank.notnull()
    pushed = h.prev_close.notnull() & h.close_date.notnull() & (h.close_date > h.prev_close)
    return h.select(
        change_id=h.history_id,
        opportunity_id=h.opportunity_id,
        changed_at=h.changed_at,
        from_stage=h.from_stage,
        to_stage=h.stage,
        from_open=from_open,
        is_stage_change=moved,
        is_skip=(ranked & (forward > 1)).fill_null(False),
        is_regression=(ranked & (forward < 0)).fill_null(False),
        stages_skipped=ibis.cases((ranked & (forward > 1), forward - 1), else_=0),
        days_in_stage=ibis.cases(
            (moved, days_between(h.from_entered, h.changed_at)), else_=ibis.null("float64")
        ),
        is_push=pushed,
        days_pushed=ibis.cases((pushed, h.close_date.delta(h.prev_close, unit="day")), else_=0),
    )
