"""What was known about each open deal on each as-of date, counted by the warehouse engine.

A replay holds every open deal on every week of the finished quarters, and the win model's
features for each row need what was known at that instant: among them the close-date pushes so
far and its owner's and the company's closes before it. Counting those in pandas meant reading
the whole stage history into Python; here they are counts and range joins run where the data
lives, and only one row per (as-of date, deal) comes back. The float transforms (the log of the
amount, the shrunk win rate) stay in Python, on these exact integers, so every feature is the
same number, to the bit, as when pandas counted.

The activity features are counted here too: the deal's last activity before the instant and
how many it logged in the 30 days before it, every activity once. Counted in pandas (a running
count over activities sorted by time, looked up by as-of join) they depended on how an unstable
sort ordered activities logged at the same instant, and undercounted those; and every activity
was read into Python to count them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import ibis

from revops.config.pipeline import PipelineConfig
from revops.pipeline.snapshot import SNAPSHOT_COLUMNS, as_of_dates, stage_intervals

EVIDENCE = (
    "pushes",  # close-date pushes up to the history row in force
    "owner_closed",  # deals of the owner closed (won or lost) strictly before the instant
    "owner_won",
    "company_closed",  # every deal closed strictly before the instant
    "company_won",
    "last_activity",  # the deal's latest activity strictly before the instant (null: none)
    "activities_30d",  # its activities in the 30 days before the instant (null: none)
)
ACTIVITY_WINDOW = timedelta(days=30)


def instants(dates: Sequence[date]) -> ibis.Table:
    """Each as-of date with the instant it ends (midnight after) and the start of the activity
    window before it, computed here so no backend's interval arithmetic is involved."""
    days = sorted(set(dates))
    cuts = [datetime.combine(d + timedelta(days=1), time()) for d in days]
    since = [c - ACTIVITY_WINDOW for c in cuts]
    return ibis.memtable({"as_of": days, "_cut": cuts, "_since": since})


def last_closes(history: ibis.Table, stages: PipelineConfig) -> ibis.Table:
    """Each deal's last history row in a won or lost stage (when it closed, as what, for how
    much): opportunity_id, stage, changed_at, amount, close_date."""
    closed = history.filter(history.stage.isin([*stages.won_stages, *stages.lost_stages]))
    w = ibis.window(
        group_by=closed.opportunity_id,
        order_by=[ibis.desc(closed.changed_at), ibis.desc(closed.history_id)],
    )
    ranked = closed.mutate(_n=ibis.row_number().over(w))
    last = ranked.filter(ranked._n == 0)
    return last.select("opportunity_id", "stage", "changed_at", "amount", "close_date")


def pushes_so_far(history: ibis.Table) -> ibis.Table:
    """Each history row with `valid_to` (`stage_intervals`) and `pushes`: how often its deal's
    close date had moved later by the row's timestamp (every row of that instant counted, so
    rows sharing it share the count)."""
    iv = stage_intervals(history)
    order = [iv.changed_at, iv.history_id]
    prev = iv.close_date.lag().over(group_by=iv.opportunity_id, order_by=order)
    later = (iv.close_date > prev).fill_null(False)
    h = iv.mutate(_pushed=ibis.ifelse(later, 1, 0))  # PostgreSQL casts no boolean to an integer
    upto = ibis.window(group_by=h.opportunity_id, order_by=h.changed_at, range=(None, 0))
    return h.mutate(pushes=h._pushed.sum().over(upto))


def activity_so_far(rows: ibis.Table, activities: ibis.Table) -> ibis.Table:
    """Per row of `rows` (one per deal and as-of date, with its `instants`): the deal's last
    activity strictly before the instant and how many it logged in the window before it (at or
    after `_since`), each activity counted once however many share its timestamp. Rows without
    an activity before the instant are left out."""
    acts = activities.filter(activities.opportunity_id.notnull()).select(
        _deal=activities.opportunity_id, _t=activities.occurred_at
    )
    keys = rows.select("opportunity_id", "as_of", "_cut", "_since")
    logged = keys.join(acts, [keys.opportunity_id == acts._deal, acts._t < keys._cut])
    return logged.group_by(["opportunity_id", "as_of"]).aggregate(
        last_activity=logged._t.max(),
        activities_30d=logged.count(where=logged._t >= logged._since),
    )


