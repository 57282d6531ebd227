"""Two territory designs side by side: balance, moves and the disruption each rep would live with.

A design is judged on more than its spread: a rep who loses half their book to gain the same
potential elsewhere is balanced on paper and disrupted in practice. So the comparison puts, for
each design, the spread of potential and workload and the accounts moved next to, for every rep,
what they would keep, lose and gain (in accounts and in potential). Pure functions over the
stored assignments (`territory_assignments` rows of each design).
"""

from __future__ import annotations

import pandas as pd

from revops.planning.territories import spread


def compare_summary(designs: dict[str, pd.DataFrame], reps: pd.DataFrame) -> pd.DataFrame:
    """One row per design: accounts, moved, and potential and workload spread before and after.

    `designs` maps a design id to its assignment rows (account_id, current_owner_id, owner_id,
    potential, workload, moved); the spread is over `reps` (user_id, region), reps without
    accounts included, so two designs over the same reps compare like with like.
    """
    rows = []
    for design_id, a in designs.items():
        before, after = spread(a, reps, "current_owner_id"), spread(a, reps, "owner_id")
        rows.append(
            {
                "design": design_id,
                "accounts": len(a),
                "moved": int(a["moved"].astype(bool).sum()),
                "potential_max_min_before": before.max_min,
                "potential_max_min_after": after.max_min,
                "potential_cv_after": after.cv,
                "workload_max_min_after": after.workload_max_min,
                "workload_cv_after": after.workload_cv,
            }
        )
    return pd.DataFrame(rows)


def disruption(assign: pd.DataFrame, reps: pd.DataFrame) -> pd.DataFrame:
    """Per rep of one design: accounts kept, lost and gained, and potential before and after.

    `changed` (lost + gained) is the disruption a rep feels; `potential_lost` and
    `potential_gained` show whether it bought them anything.
    """
    a = assign.assign(moved=assign["moved"].astype(bool))
    moved = a[a["moved"]]
    out = reps[["user_id", "region"]].set_index("user_id")
    out["kept"] = a[~a["moved"]].groupby("owner_id").size()
    out["lost"] = moved.groupby("current_owner_id").size()
    out["gained"] = moved.groupby("owner_id").size()
    out["potential_before"] = a.groupby("current_owner_id")["potential"].sum()
    out["potential_after"] = a.groupby("owner_id")["potential"].sum()
    out["potential_lost"] = moved.groupby("current_owner_id")["potential"].sum()
    out["potential_gained"] = moved.groupby("owner_id")["potential"].sum()
    # a rep with no rows in a column holds none of it: zero there is a count, not missing data
    filled = out.drop(columns="region").fillna(0)
    out[filled.columns] = filled
    for col in ("kept", "lost", "gained"):
        out[col] = out[col].astype(int)
    out["changed"] = out["lost"] + out["gained"]
    return out.reset_index()


def compare_by_rep(designs: dict[str, pd.DataFrame], reps: pd.DataFrame) -> pd.DataFrame:
    """The disruption tables of several designs joined per rep, columns suffixed by label."""
    cols = ["kept", "lost", "gained", "changed", "potential_after"]
    # one design's columns together: kept A, lost A, ..., then B
    base = reps[["user_id", "region"]]
    for design_id, a in designs.items():
        d = disruption(a, reps)
        if "potential_before" not in base:
            base = base.merge(d[["user_id", "potential_before"]], on="user_id", how="left")
        d = d[["user_id", *cols]].rename(columns={c: f"{c} {design_id}" for c in cols})
        base = base.merge(d, on="user_id", how="left")
    return base.reset_index(drop=True)
