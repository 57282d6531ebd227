"""The customer-health score: weighted components from revops.yaml, each explained.

For every account-month snapshot, each component's signal is matched against its ordered rules
(first `below` the value exceeds wins, the last rule catches the rest), giving points 0-100 and
the rule's reason. The score is the weight-averaged points; `trend_3m` is the change from the
score three months earlier. `explain` turns one account's components into the sentences a CSM
reads: what each signal was, which rule fired, and how many points it cost.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from revops.config.revenue import Health
from revops.revenue.signals import month_index

TREND_LAG = 3


def components(snapshots: pd.DataFrame, health: Health) -> pd.DataFrame:
    """Long table: account_id, month, component, value, score, weight, reason."""
    parts = []
    for comp in health.components:
        value = snapshots[comp.signal].to_numpy(dtype=float)
        conds = [value < r.below for r in comp.rules[:-1] if r.below is not None]
        score = np.select(conds, [r.score for r in comp.rules[:-1]], comp.rules[-1].score)
        reason = np.select(conds, [r.reason for r in comp.rules[:-1]], comp.rules[-1].reason)
        parts.append(
            pd.DataFrame(
                {
                    "account_id": snapshots["account_id"].to_numpy(),
                    "month": snapshots["month"].to_numpy(),
                    "component": comp.name,
                    "value": value,
                    "score": score.astype(float),
                    "weight": comp.weight,
                    "reason": reason.astype(str),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def scores(parts: pd.DataFrame) -> pd.DataFrame:
    """account_id, month, score (weighted mean of component points), trend_3m."""
    p = parts.assign(points=parts["score"] * parts["weight"])
    g = p.groupby(["account_id", "month"], sort=False)[["points", "weight"]].sum().reset_index()
    g["score"] = (g["points"] / g["weight"]).round(2)
    g["midx"] = month_index(g["month"])
    before = g[["account_id", "midx", "score"]].assign(midx=g["midx"] + TREND_LAG)
    g = g.merge(before, on=["account_id", "midx"], how="left", suffixes=("", "_before"))
    g["trend_3m"] = g["score"] - g["score_before"]
    return g[["account_id", "month", "score", "trend_3m"]]


def lost_points(parts: pd.DataFrame) -> pd.DataFrame:
    """Components that cost points, with the points lost out of the total (largest first)."""
    total = parts.groupby(["account_id", "month"])["weight"].transform("sum")
    lost = parts.assign(lost=(100 - parts["score"]) * parts["weight"] / total)
    return lost[lost["lost"] > 0].sort_values(
        ["account_id", "month", "lost", "component"], ascending=[True, True, False, True]
    )


def explain(parts: pd.DataFrame, account_id: str) -> list[str]:
    """One line per component of the account's latest score, biggest loss first."""
    mine = parts[parts["account_id"] == account_id]
    if mine.empty:
        return []
    latest = mine[mine["month"] == mine["month"].max()]
    total = latest["weight"].sum()
    latest = latest.assign(lost=(100 - latest["score"]) * latest["weight"] / total)
    lines = []
    ranked = latest.sort_values(["lost", "component"], ascending=[False, True])
    for row in ranked.itertuples():
        lines.append(
            f"{row.component}: {row.reason} (signal {row.value:g}, {row.score:g}/100 points, "
            f"weight {row.weight:g}, -{row.lost:.1f} from the score)"
        )
    return lines
