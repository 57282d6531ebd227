"""What moved between two forecast snapshots: the questions of every forecast call.

Deals added, deals gone (lost, won, or vanished), close dates pushed out or pulled in, amounts
changed and stages moved, each as one row with its before and after, so a manager can walk the
list; and a summary of counts and money per kind. With a period, only deals due in it at
either end count, and a push says whether it left the period.
"""

from __future__ import annotations

import pandas as pd

from revops.pipeline.forecast.periods import Period

CHANGE_KINDS = (
    "added",
    "won",
    "lost",
    "removed",
    "pushed",
    "pulled_in",
    "amount_changed",
    "stage_moved",
)
_COLS = ("stage", "amount", "close_date", "forecast_category", "is_open", "is_won", "owner_id")


def _due(close: pd.Series, period: Period | None) -> pd.Series:
    if period is None:
        return pd.Series(True, index=close.index)
    day = pd.to_datetime(close)
    return (day >= pd.Timestamp(period.start)) & (day <= pd.Timestamp(period.end))


def changes(
    before: pd.DataFrame,
    after: pd.DataFrame,
    period: Period | None = None,
    stage_order: dict[str, int] | None = None,
) -> pd.DataFrame:
    """One row per deal and change kind, with before/after values and the amount delta."""
    b = before[["opportunity_id", *_COLS]].rename(columns={c: f"{c}_before" for c in _COLS})
    b["type_before"] = before["opportunity_type"].to_numpy()
    a = after[["opportunity_id", "opportunity_type", *_COLS]].rename(
        columns={c: f"{c}_after" for c in _COLS}
    )
    m = b.merge(a, on="opportunity_id", how="outer", indicator=True)
    in_b, in_a = m["_merge"] != "right_only", m["_merge"] != "left_only"
    open_b = in_b & m["is_open_before"].eq(True)
    open_a = in_a & m["is_open_after"].eq(True)
    due_b = in_b & _due(m["close_date_before"], period)
    due_a = in_a & _due(m["close_date_after"], period)
    m = m[(open_b & due_b) | (in_a & due_a & (open_a | ~in_b | open_b))].copy()
    in_b, in_a = in_b[m.index], in_a[m.index]
    open_b, open_a = open_b[m.index], open_a[m.index]
    due_b, due_a = due_b[m.index], due_a[m.index]
    won_a = in_a & m["is_won_after"].eq(True)
    amt_b = m["amount_before"].fillna(0.0).astype(float)
    amt_a = m["amount_after"].fillna(0.0).astype(float)
    close_b = pd.to_datetime(m["close_date_before"])
    close_a = pd.to_datetime(m["close_date_after"])
    both_open = open_b & open_a
    kinds: dict[str, pd.Series] = {
        "added": ~in_b & open_a | (in_b & ~open_b & open_a),
        "won": (open_b | ~in_b) & won_a,
        "lost": open_b & in_a & ~open_a & ~won_a,
        "removed": open_b & ~in_a,
        "pushed": both_open & (close_a > close_b),
        "pulled_in": both_open & (close_a < close_b),
        "amount_changed": both_open & (amt_a != amt_b),
        "stage_moved": both_open & (m["stage_before"] != m["stage_after"]),
    }
    order = stage_order or {}
    parts = []
    for kind in CHANGE_KINDS:
        part = m[kinds[kind]].copy()
        if part.empty:
            continue
        part["change"] = kind
        part["amount_delta"] = {
            "added": amt_a,
            "won": 0.0 * amt_a,
            "lost": -amt_b,
            "removed": -amt_b,
        }.get(kind, amt_a - amt_b)[part.index]
        part["days_moved"] = (close_a - close_b).dt.days[part.index]
        part["left_period"] = due_b[part.index] & ~due_a[part.index]
        part["entered_period"] = ~due_b[part.index] & due_a[part.index]
        if kind == "stage_moved":
            sb = part["stage_before"].map(order)
            sa = part["stage_after"].map(order)
            part["direction"] = (sa > sb).map({True: "forward", False: "back"})
        parts.append(part)
    cols = [
        "opportunity_id",
        "change",
        "opportunity_type",
        "owner_id_after",
        "stage_before",
        "stage_after",
        "amount_before",
        "amount_after",
        "amount_delta",
        "close_date_before",
        "close_date_after",
        "days_moved",
        "left_period",
        "entered_period",
        "direction",
    ]
    if not parts:
        return pd.DataFrame(columns=cols)
    both = pd.concat(parts, ignore_index=True)
    out = both.reindex(columns=cols)
    for col in ("close_date_before", "close_date_after"):
        out[col] = pd.to_datetime(out[col]).dt.date
    out["left_period"] = out["left_period"].astype(bool)
    out["entered_period"] = out["entered_period"].astype(bool)
    out["opportunity_type"] = out["opportunity_type"].where(
        out["opportunity_type"].notna(), both["type_before"]
    )
    return (
        out.rename(columns={"owner_id_after": "owner_id"})
        .sort_values(
            ["change", "opportunity_id"],
            key=lambda s: s.map(_kind_rank) if s.name == "change" else s,
        )
        .reset_index(drop=True)
    )


def _kind_rank(kind: str) -> int:
    return CHANGE_KINDS.index(kind)


def summary(changed: pd.DataFrame) -> pd.DataFrame:
    """Deals and money per change kind (every kind listed, zero when nothing happened)."""
    g = changed.groupby("change").agg(
        deals=("opportunity_id", "nunique"), amount_delta=("amount_delta", "sum")
    )
    g = g.reindex(list(CHANGE_KINDS)).fillna(0.0)
    g["deals"] = g["deals"].astype(int)
    return g.reset_index()
