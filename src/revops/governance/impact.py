"""What a proposed operating model would do to the data already in the warehouse.

A diff says what the rules say; this says what they would do. Three questions, each answered
by running the real engines under both models side by side, in memory, writing nothing:

- lifecycle: re-run the lifecycle engine over every stored event under the old and the new
  lifecycle and compare each person's resulting stage (both sides recomputed, so the answer is
  about the rule change, not about whether `lifecycle run` was run lately);
- routing: route the recent leads (created in the `days` before the newest lead) with the old
  and the new rules, each lead at the instant it arrived, from the routing state rebuilt from
  stored decisions; a lead whose owner or queue differs is re-routed;
- metrics: every changed or added metric (and every metric built on a changed one) computed
  monthly over the last `months` under both dictionaries;
- automations: every new or changed automation evaluated over the stored tables, listing the
  records it would fire on and what its actions would do (consent-blocked ones included).

"Recent" and "last months" are anchored at the newest lead in the warehouse, not the wall
clock, so a plan against an export taken last month still looks at the latest data.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from revops.config.models import Lifecycle, OperatingModel
from revops.config.routing import RoutingConfig
from revops.governance.diff import ModelDiff
from revops.lifecycle.engine import apply_events, required_columns
from revops.routing.engine import Decision, compile_routing
from revops.routing.round_robin import RoutingState
from revops.routing.store import routing_state
from revops.warehouse import Warehouse

if TYPE_CHECKING:
    import pandas as pd


# -- lifecycle -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class StageImpact:
    """Persons whose current stage differs under the new lifecycle."""

    persons: int
    moves: tuple[tuple[str | None, str | None, int], ...]  # (old stage, new stage, persons)
    changed: pa.Table  # person_id, old_stage, new_stage

    @property
    def changed_count(self) -> int:
        return self.changed.num_rows


def stage_impact(
    events: pa.Table, persons: pa.Table, old: Lifecycle, new: Lifecycle
) -> StageImpact:
    """Run the lifecycle engine under both maps over the same events; compare final stages.

    `persons` holds person_id and every column either lifecycle requires.
    """
    before = apply_events(events, persons, old).stages
    after = apply_events(events, persons, new).stages
    o, n = before.column("lifecycle_stage"), after.column("lifecycle_stage")
    differ = pc.or_(pc.fill_null(pc.not_equal(o, n), False), pc.xor(pc.is_valid(o), pc.is_valid(n)))
    changed = pa.table(
        {
            "person_id": before.column("person_id").filter(differ),
            "old_stage": o.filter(differ),
            "new_stage": n.filter(differ),
        }
    )
    pairs = Counter(
        zip(changed["old_stage"].to_pylist(), changed["new_stage"].to_pylist(), strict=True)
    )
    moves = tuple(
        (a, b, k) for (a, b), k in sorted(pairs.items(), key=lambda kv: (-kv[1], str(kv[0])))
    )
    return StageImpact(persons.num_rows, moves, changed)


def lifecycle_impact(wh: Warehouse, old: Lifecycle, new: Lifecycle) -> StageImpact:
    columns = list(dict.fromkeys((*required_columns(old), *required_columns(new))))
    persons = wh.to_arrow(wh.table("persons").select(*columns).order_by("person_id"))
    events = wh.to_arrow(wh.table("lifecycle_events"))
    return stage_impact(events, persons, old, new)


# -- routing -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Reroute:
    """One recent lead that the new rules would send elsewhere."""

    person_id: str
    created_at: datetime
    old_owner: str
    old_rule: str | None
    new_owner: str
    new_rule: str | None

    @property
    def cause(self) -> str:
        """`rule`: another rule decides; `rotation`: same rule, the pool's turn moved on."""
        return "rule" if self.old_rule != self.new_rule else "rotation"


