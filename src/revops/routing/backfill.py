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
The history is read a window of MQLs at a time, with what each needs computed by the warehouse
(`desk_facts`), and each window's decisions and clocks are spooled to a `Stage` on disk (a
table whose written rows a write hook reads, as the automations' outbox reads SLA clocks, or
any table on Spark, is held in memory instead): so the replay's memory follows the window,
not the history nor its output, and the one write merges the staged files.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa

from revops.config.models import OperatingModel
from revops.config.routing import RoutingConfig
from revops.routing.calendar import aware
from revops.routing.desk_facts import ACCOUNT_PREFIX, mql_windows, window_facts
from revops.routing.engine import Router, columns_read, compile_routing
from revops.routing.round_robin import RoutingState
from revops.routing.sla import start_clock
from revops.routing.sla_store import ACCEPTED_STAGE, CLOCK_SCHEMA, clock_id
from revops.routing.store import WATERMARK, _decision_id, load_users
from revops.warehouse import Batch, Warehouse
from revops.warehouse.clock import naive_utc
from revops.warehouse.schema import table
from revops.warehouse.stage import Stage
from revops.warehouse.warehouse import arrow_schema

DISQUALIFIED = "Disqualified"  # the one exit a rep decides: a rejection
WINDOW = 20_000  # MQL moments read and replayed at a time: memory follows it, not the history
# the decision columns the desk writes (in the table's order)
DECISION_SCHEMA = pa.schema(
    [
        arrow_schema(table("routing_decisions")).field(c)
        for c in [
            "decision_id",
            "person_id",
            "owner_id",
            "queue",
            "rule",
            "pool",
            "reason",
            "evaluated",
            "decided_at",
            "replay_of",
        ]
    ]
)


@dataclass(frozen=True)
class DeskReport:
    routed: int
    accepted: int
    rejected: int
    running: int


def backfill_desk(wh: Warehouse, model: OperatingModel, window: int = WINDOW) -> DeskReport:
    """Route every MQL of the history at its MQL time, start and answer its clock (see the
    module docstring); writes decisions, clocks and the watermark in one transaction.
    persons.owner_id is left as the CRM has it: the desk's owner is on the decision.

    The MQLs are read `window` moments at a time (`desk_facts`), and each window's decisions
    and clocks go to their `_Output` (staged on disk, or held), so memory follows the window.
    """
    cfg = model.routing
    mql = model.scoring.stages.mql
    reasons: dict[str, str] = {}  # stage → the first rejection reason leading there
    for reason, target in cfg.sla.reentry.items():
        reasons.setdefault(target, reason)
    users = load_users(wh, cfg)
    lead_columns, account_columns = columns_read(cfg)
    answers = {ACCEPTED_STAGE, *reasons, mql}
    spans = mql_windows(wh, mql, window)
    staged = len(spans) > 1  # one window's rows are held: see `_output`
    with (
        _output(wh, "routing_decisions", DECISION_SCHEMA, staged) as decisions,
        _output(wh, "sla_clocks", CLOCK_SCHEMA, staged) as clocks,
    ):
        # the desk's own history from its start: stored decisions (a previous backfill) are
        # replaced, not replayed, so running it again gives the same desk
        desk = _Desk(
            compile_routing(cfg),
            cfg,
            mql,
            reasons,
            {u.user_id: u.timezone for u in users},
            RoutingState.initial(users, cfg),
            decisions,
            clocks,
        )
        for span in spans:
            facts = window_facts(wh, mql, answers, lead_columns, account_columns, span)
            desk.replay(facts, lead_columns, account_columns)
            desk.forget_before(span[1])
        end = _data_end(wh)
        mark = {"name": WATERMARK, "watermark_at": end, "updated_at": naive_utc(datetime.now(UTC))}
        batches = [Batch("routing_watermarks", pa.Table.from_pylist([mark]))]
        # `merge`: the same rows as an upsert, but a stored decision or clock the replay gives
        # again unchanged (running the backfill again) is left alone rather than rewritten: at
        # scale 10 (353k rows, all stored) DuckDB held 122 MB for the write against 226-318 MB
        # for rewriting every row, and as much as an upsert into empty tables (2026-12-06)
        batches += [*decisions.batches(), *clocks.batches()]
        wh.write_many(batches)
    c = desk.counts
    return DeskReport(desk.routed, c["accepted"], c["rejected"], c["running"])


@dataclass
class _Output:
    """One table the desk writes, window by window: each window's rows appended to `stage`
    (Parquet files: memory holds one window) or, without one, held as Arrow tables; all
    written by one merge.

    One merge, not one per window: DuckDB's join of each window's rows with the stored table
    scans the whole table, so merges per window cost windows × table. At scale 10 (9 windows)
    they held DuckDB at 162 MB in the write instead of 255-275, but took 6.8 s of CPU instead
    of 0.9 (2026-12-06), and the cost grows with the square of the history.
    """

    name: str
    schema: pa.Schema
    stage: Stage | None
    held: list[pa.Table] = field(default_factory=list)
    rows: int = 0

    def add(self, rows: list[dict[str, Any]]) -> None:
        """One window's rows. A staged key given twice (a person's two MQL changes of one
        instant) keeps its last row, as the write keeps the last row of a key in a batch it
        is given (a stage's keys must be unique; a key never spans two windows: they split
        no instant, and every id is derived from the instant)."""
        if self.stage is None:
            self.held.append(pa.Table.from_pylist(rows, schema=self.schema))
            self.rows += len(rows)
            return
        key = self.schema.names[0]
        unique = list({r[key]: r for r in rows}.values())
        data = pa.Table.from_pylist(unique, schema=self.schema)
        self.stage.append(data, np.arange(self.rows, self.rows + data.num_rows))
        self.rows += data.num_rows

    def batches(self) -> list[Batch]:
        """The merge that writes every window's rows (none without rows)."""
        if not self.rows:
            return []
        if self.stage is not None:
            return [Batch(self.name, self.schema.empty_table(), "merge", stage=self.stage)]
        return [Batch(self.name, pa.concat_tables(self.held), "merge")]


