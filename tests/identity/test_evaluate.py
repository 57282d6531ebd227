"""Scoring against planted truth: hand-worked arithmetic, then the demo company end to end."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from revops.context import RevOps
from revops.demo import generate
from revops.identity.dedupe import find_duplicates
from revops.identity.evaluate import (
    Score,
    cluster_pairs,
    entity_pairs,
    evaluate,
    matching_score,
    pair_score,
)
from revops.identity.merge import apply_merges, auto_groups, plan_merges


def test_pair_scores_by_hand() -> None:
    truth = pd.DataFrame(
        {"record_id": ["a", "b", "c", "x", "y"], "true_entity_id": ["a", "a", "a", "x", "x"]}
    )
    actual = entity_pairs(truth)
    assert actual == {("a", "b"), ("a", "c"), ("b", "c"), ("x", "y")}
    clusters = pa.table({"cluster_id": ["1", "1", "2", "2"], "record_id": ["a", "b", "x", "z"]})
    score = pair_score("t", cluster_pairs(clusters), actual)
    assert (score.true_positives, score.predicted, score.actual) == (1, 2, 4)
    assert score.precision == 0.5
    assert score.recall == 0.25
    assert score.f1 == pytest.approx(2 * 0.5 * 0.25 / 0.75)
    assert Score("empty", 0, 0, 0).f1 == 0.0


def test_matching_score_counts_a_duplicate_account_as_right() -> None:
    matches = pd.DataFrame({"person_id": ["p1", "p2", "p3"], "account_id": ["A2", "B", "C"]})
    truth = pd.DataFrame({"person_id": ["p1", "p2", "p4"], "true_account_id": ["A", "C", "D"]})
    dups = pd.DataFrame({"record_id": ["A", "A2"], "true_entity_id": ["A", "A"]})
    score = matching_score(matches, truth, dups)
    assert (score.true_positives, score.predicted, score.actual) == (1, 3, 3)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[RevOps, Path]:
    out = tmp_path_factory.mktemp("identity_demo")
    files = generate(out, scale=0.05, seed=7)
    ro = RevOps.open(None, ":memory:")
    for f in files:
        ro.load(f.path, f.table, f.preset)
    return ro, out / "truth"


def test_demo_truth_is_recovered(demo: tuple[RevOps, Path]) -> None:
    ro, truth = demo
    done = evaluate(ro.warehouse, ro.model, truth)
    scores = {s.name: s for s in done.scores}
    for s in scores.values():
        print(
            f"{s.name}: P={s.precision:.3f} R={s.recall:.3f} F1={s.f1:.3f} "
            f"({s.true_positives}/{s.predicted}/{s.actual})"
        )
    assert scores["persons dedupe"].actual >= 40
    assert scores["persons dedupe"].f1 >= 0.75
    assert scores["persons dedupe"].recall >= 0.85
    assert scores["accounts dedupe"].recall >= 0.5  # 2 planted pairs at this scale
    assert scores["lead-to-account matching"].actual >= 400
    assert scores["lead-to-account matching"].f1 >= 0.95
    # the match probability judged on every labelled candidate pair, before and after
    # (every candidate pair, and those at or above the review threshold on their own)
    cal = {c.model: c for c in done.calibration}
    every = cal["persons match, all candidate pairs"]
    decides = cal[
        f"persons match, pairs ≥ review threshold {ro.model.dedupe.persons.review_threshold:g}"
    ]
    assert every.rows_calibration + every.rows_evaluation > decides.rows_evaluation * 2 > 40
    for rep in (every, decides):
        print(rep.summary())
        assert int(rep.table["rows"].sum()) == rep.rows_evaluation
        assert rep.recalibrated == (rep.ece_calibration_slice > max(0.02, rep.ece_chance))
    assert decides.table["bin"].min() >= int(ro.model.dedupe.persons.review_threshold * 10)


def test_planted_truth_is_consistent(demo: tuple[RevOps, Path]) -> None:
    ro, truth = demo
    wh = ro.warehouse
    dups = pd.read_csv(truth / "person_duplicates.csv", dtype=str)
    copies = dups[dups["record_id"] != dups["true_entity_id"]]
    n_persons = wh.count("persons")
    assert len(copies) == max(4, round(0.02 * (n_persons - len(copies))))
    # duplicates are extra leads: no lifecycle events, touchpoints or deals of their own
    for table in ("lifecycle_events", "touchpoints", "opportunities"):
        t = wh.table(table)
        found = wh.execute(t.filter(t.person_id.isin(copies["record_id"].tolist())).count())
        assert found == 0, table
    leads = pd.read_csv(truth / "lead_accounts.csv", dtype=str)
    pt = wh.table("persons")
    held = wh.to_arrow(pt.filter(pt.person_id.isin(leads["person_id"].tolist())))
    assert held.num_rows == len(leads)
    assert held["account_id"].null_count == held.num_rows  # all unmatched in the export
    accounts = set(wh.to_arrow(wh.table("accounts").select("account_id"))["account_id"].to_pylist())
    assert set(leads["true_account_id"]) <= accounts


# runs last: it merges, changing the shared warehouse
def test_auto_merge_on_the_demo_keeps_every_child(demo: tuple[RevOps, Path]) -> None:
    ro, _ = demo
    wh = ro.warehouse
    children = ("touchpoints", "activities", "opportunities", "lifecycle_events")
    before = {t: wh.count(t) for t in (*children, "persons")}
    groups = auto_groups(wh, "persons", find_duplicates(wh, ro.model, "persons").clusters)
    plans = plan_merges(wh, ro.model.merge, "persons", groups)
    apply_merges(wh, plans, actor="test")
    merged = sum(len(p.merged_ids) for p in plans)
    assert wh.count("persons") == before["persons"] - merged
    live = set(wh.to_arrow(wh.table("persons").select("person_id"))["person_id"].to_pylist())
    for t in children:
        assert wh.count(t) == before[t]
        ids = wh.to_arrow(wh.table(t).select("person_id"))["person_id"].to_pylist()
        assert {i for i in ids if i is not None} <= live, t
