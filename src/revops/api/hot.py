"""The intake API's hot state: everything one lead decision reads, kept in memory.

A decision must take microseconds, so nothing on the request path reads the warehouse: the
routing state (replayed from stored decisions at startup, then advanced by each decision), the
users, an email → person index for duplicates, each person's latest routing, and the accounts
indexed by website domain and normalized name for matching. The server is the warehouse's only
writer while it runs (DuckDB allows one writing process), so the state stays true; after a
failed write it is rebuilt from the warehouse.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import ibis
import pyarrow as pa

from revops.config.models import OperatingModel
from revops.identity.freemail import free_mail_domains
from revops.identity.matching import normalize_company, registrable_domain
from revops.privacy.tombstones import TombstoneScreen
from revops.routing.engine import Router, compile_routing
from revops.routing.round_robin import RoutingState
from revops.routing.store import routing_state
from revops.warehouse import Warehouse


@dataclass(frozen=True, slots=True)
class Routed:
    """A person's current routing, as a duplicate answer repeats it."""

    owner_id: str | None
    queue: str | None = None
    rule: str | None = None
    reason: str | None = None
    decision_id: str | None = None


@dataclass(frozen=True, slots=True)
class User:
    name: str
    timezone: str
    active: bool


@dataclass
class HotState:
    router: Router
    routing: RoutingState
    users: dict[str, User]
    emails: dict[str, str]
    persons: dict[str, Routed]
    accounts: dict[str, dict[str, Any]]
    by_domain: dict[str, list[str]] = field(default_factory=dict)
    by_name: dict[str, list[str]] = field(default_factory=dict)
    free_domains: frozenset[str] = frozenset()
    tombstones: TombstoneScreen = field(
        default_factory=lambda: TombstoneScreen(frozenset(), frozenset(), None)
    )


def email_key(email: str) -> str:
    """Duplicates are found by the address, case-insensitively and without outer spaces."""
    return email.strip().lower()


@dataclass(frozen=True)
class HotTables:
    """What the hot state is built from, as read from the warehouse: plain tables and values,
    so the applier process that reads them can hand them to the server (`api.applier`)."""

    users: pa.Table
    people: pa.Table
    latest: pa.Table
    accounts: pa.Table
    routing: RoutingState
    tombstones: TombstoneScreen


def hot_tables(wh: Warehouse, model: OperatingModel) -> HotTables:
    """Read users, persons, latest decisions and accounts once (at startup or after a failure)."""
    d = wh.table("routing_decisions")
    newest_first = ibis.window(
        group_by=d.person_id, order_by=[d.decided_at.desc(), d.decision_id.desc()]
    )
    latest = d.mutate(n=ibis.row_number().over(newest_first))
    return HotTables(
        wh.to_arrow(wh.table("users").select("user_id", "name", "timezone", "is_active")),
        wh.to_arrow(wh.table("persons").select("person_id", "email", "owner_id")),
        wh.to_arrow(
            latest.filter(latest.n == 0).select(
                "person_id", "owner_id", "queue", "rule", "reason", "decision_id"
            )
        ),
        wh.to_arrow(wh.table("accounts")),
        routing_state(wh, model.routing),
        TombstoneScreen.load(wh),
    )


def build_hot_state(tables: HotTables, model: OperatingModel) -> HotState:
    """The hot state from what `hot_tables` read (in the server's process)."""
    cfg = model.routing
    users = {
        r["user_id"]: User(r["name"], r["timezone"] or cfg.default_timezone, bool(r["is_active"]))
        for r in tables.users.to_pylist()
    }
    people = tables.people
    emails: dict[str, str] = {}
    persons: dict[str, Routed] = {}
    for pid, email, owner in zip(
        people["person_id"].to_pylist(),
        people["email"].to_pylist(),
        people["owner_id"].to_pylist(),
        strict=True,
    ):
        if email:
            emails.setdefault(email_key(email), pid)
        persons[pid] = Routed(owner)
    for r in tables.latest.to_pylist():
        if r["person_id"] in persons:
            persons[r["person_id"]] = Routed(
                r["owner_id"], r["queue"], r["rule"], r["reason"], r["decision_id"]
            )
    accounts = {r["account_id"]: r for r in tables.accounts.to_pylist()}
    hot = HotState(
        compile_routing(cfg),
        tables.routing,
        users,
        emails,
        persons,
        accounts,
        free_domains=frozenset(free_mail_domains()),
        tombstones=tables.tombstones,
    )
    for account_id, a in accounts.items():
        add_account_keys(hot, account_id, a)
    return hot


def add_account_keys(hot: HotState, account_id: str, account: dict[str, Any]) -> None:
    domain = registrable_domain(account.get("domain"))
    if domain and domain not in hot.free_domains:
        hot.by_domain.setdefault(domain, []).append(account_id)
    name = normalize_company(account.get("name"))
    if name:
        hot.by_name.setdefault(name, []).append(account_id)
