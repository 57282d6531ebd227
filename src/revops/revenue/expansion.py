"""Expansion propensity: the churn model's machinery with "expands within the horizon" as label.

Accounts about to expand grow their usage and rarely carry risk signals, so the same features
rank them; the health-score baseline here ranks high scores first.
"""

from __future__ import annotations

import pandas as pd

from revops.revenue.churn_model import FittedModel, fit, labels


def fit_expansion(
    rows: pd.DataFrame, movements: pd.DataFrame, horizon: int, seed: int = 0
) -> FittedModel:
    label = labels(rows, movements, "expansion", horizon).rename("expansion")
    return fit(rows, label, horizon, seed=seed, low_score_is_positive=False)


def fit_churn(
    rows: pd.DataFrame, movements: pd.DataFrame, horizon: int, seed: int = 0
) -> FittedModel:
    label = labels(rows, movements, "churn", horizon).rename("churn")
    return fit(rows, label, horizon, seed=seed)
