"""The transactional outbox: events and their actions commit with the change that caused them.

`install(wh, model)` adds a write hook to the warehouse: whenever a write touches a table some
automation's trigger reads (lifecycle history, scores, SLA clocks, pipeline changes, health
scores, the consent ledger), the triggers are evaluated over the tables as they will read after
the write (`sources.overlaid`), and the new events, their outbox actions, tasks, nurture
memberships and one audit entry are added to that same write. The change and its events land
together or not at all, so no event is lost to a crash between them and none is made for a
change that rolled back.

`queue(wh, model, at)` evaluates every automation over the stored tables: the one-pass path of
`revops automate run`, which also fires the time-based triggers (SLA due soon, a clock running
past due) that no write causes. Event ids are digests of the automation and the source row,
so evaluating twice, or by hook and then by pass, records each event once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import ibis
import pyarrow as pa
import pyarrow.compute as pc

from revops.audit.log import AuditNote, chain_batch, head
from revops.automation import sources
from revops.automation.actions import Planned, plan_actions
from revops.automation.conditions import matching
from revops.automation.triggers import KEYS, SOURCE_KEYS, SOURCES, candidates
from revops.config.automation import Automation
from revops.config.models import OperatingModel
from revops.config.pipeline import PipelineConfig
from revops.config.routing import RoutingConfig
from revops.warehouse import Batch, Warehouse
from revops.warehouse.clock import naive_utc, utc_now
from revops.warehouse.schema import table
from revops.warehouse.warehouse import arrow_schema

ACTOR = "automation"
_CORE = ("record_id", "owner_id", "occurred_at")


def event_id(automation: str, trigger: str, source_key: str) -> str:
    return hashlib.sha256(f"{automation}|{trigger}|{source_key}".encode()).hexdigest()[:32]


def _key_text(v: Any) -> str:
    if isinstance(v, datetime | date):
        return v.isoformat()
    return str(v)


def _source_key(row: Mapping[str, Any], trigger: str) -> str:
    return "|".join(_key_text(row[k]) for k in KEYS[trigger])


def _key_text_column(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """`_key_text` of every value, as Arrow text. Text columns (every single-column source
    key) need no conversion, so they are never turned into Python objects; other types go
    through `_key_text` itself, the one definition of a key's text."""
    if pa.types.is_string(column.type):
        return column.fill_null(_key_text(None)) if column.null_count else column
    return pa.chunked_array([pa.array([_key_text(v) for v in column.to_pylist()], pa.string())])


@dataclass(frozen=True)
class WrittenKeys:
    """Per trigger type, the source keys of the rows a write holds, kept as Arrow text.

    The hook only needs to know which of a trigger's candidates (the few rows in its lookback
    window) a write caused. A lifecycle recompute writes a million history rows, whose keys as
    a Python set cost about 300 MB at its peak; looking the candidates' keys up in the column
    costs a boolean mask.
    """

    texts: Mapping[str, pa.ChunkedArray]

    def __contains__(self, trigger: object) -> bool:
        return trigger in self.texts

    def among(self, trigger: str, keys: Iterable[str]) -> set[str]:
        """Those of `keys` that a written row of `trigger`'s source table has."""
        wanted = pa.array(sorted(set(keys)), pa.string())
        texts = self.texts[trigger]
        if not len(wanted) or not len(texts):
            return set()
        return set(texts.filter(pc.is_in(texts, value_set=wanted)).unique().to_pylist())


def written_keys(written: Sequence[Batch], rules: Sequence[Automation]) -> WrittenKeys:
    """Per trigger type of `rules`: the source keys of the rows `written` holds, built from the
    source-table columns the way `detect` builds them from candidates ('|'-joined texts)."""
    out: dict[str, pa.ChunkedArray] = {}
    for rule in rules:
        trig = rule.trigger.type
        columns = SOURCE_KEYS[trig]
        if columns is None or trig in out:
            continue
        chunks: list[pa.Array] = []
        for b in written:
            if b.table != SOURCES[trig]:
                continue
            data = sources.canonical(b.table, b.data)
            if b.stage is not None:  # the rows are in its files: only the key columns are read
                data = b.stage.columns(list(columns))
            if data.num_rows:
                parts = [_key_text_column(data.column(c)) for c in columns]
                texts = parts[0] if len(parts) == 1 else pc.binary_join_element_wise(*parts, "|")
                chunks += texts.chunks
        out[trig] = pa.chunked_array(chunks, pa.string())
    return WrittenKeys(out)