@dataclass(frozen=True)
class RoutingImpact:
    """Recent leads routed under both rule sets: how many, and which would move where."""

    since: datetime | None
    until: datetime | None
    leads: int
    rerouted: tuple[Reroute, ...]

    def by_rule(self) -> list[tuple[str, str, int]]:
        """(old rule, new rule, leads), largest first; `fallback` when no rule matched."""
        pairs = Counter((r.old_rule or "fallback", r.new_rule or "fallback") for r in self.rerouted)
        return [(a, b, n) for (a, b), n in sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0]))]

    def flows(self) -> list[tuple[str, str, int]]:
        """(from, to, leads), largest first."""
        pairs = Counter((r.old_owner, r.new_owner) for r in self.rerouted)
        return [(a, b, n) for (a, b), n in sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0]))]


def _who(d: Decision) -> str:
    return d.owner_id if d.owner_id is not None else f"queue:{d.queue}"


def reroute_leads(
    leads: Sequence[dict[str, Any]],
    accounts: dict[str, dict[str, Any]],
    old: tuple[RoutingConfig, RoutingState],
    new: tuple[RoutingConfig, RoutingState],
) -> list[Reroute]:
    """Route `leads` (ordered by arrival) under both configs, each from its own start state,
    each lead at its `created_at`; return those whose owner or queue differs."""
    r_old, r_new = compile_routing(old[0]), compile_routing(new[0])
    s_old, s_new = old[1], new[1]
    out: list[Reroute] = []
    for arrived in leads:
        # as each lead arrived: before any owner, so the rules (not keep_active_owner) decide
        lead = {**arrived, "owner_id": None}
        account = accounts.get(lead.get("account_id") or "")
        at = lead["created_at"]
        a = r_old.route(lead, account, s_old, at)
        b = r_new.route(lead, account, s_new, at)
        s_old, s_new = a.state, b.state
        if _who(a) != _who(b):
            out.append(Reroute(lead["person_id"], at, _who(a), a.rule, _who(b), b.rule))
    return out


def newest_lead(wh: Warehouse) -> datetime | None:
    rows = wh.sql('SELECT max(created_at) FROM "persons"')
    value = rows[0][0] if rows else None
    return value if isinstance(value, datetime) else None


def routing_impact(
    wh: Warehouse, old: RoutingConfig, new: RoutingConfig, days: int, until: datetime | None
) -> RoutingImpact:
    """Re-route the leads created in the `days` up to `until` under both rule sets."""
    if until is None:
        return RoutingImpact(None, None, 0, ())
    since = until - timedelta(days=days)
    t = wh.table("persons")
    leads = wh.to_arrow(
        t.filter(t.created_at >= since, t.created_at <= until).order_by(["created_at", "person_id"])
    ).to_pylist()
    wanted = sorted({r["account_id"] for r in leads if r["account_id"]})
    accounts: dict[str, dict[str, Any]] = {}
    if wanted:
        a = wh.table("accounts")
        rows = wh.to_arrow(a.filter(a.account_id.isin(wanted))).to_pylist()
        accounts = {r["account_id"]: r for r in rows}
    moved = reroute_leads(
        leads, accounts, (old, routing_state(wh, old)), (new, routing_state(wh, new))
    )
    return RoutingImpact(since, until, len(leads), tuple(moved))


# -- metrics -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MetricImpact:
    """One metric, month by month, under the old and the new dictionary."""

    name: str
    old_formula: str | None  # None: the metric is new
    new_formula: str
    values: pd.DataFrame  # period, old, new, change


