"""Routing against the warehouse: rebuild the state, route persons, store every decision.

The state is rebuilt from stored facts only (users, the config's calendar and the decisions
already made, replayed in order), so routing the same persons at the same instant against the
same warehouse gives the same owners, and `reroute` can re-run any set of leads.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa

from revops.config.routing import RoutingConfig
from revops.routing.calendar import aware
from revops.routing.engine import Decision, compile_routing
from revops.routing.reps import apply_operations, load_operations
from revops.routing.round_robin import RoutingState, UserInfo
from revops.routing.sla_store import clock_batches
from revops.warehouse import Batch, Warehouse
from revops.warehouse.clock import naive_utc


@dataclass(frozen=True)
class RoutedLead:
    """A stored decision for one person."""

    decision_id: str
    person_id: str
    decision: Decision
    replay_of: str | None


def load_users(wh: Warehouse, cfg: RoutingConfig) -> list[UserInfo]:
    rows = wh.to_arrow(wh.table("users").select("user_id", "is_active", "timezone")).to_pylist()
    return [
        UserInfo(r["user_id"], bool(r["is_active"]), r["timezone"] or cfg.default_timezone)
        for r in rows
    ]


def routing_state(wh: Warehouse, cfg: RoutingConfig) -> RoutingState:
    """The state now: users, calendar and rep operations (`reps`), advanced by every stored
    decision in order."""
    state = apply_operations(RoutingState.initial(load_users(wh, cfg), cfg), load_operations(wh))
    t = wh.table("routing_decisions")
    done = wh.to_arrow(
        t.filter(t.owner_id.notnull())
        .select("owner_id", "pool", "decided_at", "decision_id")
        .order_by(["decided_at", "decision_id"])
    ).to_pylist()
    index = {p.name: {m.user_id: i for i, m in enumerate(p.members)} for p in cfg.pools}
    for d in done:
        pool = d["pool"] if d["pool"] in index else None
        i = index[pool].get(d["owner_id"]) if pool is not None else None
        state = state.assign(d["owner_id"], aware(d["decided_at"]), pool, i)
    return state


def _decision_id(person_id: str, at: datetime, replay_of: str | None) -> str:
    """Same person, instant and predecessor → same id, so re-running a batch is idempotent."""
    key = f"{person_id}|{naive_utc(at).isoformat()}|{replay_of or ''}"
    return hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()[:20]


def _persons(wh: Warehouse, expr: Any) -> pa.Table:
    return wh.to_arrow(expr.order_by(["created_at", "person_id"]))


def _accounts(wh: Warehouse, ids: Iterable[str | None]) -> dict[str, dict[str, Any]]:
    wanted = sorted({i for i in ids if i})
    if not wanted:
        return {}
    t = wh.table("accounts")
    rows = wh.to_arrow(t.filter(t.account_id.isin(wanted))).to_pylist()
    return {r["account_id"]: r for r in rows}


def _route_and_store(
    wh: Warehouse,
    cfg: RoutingConfig,
    persons: pa.Table,
    at: datetime,
    previous: dict[str, str],
    superseded: Mapping[str, Mapping[str, Any]] | None = None,
    facts: Mapping[str, Mapping[str, Any]] | None = None,
    also: Sequence[Batch] = (),
) -> list[RoutedLead]:
    """Route `persons` (see `_plan`) and write decisions, owners and clocks with `also`."""
    out, batches = _plan(wh, cfg, persons, at, previous, superseded, facts)
    if batches or also:
        wh.write_many([*batches, *also])
    return out


def _plan(
    wh: Warehouse,
    cfg: RoutingConfig,
    persons: pa.Table,
    at: datetime,
    previous: dict[str, str],
    superseded: Mapping[str, Mapping[str, Any]] | None = None,
    facts: Mapping[str, Mapping[str, Any]] | None = None,
    away: Mapping[str, str] | None = None,
) -> tuple[list[RoutedLead], list[Batch]]:
    """Route `persons` in order from the stored state; the decisions, owners and SLA clocks
    (`sla_store.clock_batches`) as batches to write together. `facts` adds per person what
    rules may read besides persons columns (`config.routing.LEAD_FACTS`); `away` names per
    person a user who must not get the lead (treated as paused for that decision only)."""
    router = compile_routing(cfg)
    state = routing_state(wh, cfg)
    extra = facts or {}
    barred = away or {}
    rows = [{**r, **extra.get(r["person_id"], {})} for r in persons.to_pylist()]
    accounts = _accounts(wh, (r["account_id"] for r in rows))
    out: list[RoutedLead] = []
    for r in rows:
        account = accounts.get(r["account_id"] or "")
        user = barred.get(r["person_id"])
        if user is None:
            decision = router.route(r, account, state, at)
            state = decision.state
        else:
            paused = state.paused
            decision = router.route(r, account, replace(state, paused=paused | {user}), at)
            state = replace(decision.state, paused=paused)
        replay_of = previous.get(r["person_id"])
        did = _decision_id(r["person_id"], at, replay_of)
        out.append(RoutedLead(did, r["person_id"], decision, replay_of))
    if not out:
        return out, []
    decided = naive_utc(at)
    table = pa.Table.from_pylist(
        [
            {
                "decision_id": o.decision_id,
                "person_id": o.person_id,
                "owner_id": o.decision.owner_id,
                "queue": o.decision.queue,
                "rule": o.decision.rule,
                "pool": o.decision.pool,
                "reason": o.decision.reason,
                "evaluated": o.decision.evaluated_json(),
                "decided_at": decided,
                "replay_of": o.replay_of,
            }
            for o in out
        ]
    )
    owners = pa.array([o.decision.owner_id for o in out], pa.string())
    updated = persons.set_column(persons.column_names.index("owner_id"), "owner_id", owners)
    leads = {r["person_id"]: r for r in rows}
    clocks = clock_batches(wh, cfg, out, leads, accounts, at, superseded)
    return out, [Batch("routing_decisions", table), Batch("persons", updated), *clocks]


def route_unassigned(
    wh: Warehouse, cfg: RoutingConfig, at: datetime, since: date | None = None
) -> list[RoutedLead]:
    """Route every person without an owner and without a stored decision (a lead parked in a
    queue stays there until re-routed), created on or after `since`, oldest first."""
    t = wh.table("persons")
    decided = wh.table("routing_decisions").select("person_id")
    # an anti join, not NOT IN: see `routable_since`
    expr = t.filter(t.owner_id.isnull()).anti_join(decided, "person_id")
    if since is not None:
        expr = expr.filter(expr.created_at >= datetime.combine(since, datetime.min.time()))
    return _route_and_store(wh, cfg, _persons(wh, expr), at, {})


WATERMARK = "route_run"


@dataclass(frozen=True)
class RouteRun:
    """What `route run` did: the window it routed and the decisions it stored."""

    since: datetime
    until: datetime
    routed: list[RoutedLead]


def watermark(wh: Warehouse, name: str = WATERMARK) -> datetime | None:
    """How far routing runs have routed (None before the first run)."""
    t = wh.table("routing_watermarks")
    rows = wh.to_arrow(t.filter(t.name == name).select("watermark_at")).to_pylist()
    return rows[0]["watermark_at"] if rows else None


def routable_since(
    wh: Warehouse, cfg: RoutingConfig, since: datetime, until: datetime
) -> tuple[pa.Table, dict[str, dict[str, Any]]]:
    """Persons who entered a routable stage in [since, until], not already being worked.

    The lower bound is inclusive: a change stamped exactly at the last run's watermark (as
    `score apply` stamps the MQLs it creates at the data's end, where the demo desk puts the
    watermark) is routed by the next run; one routed at or after its entry is left alone, so
    two runs in a row still route nothing the second time.

    The entry time is the latest lifecycle_history change into their current (routable)
    stage, or their creation when the history has none. A person with a running SLA clock,
    or routed at or after that entry, is left alone. Also each person's latest touch type up
    to `until` (the `touch_type` fact rules and SLA targets may read).
    """
    stages = list(cfg.routable_stages)
    p = wh.table("persons")
    h = wh.table("lifecycle_history")
    h = h.filter(h.to_stage.isin(stages), h.changed_at <= until)
    entered = h.group_by(h.person_id.name("_h")).aggregate(_entered=h.changed_at.max())
    expr = p.filter(p.lifecycle_stage.isin(stages))
    expr = expr.left_join(entered, expr.person_id == entered._h).drop("_h")
    expr = expr.mutate(_became=expr._entered.fill_null(expr.created_at))
    expr = expr.filter(expr._became >= since, expr._became <= until)
    c = wh.table("sla_clocks")
    # An anti join, not NOT IN: Spark plans NOT IN as a nested loop over both sides, and a
    # clock without a person would make NOT IN leave every person out.
    expr = expr.anti_join(c.filter(c.closed_at.isnull()).select("person_id"), "person_id")
    d = wh.table("routing_decisions")
    last = d.group_by(d.person_id.name("_d")).aggregate(_decided=d.decided_at.max())
    expr = expr.left_join(last, expr.person_id == last._d).drop("_d")
    expr = expr.filter(expr._decided.isnull() | (expr._decided < expr._became))
    found = wh.to_arrow(
        expr.order_by(["_became", "person_id"]).drop("_entered", "_became", "_decided")
    )
    return found, lead_facts(wh, found.column("person_id").to_pylist(), until)


def lead_facts(
    wh: Warehouse, person_ids: Sequence[str], until: datetime
) -> dict[str, dict[str, Any]]:
    """What rules and SLA targets may read besides persons columns (`LEAD_FACTS`): each
    person's latest touch type up to `until`."""
    facts: dict[str, dict[str, Any]] = {pid: {"touch_type": None} for pid in person_ids}
    if person_ids:
        t = wh.table("touchpoints")
        t = t.filter(t.person_id.isin(list(person_ids)), t.occurred_at <= naive_utc(until))
        for r in wh.to_arrow(
            t.order_by(["occurred_at", "touchpoint_id"]).select("person_id", "touch_type")
        ).to_pylist():
            facts[r["person_id"]]["touch_type"] = r["touch_type"]
    return facts


