"""Time in stage and stage-to-stage conversion, derived from the lifecycle history.

Written as Ibis expressions over `wh.table(...)` so the same definitions compile to DuckDB and
PostgreSQL and run where the data lives. Transitions of one person are ordered by
(changed_at, transition_id) — the order the engine decided them in — so ties on the timestamp
resolve the same way here as in the engine.

`funnel_frame` and `time_in_stage_frame` are what the reports read: the same tables, computed
on DuckDB in passes over parts of the persons once the history outgrows one pass (PASS_ROWS),
so the memory they take does not grow with the history.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from typing import TypeVar

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis.expr.builders import LegacyWindowBuilder

from revops.config.models import Lifecycle
from revops.lifecycle.rules import REASON_PREFIXES
from revops.warehouse import Warehouse
from revops.warehouse.parts import in_part
from revops.warehouse.sums import EXACT, exact_mean

SECONDS_PER_DAY = 86_400
HOURS_PER_DAY = 24

# The most history rows one statement of `funnel_frame` / `time_in_stage_frame` orders per
# person on DuckDB. A window PARTITION BY person holds every row it orders until it is done:
# over the 1.13M rows of the demo at 10x that was 107 MB for the funnel's ROW_NUMBER and
# 139 MB for the stints' LEADs (DuckDB's own accounting, 2026-12-06), growing with the history.
# More rows than this are taken in passes over the persons whose hash falls in one part.
# The demo at 1x (114k rows) runs in one pass, as the plain expressions.
PASS_ROWS = 250_000
# The most durations a bucket of `_median_days` may hold for them to be fetched (as distinct
# values with their counts): an hour holding more is counted again by the second first.
FETCH_VALUES = 20_000


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
        mean_days=exact_mean(stints.days_in_stage),
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


def _passes(wh: Warehouse, history: ir.Table) -> int:
    """How many passes over persons the history needs: 1 off DuckDB (PostgreSQL sorts in
    work_mem and spills, Spark partitions) or when it has at most PASS_ROWS rows."""
    if wh.backend != "duckdb":
        return 1
    return max(1, math.ceil(int(wh.execute(history.count())) / PASS_ROWS))


def _parts(history: ir.Table, passes: int) -> Iterator[ir.Table]:
    """The history of the persons whose HASH(person_id) falls in each of `passes` parts.

    A person's rows all hash alike, so every window partitioned by person sees all of that
    person's rows in exactly one part, and per-person results are those of the whole.
    """
    for part in range(passes):
        yield history.filter(in_part(history.person_id, part, passes))


def funnel_frame(wh: Warehouse, lifecycle: Lifecycle) -> pd.DataFrame:
    """`funnel_conversion` of the stored history, computed in bounded memory on DuckDB.

    Its counts are of persons, each of whom lies in one part (`_parts`), so the parts' counts
    add up to the whole's; the conversion is then the same division of the same integers.
    """
    history = wh.table("lifecycle_history")
    passes = _passes(wh, history)
    if passes == 1:
        return wh.execute(funnel_conversion(history, lifecycle))
    frames = [wh.execute(funnel_conversion(part, lifecycle)) for part in _parts(history, passes)]
    out = frames[0].copy()
    for column in ("reached", "reached_next"):
        out[column] = sum(f[column].to_numpy() for f in frames)
    reached = out["reached"].astype("float64").where(out["reached"] != 0)
    out["conversion"] = out["reached_next"].astype("float64") / reached
    return out


@dataclass
class _Stage:
    """One stage's stints gathered over the parts: the counts, the exact (decimal) sum of the
    finished durations, and how many finished durations fall in each hour (`_hour`)."""

    entries: int = 0
    exits: int = 0
    still: int = 0
    finished: int = 0
    total: Decimal = Decimal(0)
    hours: Counter[int] = field(default_factory=Counter)


def time_in_stage_frame(wh: Warehouse, lifecycle: Lifecycle) -> pd.DataFrame:
    """`time_in_stage_summary` of the stored history, computed in bounded memory on DuckDB.

    The counts add up over the parts (`_parts`). The mean is the parts' exact decimal sums
    (`revops.warehouse.sums`) over the count: the same in every run, whatever order the parts'
    groups arrive in, where float sums would differ in the last bits from run to run. The
    median is QUANTILE_CONT's exactly (`_median_days`): the value
    at rank (n-1)/2, or lo * 0.5 + hi * 0.5 between the two middle ones.
    """
    history = wh.table("lifecycle_history")
    passes = _passes(wh, history)
    if passes == 1:
        return wh.execute(time_in_stage_summary(history, lifecycle))
    parts = list(_parts(history, passes))
    stages: dict[str | None, _Stage] = {}
    for part in parts:
        stints = time_in_stage(part)
        days = stints.days_in_stage
        grouped = stints.group_by(stints.stage, hour=_hour(days)).aggregate(
            entries=stints.count(),
            exits=stints.exited_at.count(),
            still=stints.count(where=stints.exited_at.isnull()),
            finished=days.count(),
            total=days.cast(EXACT).sum(),
        )
        for row in wh.execute(grouped).itertuples(index=False):
            s = stages.setdefault(row.stage, _Stage())
            s.entries += int(row.entries)
            s.exits += int(row.exits)
            s.still += int(row.still)
            if row.finished:
                s.finished += int(row.finished)
                s.total += Decimal(row.total)
                s.hours[int(row.hour)] += int(row.finished)
    medians = _median_days(wh, parts, stages)
    names = sorted(stages, key=_order_key(lifecycle))
    return pd.DataFrame(
        {
            "stage": pd.Series(names, dtype="object"),
            "entries": pd.Series([stages[n].entries for n in names], dtype="int64"),
            "exits": pd.Series([stages[n].exits for n in names], dtype="int64"),
            "median_days": pd.Series([medians.get(n, math.nan) for n in names], dtype="float64"),
            "mean_days": pd.Series(
                [
                    _mean(stages[n].total, stages[n].finished) if stages[n].finished else math.nan
                    for n in names
                ],
                dtype="float64",
            ),
            "still_in_stage": pd.Series([stages[n].still for n in names], dtype="int64"),
        }
    )


def _mean(total: Decimal, count: int) -> float:
    """An exact sum over its count, rounded once to a float."""
    with localcontext() as ctx:
        ctx.prec = 60  # decimal(38, 15) sums: far beyond a double's 17 digits
        return float(total / count)


def _order_key(lifecycle: Lifecycle) -> Callable[[str | None], tuple[int, str]]:
    """`_stage_order` in Python: lifecycle order, then (stages the config lacks) by name."""
    names = lifecycle.stage_names
    return lambda stage: (names.index(stage) if stage in names else len(names), str(stage))


K = TypeVar("K", int, float)

# A bucket of finished durations: (stage, hour, second or None for the whole hour).
_Bucket = tuple[str | None, int, int | None]


def _locate(counts: Counter[K], rank: int) -> tuple[K, int]:
    """Of values given with their counts, the one of 0-based `rank` in ascending order, and
    the rank within its count (for a bucket: the bucket and the rank among its values)."""
    for key in sorted(counts):
        if rank < counts[key]:
            return key, rank
        rank -= counts[key]
    raise ValueError("rank beyond the values counted")


def _median_days(
    wh: Warehouse, parts: list[ir.Table], stages: dict[str | None, _Stage]
) -> dict[str | None, float]:
    """Each stage's median finished duration, as QUANTILE_CONT(days, 0.5) gives it, without
    holding every duration: a selection in buckets.

    The median reads the values of ranks floor((n-1)/2) and ceil((n-1)/2) in ascending order
    (one value when they are equal, else lo * 0.5 + hi * 0.5: DuckDB's interpolation, which
    differs from lo + (hi - lo) * 0.5 in the last bit for one pair of values in five, measured
    on DuckDB 1.4). The hourly counts (`_Stage.hours`) tell which hour holds each rank; an hour
    holding more than FETCH_VALUES durations is counted again by the second within it; then
    the durations of that hour (or second) are fetched, as distinct values with their counts,
    and the rank read off them. FLOOR of its products by 24 and by 86,400 are
    non-decreasing in it, so the buckets are in the values' order; each bucket's key is
    computed by the same expression in every statement, so a value lands in one bucket only.
    Every statement holds at most a histogram or one bucket's values, whatever the history.
    """
    wanted: dict[tuple[str | None, int], tuple[_Bucket, int]] = {}
    for name, s in stages.items():
        if not s.finished:
            continue
        for rank in {(s.finished - 1) // 2, s.finished // 2}:
            hour, within = _locate(s.hours, rank)
            wanted[(name, rank)] = ((name, hour, None), within)
    crowded = {b for b, _ in wanted.values() if stages[b[0]].hours[b[1]] > FETCH_VALUES}
    if crowded:
        seconds: dict[_Bucket, Counter[int]] = {b: Counter() for b in crowded}
        for part in parts:
            finished = _finished(part, crowded)
            grouped = finished.group_by(["stage", "hour", "second"]).aggregate(n=finished.count())
            for row in wh.execute(grouped).itertuples(index=False):
                seconds[(row.stage, int(row.hour), None)][int(row.second)] += int(row.n)
        for target, (bucket, within) in wanted.items():
            if bucket in crowded:
                second, within = _locate(seconds[bucket], within)
                wanted[target] = ((bucket[0], bucket[1], second), within)
    values: dict[_Bucket, Counter[float]] = {b: Counter() for b, _ in wanted.values()}
    buckets = set(values)
    for part in parts:
        finished = _finished(part, buckets)
        grouped = finished.group_by(["stage", "hour", "second", "days"]).aggregate(
            n=finished.count()
        )
        for row in wh.execute(grouped).itertuples(index=False):
            for key in (
                (row.stage, int(row.hour), None),
                (row.stage, int(row.hour), int(row.second)),
            ):
                if key in values:
                    values[key][float(row.days)] += int(row.n)
    nth = {t: _locate(values[b], within)[0] for t, (b, within) in wanted.items()}
    out: dict[str | None, float] = {}
    for name, s in stages.items():
        if s.finished:
            lo, hi = nth[(name, (s.finished - 1) // 2)], nth[(name, s.finished // 2)]
            out[name] = lo if lo == hi else lo * 0.5 + hi * 0.5
    return out


def _hour(days: ir.FloatingValue) -> ir.IntegerValue:
    """The hour a duration falls in, FLOOR(days * 24): fine enough that at the demo's 10x no
    hour holding a median has more than FETCH_VALUES durations (no count by the second: a
    histogram, then the fetch), coarse enough that a stage's histogram has at most 24 buckets
    a day of its longest stint, however many stints there are."""
    return (days * HOURS_PER_DAY).floor()


def _finished(part: ir.Table, buckets: set[_Bucket]) -> ir.Table:
    """The finished stints of `part` in any of `buckets`: stage, hour, second and days."""
    stints = time_in_stage(part)
    days = stints.days_in_stage
    keyed = stints.select(
        stage=stints.stage,
        hour=_hour(days),
        second=(days * SECONDS_PER_DAY).floor(),
        days=days,
    )
    conditions = []
    for stage, hour, second in buckets:
        same = keyed.stage.isnull() if stage is None else keyed.stage == stage
        c = same & (keyed.hour == hour)
        conditions.append(c if second is None else c & (keyed.second == second))
    return keyed.filter(keyed.days.notnull(), ibis.or_(*conditions))


def rejection_summary(rejections: ir.Table) -> ir.Table:
    """Rejections counted by reason kind (the rule broken) and the stage that was asked for."""
    kind = ibis.cases(
        *[(rejections.reason.startswith(prefix), k) for k, prefix in REASON_PREFIXES],
        else_="other",
    )
    tagged = rejections.mutate(reason_kind=kind)
    out = tagged.group_by(["reason_kind", "to_stage"]).aggregate(rejections=tagged.count())
    return out.order_by([ibis.desc("rejections"), "reason_kind", "to_stage"])