def detect(
    wh: Warehouse,
    tables: sources.Tables,
    rules: Sequence[Automation],
    at: datetime,
    only: WrittenKeys | None = None,
    pipeline: PipelineConfig | None = None,
    routing: RoutingConfig | None = None,
) -> list[dict[str, Any]]:
    """Events `rules` fire as of `at` whose condition holds (recorded or not); with `only`
    (the source keys a write holds, per trigger type), just those its rows fire. `pipeline`
    and `routing` are the configuration some triggers read (hygiene rules, the SLA calendar)."""
    out: list[dict[str, Any]] = []
    for rule in rules:
        trig = rule.trigger
        rows = wh.to_arrow(candidates(tables, trig, at, pipeline, routing)).to_pylist()
        keyed = [(_source_key(r, trig.type), r) for r in rows]
        if only is not None and trig.type in only:
            keep = only.among(trig.type, (key for key, _ in keyed))
            keyed = [(key, r) for key, r in keyed if key in keep]
        if rule.when is not None and keyed:
            ok = matching(
                wh,
                tables,
                trig.record_table,
                rule.when,
                (r["record_id"] for _, r in keyed),
                f"automation {rule.name}",
            )
            keyed = [(key, r) for key, r in keyed if r["record_id"] in ok]
        # the warehouse returns candidates in any order (DuckDB's threads, at scale), and the
        # events' order is what the audit entry lists and hashes: by source key, one order
        keyed.sort(key=lambda kr: kr[0])
        for key, r in keyed:
            details = {k: v for k, v in r.items() if k not in _CORE and k != "source_row"}
            out.append(
                {
                    "event_id": event_id(rule.name, trig.type, key),
                    "automation": rule.name,
                    "trigger": trig.type,
                    "record_table": trig.record_table,
                    "record_id": r["record_id"],
                    "source_key": key,
                    "owner_id": r["owner_id"],
                    "occurred_at": r["occurred_at"],
                    "detected_at": naive_utc(at),
                    "details": details,
                }
            )
    return out


