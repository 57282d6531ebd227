"""Scores that move stages: crossing the MQL line asks the lifecycle for MQL; losing fit can
ask for Recycled. The lifecycle engine decides, so a move the map forbids (or a person lacking
a required field) lands in lifecycle_rejections with its reason, never in the funnel.

The rules live in the operating model (`scoring.stages`, `scoring.mql_threshold`,
`scoring.min_fit`, `scoring.fast_track`). A person parked in a holding stage (Nurture,
Recycled) re-qualifies only on a touch after it was parked: a good fit alone must not pull
every parked lead back into sales' queue each time scores are applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from revops.config.models import Lifecycle
from revops.config.scoring import ScoringConfig
from revops.lifecycle.engine import LifecycleResult, apply_events, required_columns
from revops.warehouse import Batch, Warehouse

SOURCE = "scoring"
EVENT_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("person_id", pa.string()),
        ("stage", pa.string()),
        ("occurred_at", pa.timestamp("us")),
        ("source", pa.string()),
    ]
)


@dataclass(frozen=True)
class StageMoves:
    """The stage changes scores asked for, what the lifecycle made of them, the rows."""

    events: pa.Table
    result: LifecycleResult
    batches: list[Batch]

    def accepted(self, stage: str) -> int:
        to = self.result.history.column("to_stage").to_pylist()
        return sum(1 for s in to if s == stage)

    @property
    def refused(self) -> int:
        return self.result.rejected


def wanted_stages(
    people: pd.DataFrame, cfg: ScoringConfig, stages: set[str] | None = None
) -> pd.Series:
    """Per person, the stage its scores ask for (None: no move).

    `people` has lifecycle_stage, fit, is_mql_ready, entered_at (when the current stage was
    entered; NaT if unknown) and last_touch_at (latest touch up to the scoring time; NaT if
    none). Pure, so the rules can be checked by hand.
    """
    rules = cfg.stages
    stage = people["lifecycle_stage"]
    parked = stage.isin(list(rules.holding))
    touched_since = people["last_touch_at"].notna() & (
        people["entered_at"].isna() | (people["last_touch_at"] > people["entered_at"])
    )
    qualify = (
        people["is_mql_ready"].astype(bool)
        & stage.isin(list(rules.qualify_from))
        & (~parked | touched_since)
    )
    out = pd.Series([None] * len(people), index=people.index, dtype=object)
    out[qualify] = rules.mql
    if rules.recycle_below_fit is not None:
        lost = stage.isin(list(rules.recycle_from)) & (people["fit"] < rules.recycle_below_fit)
        out[lost & ~qualify] = rules.recycle_to
    if stages is not None:
        out[~out.isin(list(stages)) & out.notna()] = None
    return out


def _context(wh: Warehouse, lifecycle: Lifecycle, at: datetime) -> pd.DataFrame:
    """Per person: stage, the lifecycle's required fields, when the stage was entered and the
    latest touch up to `at`."""
    p = wh.table("persons")
    cols = list(dict.fromkeys([*required_columns(lifecycle), "lifecycle_stage"]))
    h = wh.table("lifecycle_history")
    entered = h.group_by(h.person_id.name("_h")).aggregate(entered_at=h.changed_at.max())
    t = wh.table("touchpoints")
    t = t.filter(t.occurred_at <= at)
    touched = t.group_by(t.person_id.name("_t")).aggregate(last_touch_at=t.occurred_at.max())
    expr = p.select(*cols).filter(p.lifecycle_stage.notnull())
    expr = expr.left_join(entered, expr.person_id == entered._h).drop("_h")
    expr = expr.left_join(touched, expr.person_id == touched._t).drop("_t")
    return wh.to_arrow(expr).to_pandas()


def stage_moves(
    wh: Warehouse,
    cfg: ScoringConfig,
    lifecycle: Lifecycle,
    scores: pd.DataFrame,
    at: datetime,
) -> StageMoves:
    """The lifecycle events scores ask for at `at`, applied through the lifecycle rules.

    `scores` has person_id, fit and is_mql_ready. Event ids name the person, stage and instant,
    so applying the same scores twice asks nothing new (the person is already there).
    """
    people = _context(wh, lifecycle, at).merge(
        scores[["person_id", "fit", "is_mql_ready"]], on="person_id", how="inner"
    )
    known = {s.name for s in lifecycle.stages}
    want = wanted_stages(people, cfg, known)
    asked = people[want.notna()]
    stamp = pd.Timestamp(at).strftime("%Y%m%dT%H%M%S")
    pids = asked["person_id"].tolist()
    to = want[want.notna()].tolist()
    events = pa.Table.from_pydict(
        {
            "event_id": [f"score-{pid}-{s}-{stamp}" for pid, s in zip(pids, to, strict=True)],
            "person_id": pids,
            "stage": to,
            "occurred_at": [at] * len(asked),
            "source": [SOURCE] * len(asked),
        },
        schema=EVENT_SCHEMA,
    )
    fields = list(required_columns(lifecycle))
    persons = pa.table({c: pa.array([_text(v) for v in asked[c]], pa.string()) for c in fields})
    current = dict(zip(asked["person_id"], asked["lifecycle_stage"], strict=True))
    result = apply_events(events, persons, lifecycle, current)
    batches: list[Batch] = []
    if events.num_rows:
        batches.append(Batch("lifecycle_events", events))
    if result.history.num_rows:
        batches.append(Batch("lifecycle_history", result.history))
        moved = set(result.history.column("person_id").to_pylist())
        final = result.stages.filter(
            pc.is_in(result.stages.column("person_id"), pa.array(sorted(moved)))
        )
        batches.append(Batch("persons", final))
    if result.rejections.num_rows:
        batches.append(Batch("lifecycle_rejections", result.rejections))
    return StageMoves(events, result, batches)


def _text(value: Any) -> str | None:
    """The engine only asks whether a required field is filled: every value goes in as text."""
    return None if value is None or pd.isna(value) else str(value)
