"""The customer-health score: weighted components from revops.yaml, each explained.

For every account-month snapshot, each component's signal is matched against its ordered rules
(first `below` the value exceeds wins, the last rule catches the rest), giving points 0-100 and
the rule's reason. The score is the weight-averaged points; `trend_3m` is the change from the
score three months earlier. `explain` turns one account's components into the sentences a CSM
reads: what each signal was, which rule fired, and how many points it cost.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from revops.config.revenue import Health, HealthComponent
from revops.revenue.signals import month_index

TREND_LAG = 3


def components(snapshots: pd.DataFrame, health: Health) -> pd.DataFrame:
    """Long table: account_id, month, component, value, score, weight, reason.

    One block of rows per component, in the order of `health.components`, each in the order of
    `snapshots`. The text columns hold references to the snapshots' and the rules' own string
    objects (a reason per row would be a string object per row: a row costs 8 bytes instead).
    """
    n, comps = len(snapshots), health.components
    value = np.empty(n * len(comps))
    score = np.empty(n * len(comps))
    reason = np.empty(n * len(comps), dtype=object)
    for i, comp in enumerate(comps):
        block = slice(i * n, (i + 1) * n)
        value[block], which = _fired(snapshots, comp)
        score[block] = _rule_points(comp)[which]
        reason[block] = np.array([r.reason for r in comp.rules], dtype=object)[which]
    return pd.DataFrame(
        {
            "account_id": np.tile(snapshots["account_id"].to_numpy(), len(comps)),
            "month": np.tile(snapshots["month"].to_numpy(), len(comps)),
            "component": np.repeat(np.array([c.name for c in comps], dtype=object), n),
            "value": value,
            "score": score,
            "weight": np.repeat(np.array([c.weight for c in comps], dtype=float), n),
            "reason": reason,
        },
        copy=False,  # the arrays are this frame's own: no second copy of them
    )


def _fired(
    snapshots: pd.DataFrame, comp: HealthComponent
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.intp]]:
    """The component's signal per snapshot, and the index of the rule that fires: the first
    whose `below` the value is under, else the last (a NaN is under none)."""
    value = snapshots[comp.signal].to_numpy(dtype=float)
    bounds = [r.below for r in comp.rules if r.below is not None]  # all but the last rule's
    which = np.full(len(value), len(comp.rules) - 1, dtype=np.intp)
    for i, below in reversed(list(enumerate(bounds))):  # the first match, written last, wins
        which[value < below] = i
    return value, which


def _rule_points(comp: HealthComponent) -> npt.NDArray[np.float64]:
    return np.array([r.score for r in comp.rules], dtype=float)


def scores(snapshots: pd.DataFrame, health: Health) -> pd.DataFrame:
    """account_id, month, score (weighted mean of component points), trend_3m: one row per
    snapshot, in its order (snapshots are unique per account and month).

    Computed a component at a time over every snapshot, not over the long `components` table
    (5 rows per snapshot): the figures are those of summing that table's points and weights per
    account and month with pandas, to the last bit (tests/revenue/test_health.py holds them
    to it), whose sum compensates rounding the way `compensated_sum` does.
    """
    points, weights = [], []
    for comp in health.components:
        points.append(_rule_points(comp)[_fired(snapshots, comp)[1]] * comp.weight)
        weights.append(np.array([comp.weight]))
    g = pd.DataFrame(
        {"account_id": snapshots["account_id"].to_numpy(), "month": snapshots["month"].to_numpy()}
    )
    g["score"] = (compensated_sum(points, len(g)) / compensated_sum(weights, 1)).round(2)
    g["midx"] = month_index(g["month"])
    before = g[["account_id", "midx", "score"]].assign(midx=g["midx"] + TREND_LAG)
    g = g.merge(before, on=["account_id", "midx"], how="left", suffixes=("", "_before"))
    g["trend_3m"] = g["score"] - g["score_before"]
    return g[["account_id", "month", "score", "trend_3m"]]


def compensated_sum(terms: list[npt.NDArray[np.float64]], n: int) -> npt.NDArray[np.float64]:
    """Elementwise sum of `terms` in their order with Kahan's compensation: the sum pandas'
    groupby takes of each group's rows in row order (a plain sum differs in the last bits)."""
    total, carry = np.zeros(n), np.zeros(n)
    for term in terms:
        y = term - carry
        t = total + y
        carry = (t - total) - y
        carry[np.isnan(carry)] = 0.0  # as pandas: an infinite sum does not poison the carry
        total = t
    return total


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
