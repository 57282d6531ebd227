"""The pipeline as it stood on any past date, rebuilt from stage history.

The opportunities table only knows today's stage, amount and close date; asking it about last
quarter silently mixes in everything that happened since. Stage history does know: each row holds
the stage, amount, close date, forecast category and probability from the moment it was written
until the next row for the same deal. Turning rows into validity intervals makes "as of D" a
range join (one row per deal alive on D), which DuckDB runs as an inequality join and PostgreSQL
as a plain join, for one date or every week of two years in one query.

"As of D" means at the end of day D.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta

import ibis

from revops.config.pipeline import PipelineConfig

FOREVER = datetime(9999, 12, 31)

SNAPSHOT_COLUMNS = (
    "as_of",
    "opportunity_id",
    "stage",
    "amount",
    "close_date",
    "forecast_category",
    "probability",
    "changed_at",
    "is_open",
    "is_won",
    "owner_id",
    "account_id",
    "opportunity_type",
    "created_date",
)


def stage_intervals(history: ibis.Table) -> ibis.Table:
    """Each history row with `valid_to`: when the deal's next row replaced it (or forever)."""
    w = ibis.window(
        group_by=history.opportunity_id, order_by=[history.changed_at, history.history_id]
    )
    nxt = history.changed_at.lead().over(w)
    return history.mutate(valid_to=nxt.fill_null(ibis.literal(FOREVER)))


def as_of_dates(dates: Sequence[date]) -> ibis.Table:
    """The snapshot dates with the instant each one ends (midnight after)."""
    days = sorted(set(dates))
    return ibis.memtable(
        {
            "as_of": days,
            "cutoff": [datetime.combine(d + timedelta(days=1), time()) for d in days],
        }
    )


def pipeline_as_of(
    history: ibis.Table,
    opportunities: ibis.Table,
    dates: Sequence[date],
    stages: PipelineConfig,
    *,
    open_only: bool = False,
) -> ibis.Table:
    """One row per (date, deal that existed by then), with the deal's state on that date.

    `is_open` / `is_won` follow the stage kinds of the operating model, so a deal counted open on
    a date is one whose stage that day was an open stage. Static attributes (owner, account, type,
    created date) come from the opportunities table: owner changes are not historised.
    (The forecast's replay asks for many dates off one prepared history: `evidence.open_as_of`.)
    """
    iv = stage_intervals(history)
    days = as_of_dates(dates)
    alive = days.join(iv, [iv.changed_at < days.cutoff, iv.valid_to >= days.cutoff])
    opp = opportunities.select(
        "opportunity_id", "owner_id", "account_id", "opportunity_type", "created_date"
    )
    joined = alive.join(opp, "opportunity_id")
    out = joined.mutate(
        is_open=joined.stage.isin(stages.open_stages),
        is_won=joined.stage.isin(stages.won_stages),
    )
    out = out.select(*SNAPSHOT_COLUMNS)
    return out.filter(out.is_open) if open_only else out
