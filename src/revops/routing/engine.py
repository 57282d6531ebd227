"""The routing decision: a pure function of (lead, account, state, config, instant).

Rules are compiled once per config into a `Router`, so a decision is a walk over closures and
set lookups. The decision carries every rule it evaluated, matched or not and why, and the new
state; the state it started from is left untouched, so replaying the same inputs from the same
state gives the same owner.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from revops.config.routing import LEAD_FACTS, RoutingConfig, Rule, Target
from revops.routing.calendar import aware
from revops.routing.round_robin import Calendar, CompiledPool, RoutingState, unavailable
from revops.routing.rules import Compiled, Record, compile_condition, first_failure
from revops.routing.territories import (
    ACCOUNT_COLUMNS,
    LEAD_COLUMNS,
    CompiledTerritory,
    match,
)

EXISTING_OWNER = "existing_owner"


@dataclass(frozen=True, slots=True)
class RuleTrace:
    """One evaluated rule: did it match, and why (or why not)."""

    rule: str
    matched: bool
    reason: str


@dataclass(frozen=True)
class Decision:
    """Where a lead went, which rule sent it there, every rule evaluated and the next state.

    Exactly one of `owner_id` and `queue` is set. `rule` is None when no rule matched and the
    lead fell to the fallback queue.
    """

    owner_id: str | None
    queue: str | None
    rule: str | None
    pool: str | None
    reason: str
    evaluated: tuple[RuleTrace, ...]
    state: RoutingState

    def evaluated_json(self) -> str:
        return json.dumps(
            [{"rule": t.rule, "matched": t.matched, "reason": t.reason} for t in self.evaluated]
        )


@dataclass(frozen=True, slots=True)
class _Rule:
    name: str
    kind: str
    when: tuple[Compiled, ...]
    target: Target
    territories: tuple[CompiledTerritory, ...]


class Router:
    """A routing config compiled for speed; build it once with `compile_routing`."""

    def __init__(self, cfg: RoutingConfig) -> None:
        self.cfg = cfg
        self.fallback = cfg.fallback_queue
        self.calendar = Calendar(frozenset(cfg.holidays))
        self.pools = {p.name: CompiledPool.of(p) for p in cfg.pools}
        self.rules = tuple(_compile_rule(r) for r in cfg.rules)

    def route(
        self, lead: Record, account: Record | None, state: RoutingState, at: datetime
    ) -> Decision:
        at = aware(at)
        trail: list[RuleTrace] = []
        owner = lead.get("owner_id")
        if self.cfg.keep_active_owner and owner:
            blocked = unavailable(state, str(owner), at)
            if blocked is None:
                reason = f"owner {owner} is active and available → keeps the lead"
                trail.append(RuleTrace(EXISTING_OWNER, True, reason))
                new = state.assign(str(owner), at, None, None)
                return Decision(str(owner), None, EXISTING_OWNER, None, reason, tuple(trail), new)
            trail.append(RuleTrace(EXISTING_OWNER, False, f"owner {blocked}"))
        for rule in self.rules:
            why_not = first_failure(rule.when, lead, account)
            if why_not is not None:
                trail.append(RuleTrace(rule.name, False, why_not))
                continue
            target: Target | None = rule.target
            why = "conditions held" if rule.when else "no conditions"
            if rule.kind == "account_owner":
                target, why = _account_target(account)
            elif rule.kind == "territory":
                territory, why = match(rule.territories, lead, account)
                target = None if territory is None else territory.config
            if target is None:
                trail.append(RuleTrace(rule.name, False, why))
                continue
            decision = self._resolve(rule.name, target, why, trail, state, at)
            if decision is not None:
                return decision
        trail_t = tuple(trail)
        return Decision(None, self.fallback, None, None, "no rule matched", trail_t, state)

    def _resolve(
        self,
        rule: str,
        target: Target,
        why: str,
        trail: list[RuleTrace],
        state: RoutingState,
        at: datetime,
    ) -> Decision | None:
        """The decision for a matched rule, or None (trace appended) when its owner can't."""
        if target.queue is not None:
            reason = f"{why} → queue {target.queue}"
            trail.append(RuleTrace(rule, True, reason))
            return Decision(None, target.queue, rule, None, reason, tuple(trail), state)
        if target.owner is not None:
            blocked = unavailable(state, target.owner, at)
            if blocked is not None:
                trail.append(RuleTrace(rule, False, f"{why}, but owner {blocked}"))
                return None
            reason = f"{why} → owner {target.owner}"
            trail.append(RuleTrace(rule, True, reason))
            new = state.assign(target.owner, at, None, None)
            return Decision(target.owner, None, rule, None, reason, tuple(trail), new)
        pool = self.pools[str(target.pool)]
        index, skipped = pool.pick(state, at, self.calendar)
        skip_text = f" (skipped {'; '.join(skipped)})" if skipped else ""
        if index is None:
            reason = f"{why} → pool {pool.name}: nobody eligible{skip_text} → fallback queue"
            trail.append(RuleTrace(rule, True, reason))
            return Decision(None, self.fallback, rule, pool.name, reason, tuple(trail), state)
        user = pool.members[index].user_id
        reason = f"{why} → pool {pool.name} ({pool.mode}) → {user}{skip_text}"
        trail.append(RuleTrace(rule, True, reason))
        new = state.assign(user, at, pool.name, index)
        return Decision(user, None, rule, pool.name, reason, tuple(trail), new)