def month_window(anchor: date, months: int) -> tuple[date, date]:
    """[first day of the month `months - 1` before the anchor's, first day after its month)."""
    index = anchor.year * 12 + anchor.month - 1 - (months - 1)
    start = date(index // 12, index % 12 + 1, 1)
    after = anchor.year * 12 + anchor.month
    return start, date(after // 12, after % 12 + 1, 1)


def _monthly(wh: Warehouse, model: OperatingModel, name: str, periods: Sequence[date]) -> pd.Series:
    """The metric for each month of `periods`: a month without rows is 0 for a count or a sum
    and no value (NaN) for anything else, as the metric layer defines it."""
    import pandas as pd

    from revops.metrics import compute
    from revops.metrics.compiler import lookup, zero_when_empty

    after = periods[-1]
    end = date(after.year + after.month // 12, after.month % 12 + 1, 1)
    df = compute(wh, model, name, grain="month", start=periods[0], end=end)
    values = pd.Series(periods).map(df.set_index("period")["value"]).astype("float64")
    return values.fillna(0.0) if zero_when_empty(lookup(model, name)) else values


def metric_impact(
    wh: Warehouse,
    old: OperatingModel,
    new: OperatingModel,
    names: Sequence[str],
    start: date,
    end: date,
) -> list[MetricImpact]:
    """Each metric of `names` (in `new`) per month in [start, end) under both dictionaries."""
    import pandas as pd

    from revops.metrics import formula

    periods: list[date] = []
    cursor = start
    while cursor < end:
        periods.append(cursor)
        cursor = date(cursor.year + cursor.month // 12, cursor.month % 12 + 1, 1)
    known = {m.name for m in old.metrics}
    out = []
    for name in names:
        frame = pd.DataFrame({"period": periods})
        frame["old"] = _monthly(wh, old, name, periods) if name in known else float("nan")
        frame["new"] = _monthly(wh, new, name, periods)
        frame["change"] = frame["new"] - frame["old"]
        old_f = formula(old, name) if name in known else None
        out.append(MetricImpact(name, old_f, formula(new, name), frame))
    return out


# -- the whole plan ------------------------------------------------------------------------------
# -- automations ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class AutomationImpact:
    """The records a new or changed automation would fire on, and what its actions would do."""

    name: str
    at: datetime
    events: tuple[dict[str, Any], ...]
    actions: tuple[tuple[str, str, int], ...]  # (kind, status, count)


def automation_impact(
    wh: Warehouse, new: OperatingModel, names: Sequence[str], at: datetime
) -> list[AutomationImpact]:
    """Evaluate the named automations of `new` over the stored data as of `at`, writing
    nothing. Events already recorded (same automation name and source row) do not fire again,
    exactly as after `apply`."""
    from revops.automation.outbox import evaluate
    from revops.automation.sources import stored

    rules = [r for r in new.automations.rules if r.name in set(names)]
    if not rules:
        return []
    queued = evaluate(wh, new, stored(wh), rules, at)
    owner = {e["event_id"]: e["automation"] for e in queued.events}
    out = []
    for r in rules:
        events = tuple(e for e in queued.events if e["automation"] == r.name)
        counts = Counter(
            (a["kind"], a["status"])
            for a in queued.planned.actions
            if owner[a["event_id"]] == r.name
        )
        out.append(
            AutomationImpact(
                r.name, at, events, tuple((k, s, n) for (k, s), n in sorted(counts.items()))
            )
        )
    return out


@dataclass(frozen=True)
class Impact:
    stages: StageImpact | None  # None: the lifecycle is unchanged
    routing: RoutingImpact | None  # None: routing is unchanged
    metrics: tuple[MetricImpact, ...]
    metric_window: tuple[date, date] | None
    automations: tuple[AutomationImpact, ...] = ()


def impact(
    wh: Warehouse,
    old: OperatingModel,
    new: OperatingModel,
    diff: ModelDiff,
    *,
    days: int = 30,
    months: int = 6,
    at: datetime | None = None,
) -> Impact:
    """The effect of `new` on the stored data, for the areas `diff` says changed.

    Automations fire on changes within their lookback before `at` (naive UTC; default now),
    the moment `apply` would switch them on.
    """
    from revops.errors import RevOpsError

    if days <= 0 or months <= 0:
        raise RevOpsError(f"--days and --months must be positive (got {days} and {months})")
    stages = lifecycle_impact(wh, old.lifecycle, new.lifecycle) if diff.lifecycle_changed else None
    anchor = newest_lead(wh)
    routing = (
        routing_impact(wh, old.routing, new.routing, days, anchor) if diff.routing_changed else None
    )
    names = (*diff.changed_metrics, *diff.added_metrics)
    window = month_window((anchor or datetime.now()).date(), months) if names else None
    metrics = metric_impact(wh, old, new, names, *window) if window else []
    when = at or datetime.now(UTC).replace(tzinfo=None)
    fired = automation_impact(wh, new, diff.changed_automations, when)
    return Impact(stages, routing, tuple(metrics), window, tuple(fired))
