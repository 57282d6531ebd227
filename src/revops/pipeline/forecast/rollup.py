"""The forecast roll-up: each rep's call by category, summed up the management chain.

A forecast call is made deal by deal (the rep's forecast category) and read by level: the rep,
every manager above them (users.manager_id, followed to the top), the region and the company.
Managers may put their own number beside any of these (see `adjustments`); the roll-up keeps the
rep's call and the adjustment in separate columns, so neither hides the other.
"""

from __future__ import annotations

import ibis
import pandas as pd

from revops.pipeline.forecast.periods import Period
from revops.warehouse.schema import FORECAST_CATEGORIES

ALL = "all"
ROLLUP_COLUMNS = (
    "level",
    "subject_id",
    "subject_name",
    "opportunity_type",
    "category",
    "call",
    "adjustment",
    "adjusted",
    "note",
    "adjusted_by",
)


def deal_calls(states: pd.DataFrame, period: Period) -> pd.DataFrame:
    """One row per deal that counts in the period: won in it ('closed') or open and due in it.

    `states` holds every deal as of one date (open and closed). Lost deals drop out; an open
    deal without a category is 'pipeline' (the CRM default).
    """
    close = pd.to_datetime(states["close_date"])
    due = (close >= pd.Timestamp(period.start)) & (close <= pd.Timestamp(period.end))
    won = states["is_won"].astype(bool) & due
    open_ = states["is_open"].astype(bool) & due
    out = states[won | open_].copy()
    category = out["forecast_category"].fillna("pipeline").astype(str)
    category = category.where(category != "closed", "commit")
    out["category"] = category.where(~won[won | open_], "closed")
    out["amount"] = out["amount"].fillna(0.0).astype(float)
    return out[["opportunity_id", "owner_id", "opportunity_type", "category", "amount"]]


def counting(states: ibis.Table, period: Period) -> ibis.Table:
    """The rows of `states` (a `pipeline_as_of` query) that `deal_calls` keeps: won or open,
    with a close date in the period, chosen by the warehouse. Every deal as of the date came
    to Python before, while the roll-up counts only those due in one quarter (the 10x demo's
    2026Q4: 68,404 deals read for 6,999 calls)."""
    due = (states.close_date >= period.start) & (states.close_date <= period.end)
    return states.filter(due & (states.is_won | states.is_open))


def chains(users: pd.DataFrame) -> dict[str, list[str]]:
    """Each user's managers, nearest first (a cycle in manager_id stops at the repeat)."""
    manager = dict(zip(users["user_id"].astype(str), users["manager_id"], strict=True))
    out: dict[str, list[str]] = {}
    for uid in manager:
        seen: list[str] = []
        cur = manager.get(uid)
        while isinstance(cur, str) and cur not in seen and cur != uid:
            seen.append(cur)
            cur = manager.get(cur)
        out[uid] = seen
    return out


def _subjects(calls: pd.DataFrame, users: pd.DataFrame) -> pd.DataFrame:
    """Each deal once per level and subject it rolls into."""
    up = chains(users)
    region = dict(zip(users["user_id"].astype(str), users["region"], strict=True))
    owners = calls["owner_id"].astype(str)
    parts = [
        calls.assign(level="rep", subject_id=owners),
        calls.assign(level="region", subject_id=owners.map(lambda u: region.get(u) or "unknown")),
        calls.assign(level="company", subject_id=ALL),
    ]
    mgr = calls.assign(subject_id=owners.map(lambda u: up.get(u, []))).explode("subject_id")
    parts.append(mgr.dropna(subset=["subject_id"]).assign(level="manager"))
    return pd.concat(parts, ignore_index=True)


def rollup(
    calls: pd.DataFrame,
    users: pd.DataFrame,
    adjustments: pd.DataFrame,
    period: Period,
    as_of: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Long table: level, subject, opportunity type (each and 'all'), category, call, adjustment.

    `adjusted` is the manager's number where one was made for exactly that cell, else the call.
    Only adjustments for this period made before the end of `as_of` count; the newest wins.
    """
    rows = _subjects(calls, users)
    both = pd.concat([rows, rows.assign(opportunity_type=ALL)], ignore_index=True)
    keys = ["level", "subject_id", "opportunity_type"]
    sums = both.groupby([*keys, "category"], as_index=False)["amount"].sum()
    cells = sums.pivot_table(index=keys, columns="category", values="amount", fill_value=0.0)
    cells = cells.reindex(columns=list(FORECAST_CATEGORIES), fill_value=0.0)
    long = cells.reset_index().melt(id_vars=keys, var_name="category", value_name="call")
    adj = latest_adjustments(adjustments, period, as_of)
    out = long.merge(adj, on=[*keys, "category"], how="outer")
    out["call"] = out["call"].fillna(0.0)
    out["adjusted"] = out["adjustment"].where(out["adjustment"].notna(), out["call"])
    names = dict(zip(users["user_id"].astype(str), users["name"].astype(str), strict=True))
    out["subject_name"] = out["subject_id"].map(lambda s: names.get(s, s))
    order = {"rep": 0, "manager": 1, "region": 2, "company": 3}
    out["_o"] = out["level"].map(order)
    out["_c"] = out["category"].map({c: i for i, c in enumerate(FORECAST_CATEGORIES)})
    out = out.sort_values(["_o", "subject_id", "opportunity_type", "_c"]).reset_index(drop=True)
    return out[list(ROLLUP_COLUMNS)]


def latest_adjustments(
    adjustments: pd.DataFrame, period: Period, as_of: pd.Timestamp | None
) -> pd.DataFrame:
    """The newest adjustment per cell for this period, made before the end of `as_of`."""
    cols = ["level", "subject_id", "opportunity_type", "category"]
    empty = pd.DataFrame(columns=[*cols, "adjustment", "note", "adjusted_by"])
    if adjustments.empty:
        return empty
    a = adjustments.copy()
    start = pd.to_datetime(a["period_start"]).dt.date
    end = pd.to_datetime(a["period_end"]).dt.date
    a = a[(start == period.start) & (end == period.end)]
    if as_of is not None:
        a = a[pd.to_datetime(a["adjusted_at"]) < as_of]
    if a.empty:
        return empty
    a = a.sort_values("adjusted_at").drop_duplicates(cols, keep="last")
    return a.rename(columns={"amount": "adjustment"})[[*cols, "adjustment", "note", "adjusted_by"]]


def wide(long: pd.DataFrame) -> pd.DataFrame:
    """One row per level/subject/type: the call per category, then adjusted figures beside it."""
    keys = ["level", "subject_id", "subject_name", "opportunity_type"]
    call = long.pivot_table(index=keys, columns="category", values="call", sort=False)
    call = call.reindex(columns=list(FORECAST_CATEGORIES))
    adjusted = long[long["adjustment"].notna()]
    out = call.reset_index()
    for cat in FORECAST_CATEGORIES:
        part = adjusted[adjusted["category"] == cat]
        if part.empty:
            continue
        col = part.set_index(keys)["adjustment"].rename(f"{cat}_adjusted")
        out = out.merge(col.reset_index(), on=keys, how="left")
    notes = adjusted.groupby(keys)["note"].agg(lambda s: "; ".join(map(str, s)))
    if not notes.empty:
        out = out.merge(notes.rename("notes").reset_index(), on=keys, how="left")
    out.columns.name = None
    return out
