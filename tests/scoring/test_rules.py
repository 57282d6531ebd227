"""Rule scores worked by hand: caps, decay, word matching, and score_one == batch."""

from __future__ import annotations

from datetime import datetime, timedelta

import pyarrow as pa
import pytest
from pydantic import ValidationError

from revops.config.scoring import EngagementGroup, FitRule, ScoringConfig
from revops.scoring import FiredRule, score_one, score_rules

AS_OF = datetime(2026, 1, 31)

CFG = ScoringConfig.model_validate(
    {
        "fit": [
            {
                "name": "size",
                "cap": 30,
                "rules": [
                    {"name": "big", "field": "employees", "min": 1000, "points": 30},
                    {"name": "mid", "field": "employees", "min": 100, "max": 1000, "points": 10},
                ],
            },
            {
                "name": "persona",
                "cap": 20,
                "rules": [
                    {"name": "c_level", "field": "title", "contains": ["cto"], "points": 30},
                    {"name": "vp", "field": "title", "contains": ["vp"], "points": 15},
                    {
                        "name": "marketing",
                        "field": "title",
                        "contains": ["marketing"],
                        "points": 10,
                    },
                ],
            },
            {
                "name": "market",
                "cap": 5,
                "rules": [{"name": "us", "field": "country", "values": ["us"], "points": 5}],
            },
        ],
        "engagement": {
            "half_life_days": 10,
            "groups": [
                {"name": "intent", "cap": 30, "points": {"demo_request": 20}},
                {"name": "digital", "cap": 5, "points": {"web_visit": 2}},
            ],
        },
        "mql_threshold": 60,
        "min_fit": 20,
    }
)

PERSONS = [
    {"person_id": "a", "employees": 1500, "title": "VP of Marketing", "country": "US"},
    {"person_id": "b", "employees": 200, "title": "Director of Sales", "country": "DE"},
    {"person_id": "c", "employees": None, "title": None, "country": None},
]


def _touch(pid: str, kind: str, days_ago: float) -> dict[str, object]:
    return {"person_id": pid, "touch_type": kind, "occurred_at": AS_OF - timedelta(days_ago)}


TOUCHES = [
    _touch("a", "demo_request", 10),  # 20 × 0.5 = 10
    _touch("a", "demo_request", 0),  # 20: intent 30, at the cap
    *[_touch("a", "web_visit", 0) for _ in range(4)],  # 8, capped at 5
    _touch("a", "demo_request", -1),  # after as_of: not yet happened
    _touch("b", "demo_request", 20),  # 20 × 0.25 = 5
    _touch("b", "email_open", 0),  # in no group: no points
    _touch("zz", "demo_request", 0),  # unknown person: ignored
]


def _batch() -> dict[str, dict[str, object]]:
    persons = pa.Table.from_pylist(PERSONS)
    touches = pa.Table.from_pylist(TOUCHES)
    rows = score_rules(persons, touches, CFG, AS_OF).to_pylist()
    return {str(r["person_id"]): r for r in rows}


def test_rule_scores_by_hand() -> None:
    rows = _batch()
    a, b, c = rows["a"], rows["b"], rows["c"]
    # a: size 30; persona vp 15 + marketing 10 = 25 → cap 20; US 5 → fit 55.
    assert (a["points_size"], a["points_persona"], a["points_market"]) == (30, 20, 5)
    assert a["fit"] == 55
    # intent 10 + 20 = 30 (cap 30), digital 8 → cap 5.
    assert a["points_intent"] == pytest.approx(30)
    assert a["points_digital"] == pytest.approx(5)
    assert a["engagement"] == pytest.approx(35)
    assert a["combined"] == pytest.approx(90)
    assert a["is_mql_ready"] is True
    # b: mid size 10; "cto" must not fire inside "director"; DE not a market; one decayed demo.
    assert (b["fit"], b["points_persona"]) == (10, 0)
    assert b["engagement"] == pytest.approx(5)
    assert b["combined"] == pytest.approx(15)
    assert b["is_mql_ready"] is False
    assert (c["fit"], c["engagement"], c["combined"], c["is_mql_ready"]) == (0, 0, 0, False)


def test_min_fit_gates_mql_readiness() -> None:
    cfg = CFG.model_copy(update={"min_fit": 60})
    persons = pa.Table.from_pylist(PERSONS[:1])
    row = score_rules(persons, pa.Table.from_pylist(TOUCHES), cfg, AS_OF).to_pylist()[0]
    assert row["combined"] == pytest.approx(90)
    assert row["is_mql_ready"] is False  # fit 55 < 60


def test_score_one_matches_batch_and_explains() -> None:
    batch = _batch()
    for person in PERSONS:
        pid = str(person["person_id"])
        one = score_one(person, [t for t in TOUCHES if t["person_id"] == pid], CFG, AS_OF)
        row = batch[pid]
        assert one.fit == pytest.approx(row["fit"])
        assert one.engagement == pytest.approx(row["engagement"])
        assert one.combined == pytest.approx(row["combined"])
        assert one.is_mql_ready == row["is_mql_ready"]
        for group, points in one.groups.items():
            assert points == pytest.approx(row[f"points_{group}"])
    a = score_one(PERSONS[0], [t for t in TOUCHES if t["person_id"] == "a"], CFG, AS_OF)
    assert {(r.group, r.rule): r.points for r in a.rules} == pytest.approx(
        {
            ("size", "big"): 30,
            ("persona", "vp"): 15,
            ("persona", "marketing"): 10,
            ("market", "us"): 5,
            ("intent", "demo_request"): 30,  # before the cap
            ("digital", "web_visit"): 8,  # before the cap
        }
    )
    assert FiredRule("fit", "size", "big", 30.0) in a.rules
    empty = score_one(PERSONS[2], [], CFG, AS_OF)
    assert empty.rules == ()
    assert empty.combined == 0


def test_config_rejects_mistakes() -> None:
    with pytest.raises(ValidationError, match="unknown touch types"):
        EngagementGroup(name="x", cap=5, points={"web_vist": 1})
    with pytest.raises(ValidationError, match="numeric field"):
        FitRule(name="x", field="title", min=3, points=1)
    with pytest.raises(ValidationError, match="exactly one"):
        FitRule(name="x", field="industry", values=("a",), contains=("b",), points=1)
    with pytest.raises(ValidationError, match="takes min/max"):
        FitRule(name="x", field="employees", values=("5",), points=1)
