"""The churn model out of time: its base rate drifts, so it is recalibrated and says so."""

from __future__ import annotations

import numpy as np
import pandas as pd

from revops.revenue.churn_model import FEATURES, fit


def _book(seed: int = 3) -> tuple[pd.DataFrame, pd.Series]:
    """3,000 accounts a month for 30 months; churn odds fall with the score, and the whole
    book churns half as often in the last 12 months as before (a drifting base rate)."""
    rng = np.random.default_rng(seed)
    months = pd.date_range("2023-01-31", periods=30, freq="ME")
    n = 3_000
    frames = []
    labels = []
    for k, month in enumerate(months):
        x = pd.DataFrame({f: rng.normal(size=n) for f in FEATURES})
        x["score"] = rng.uniform(0, 100, n)
        x["month"] = month
        logit = -1.0 - 0.04 * (x["score"] - 50) - (0.9 if k >= 18 else 0.0)
        labels.append(pd.Series((rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(float)))
        frames.append(x)
    rows = pd.concat(frames, ignore_index=True)
    return rows, pd.concat(labels, ignore_index=True).rename("churn")


def test_drift_is_caught_and_mended_out_of_time() -> None:
    rows, y = _book()
    m = fit(rows, y, horizon=3, test_months=6)
    cal = m.calibration
    assert cal is not None
    # Trained on the high-churn months, the raw model over-predicts the later ones.
    assert (
        cal.table["predicted"].mul(cal.table["rows"]).sum()
        > cal.table["observed"].mul(cal.table["rows"]).sum()
    )
    assert cal.ece > 0.02
    assert cal.recalibrated
    assert cal.ece_after < cal.ece
    assert cal.brier_after < cal.brier
    # predict() is the calibrated probability; raw() is the classifier's own.
    test = rows[pd.to_datetime(rows["month"]) >= pd.Timestamp("2025-01-01")]
    assert np.mean(m.predict(test)) < np.mean(m.raw(test))
    assert "recalibrated" in cal.summary()


def test_a_model_no_better_than_the_health_score_is_withheld() -> None:
    # In this book churn depends on the health score alone (the other features are noise):
    # the model can only match the score's ranking, so it is withheld and the at-risk list
    # gets the health score's probability unless revenue.use_withheld names the model.
    rows, y = _book()
    m = fit(rows, y, horizon=3, test_months=6)
    v = m.verdict
    assert v is not None
    assert v.auc <= v.baseline_auc
    assert m.withheld
    assert "churn model WITHHELD: it does not beat the health score" in v.summary()
    latest = rows[pd.to_datetime(rows["month"]) == pd.to_datetime(rows["month"]).max()]
    used = m.probability(latest)
    assert np.allclose(used, v.baseline_probability(latest["score"].to_numpy(float)))
    # low health, high churn probability
    assert (
        used[latest["score"].to_numpy() < 20].mean() > used[latest["score"].to_numpy() > 80].mean()
    )
    assert np.allclose(m.probability(latest, use_withheld=True), m.predict(latest))


def test_the_at_risk_reason_names_the_probability_used_when_the_model_is_withheld() -> None:
    # The same book: the model is withheld, so churn_probability is the health score's, and an
    # account flagged by that probability alone (no health component cost it points) must say
    # so, not credit the churn model.
    from revops.config.revenue import RevenueConfig
    from revops.revenue.at_risk import at_risk_list

    rows, y = _book()
    m = fit(rows, y, horizon=3, test_months=6)
    assert m.withheld
    source = m.source()
    assert source == (
        "churn probability from the health score: the churn model is withheld "
        "(it does not beat the health score out of time)"
    )
    assert "used as revenue.use_withheld says" in m.source(use_withheld=True)
    latest = pd.DataFrame(
        {"account_id": ["A"], "month": [pd.Timestamp("2025-06-30")], "mrr": [100.0],
         "score": [95.0], "trend_3m": [0.0], "churn_probability": [0.9],
         "expansion_probability": [0.1]}
    )  # fmt: skip
    parts = pd.DataFrame(
        {"account_id": ["A"], "month": [pd.Timestamp("2025-06-30")], "component": ["usage"],
         "score": [100.0], "weight": [1.0], "reason": ["usage steady"]}
    )  # fmt: skip
    accounts = pd.DataFrame(
        {"account_id": ["A"], "name": ["Acme"], "owner_id": [None], "segment": ["smb"]}
    )
    users = pd.DataFrame({"user_id": pd.Series([], dtype=str), "name": pd.Series([], dtype=str)})
    out = at_risk_list(latest, parts, accounts, users, RevenueConfig(), source)
    assert out.loc[0, "reasons"] == source
    assert "churn model:" not in out.loc[0, "reasons"]