def _account_target(account: Record | None) -> tuple[Target | None, str]:
    if account is None:
        return None, "no matched account"
    owner = account.get("owner_id")
    if not owner:
        return None, f"account {account.get('account_id')!r} has no owner"
    return Target(owner=str(owner)), f"account {account.get('account_id')!r} is owned"


def _compile_rule(r: Rule) -> _Rule:
    return _Rule(
        r.name,
        r.kind,
        tuple(compile_condition(c) for c in r.when),
        r,
        tuple(CompiledTerritory.of(t) for t in r.territories),
    )


def columns_read(cfg: RoutingConfig) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The persons and the accounts columns a decision and its SLA priority can read, for
    callers that fetch only those (PII columns no rule names stay encrypted and unread):
    the fields the rules' and SLA targets' conditions name, the territories' fields, the
    lead's id, and the account's id and owner (which `account_owner` rules read).
    A lead fact (`LEAD_FACTS`) is no persons column: the caller supplies it."""
    lead = {"person_id"}
    account = {"account_id", "owner_id"}
    if any(r.kind == "territory" for r in cfg.rules):
        lead.update(LEAD_COLUMNS)
        account.update(ACCOUNT_COLUMNS)
    for c in (
        *(c for r in cfg.rules for c in r.when),
        *(c for t in cfg.sla.targets for c in t.when),
    ):
        source, _, column = c.field.rpartition(".")
        if source == "account":
            account.add(column)
        elif c.field not in LEAD_FACTS:
            lead.add(column)
    return tuple(sorted(lead)), tuple(sorted(account))


_ROUTERS: dict[int, tuple[RoutingConfig, Router]] = {}


def compile_routing(cfg: RoutingConfig) -> Router:
    """The compiled router of a config, built once per config object and then reused."""
    hit = _ROUTERS.get(id(cfg))
    if hit is not None and hit[0] is cfg:
        return hit[1]
    router = Router(cfg)
    if len(_ROUTERS) > 64:
        _ROUTERS.clear()
    _ROUTERS[id(cfg)] = (cfg, router)
    return router


def route(
    lead: Mapping[str, Any],
    account: Mapping[str, Any] | None,
    state: RoutingState,
    cfg: RoutingConfig | Router,
    at: datetime,
) -> Decision:
    """Route one lead at instant `at`; see `Router.route`."""
    router = cfg if isinstance(cfg, Router) else compile_routing(cfg)
    return router.route(lead, account, state, at)
