"""`diff_models` on hand-made pairs: each area worded as a reviewer reads it."""

from __future__ import annotations

import copy
from typing import Any

from gov_case import OLD, new_dict, new_model, old_model

from revops.config.models import OperatingModel
from revops.governance import diff_models
from revops.governance.diff import structural


def _model(d: dict[str, Any]) -> OperatingModel:
    return OperatingModel.model_validate(d)


def _texts(old: dict[str, Any], new: dict[str, Any]) -> dict[str, list[str]]:
    diff = diff_models(_model(old), _model(new))
    return {area: [c.text() for c in cs] for area, cs in diff.by_area().items()}


def test_identical_models_have_no_changes() -> None:
    diff = diff_models(old_model(), old_model())
    assert diff.empty
    assert diff.changed_metrics == diff.added_metrics == diff.removed_metrics == ()
    assert not diff.lifecycle_changed
    assert not diff.routing_changed


def test_the_gov_case_change_by_area() -> None:
    diff = diff_models(old_model(), new_model())
    assert {a: [c.text() for c in cs] for a, cs in diff.by_area().items()} == {
        "lifecycle": [
            "stage MQL: required fields: title → title, country",
            "transition Lead → SQL added",
        ],
        "metrics": [
            "metric won: formula: count(opportunities) where is_won, by close_date → "
            "count(opportunities) where is_won and amount >= 1000, by close_date",
            "metric big_bookings added (sum(opportunities.amount) where is_won and amount >= "
            "1000, by close_date)",
        ],
        "routing": ["rule big: when[employees].value: 1000 → 500"],
    }
    # win_rate's own formula reads the same, but it is built on won, so its values move.
    assert diff.changed_metrics == ("won", "win_rate")
    assert diff.added_metrics == ("big_bookings",)
    assert diff.lifecycle_changed
    assert diff.routing_changed


def test_lifecycle_stage_added_removed_reordered_and_entry_stages() -> None:
    new = copy.deepcopy(OLD)
    stages = new["lifecycle"]["stages"]
    stages[0], stages[2] = stages[2], stages[0]  # SQL, MQL, Lead, Disqualified
    stages.append({"name": "Nurture", "kind": "holding", "required_fields": ["email"]})
    new["lifecycle"]["stages"] = [s for s in stages if s["name"] != "Disqualified"]
    new["lifecycle"]["transitions"] = {"Lead": ["MQL"], "MQL": ["SQL", "Nurture"]}
    new["lifecycle"]["entry_stages"] = ["Lead", "Nurture"]
    assert _texts(OLD, new)["lifecycle"] == [
        "stage Disqualified removed (was exit)",
        "stage Nurture added (holding, email)",
        "stage order: Lead → MQL → SQL → SQL → MQL → Lead",
        # the old map had no entry_stages: its first stage, Lead, was the only entry stage
        "entry stages: Lead → Lead, Nurture",
        "transition Lead → Disqualified removed",
        "transition MQL → Disqualified removed",
        "transition MQL → Nurture added",
    ]


def test_metric_owner_and_description_listed_apart_from_the_formula() -> None:
    new = copy.deepcopy(OLD)
    new["metrics"][3]["owner"] = "revops"
    new["metrics"][3]["description"] = "Won amount."
    new["metrics"] = [m for m in new["metrics"] if m["name"] != "win_rate"]
    texts = _texts(OLD, new)["metrics"]
    assert texts == [
        "metric win_rate removed (was won / closed)",
        "metric bookings: description: bookings, for the governance tests. → Won amount.",
        "metric bookings: owner: sales_ops → revops",
    ]
    diff = diff_models(_model(OLD), _model(new))
    assert diff.removed_metrics == ("win_rate",)
    assert diff.changed_metrics == ("bookings",)


def test_routing_rules_are_matched_by_name_and_reordering_is_one_change() -> None:
    new = copy.deepcopy(OLD)
    rules = new["routing"]["rules"]
    rules.insert(0, {"name": "students", "queue": "nurture"})
    rules[1], rules[2] = rules[2], rules[1]
    new["routing"]["pools"][0]["daily_cap"] = 20
    new["routing"]["sla"] = {"targets": [{"priority": "hot", "minutes": 15}]}
    texts = _texts(OLD, new)
    assert texts["routing"] == [
        "pools[sdr].daily_cap: none → 20",
        "rule students added "
        '({"kind": "condition", "name": "students", "owner": null, "pool": null, '
        '"queue": "nurture", "territories": [], "when": []})',
        "rule order: big → rest → rest → big",
    ]
    assert texts["sla"] == ['target hot added ({"minutes": 15, "priority": "hot", "when": []})']


def test_scoring_weights_and_threshold() -> None:
    base = copy.deepcopy(OLD)
    base["scoring"] = {
        "fit": [
            {
                "name": "size",
                "cap": 30,
                "rules": [{"name": "big", "field": "employees", "min": 1000, "points": 30}],
            }
        ],
        "mql_threshold": 60,
    }
    new = copy.deepcopy(base)
    new["scoring"]["fit"][0]["rules"][0]["points"] = 25
    new["scoring"]["mql_threshold"] = 55
    assert _texts(base, new)["scoring"] == [
        "fit[size].rules[big].points: 30 → 25",
        "mql_threshold: 60 → 55",
    ]


def test_other_sections_fall_to_the_generic_diff() -> None:
    new = copy.deepcopy(OLD)
    new["company"]["currency"] = "EUR"
    assert _texts(OLD, new) == {"company": ["company.currency: USD → EUR"]}


def test_structural_diff_lists_without_names_compare_whole() -> None:
    assert list(structural({"a": [1, 2]}, {"a": [2, 1]})) == [("a", "changed", [1, 2], [2, 1])]
    assert list(structural({"a": 1}, {"b": 1})) == [
        ("a", "removed", 1, None),
        ("b", "added", None, 1),
    ]


def test_new_dict_is_valid() -> None:
    assert _model(new_dict()).metric("big_bookings").name == "big_bookings"
