"""A model that does not beat its baseline out of time is withheld, and says so.

The criterion (revops.models.calibration.Verdict): on the evaluation slice, the model is kept
only when its AUC is higher and its Brier no higher than the baseline's, the baseline mapped to
a probability on the calibration slice.
"""

from __future__ import annotations

from random import Random

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from revops.config.scoring import FitGroup, FitRule, PredictiveConfig, ScoringConfig, Target
from revops.models.calibration import assess, versus_baseline
from revops.scoring.model import History, train


def test_a_model_no_better_than_the_rule_is_withheld() -> None:
    # The outcome follows the baseline score; the "model" is noise around the base rate.
    rng = np.random.default_rng(1)
    n = 4_000
    score = rng.uniform(0, 100, n)
    y = (rng.uniform(size=n) < score / 100).astype(float)
    noise = np.clip(0.5 + rng.normal(0, 0.05, n), 0, 1)
    order = np.arange(n)
    v = versus_baseline(assess("noise", y, noise, order), y, noise, score, order, "the rule")
    assert v.rows == 2_000
    assert v.auc == pytest.approx(0.5, abs=0.05)
    assert v.baseline_auc == pytest.approx(0.83, abs=0.03)  # E|U-V|-style: 5/6 for y ~ U(0,1)
    assert v.withheld
    assert "WITHHELD" in v.summary()
    assert "the rule is used instead" in v.summary()
    assert "used anyway" in v.summary(overridden=True)
    # The baseline's probability: monotone in the score, about score / 100.
    mapped = v.baseline_probability(np.array([10.0, 50.0, 90.0, np.nan]))
    assert mapped[:3] == pytest.approx([0.1, 0.5, 0.9], abs=0.08)
    assert mapped[3] == pytest.approx(v.base_rate)

    # The truth itself against a weaker baseline (half the score's signal) is kept.
    truth = score / 100
    weak = score + rng.normal(0, 40, n)
    kept = versus_baseline(assess("truth", y, truth, order), y, truth, weak, order, "a weak rule")
    assert kept.auc > kept.baseline_auc
    assert kept.brier <= kept.baseline_brier
    assert not kept.withheld
    assert "beats a weak rule" in kept.summary()


def test_low_scores_first_for_a_churn_baseline() -> None:
    # Health score: low means churn. The direction is the caller's; the map finds it itself.
    rng = np.random.default_rng(2)
    n = 3_000
    health = rng.uniform(0, 100, n)
    y = (rng.uniform(size=n) < (100 - health) / 200).astype(float)
    p = np.full(n, y.mean())
    order = np.arange(n)
    rep = assess("flat", y, p, order)
    v = versus_baseline(rep, y, p, health, order, "the health score", higher_is_positive=False)
    assert v.baseline_auc > 0.6
    assert v.baseline_probability(np.array([5.0]))[0] > v.baseline_probability([95.0])[0]
    assert v.withheld  # a flat model ranks nothing: AUC 0.5


def _history_the_rule_decides(n: int = 3_000) -> tuple[History, ScoringConfig]:
    """Leads whose conversion is decided by their title alone, which the rule scores: VPs
    convert 10 days after creation, nobody else ever does. No model can rank better than the
    rule's AUC of 1.0."""
    rng = np.random.default_rng(3)
    start = np.datetime64("2024-01-01T09:00:00", "us")
    created = start + (np.arange(n) * 6 * 3_600_000_000).astype("m8[us]")  # every 6 hours
    titles = np.array(["VP Sales", "Sales Manager", "Intern"])[rng.integers(0, 3, n)]
    persons = pd.DataFrame(
        {
            "person_id": [f"p{i:05d}" for i in range(n)],
            "title": titles,
            "seniority": None,
            "job_function": None,
            "employees": rng.integers(5, 5_000, n),
            "industry": rng.choice(["software", "retail", "health"], n),
            "country": rng.choice(["US", "DE", "FR"], n),
            "source": rng.choice(["web", "event"], n),
            "created_at": pd.Series(created),
        }
    )
    vp = titles == "VP Sales"
    stages = pd.DataFrame(
        {
            "person_id": persons["person_id"][vp].to_numpy(),
            "to_stage": "SQL",
            "changed_at": created[vp] + np.timedelta64(10, "D").astype("m8[us]"),
        }
    )
    # one web visit each, an hour after creation: touch features exist but say nothing
    touches = pd.DataFrame(
        {
            "person_id": persons["person_id"],
            "touch_type": "web_visit",
            "occurred_at": pd.Series(created + np.timedelta64(1, "h").astype("m8[us]")),
        }
    )
    cfg = ScoringConfig(
        fit=(
            FitGroup(
                name="title",
                cap=50,
                rules=(FitRule(name="vp", field="title", points=50, contains=("vp",)),),
            ),
        ),
        model=PredictiveConfig(
            targets=(Target(name="sql", stages=("SQL",), window_days=30),), feature_days=1
        ),
    )
    end = created.max() + np.timedelta64(60, "D").astype("m8[us]")
    return History(persons, touches, stages, end), cfg