@dataclass(frozen=True)
class Prepared:
    """What every as-of query reads off the whole stage history, whatever its dates. A replay
    read in pieces asks the warehouse for these once (`Warehouse.cache`) instead of running
    the same windows over the whole history for every piece.

    `open` holds each history row in an open stage with its validity interval (`valid_to`),
    its deal's static columns from opportunities, its pushes so far and the deal's close
    (`_closed_at`, `_final`, `_won`: null while it has none), so an as-of query over it
    (`open_as_of`) is the range join of its dates and nothing else. Joined per query, DuckDB
    built its hash tables on the replayed rows (the join's side it cannot size), a table of
    every open deal on every date asked. `closes` is each deal's close with its owner."""

    open: ibis.Table
    closes: ibis.Table


OPEN_COLUMNS = (*SNAPSHOT_COLUMNS, "pushes", "_closed_at", "_final", "_won")


def prepare(
    history: ibis.Table,
    opportunities: ibis.Table,
    stages: PipelineConfig,
    keep: Callable[[ibis.Table], ibis.Table] = lambda t: t,
) -> Prepared:
    """The `Prepared` tables, each passed through `keep` (a cache, or nothing)."""
    owners = opportunities.select(_deal="opportunity_id", _owner="owner_id")
    lc = last_closes(history, stages)
    closes = keep(
        lc.join(owners, lc.opportunity_id == owners._deal).select(
            "_owner",
            _deal=lc.opportunity_id,
            _closed_at=lc.changed_at,
            _final=lc.close_date.fill_null(lc.changed_at.date()),
            _won=lc.stage.isin(stages.won_stages),
        )
    )
    iv = pushes_so_far(history)  # every row's interval and pushes, then the open ones
    iv = iv.filter(iv.stage.isin(stages.open_stages))
    opp = opportunities.select(
        "opportunity_id", "owner_id", "account_id", "opportunity_type", "created_date"
    )
    deal = iv.join(opp, "opportunity_id")
    out = deal.left_join(closes, deal.opportunity_id == closes._deal)
    columns = [c for c in OPEN_COLUMNS if c not in ("as_of", "is_open", "is_won")]
    return Prepared(keep(out.select(*columns, "valid_to")), closes)


def open_as_of(p: Prepared, dates: Sequence[date], stages: PipelineConfig) -> ibis.Table:
    """`pipeline_as_of(..., open_only=True)` on `dates` off `p.open`: the same rows (one per
    date and deal open then, in its state that day) with `OPEN_COLUMNS`."""
    days = as_of_dates(dates)
    iv = p.open
    alive = days.join(iv, [iv.changed_at < days.cutoff, iv.valid_to >= days.cutoff])
    out = alive.mutate(
        is_open=alive.stage.isin(stages.open_stages),
        is_won=alive.stage.isin(stages.won_stages),
    )
    return out.select(*OPEN_COLUMNS)


def open_deals_with_evidence(
    history: ibis.Table,
    opportunities: ibis.Table,
    activities: ibis.Table,
    dates: Sequence[date],
    stages: PipelineConfig,
    only: Callable[[ibis.Table], ibis.Table] | None = None,
    prepared: Prepared | None = None,
) -> ibis.Table:
    """`pipeline_as_of` (open deals) on `dates`, each row with its `EVIDENCE` columns.

    `only` narrows the open deals before their evidence is counted (a sample's rows, deals
    created since a date): the warehouse then counts the evidence of those rows alone.
    `prepared` holds the history's windows when the caller had them computed once."""
    p = prepare(history, opportunities, stages) if prepared is None else prepared
    snap = open_as_of(p, dates, stages)
    if only is not None:
        snap = only(snap)
    rows = snap.join(instants(dates), "as_of")

    closes = p.closes
    owner_keys = rows.select("owner_id", "as_of", "_cut").distinct()
    by_owner = owner_keys.join(
        closes, [owner_keys.owner_id == closes._owner, closes._closed_at < owner_keys._cut]
    )
    owner = by_owner.group_by(["owner_id", "as_of"]).aggregate(
        owner_closed=by_owner.count(), owner_won=by_owner.count(where=by_owner._won)
    )
    inst = instants(dates)
    everyone = inst.join(closes, closes._closed_at < inst._cut)
    company = everyone.group_by("as_of").aggregate(
        company_closed=everyone.count(), company_won=everyone.count(where=everyone._won)
    )

    out = (
        rows.left_join(owner, ["owner_id", "as_of"])
        .left_join(company, "as_of")
        .left_join(activity_so_far(rows, activities), ["opportunity_id", "as_of"])
    )
    return out.select(*SNAPSHOT_COLUMNS, *EVIDENCE)