@contextmanager
def _output(wh: Warehouse, name: str, schema: pa.Schema, staged: bool) -> Iterator[_Output]:
    """Staged when the replay takes more than one window (`staged`), where the warehouse
    may stage the table (`Warehouse.may_stage`: not Spark, and any write hook that reads the
    rows reads them through `Warehouse.staged_table`, as the automation outbox, which reads
    the SLA clocks, does); the stage's files are removed on leaving. One window's rows are
    held: a stage's Parquet writing and reading cost a process about 50 MB once (the 1x demo's
    desk, one window: +152 MB held, +203 MB staged, bench/scale.py 2026-12-06), more than the
    rows it would spare."""
    if not staged or not wh.may_stage(name):
        yield _Output(name, schema, None)
        return
    with wh.stage(name) as stage:
        yield _Output(name, schema, stage)


@dataclass
class _Desk:
    """The replay's state from one window to the next, and its output so far."""

    router: Router
    cfg: RoutingConfig
    mql: str
    reasons: dict[str, str]
    zones: dict[str, str]
    state: RoutingState
    decisions: _Output
    clocks: _Output
    # person → (the desk's owner so far, their last MQL instant): a later MQL of theirs keeps
    # its owner (`keep_active_owner`); forgotten once their last MQL is replayed
    owners: dict[str, tuple[str | None, datetime]] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)  # running: never answered
    routed: int = 0  # MQL moments routed so far: one decision each

    def replay(
        self, facts: pa.Table, lead_columns: tuple[str, ...], account_columns: tuple[str, ...]
    ) -> None:
        """Route the MQL moments of one window (`desk_facts.window_facts`), in its order."""
        cfg = self.cfg
        col = {name: facts.column(name).to_pylist() for name in facts.column_names}
        account_key = col[f"{ACCOUNT_PREFIX}account_id"]
        decisions: list[dict[str, Any]] = []
        clocks: list[dict[str, Any]] = []
        for i, pid in enumerate(col["person_id"]):
            if not col["found"][i]:
                continue
            when: datetime = col["at"][i]
            before, _ = self.owners.get(pid, (None, when))
            lead = {c: col[c][i] for c in lead_columns}
            lead |= {"owner_id": before, "touch_type": col["touch_type"][i]}
            account = None
            if account_key[i] is not None:
                account = {c: col[f"{ACCOUNT_PREFIX}{c}"][i] for c in account_columns}
            at = aware(when)
            d = self.router.route(lead, account, self.state, at)
            self.state = d.state
            self.routed += 1
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
            self.owners[pid] = (d.owner_id or before, col["last_mql"][i])
            if d.owner_id is None:
                continue
            tz = self.zones.get(d.owner_id, cfg.default_timezone)
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
            responded, stage = col["answered_at"][i], col["answer_stage"][i]
            if responded is None:
                self.counts["running"] += 1
            elif stage not in (ACCEPTED_STAGE, DISQUALIFIED):
                # qualified again, or marketing took it back (nurture, recycle) before anyone
                # answered: the clock stops without an answer
                row["closed_at"] = responded
                self.counts["running"] += 1
            else:
                accepted = stage == ACCEPTED_STAGE
                late = responded > row["due_at"]
                row |= {
                    "responded_at": responded,
                    "response": "accepted" if accepted else "rejected",
                    "rejection_reason": None if accepted else self.reasons[stage],
                    "breached": late,
                    "breach_count": int(late),
                    "closed_at": responded,
                }
                self.counts["accepted" if accepted else "rejected"] += 1
            clocks.append(row)
        self.decisions.add(decisions)
        self.clocks.add(clocks)

    def forget_before(self, until: datetime | None) -> None:
        """Drop the owners of persons with no MQL at or after `until` (None: the end)."""
        if until is None:
            self.owners.clear()
        else:
            self.owners = {p: o for p, o in self.owners.items() if o[1] >= until}


def _data_end(wh: Warehouse) -> datetime:
    """The latest instant the data knows (creations, touches, stage changes)."""
    ends = [
        wh.execute(wh.table("persons").created_at.max()),
        wh.execute(wh.table("touchpoints").occurred_at.max()),
        wh.execute(wh.table("lifecycle_history").changed_at.max()),
    ]
    known = [naive_utc(aware(e)) for e in ends if e is not None and str(e) != "NaT"]
    return max(known) if known else naive_utc(datetime.now(UTC))
