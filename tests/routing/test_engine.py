"""The pure routing core, rule kind by rule kind, against hand-worked outcomes.

Clock: Wednesday 2025-06-04 14:00 UTC, which is 10:00 in New York and 23:00 in Tokyo.
Users: a, b (UTC), ny (America/New_York), tokyo (Asia/Tokyo), gone (inactive).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from revops.config.routing import RoutingConfig
from revops.routing import Decision, RoutingState, UserInfo, route

AT = datetime(2025, 6, 4, 14, 0, tzinfo=UTC)
USERS = (
    UserInfo("a"),
    UserInfo("b"),
    UserInfo("ny", timezone="America/New_York"),
    UserInfo("tokyo", timezone="Asia/Tokyo"),
    UserInfo("gone", active=False),
)


def cfg(**routing: Any) -> RoutingConfig:
    return RoutingConfig.model_validate({"fallback_queue": "triage", **routing})


def state(c: RoutingConfig) -> RoutingState:
    return RoutingState.initial(USERS, c)


def run(c: RoutingConfig, leads: list[dict[str, Any]], at: datetime = AT) -> list[Decision]:
    """Route leads in order, threading the state through."""
    s = state(c)
    out = []
    for lead in leads:
        d = route(lead, None, s, c, at)
        s = d.state
        out.append(d)
    return out


def who(d: Decision) -> str:
    return d.owner_id if d.owner_id is not None else f"queue:{d.queue}"


def test_condition_rules_route_to_queue_owner_or_pool_and_trace_every_rule() -> None:
    c = cfg(
        pools=[{"name": "p", "members": [{"user_id": "b"}]}],
        rules=[
            {
                "name": "students",
                "when": [{"field": "title", "op": "contains", "value": "student"}],
                "queue": "nurture",
            },
            {"name": "germany", "when": [{"field": "country", "value": "DE"}], "owner": "a"},
            {
                "name": "big",
                "when": [{"field": "employees", "op": "gte", "value": 1000}],
                "pool": "p",
            },
        ],
    )
    s = state(c)
    d = route({"title": "PhD Student"}, None, s, c, AT)
    assert (d.queue, d.rule, d.owner_id) == ("nurture", "students", None)
    d = route({"title": "CFO", "country": "DE"}, None, s, c, AT)
    assert (d.owner_id, d.rule) == ("a", "germany")
    assert [(t.rule, t.matched) for t in d.evaluated] == [("students", False), ("germany", True)]
    assert d.evaluated[0].reason == "title contains 'student' failed (got 'CFO')"
    d = route({"title": "CFO", "country": "FR", "employees": 5000}, None, s, c, AT)
    assert (d.owner_id, d.rule, d.pool) == ("b", "big", "p")
    d = route({"country": "FR", "employees": 10}, None, s, c, AT)
    assert (d.owner_id, d.queue, d.rule, d.reason) == (None, "triage", None, "no rule matched")
    assert [t.matched for t in d.evaluated] == [False, False, False]
    assert d.evaluated[2].reason == "employees >= 1000 failed (got 10)"
    assert json.loads(d.evaluated_json())[1] == {
        "rule": "germany",
        "matched": False,
        "reason": "country = 'DE' failed (got 'FR')",
    }


def test_a_named_owner_who_is_inactive_paused_or_away_loses_the_rule() -> None:
    c = cfg(
        paused=["b"],
        out_of_office=[{"user_id": "a", "start": "2025-06-01T00:00", "end": "2025-06-05T00:00"}],
        rules=[
            {"name": "to_gone", "when": [{"field": "country", "value": "DE"}], "owner": "gone"},
            {"name": "to_b", "when": [{"field": "country", "value": "DE"}], "owner": "b"},
            {"name": "to_a", "when": [{"field": "country", "value": "DE"}], "owner": "a"},
            {"name": "to_ny", "when": [{"field": "country", "value": "DE"}], "owner": "ny"},
        ],
    )
    d = route({"country": "DE"}, None, state(c), c, AT)
    assert d.owner_id == "ny"
    assert [t.reason for t in d.evaluated[:3]] == [
        "conditions held, but owner gone: inactive",
        "conditions held, but owner b: paused",
        "conditions held, but owner a: out of office",
    ]
    # a is back at midnight on the 5th (the range is half-open)
    back = route({"country": "DE"}, None, state(c), c, datetime(2025, 6, 5, tzinfo=UTC))
    assert back.owner_id == "a"


def test_account_based_routing_goes_to_the_active_account_owner() -> None:
    c = cfg(
        rules=[
            {
                "name": "named",
                "kind": "account_owner",
                "when": [{"field": "account.segment", "value": "enterprise"}],
            },
            {"name": "rest", "when": [], "queue": "general"},
        ]
    )
    s = state(c)
    ent = {"account_id": "acc1", "owner_id": "b", "segment": "enterprise"}
    assert route({}, ent, s, c, AT).owner_id == "b"
    smb = {**ent, "segment": "smb"}
    d = route({}, smb, s, c, AT)
    assert (d.queue, d.evaluated[0].reason) == (
        "general",
        "account.segment = 'enterprise' failed (got 'smb')",
    )
    d = route({}, {**ent, "owner_id": None}, s, c, AT)
    assert (d.queue, d.evaluated[0].reason) == ("general", "account 'acc1' has no owner")
    d = route({}, {**ent, "owner_id": "gone"}, s, c, AT)
    assert d.queue == "general"
    assert d.evaluated[0].reason == "account 'acc1' is owned, but owner gone: inactive"
    d = route({}, None, s, c, AT)
    assert d.evaluated[0].reason == "account.segment = 'enterprise' failed (got None)"


def test_territories_by_country_state_industry_and_size_band() -> None:
    c = cfg(
        rules=[
            {
                "name": "terr",
                "kind": "territory",
                "territories": [
                    {"name": "CA-west", "countries": ["US"], "states": ["CA", "WA"], "owner": "a"},
                    {
                        "name": "US-fin-ent",
                        "countries": ["US"],
                        "industries": ["Finance"],
                        "min_employees": 1000,
                        "owner": "b",
                    },
                    {
                        "name": "US-mid",
                        "countries": ["US"],
                        "min_employees": 100,
                        "max_employees": 1000,
                        "queue": "us_mid",
                    },
                    {"name": "EMEA", "regions": ["EMEA"], "owner": "ny"},
                ],
            }
        ]
    )
    s = state(c)

    def go(lead: dict[str, Any], account: dict[str, Any] | None = None) -> str:
        return who(route(lead, account, s, c, AT))

    assert go({"country": "US", "state": "WA"}) == "a"
    assert go({"country": "US", "state": "NY", "industry": "Finance", "employees": 1000}) == "b"
    # the account's size wins over what the lead typed into the form
    assert go({"country": "US", "industry": "Finance", "employees": 5000}, {"employees": 999}) == (
        "queue:us_mid"
    )
    assert go({"country": "US", "employees": 100}) == "queue:us_mid"
    assert go({"country": "US", "employees": 99}) == "queue:triage"
    assert go({"country": "DE"}, {"region": "EMEA"}) == "ny"
    d = route({"country": "US", "state": "NY"}, None, s, c, AT)
    assert d.evaluated[0].reason == (
        "no territory: CA-west: state 'NY' not in ['CA', 'WA']; "
        "US-fin-ent: industry None not in ['Finance']; "
        "US-mid: employees unknown for a size band; EMEA: region None not in ['EMEA']"
    )


def pool_cfg(mode: str, members: list[dict[str, Any]], **pool: Any) -> RoutingConfig:
    return cfg(
        pools=[{"name": "p", "mode": mode, "members": members, **pool}],
        rules=[{"name": "all", "pool": "p"}],
    )


def test_order_round_robin_goes_in_member_order_and_skips_the_ineligible() -> None:
    c = pool_cfg("order", [{"user_id": u} for u in ("a", "gone", "b", "ny")])
    ds = run(c, [{}] * 7)
    assert [who(d) for d in ds] == ["a", "b", "ny", "a", "b", "ny", "a"]
    assert ds[0].reason == "no conditions → pool p (order) → a"
    assert ds[1].reason == "no conditions → pool p (order) → b (skipped gone: inactive)"
    assert ds[-1].state.pointers == {"p": 0}
    assert ds[-1].state.pool_counts == {"p": {"a": 3, "b": 2, "ny": 2}}


def test_count_round_robin_gives_the_lead_to_the_lowest_weighted_load() -> None:
    # loads (count/weight) a:1, b:3 → a b b b a b b b (ties go to member order)
    c = pool_cfg("count", [{"user_id": "a"}, {"user_id": "b", "weight": 3}])
    assert [who(d) for d in run(c, [{}] * 8)] == ["a", "b", "b", "b", "a", "b", "b", "b"]


def test_daily_and_weekly_caps_then_the_fallback_queue() -> None:
    c = pool_cfg(
        "order", [{"user_id": "a", "daily_cap": 1}, {"user_id": "b"}], daily_cap=2, weekly_cap=3
    )
    ds = run(c, [{}] * 4)
    assert [who(d) for d in ds] == ["a", "b", "b", "queue:triage"]
    assert ds[3].rule == "all"
    assert ds[3].reason == (
        "no conditions → pool p: nobody eligible (skipped a: daily cap 1 reached; "
        "b: daily cap 2 reached) → fallback queue"
    )
    s = ds[2].state
    thursday = AT + timedelta(days=1)
    d1 = route({}, None, s, c, thursday)
    d2 = route({}, None, d1.state, c, thursday)
    d3 = route({}, None, d2.state, c, thursday)
    # Thursday: a's daily count reset; b had 2 on Wednesday, so the weekly cap of 3 ends it
    assert (d1.owner_id, d2.owner_id, d3.owner_id) == ("a", "b", None)
    assert d3.reason.endswith(
        "(skipped a: daily cap 1 reached; b: weekly cap 3 reached) → fallback queue"
    )
    assert d3.state.tallies["b"].week_count == 3
    monday = AT + timedelta(days=5)
    m1 = route({}, None, d3.state, c, monday)
    m2 = route({}, None, m1.state, c, monday)
    assert (m1.owner_id, m2.owner_id) == ("a", "b")  # a new ISO week resets b's weekly count


def test_working_hours_are_each_members_own_and_holidays_block() -> None:
    c = pool_cfg(
        "order",
        [{"user_id": "tokyo"}, {"user_id": "a"}, {"user_id": "ny"}],
        working_hours={"start": "09:00", "end": "17:00"},
    )
    # 14:00 UTC: Tokyo 23:00 (off), a 14:00 (on)
    assert who(run(c, [{}])[0]) == "a"
    # 20:00 UTC: a off, New York 16:00 on
    evening = datetime(2025, 6, 4, 20, 0, tzinfo=UTC)
    d = run(c, [{}], evening)[0]
    assert d.owner_id == "ny"
    assert d.reason.endswith("(skipped tokyo: outside working hours; a: outside working hours)")
    # Saturday 14:00 UTC: nobody works
    assert run(c, [{}], datetime(2025, 6, 7, 14, 0, tzinfo=UTC))[0].queue == "triage"
    # 2025-06-05 01:00 UTC is Thursday 10:00 in Tokyo: a holiday there only if the date is listed
    early = datetime(2025, 6, 5, 1, 0, tzinfo=UTC)
    assert run(c, [{}], early)[0].owner_id == "tokyo"
    hol = c.model_copy(update={"holidays": (early.date(),)})
    d = run(hol, [{}], early)[0]
    assert d.queue == "triage"
    assert "tokyo: holiday" in d.reason


def test_out_of_office_and_paused_members_are_skipped() -> None:
    c = cfg(
        paused=["b"],
        out_of_office=[{"user_id": "a", "start": "2025-06-04T00:00", "end": "2025-06-04T14:00"}],
        pools=[{"name": "p", "members": [{"user_id": u} for u in ("a", "b", "ny")]}],
        rules=[{"name": "all", "pool": "p"}],
    )
    before = AT - timedelta(minutes=1)
    d = run(c, [{}], before)[0]
    assert d.owner_id == "ny"
    assert d.reason.endswith("(skipped a: out of office; b: paused)")
    assert run(c, [{}], AT)[0].owner_id == "a"


def test_unknown_targets_are_config_errors() -> None:
    with pytest.raises(ValidationError, match="unknown pool 'nope'"):
        cfg(rules=[{"name": "r", "pool": "nope"}])
    with pytest.raises(ValidationError, match="has no column 'colour'"):
        cfg(rules=[{"name": "r", "when": [{"field": "colour", "value": 1}], "queue": "q"}])
    with pytest.raises(ValidationError, match="exactly one of owner, queue or pool"):
        cfg(rules=[{"name": "r", "queue": "q", "owner": "a"}])


def test_the_decision_leaves_the_old_state_untouched() -> None:
    c = pool_cfg("count", [{"user_id": "a"}, {"user_id": "b"}])
    s = state(c)
    d = route({}, None, s, c, AT)
    assert s.pool_counts == {}
    assert s.tallies == {}
    assert d.state.pool_counts == {"p": {"a": 1}}


def test_only_the_columns_rules_targets_and_territories_name_are_read() -> None:
    """The desk replay reads persons and accounts by `columns_read`: the shipped config names
    title (a condition), source (an SLA target), the territories' fields and account.segment;
    touch_type is a lead fact, no column; no PII column (email, names, phone) is read unless
    a rule names it."""
    from pathlib import Path

    from revops.config import load_config
    from revops.routing.engine import columns_read

    shipped = load_config(Path(__file__).parents[2] / "examples" / "revops.yaml").model
    lead, account = columns_read(shipped.routing)
    assert lead == ("country", "employees", "industry", "person_id", "source", "state", "title")
    accounts = ("account_id", "country", "employees", "industry", "owner_id", "region", "segment")
    assert account == accounts
    assert columns_read(cfg()) == (("person_id",), ("account_id", "owner_id"))
    phone = cfg(
        rules=[{"name": "x", "when": [{"field": "lead.phone", "op": "exists"}], "queue": "q"}]
    )
    assert columns_read(phone) == (("person_id", "phone"), ("account_id", "owner_id"))
