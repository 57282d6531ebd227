"""The lead desk's past, rebuilt from the lifecycle: who got each MQL, when they answered.

A company moving onto revops has years of MQLs and SALs in its CRM but no routing decisions
or SLA clocks, so speed-to-lead and acceptance rate would read empty, or (routing the backlog
today) absurd. `backfill_desk` replays the desk instead: each MQL is routed at the instant it
became MQL, through the same rules and pools (caps counted on that day, working hours of that
hour), its clock starts then, and the lifecycle says how it was answered: accepted when the
person reached SAL (at that time), rejected when it was disqualified first (the reason mapped
back from `sla.reentry`), closed unanswered when marketing took it back first (Nurture,
Recycled, a new MQL), running otherwise. Decision and clock ids are
derived from the person and instant, so the same history gives the same desk. The routing
watermark is set to the end of the data, so `route run` then handles only what is new.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import ibis.expr.types as ir
import pyarrow as pa

from revops.config.models import OperatingModel
from revops.routing.calendar import aware
from revops.routing.engine import compile_routing
from revops.routing.round_robin import RoutingState
from revops.routing.sla import start_clock
from revops.routing.sla_store import ACCEPTED_STAGE, CLOCK_SCHEMA, clock_id
from revops.routing.store import WATERMARK, _decision_id, load_users
from revops.warehouse import Batch, Warehouse
from revops.warehouse.clock import naive_utc

DISQUALIFIED = "Disqualified"  # the one exit a rep decides: a rejection


@dataclass(frozen=True)
class DeskReport:
    routed: int
    accepted: int
    rejected: int
    running: int


def _first_after(
    changes: list[tuple[datetime, str]], after: datetime, stages: set[str]
) -> tuple[datetime, str] | None:
    for when, stage in changes:
        if when > after and stage in stages:
            return when, stage
    return None


def backfill_desk(wh: Warehouse, model: OperatingModel) -> DeskReport:
    """Route every MQL of the history at its MQL time, start and answer its clock (see the
    module docstring); writes decisions, clocks and the watermark in one transaction.
    persons.owner_id is left as the CRM has it: the desk's owner is on the decision.
    """
    cfg = model.routing
    mql = model.scoring.stages.mql
    h = wh.table("lifecycle_history")
    # the persons who were ever MQL, as a semi-join in the warehouse: a literal list of their
    # ids (tens of thousands) costs more to build and compile than the query to run
    ever = h.filter(h.to_stage == mql).select("person_id").distinct()
    # their stage changes in order (only theirs: nobody else is routed), read by column
    rows = list(
        _rows(
            wh.to_arrow(
                h.semi_join(ever, "person_id")
                .select("person_id", "to_stage", "changed_at")
                .order_by(["changed_at", "person_id", "to_stage"])
            )
        )
    )
    changes: dict[str, list[tuple[datetime, str]]] = {}
    for pid, stage, when in rows:
        changes.setdefault(pid, []).append((when, stage))
    moments = sorted((when, pid) for pid, stage, when in rows if stage == mql)
    p = wh.table("persons")
    persons = {r["person_id"]: r for r in wh.to_arrow(p.semi_join(ever, "person_id")).to_pylist()}
    arrived_with = _last_touches(wh, ever, moments)
    # their accounts, as a semi-join too (`_accounts` would compile thousands of ids as literals)
    a = wh.table("accounts")
    mql_persons = p.semi_join(ever, "person_id")
    accounts = {
        r["account_id"]: r
        for r in wh.to_arrow(
            a.semi_join(mql_persons, a.account_id == mql_persons.account_id)
        ).to_pylist()
    }
    zones = {u.user_id: u.timezone for u in load_users(wh, cfg)}
    reasons: dict[str, str] = {}  # stage → the first rejection reason leading there
    for reason, target in cfg.sla.reentry.items():
        reasons.setdefault(target, reason)
    router = compile_routing(cfg)
    # the desk's own history from its start: stored decisions (a previous backfill) are
    # replaced, not replayed, so running it again gives the same desk
    state = RoutingState.initial(load_users(wh, cfg), cfg)
    decisions: list[dict[str, Any]] = []
    clocks: list[dict[str, Any]] = []
    owners: dict[str, str | None] = {}
    counts = {"accepted": 0, "rejected": 0, "running": 0}  # running: never answered
    for (when, pid), last_touch in zip(moments, arrived_with, strict=True):
        person = persons.get(pid)
        if person is None:
            continue
        lead = {**person, "owner_id": owners.get(pid), "touch_type": last_touch}
        account = accounts.get(person["account_id"] or "")
        at = aware(when)
        d = router.route(lead, account, state, at)
        state = d.state
        did = _decision_id(pid, at, None)
        decisions.append(
            {
                "decision_id": did,
                "person_id": pid,
                "owner_id": d.owner_id,
                "queue": d.queue,
                "rule": d.rule,
                "pool": d.pool,
                "reason": d.reason,
                "evaluated": d.evaluated_json(),
                "decided_at": when,
                "replay_of": None,
            }
        )
        owners[pid] = d.owner_id or owners.get(pid)
        if d.owner_id is None:
            continue
        tz = zones.get(d.owner_id, cfg.default_timezone)
        clock = start_clock(pid, d.owner_id, lead, account, tz, cfg.sla, at, cfg.holidays)
        row: dict[str, Any] = {
            "clock_id": clock_id(did, clock.started_at),
            "person_id": pid,
            "decision_id": did,
            "owner_id": d.owner_id,
            "priority": clock.priority,
            "started_at": when,
            "due_at": naive_utc(clock.due_at),
            "breached": False,
            "breach_count": 0,
        }
        answer = _first_after(changes[pid], when, {ACCEPTED_STAGE, *reasons, mql})
        if answer is None:
            counts["running"] += 1
        elif answer[1] not in (ACCEPTED_STAGE, DISQUALIFIED):
            # qualified again, or marketing took it back (nurture, recycle) before anyone
            # answered: the clock stops without an answer
            row["closed_at"] = answer[0]
            counts["running"] += 1
        else:
            responded, stage = answer
            accepted = stage == ACCEPTED_STAGE
            late = responded > row["due_at"]
            row |= {
                "responded_at": responded,
                "response": "accepted" if accepted else "rejected",
                "rejection_reason": None if accepted else reasons[stage],
                "breached": late,
                "breach_count": int(late),
                "closed_at": responded,
            }
            counts["accepted" if accepted else "rejected"] += 1
        clocks.append(row)
    end = _data_end(wh)
    mark = {"name": WATERMARK, "watermark_at": end, "updated_at": naive_utc(datetime.now(UTC))}
    batches = [Batch("routing_watermarks", pa.Table.from_pylist([mark]))]
    if decisions:
        batches.append(Batch("routing_decisions", pa.Table.from_pylist(decisions)))
    if clocks:
        batches.append(Batch("sla_clocks", pa.Table.from_pylist(clocks, CLOCK_SCHEMA)))
    wh.write_many(batches)
    return DeskReport(len(decisions), counts["accepted"], counts["rejected"], counts["running"])


def _last_touches(
    wh: Warehouse, ever: ir.Table, moments: list[tuple[datetime, str]]
) -> list[str | None]:
    """The touch each MQL arrived with, for `moments` ((instant, person) in order): the type
    of the person's last touch at or before the instant, the later touchpoint_id among touches
    of one instant; None without one. One as-of merge over the touches by column: a list per
    person bisected per MQL cost more than the routing of a quarter of a million touches."""
    import pandas as pd

    t = wh.table("touchpoints")
    touches = wh.to_arrow(
        t.semi_join(ever, "person_id")
        .order_by(["occurred_at", "touchpoint_id"])
        .select("person_id", "occurred_at", "touch_type")
    ).to_pandas()
    touches = touches[touches["occurred_at"].notna()]  # a touch of no known instant: none
    if not moments:
        return []
    left = pd.DataFrame(moments, columns=["at", "person_id"])
    left["at"] = left["at"].astype(touches["occurred_at"].dtype)
    # backward: the last touch whose instant is at or before the MQL's, in the order above
    # (occurred_at, then touchpoint_id), so the later id among equal instants, as bisect_right
    found = pd.merge_asof(
        left,
        touches,
        left_on="at",
        right_on="occurred_at",
        by="person_id",
        direction="backward",
        allow_exact_matches=True,
    )
    return [k if isinstance(k, str) else None for k in found["touch_type"].tolist()]


def _rows(table: pa.Table) -> Iterator[tuple[Any, ...]]:
    """The rows of `table` as tuples, converted column by column (a dict per row from
    `to_pylist` costs more than the replay's use of a quarter of a million touches)."""
    return zip(*(column.to_pylist() for column in table.columns), strict=True)


def _data_end(wh: Warehouse) -> datetime:
    """The latest instant the data knows (creations, touches, stage changes)."""
    ends = [
        wh.execute(wh.table("persons").created_at.max()),
        wh.execute(wh.table("touchpoints").occurred_at.max()),
        wh.execute(wh.table("lifecycle_history").changed_at.max()),
    ]
    known = [naive_utc(aware(e)) for e in ends if e is not None and str(e) != "NaT"]
    return max(known) if known else naive_utc(datetime.now(UTC))
