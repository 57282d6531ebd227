"""The at-risk list Customer Success works from: who, why, how much ARR, and whose account.

An account is on the list at the latest month end when its churn probability reaches
`revenue.at_risk_probability` or its health score falls below `health.at_risk_below`. Reasons
are the health components that cost it points, biggest first, in the rule's own words; where
none did, whose churn probability flagged it (the model's or, when the model is withheld, the
health score's) and why. The list is sorted by ARR at risk (probability x ARR), the order in
which saving accounts pays.
"""

from __future__ import annotations

import pandas as pd

from revops.config.revenue import RevenueConfig
from revops.revenue.health import lost_points

COLUMNS = (
    "account_id",
    "account",
    "owner",
    "segment",
    "arr",
    "score",
    "trend_3m",
    "churn_probability",
    "arr_at_risk",
    "expansion_probability",
    "reasons",
)

# What a person reads of the list, in the CLI and the workspace alike (the CSV has every column).
SHOWN = (
    "account",
    "owner",
    "segment",
    "arr",
    "score",
    "churn_probability",
    "arr_at_risk",
    "reasons",
)


def at_risk_list(
    latest: pd.DataFrame,
    parts: pd.DataFrame,
    accounts: pd.DataFrame,
    users: pd.DataFrame,
    cfg: RevenueConfig,
    probability_source: str = "churn model: risk from MRR, tenure and trend",
) -> pd.DataFrame:
    """`latest` has account_id, month, mrr, score, trend_3m, churn_probability and
    expansion_probability for the latest month end; `parts` the health components.
    `probability_source` says whose churn_probability it is (`FittedModel.source`): the reason
    of an account no health component cost points, flagged by that probability alone."""
    flag = (latest["churn_probability"] >= cfg.at_risk_probability) | (
        latest["score"] < cfg.health.at_risk_below
    )
    risky = latest[flag].copy()
    month = risky["month"].max() if len(risky) else None
    lost = lost_points(parts[parts["month"] == month]) if month is not None else parts.iloc[:0]
    reasons = lost.groupby("account_id")["reason"].agg(lambda r: "; ".join(r))
    names = accounts.set_index("account_id")
    user_names = users.set_index("user_id")["name"]
    owner_id = risky["account_id"].map(names["owner_id"])
    risky["account"] = risky["account_id"].map(names["name"])
    risky["owner"] = owner_id.map(user_names).fillna(owner_id).fillna("unassigned")
    risky["segment"] = risky["account_id"].map(names["segment"])
    risky["arr"] = risky["mrr"] * 12
    risky["arr_at_risk"] = (risky["arr"] * risky["churn_probability"]).round(2)
    risky["reasons"] = risky["account_id"].map(reasons).fillna(probability_source)
    out = risky.sort_values(["arr_at_risk", "account_id"], ascending=[False, True])
    return out[list(COLUMNS)].reset_index(drop=True)