def route_new(
    wh: Warehouse, cfg: RoutingConfig, at: datetime, since: datetime | None = None
) -> RouteRun:
    """Route every person who became routable since the last run (or `since`), at `at`.

    Without a stored watermark the first run looks back `first_run_lookback_hours`: history
    is routed only when asked. The watermark moves to `at` in the decisions' transaction, so
    a second run right after routes nothing.
    """
    until = naive_utc(at)
    start = naive_utc(aware(since)) if since is not None else watermark(wh)
    if start is None:
        start = until - timedelta(hours=cfg.first_run_lookback_hours)
    persons, facts = routable_since(wh, cfg, start, until)
    mark = pa.Table.from_pylist(
        [{"name": WATERMARK, "watermark_at": until, "updated_at": naive_utc(datetime.now(UTC))}]
    )
    previous = {
        k: v["decision_id"]
        for k, v in latest_decisions(wh, persons.column("person_id").to_pylist()).items()
    }
    routed = _route_and_store(
        wh, cfg, persons, at, previous, facts=facts, also=[Batch("routing_watermarks", mark)]
    )
    return RouteRun(start, until, routed)


def latest_decisions(wh: Warehouse, person_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The most recent stored decision of each person."""
    t = wh.table("routing_decisions")
    rows = wh.to_arrow(
        t.filter(t.person_id.isin(list(person_ids))).order_by(["decided_at", "decision_id"])
    ).to_pylist()
    return {r["person_id"]: r for r in rows}


def reroute(
    wh: Warehouse,
    cfg: RoutingConfig,
    person_ids: Sequence[str],
    at: datetime,
    superseded: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[RoutedLead]:
    """Re-route existing leads from the stored state (`plan_reroute`) and write it."""
    out, batches = plan_reroute(wh, cfg, person_ids, at, superseded)
    if batches:
        wh.write_many(batches)
    return out


def plan_reroute(
    wh: Warehouse,
    cfg: RoutingConfig,
    person_ids: Sequence[str],
    at: datetime,
    superseded: Mapping[str, Mapping[str, Any]] | None = None,
    away: Mapping[str, str] | None = None,
) -> tuple[list[RoutedLead], list[Batch]]:
    """Re-route existing leads from the stored state, as batches for the caller to write in
    its own transaction; each new decision names the one it replaces (replay_of), so the
    history of a lead's ownership is never overwritten.

    Running SLA clocks of the leads close; `superseded` (person_id → clock fields, used by
    SLA escalation) is recorded on them; `away` (person_id → user) keeps a lead from the
    user named, e.g. the owner who breached its SLA."""
    if not person_ids:
        return [], []
    t = wh.table("persons")
    persons = _persons(wh, t.filter(t.person_id.isin(list(person_ids))))
    previous = {k: v["decision_id"] for k, v in latest_decisions(wh, person_ids).items()}
    # re-routing decides the owner afresh: the current one does not keep the lead by default
    facts = {k: {**v, "owner_id": None} for k, v in lead_facts(wh, person_ids, at).items()}
    return _plan(wh, cfg, persons, at, previous, superseded, facts, away)
