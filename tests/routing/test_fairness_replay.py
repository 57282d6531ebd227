"""Round-robin fairness over 10,000 leads, caps under load, and replay determinism."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from revops.config.routing import RoutingConfig
from revops.routing import RoutingState, UserInfo, compile_routing, route
from revops.routing.calendar import local_time

USERS = [
    UserInfo("a"),
    UserInfo("b"),
    UserInfo("c", timezone="America/New_York"),
    UserInfo("d", timezone="Asia/Tokyo"),
    UserInfo("x", active=False),
]
START = datetime(2025, 6, 2, 0, 0, tzinfo=UTC)  # a Monday


def _pool(mode: str, weights: dict[str, float], **extra: Any) -> RoutingConfig:
    return RoutingConfig.model_validate(
        {
            "pools": [
                {
                    "name": "p",
                    "mode": mode,
                    "members": [{"user_id": u, "weight": w} for u, w in weights.items()],
                    **extra,
                }
            ],
            "rules": [{"name": "all", "pool": "p"}],
        }
    )


def _run(cfg: RoutingConfig, n: int, step: timedelta) -> tuple[list[str | None], list[datetime]]:
    router = compile_routing(cfg)
    state = RoutingState.initial(USERS, cfg)
    owners: list[str | None] = []
    times = [START + step * i for i in range(n)]
    for at in times:
        d = router.route({}, None, state, at)
        state = d.state
        owners.append(d.owner_id)
    return owners, times


def test_weighted_count_pool_gives_each_rep_their_share_within_one_percent() -> None:
    weights = {"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0, "x": 5.0}  # x is inactive: no share
    owners, _ = _run(_pool("count", weights), 10_000, timedelta(0))
    counts = Counter(owners)
    assert "x" not in counts
    active = {u: w for u, w in weights.items() if u != "x"}
    total = sum(active.values())
    for user, w in active.items():
        share = counts[user] / 10_000
        assert abs(share - w / total) <= 0.01 * (w / total), (user, counts[user])
    assert counts == {"a": 1000, "b": 2000, "c": 3000, "d": 4000}


def test_order_pool_rotates_evenly() -> None:
    owners, _ = _run(_pool("order", {"a": 1, "b": 1, "c": 1}), 10_000, timedelta(0))
    assert Counter(owners) == {"a": 3334, "b": 3333, "c": 3333}


def test_daily_caps_hold_in_each_reps_own_day_and_overflow_goes_to_fallback() -> None:
    # 144 leads a day against 4 x 30 = 120 capacity: 24 a day must overflow
    cfg = _pool("count", {"a": 1, "b": 1, "c": 1, "d": 1}, daily_cap=30)
    owners, times = _run(cfg, 10_000, timedelta(minutes=10))
    zones = {u.user_id: u.timezone for u in USERS}
    per_day = Counter(
        (o, local_time(t, zones[o]).date()) for o, t in zip(owners, times, strict=True) if o
    )
    assert max(per_day.values()) == 30
    assigned = Counter(o for o in owners if o)
    for user in "abcd":
        assert abs(assigned[user] / sum(assigned.values()) - 0.25) <= 0.0025
    assert owners.count(None) >= 10_000 - 120 * 70


leads = st.fixed_dictionaries(
    {
        "country": st.sampled_from(["US", "DE", "JP", None]),
        "employees": st.none() | st.integers(0, 20_000),
        "title": st.sampled_from(["CFO", "Student", "VP Sales"]),
    }
)
REPLAY_CFG = RoutingConfig.model_validate(
    {
        "holidays": ["2025-06-04"],
        "paused": ["b"],
        "out_of_office": [{"user_id": "a", "start": "2025-06-03T00:00", "end": "2025-06-03T12:00"}],
        "pools": [
            {
                "name": "big",
                "mode": "count",
                "daily_cap": 3,
                "members": [{"user_id": "a", "weight": 2}, {"user_id": "c"}, {"user_id": "x"}],
                "working_hours": {"start": "08:00", "end": "18:00"},
            },
            {"name": "rest", "members": [{"user_id": u} for u in "abcd"], "weekly_cap": 5},
        ],
        "rules": [
            {"name": "nurture", "when": [{"field": "title", "value": "Student"}], "queue": "n"},
            {
                "name": "big",
                "when": [{"field": "employees", "op": "gte", "value": 1000}],
                "pool": "big",
            },
            {"name": "de", "when": [{"field": "country", "value": "DE"}], "owner": "d"},
            {"name": "rest", "when": [{"field": "country", "op": "exists"}], "pool": "rest"},
        ],
    }
)


@settings(max_examples=60, deadline=None)
@given(
    batch=st.lists(st.tuples(leads, st.integers(0, 7 * 24 * 60)), min_size=1, max_size=40),
    split=st.integers(0, 40),
)
def test_replaying_the_same_inputs_from_the_same_state_gives_the_same_owners(
    batch: list[tuple[dict[str, Any], int]], split: int
) -> None:
    def play(state: RoutingState, items: list[tuple[dict[str, Any], int]]) -> tuple[Any, ...]:
        out = []
        for lead, minutes in items:
            d = route(lead, None, state, REPLAY_CFG, START + timedelta(minutes=minutes))
            state = d.state
            out.append((d.owner_id, d.queue, d.rule, d.reason, d.evaluated))
        return tuple(out), state

    start = RoutingState.initial(USERS, REPLAY_CFG)
    first, end1 = play(start, batch)
    second, end2 = play(start, batch)
    assert first == second
    assert end1 == end2
    # replaying the tail from the middle state reproduces the tail
    k = min(split, len(batch))
    _, mid = play(start, batch[:k])
    tail, _ = play(mid, batch[k:])
    assert tail == first[k:]
    assert all(owner != "x" for owner, *_ in first)