def unrecorded(wh: Warehouse, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`events` minus those already in automation_events (and repeats within the list)."""
    if not events:
        return []
    ids = sorted({e["event_id"] for e in events})
    known_t = wh.table("automation_events")
    chosen = ibis.memtable(pa.table({"event_id": pa.array(ids, pa.string())}))
    hit = known_t.filter(known_t.event_id.isin(chosen.event_id)).select("event_id")
    known = set(wh.to_arrow(hit).column("event_id").to_pylist())
    out, seen = [], set()
    for e in events:
        if e["event_id"] not in known and e["event_id"] not in seen:
            seen.add(e["event_id"])
            out.append(e)
    return out


@dataclass(frozen=True)
class Queued:
    """What one evaluation recorded."""

    events: tuple[dict[str, Any], ...]
    planned: Planned

    def count(self, status: str) -> int:
        return sum(1 for a in self.planned.actions if a["status"] == status)


def _table(name: str, rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, arrow_schema(table(name)))


def batches(
    queued: Queued, audit_start: tuple[int, str], at: datetime
) -> tuple[list[Batch], tuple[int, str]]:
    """The writes that record `queued`, chained after the audit head `audit_start`."""
    if not queued.events:
        return [], audit_start
    events = [{**e, "details": json.dumps(e["details"], default=str)} for e in queued.events]
    p = queued.planned
    out = [
        Batch("automation_events", _table("automation_events", events), "append"),
        Batch("automation_actions", _table("automation_actions", p.actions), "append"),
    ]
    if p.tasks:
        out.append(Batch("tasks", _table("tasks", p.tasks), "append"))
    if p.memberships:
        out.append(Batch("nurture_memberships", _table("nurture_memberships", p.memberships)))
    if p.ledger:
        out.append(Batch("sync_ledger", _table("sync_ledger", p.ledger)))
        out.append(Batch("sync_runs", _table("sync_runs", p.runs), "append"))
    by_status: dict[str, list[str]] = {}
    for a in p.actions:
        by_status.setdefault(a["status"], []).append(a["action_id"])
    details = {
        "events": [e["event_id"] for e in queued.events],
        "actions": by_status,
        "blocked_reasons": sorted({a["last_error"] for a in p.actions if a["status"] == "blocked"}),
    }
    subject = f"{len(queued.events)} events, {len(p.actions)} actions"
    note = AuditNote(ACTOR, "automation.queued", subject, details, at)
    audit, new_head = chain_batch(audit_start, [note])
    return [*out, audit], new_head


def evaluate(
    wh: Warehouse,
    model: OperatingModel,
    tables: sources.Tables,
    rules: Sequence[Automation],
    at: datetime,
    only: WrittenKeys | None = None,
) -> Queued:
    """New events of `rules` as of `at`, and what their actions will do; nothing written."""
    found = unrecorded(wh, detect(wh, tables, rules, at, only, model.pipeline, model.routing))
    planned = plan_actions(wh, tables, model, found, at) if found else Planned()
    return Queued(tuple(found), planned)


def enabled(model: OperatingModel) -> list[Automation]:
    return [r for r in model.automations.rules if r.enabled]


def queue(wh: Warehouse, model: OperatingModel, at: datetime | None = None) -> Queued:
    """Evaluate every enabled automation over the stored tables and record the new events,
    their actions and the audit entry in one transaction."""
    when = naive_utc(at) if at is not None else utc_now()
    queued = evaluate(wh, model, sources.stored(wh), enabled(model), when)
    writes, _ = batches(queued, head(wh), when)
    if writes:
        wh.write_many(writes)
    return queued


def _audit_tail(written: Sequence[Batch]) -> tuple[int, str] | None:
    rows = [b.data for b in written if b.table == "audit_log" and b.data.num_rows]
    if not rows:
        return None
    last = rows[-1].slice(rows[-1].num_rows - 1).to_pylist()[0]
    return int(last["seq"]), str(last["hash"])


class OutboxHook:
    """The write hook `install` puts on a warehouse (see the module docstring)."""

    def __init__(
        self, wh: Warehouse, model: OperatingModel, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self.wh = wh
        self.model = model
        self.clock = clock
        self.by_source: dict[str, list[Automation]] = {}
        for rule in enabled(model):
            source = SOURCES[rule.trigger.type]
            if source is not None:
                self.by_source.setdefault(source, []).append(rule)

    # A staged batch (`Batch.stage`, rows on disk) is read through `Warehouse.staged_table`
    # (`sources.overlaid`), so a write of one need not hold its rows for this hook.
    reads_stages = True

    @property
    def reads(self) -> frozenset[str]:
        """The tables whose written rows this hook reads (its rules' sources): a write of any
        other table, a staged one included (`Batch.stage`), triggers nothing here."""
        return frozenset(self.by_source)

    def __call__(self, written: Sequence[Batch]) -> list[Batch]:
        touched = {b.table for b in written if b.data.num_rows or (b.stage and b.stage.rows)}
        rules = [r for name, rs in self.by_source.items() if name in touched for r in rs]
        if not rules:
            return []
        at = naive_utc(self.clock())
        tables = sources.overlaid(self.wh, written)
        queued = evaluate(self.wh, self.model, tables, rules, at, written_keys(written, rules))
        start = _audit_tail(written) or head(self.wh)
        return batches(queued, start, at)[0]


def install(wh: Warehouse, model: OperatingModel, clock: Callable[[], datetime] = utc_now) -> None:
    """Record automation events in every later write that causes them (no-op without any);
    `clock` says when a write happens (tests replay a day)."""
    wh.write_hooks = [h for h in wh.write_hooks if not isinstance(h, OutboxHook)]
    if enabled(model):
        wh.write_hooks.append(OutboxHook(wh, model, clock))


def count_by_status(wh: Warehouse) -> Mapping[str, int]:
    t = wh.table("automation_actions")
    rows = wh.to_arrow(t.group_by("status").aggregate(n=t.count())).to_pylist()
    return {str(r["status"]): int(r["n"]) for r in rows}
