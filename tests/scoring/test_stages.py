"""Scores that move stages, worked by hand, on DuckDB and PostgreSQL.

The shipped lifecycle (Lead → MQL, Nurture → MQL, MQL needs email, company and country) and a
small scoring model scored as of 2026-01-31 12:00:
  fit: persona (title contains 'vp') 25, industry of the matched ACCOUNT Software 15,
       custom field `tier` == 'gold' 10; min_fit 20, MQL at combined 60.
  engagement: demo_request 25, web_visit 5 (half-life 30 days); fast_track: demo_request.
Persons:
  lead_vp     Lead, VP at a Software account, demo request today: fit 40, engagement 25,
              combined 65 → ready → MQL.
  fast        Lead, VP, no account, demo request today: fit 25, combined 50 < 60, but a demo
              request is fast-tracked and fit 25 >= 20 → MQL.
  weak        Lead, no title, demo request today: fit 0 < min_fit → stays Lead.
  nurture_new Nurture since 01-10, gold tier VP (fit 35), demo request 01-30 (after parking):
              25 × 0.5^(1.5/30) = 24.15 → combined 59.15 < 60 but fast-tracked → MQL.
  nurture_old Nurture since 01-20, VP at a Software account (fit 40), demo request 01-15
              (before parking): ready, but no touch since parking → stays.
  no_company  Lead, VP at a Software account, demo today, no company: ready, but the lifecycle
              refuses MQL (company missing) → a rejection, stage stays Lead.
  sal         SAL, ready: SAL is not in qualify_from → no event.
Applied twice, the second run asks nothing new.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from revops.config import load_config
from revops.config.scoring import ScoringConfig
from revops.scoring.rules import score_rules
from revops.scoring.run import score_all
from revops.scoring.stages import wanted_stages
from revops.warehouse import Warehouse

SHIPPED = load_config(Path(__file__).parents[2] / "examples" / "revops.yaml").model
AT = datetime(2026, 1, 31, 12)
CFG = ScoringConfig.model_validate(
    {
        "fit": [
            {
                "name": "persona",
                "cap": 25,
                "rules": [{"name": "vp", "field": "title", "contains": ["vp"], "points": 25}],
            },
            {
                "name": "account",
                "cap": 15,
                "rules": [
                    {
                        "name": "software",
                        "field": "account.industry",
                        "values": ["Software"],
                        "points": 15,
                    }
                ],
            },
            {
                "name": "tier",
                "cap": 10,
                "rules": [
                    {"name": "gold", "field": "custom.tier", "values": ["gold"], "points": 10}
                ],
            },
        ],
        "engagement": {
            "half_life_days": 30,
            "groups": [
                {"name": "intent", "cap": 40, "points": {"demo_request": 25, "web_visit": 5}}
            ],
        },
        "mql_threshold": 60,
        "min_fit": 20,
        "fast_track": ["demo_request"],
    }
)

PEOPLE = [
    # person_id, stage, title, account, company, tier, demo request at
    ("lead_vp", "Lead", "VP Sales", "soft", "Soft", None, AT),
    ("fast", "Lead", "VP Sales", None, "Solo", None, AT),
    ("weak", "Lead", None, None, "Weak", None, AT),
    ("nurture_new", "Nurture", "VP Ops", None, "Gold", "gold", datetime(2026, 1, 30)),
    ("nurture_old", "Nurture", "VP Ops", "soft", "Soft", None, datetime(2026, 1, 15)),
    ("no_company", "Lead", "VP Sales", "soft", None, None, AT),
    ("sal", "SAL", "VP Sales", "soft", "Soft", None, AT),
]
PARKED = {"nurture_new": datetime(2026, 1, 10), "nurture_old": datetime(2026, 1, 20)}


def seed(wh: Warehouse) -> None:
    wh.write(
        "accounts",
        pa.Table.from_pylist(
            [
                {"account_id": "soft", "name": "Soft", "industry": "Software"}
                | {"created_at": datetime(2025, 1, 1)}
            ]
        ),
    )
    wh.write(
        "persons",
        pa.Table.from_pylist(
            [
                {"person_id": pid, "email": f"{pid}@x.com", "lifecycle_stage": stage}
                | {"title": title, "account_id": account, "company": company, "country": "US"}
                | {"created_at": datetime(2025, 12, 1)}
                for pid, stage, title, account, company, _, _ in PEOPLE
            ]
        ),
    )
    with wh.transaction() as run:  # a custom field, as a source mapping adds one
        run("ALTER TABLE persons ADD COLUMN tier VARCHAR")
        run("UPDATE persons SET tier = 'gold' WHERE person_id = 'nurture_new'")
    wh.write(
        "touchpoints",
        pa.Table.from_pylist(
            [
                {"touchpoint_id": f"t-{pid}", "person_id": pid, "occurred_at": when}
                | {"channel": "paid_search", "touch_type": "demo_request"}
                for pid, *_, when in PEOPLE
            ]
        ),
    )
    wh.write(
        "lifecycle_history",
        pa.Table.from_pylist(
            [
                {"transition_id": f"h-{pid}", "person_id": pid, "from_stage": "Lead"}
                | {"to_stage": "Nurture", "changed_at": when, "source": "crm"}
                for pid, when in PARKED.items()
            ]
        ),
    )


def stages(wh: Warehouse) -> dict[str, str]:
    rows = wh.to_arrow(wh.table("persons").select("person_id", "lifecycle_stage")).to_pylist()
    return {r["person_id"]: r["lifecycle_stage"] for r in rows}


def test_score_apply_creates_mql_events_through_the_lifecycle(warehouse: Warehouse) -> None:
    seed(warehouse)
    run = score_all(warehouse, CFG, None, AT, SHIPPED.lifecycle)
    scores = {r["person_id"]: r for r in run.table.to_pylist()}
    assert (scores["lead_vp"]["fit"], scores["lead_vp"]["combined"]) == (40, 65)
    assert (scores["fast"]["combined"], scores["fast"]["is_mql_ready"]) == (50, True)
    assert scores["weak"]["is_mql_ready"] is False
    assert scores["nurture_new"]["fit"] == 35
    assert scores["nurture_new"]["combined"] == pytest.approx(35 + 25 * 0.5 ** (1.5 / 30))
    assert stages(warehouse) == {
        "lead_vp": "MQL",
        "fast": "MQL",
        "weak": "Lead",
        "nurture_new": "MQL",
        "nurture_old": "Nurture",
        "no_company": "Lead",
        "sal": "SAL",
    }
    h = warehouse.table("lifecycle_history")
    history = warehouse.to_arrow(h.filter(h.source == "scoring")).to_pylist()
    assert sorted((h["person_id"], h["from_stage"], h["to_stage"]) for h in history) == [
        ("fast", "Lead", "MQL"),
        ("lead_vp", "Lead", "MQL"),
        ("nurture_new", "Nurture", "MQL"),
    ]
    assert {h["changed_at"] for h in history} == {AT}
    (refused,) = warehouse.to_arrow(warehouse.table("lifecycle_rejections")).to_pylist()
    assert (refused["person_id"], refused["to_stage"]) == ("no_company", "MQL")
    assert "company" in refused["reason"]
    assert run.moves is not None
    assert (run.moves.accepted("MQL"), run.moves.refused) == (3, 1)

    again = score_all(warehouse, CFG, None, AT, SHIPPED.lifecycle)
    assert again.moves is not None
    assert again.moves.accepted("MQL") == 0
    assert warehouse.count("lifecycle_history") == 2 + 3


def test_wanted_stages_recycles_lost_fit_by_rule() -> None:
    cfg = CFG.model_copy(
        update={"stages": CFG.stages.model_copy(update={"recycle_below_fit": 20.0})}
    )
    people = pd.DataFrame(
        {
            "person_id": ["m_low", "m_ok", "lead_low"],
            "lifecycle_stage": ["MQL", "MQL", "Lead"],
            "fit": [10.0, 30.0, 10.0],
            "is_mql_ready": [False, True, False],
            "entered_at": [pd.NaT] * 3,
            "last_touch_at": [pd.NaT] * 3,
        }
    )
    assert wanted_stages(people, cfg).tolist() == ["Recycled", None, None]
    assert wanted_stages(people, CFG).tolist() == [None, None, None]  # unset: no recycling


def test_fast_track_needs_a_recent_touch_and_min_fit() -> None:
    persons = pa.Table.from_pylist(
        [{"person_id": "vp", "title": "VP Sales"}, {"person_id": "nobody", "title": None}]
    )
    touches = pa.Table.from_pylist(
        [
            {"person_id": p, "touch_type": "demo_request", "occurred_at": when}
            for p, when in (("vp", datetime(2025, 12, 1)), ("nobody", AT))
        ]
    )
    rows = {r["person_id"]: r for r in score_rules(persons, touches, CFG, AT).to_pylist()}
    # 61 days old: beyond fast_track_days (30); 25 + 25 × 0.5^(61.5/30) = 31 < 60
    assert rows["vp"]["is_mql_ready"] is False
    assert rows["nobody"]["is_mql_ready"] is False  # fit 0 < min_fit 20
    recent = score_rules(persons, touches, CFG, datetime(2025, 12, 20)).to_pylist()[0]
    assert recent["is_mql_ready"] is True  # 19 days old: fast-tracked


def test_fit_fields_are_checked_against_the_data_model() -> None:
    with pytest.raises(ValueError, match="table 'accounts' has no column 'nope'"):
        ScoringConfig.model_validate(
            {"fit": [{"name": "g", "cap": 1, "rules": [
                {"name": "r", "field": "account.nope", "values": ["x"], "points": 1}
            ]}]}
        )  # fmt: skip
    with pytest.raises(ValueError, match="fast_track: unknown touch types"):
        ScoringConfig.model_validate({"fast_track": ["carrier_pigeon"]})