def test_a_lead_model_that_cannot_beat_the_rule_is_withheld_in_the_store() -> None:
    from revops.scoring.run import report_dict

    history, cfg = _history_the_rule_decides()
    models = train(history, cfg, "lead-test")
    sql = models.targets["sql"]
    assert sql.rule_auc == pytest.approx(1.0)
    assert sql.verdict is not None
    assert sql.verdict.baseline_auc == pytest.approx(1.0)
    assert sql.verdict.auc <= 1.0
    assert sql.withheld
    stored = report_dict(models)["targets"]["sql"]["verdict"]
    assert stored["withheld"] is True
    assert "sql model WITHHELD" in stored["summary"]
    assert "the rule score is used instead" in stored["summary"]
    # The rule's probability: VPs (50 points) about 1, everyone else about 0.
    rule_p = sql.verdict.baseline_probability(np.array([50.0, 0.0]))
    assert rule_p[0] > 0.95
    assert rule_p[1] < 0.05


@settings(max_examples=10, deadline=None)  # each assess draws 200 chance ECEs
@given(
    st.lists(st.integers(0, 100), min_size=8, max_size=60),
    st.randoms(use_true_random=False),
)
def test_a_model_that_only_restates_the_baseline_is_never_kept(
    scores: list[int], rnd: Random
) -> None:
    # Any strictly increasing function of the baseline ranks exactly as the baseline does:
    # its AUC cannot be higher, so it is withheld whatever its Brier.
    score = np.array(scores, float)
    y = np.array([float(rnd.random() < s / 100) for s in scores])
    y[0], y[1] = 0.0, 1.0  # both outcomes, in both halves or not: the verdict must still hold
    p = 0.01 + 0.98 * score / 100
    order = np.arange(len(score))
    v = versus_baseline(assess("restated", y, p, order), y, p, score, order, "the rule")
    assert v.withheld


def test_a_second_target_is_reported_only_never_said_to_fall_back() -> None:
    # Only the first target fills lead_scores; a second (the won-lead model in the example)
    # is applied by nothing, so its verdict must not promise that its rule score stands in.
    from revops.scoring.run import report_dict

    history, cfg = _history_the_rule_decides()
    two = (cfg.model.targets[0], Target(name="won", stages=("SQL",), window_days=30))
    cfg = cfg.model_copy(update={"model": cfg.model.model_copy(update={"targets": two})})
    models = train(history, cfg, "lead-test")
    assert models.targets["won"].withheld
    stored = report_dict(models)["targets"]
    assert stored["sql"]["applied"] is True
    assert "the rule score is used instead" in stored["sql"]["verdict"]["summary"]
    won = stored["won"]
    assert won["applied"] is False
    assert "won model WITHHELD" in won["verdict"]["summary"]
    assert "is used instead" not in won["verdict"]["summary"]
    assert won["verdict"]["summary"].endswith(
        "reported only: nothing applies the won model or its rule score (only the first "
        "target, sql, fills lead_scores.predicted_sql_probability)"
    )
    # named in use_withheld, the applied target says it is used anyway
    assert "used anyway" in report_dict(models, ("sql",))["targets"]["sql"]["verdict"]["summary"]
