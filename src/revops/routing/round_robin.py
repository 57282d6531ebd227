"""Round-robin pools and the state they advance: pointers, counters and who can take a lead.

`RoutingState` is immutable: `assign` returns a new state and never touches the old one, so a
decision can be replayed from the state it started from and give the same owner. Daily and
weekly counters are kept per user in that user's local calendar and reset by date rather than
by a job, so the same inputs at the same instant always see the same counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from revops.config.routing import Pool, RoutingConfig, WorkingHours
from revops.routing.calendar import aware, in_any, is_working, local_time, week_of


@dataclass(frozen=True, slots=True)
class UserInfo:
    """What routing needs to know about a user (from the `users` table)."""

    user_id: str
    active: bool = True
    timezone: str = "UTC"


@dataclass(frozen=True, slots=True)
class Tally:
    """Assignments to one user on their current local day and ISO week."""

    day: date | None = None
    day_count: int = 0
    week: tuple[int, int] | None = None
    week_count: int = 0

    def on(self, day: date) -> int:
        return self.day_count if self.day == day else 0

    def in_week(self, week: tuple[int, int]) -> int:
        return self.week_count if self.week == week else 0

    def bump(self, day: date) -> Tally:
        week = week_of(day)
        return Tally(day, self.on(day) + 1, week, self.in_week(week) + 1)


_NO_TALLY = Tally()


@dataclass(frozen=True)
class RoutingState:
    """Everything a decision depends on besides the lead, the config and the instant.

    The mappings are never mutated: every update builds new ones (see `assign`).
    """

    users: Mapping[str, UserInfo] = field(default_factory=dict)
    out_of_office: Mapping[str, tuple[tuple[datetime, datetime], ...]] = field(default_factory=dict)
    paused: frozenset[str] = frozenset()
    pointers: Mapping[str, int] = field(default_factory=dict)
    pool_counts: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    tallies: Mapping[str, Tally] = field(default_factory=dict)
    caps: Mapping[str, tuple[int | None, int | None]] = field(
        default_factory=dict
    )  # (daily, weekly) per user from rep operations, replacing the pool's

    @classmethod
    def initial(cls, users: Iterable[UserInfo], cfg: RoutingConfig) -> RoutingState:
        """Fresh counters; availability from the users and the config's calendar."""
        ooo: dict[str, list[tuple[datetime, datetime]]] = {}
        for o in cfg.out_of_office:
            ooo.setdefault(o.user_id, []).append((aware(o.start), aware(o.end)))
        return cls(
            users={u.user_id: u for u in users},
            out_of_office={k: tuple(v) for k, v in ooo.items()},
            paused=frozenset(cfg.paused),
        )

    def assign(
        self, user_id: str, at: datetime, pool: str | None, index: int | None
    ) -> RoutingState:
        """The state after `user_id` takes a lead at `at` (from `pool`'s member `index`)."""
        info = self.users.get(user_id)
        day = local_time(at, info.timezone if info else "UTC").date()
        tallies = dict(self.tallies)
        tallies[user_id] = self.tallies.get(user_id, Tally()).bump(day)
        if pool is None:
            return replace(self, tallies=tallies)
        counts = dict(self.pool_counts)
        inner = dict(counts.get(pool, {}))
        inner[user_id] = inner.get(user_id, 0) + 1
        counts[pool] = inner
        pointers = dict(self.pointers)
        if index is not None:
            pointers[pool] = index
        return replace(self, tallies=tallies, pool_counts=counts, pointers=pointers)


@dataclass(frozen=True, slots=True)
class Calendar:
    """The team calendar shared by every pool: holidays are company-wide dates."""

    holidays: frozenset[date]


def unavailable(state: RoutingState, user_id: str, at: datetime) -> str | None:
    """Why a named owner cannot take a lead now (inactive, paused, out of office), or None.

    Working hours, holidays and caps do not apply here: an account owner keeps their accounts'
    leads overnight, but a departed, paused or absent owner must not sit on them.
    """
    info = state.users.get(user_id)
    if info is None:
        return f"{user_id}: unknown user"
    if not info.active:
        return f"{user_id}: inactive"
    if user_id in state.paused:
        return f"{user_id}: paused"
    ranges = state.out_of_office.get(user_id)
    if ranges and in_any(at, ranges):
        return f"{user_id}: out of office"
    return None


@dataclass(frozen=True, slots=True)
class CompiledMember:
    user_id: str
    weight: float
    daily_cap: int | None
    weekly_cap: int | None


@dataclass(frozen=True, slots=True)
class CompiledPool:
    name: str
    mode: str
    members: tuple[CompiledMember, ...]
    hours: WorkingHours | None

    @classmethod
    def of(cls, p: Pool) -> CompiledPool:
        members = tuple(
            CompiledMember(
                m.user_id,
                m.weight,
                m.daily_cap if m.daily_cap is not None else p.daily_cap,
                m.weekly_cap if m.weekly_cap is not None else p.weekly_cap,
            )
            for m in p.members
        )
        return cls(p.name, p.mode, members, p.working_hours)

    def blocked(
        self, state: RoutingState, m: CompiledMember, at: datetime, cal: Calendar
    ) -> str | None:
        """Why member `m` cannot take a lead at `at`, or None when they can."""
        why = unavailable(state, m.user_id, at)
        if why is not None:
            return why
        local = local_time(at, state.users[m.user_id].timezone)
        day = local.date()
        if day in cal.holidays:
            return f"{m.user_id}: holiday"
        if not is_working(local, self.hours):
            return f"{m.user_id}: outside working hours"
        tally = state.tallies.get(m.user_id, _NO_TALLY)
        daily, weekly = state.caps.get(m.user_id, (m.daily_cap, m.weekly_cap))
        if daily is not None and tally.on(day) >= daily:
            return f"{m.user_id}: daily cap {daily} reached"
        if weekly is not None and tally.in_week(week_of(day)) >= weekly:
            return f"{m.user_id}: weekly cap {weekly} reached"
        return None

    def pick(
        self, state: RoutingState, at: datetime, cal: Calendar
    ) -> tuple[int | None, tuple[str, ...]]:
        """The member index that takes the lead (None if nobody can) and who was skipped why.

        Order mode starts after the last member served; count mode takes the eligible member
        with the lowest assignments/weight, ties going to member order.
        """
        n = len(self.members)
        skipped: list[str] = []
        if self.mode == "order":
            start = state.pointers.get(self.name, -1) + 1
            for k in range(n):
                i = (start + k) % n
                why = self.blocked(state, self.members[i], at, cal)
                if why is None:
                    return i, tuple(skipped)
                skipped.append(why)
            return None, tuple(skipped)
        counts = state.pool_counts.get(self.name, {})
        best: int | None = None
        best_load = 0.0
        for i, m in enumerate(self.members):
            why = self.blocked(state, m, at, cal)
            if why is not None:
                skipped.append(why)
                continue
            load = counts.get(m.user_id, 0) / m.weight
            if best is None or load < best_load:
                best, best_load = i, load
        return best, tuple(skipped)
