"""Speed-to-lead SLAs: deadlines in the owner's business hours, responses, breaches, escalation.

Pure functions: the deadline of a lead assigned at an instant depends only on that instant,
the target, the owner's timezone, the business hours and the holiday list, so it can be
recomputed and audited. A lead assigned at 16:50 on a Friday with a 15-minute target is due at
09:05 on Monday, not at 17:05 on Friday.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from revops.config.routing import EscalationStep, SlaConfig, WorkingHours
from revops.errors import RevOpsError
from revops.routing.calendar import aware, local_time, zone
from revops.routing.rules import Compiled, Record, compile_condition, first_failure

Outcome = Literal["accepted", "rejected"]
_MAX_DAYS = 3660  # ten years of calendar: a target no calendar can meet is a config error


def business_deadline(
    start: datetime,
    minutes: int,
    timezone: str,
    hours: WorkingHours,
    holidays: Iterable[date] = (),
) -> datetime:
    """The instant `minutes` business minutes after `start`, in the owner's local calendar.

    Time outside the working window, on non-working days and on holidays does not count.
    The result is in the owner's timezone (an aware datetime).
    """
    tz = zone(timezone)
    off = frozenset(holidays)
    cursor = local_time(start, timezone).replace(tzinfo=None)
    left = timedelta(minutes=minutes)
    day = cursor.date()
    for _ in range(_MAX_DAYS):
        if day.weekday() in hours.days and day not in off:
            open_at = datetime.combine(day, hours.start)
            close_at = datetime.combine(day, hours.end)
            begin = max(cursor, open_at)
            if begin < close_at:
                if begin + left <= close_at:
                    return (begin + left).replace(tzinfo=tz)
                left -= close_at - begin
        day += timedelta(days=1)
        cursor = datetime.combine(day, hours.start)
    raise RevOpsError(f"no business time within {_MAX_DAYS} days of {start}")


_TARGETS: dict[int, tuple[SlaConfig, tuple[tuple[tuple[Compiled, ...], str, int], ...]]] = {}


def _targets(cfg: SlaConfig) -> tuple[tuple[tuple[Compiled, ...], str, int], ...]:
    """The targets' conditions compiled once per config object (frozen), not once per lead:
    a backfill of the desk asks for the priority of every MQL in the history."""
    hit = _TARGETS.get(id(cfg))
    if hit is None or hit[0] is not cfg:
        compiled = tuple(
            (tuple(compile_condition(c) for c in t.when), t.priority, t.minutes)
            for t in cfg.targets
        )
        hit = (cfg, compiled)
        if len(_TARGETS) >= 16:
            _TARGETS.clear()
        _TARGETS[id(cfg)] = hit
    return hit[1]


def priority(lead: Record, account: Record | None, cfg: SlaConfig) -> tuple[str, int]:
    """The lead's SLA priority and target minutes: the first target whose conditions hold."""
    for when, name, minutes in _targets(cfg):
        if first_failure(when, lead, account) is None:
            return name, minutes
    return "default", cfg.default_minutes


@dataclass(frozen=True)
class Clock:
    """The SLA clock of one assignment."""

    person_id: str
    owner_id: str
    priority: str
    started_at: datetime
    due_at: datetime


def start_clock(
    person_id: str,
    owner_id: str,
    lead: Record,
    account: Record | None,
    timezone: str,
    cfg: SlaConfig,
    at: datetime,
    holidays: Iterable[date] = (),
) -> Clock:
    name, minutes = priority(lead, account, cfg)
    due = business_deadline(at, minutes, timezone, cfg.business_hours, holidays)
    return Clock(person_id, owner_id, name, aware(at), due)


@dataclass(frozen=True)
class Response:
    """A rep's answer to an assigned lead: acceptance (SAL) or rejection with a listed reason."""

    clock: Clock
    outcome: Outcome
    reason: str | None
    responded_at: datetime

    @property
    def met(self) -> bool:
        return aware(self.responded_at) <= self.clock.due_at


def respond(
    clock: Clock, outcome: Outcome, at: datetime, cfg: SlaConfig, reason: str | None = None
) -> Response:
    """Record an acceptance or a rejection; a rejection needs a reason from the fixed list."""
    if outcome == "rejected":
        if reason not in cfg.rejection_reasons:
            allowed = ", ".join(cfg.rejection_reasons)
            raise RevOpsError(f"rejection reason {reason!r} is not one of: {allowed}")
    elif reason is not None:
        raise RevOpsError("an acceptance takes no reason")
    return Response(clock, outcome, reason, aware(at))


def breached(clock: Clock, now: datetime, response: Response | None = None) -> bool:
    """Breached when the answer came after the deadline, or there is none and it has passed."""
    if response is not None:
        return not response.met
    return aware(now) > clock.due_at


def escalation_step(breaches: int, cfg: SlaConfig) -> EscalationStep:
    """The step the `breaches`-th breach on a lead takes (the configured list's last repeats)."""
    steps = cfg.steps
    return steps[min(max(breaches, 1), len(steps)) - 1]


def must_escalate(breaches: int, cfg: SlaConfig) -> bool:
    """Whether that breach takes the lead away to be re-routed (see `store.reroute`)."""
    return escalation_step(breaches, cfg) == "reroute"


def target_minutes(name: str, cfg: SlaConfig) -> int:
    """The target minutes of a priority by name ('default' or unknown: the default target)."""
    for t in cfg.targets:
        if t.priority == name:
            return t.minutes
    return cfg.default_minutes
