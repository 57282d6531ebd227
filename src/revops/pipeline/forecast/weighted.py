"""Stage-weighted forecasts, with stage probabilities taken from the CRM or learned from history.

The CRM's stage probabilities are opinions typed into a settings page; history says what actually
happened. Of the deals that stood in stage S on a weekly snapshot, the share of their amount that
closed won inside that period is the learned probability, by opportunity type, by whether the
deal was due in the period and by how far the period had run (a Proposal in week 12 is not a
Proposal in week 1). Thin cells fall back to coarser ones and finally to the configured default.
A probability set by hand on a deal beats both.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from revops.config.pipeline import PipelineConfig

# Finest first; each later key set is the fallback for cells with too few deals.
FALLBACKS: tuple[tuple[str, ...], ...] = (
    ("opportunity_type", "stage", "due_in_period", "phase"),
    ("stage", "due_in_period", "phase"),
    ("stage", "due_in_period"),
    ("stage",),
)


def learn(rows: pd.DataFrame, min_deals: int) -> dict[tuple[str, ...], pd.DataFrame]:
    """Amount-weighted in-period win rate per cell, for every fallback key set.

    `rows` are labelled training rows (see `features.label`). A cell keeps `deals` (distinct
    deals behind it) so `apply` can skip cells resting on fewer than `min_deals`.
    """
    out: dict[tuple[str, ...], pd.DataFrame] = {}
    r = rows.assign(
        _amt=rows["amount"].fillna(0.0).astype(float),
        _won_amt=rows["amount"].fillna(0.0).astype(float) * rows["won_in_period"],
    )
    for keys in FALLBACKS:
        g = r.groupby(list(keys), dropna=False).agg(
            amount=("_amt", "sum"),
            won_amount=("_won_amt", "sum"),
            deals=("opportunity_id", "nunique"),
            rows=("opportunity_id", "size"),
            won_rows=("won_in_period", "sum"),
        )
        out[keys] = cells(g, min_deals)
    return out


def cells(g: pd.DataFrame, min_deals: int) -> pd.DataFrame:
    """The rates of one key set's cells from their sums (indexed by the keys), keeping cells
    of at least `min_deals` deals: pandas' groupby in `learn`, or the warehouse's aggregate
    of a replay it holds (`replay.Replay.learned`)."""
    g = g.copy()
    g["probability"] = np.where(
        g["amount"] > 0, g["won_amount"] / g["amount"].where(g["amount"] > 0, 1.0), np.nan
    )
    g["count_probability"] = g["won_rows"] / g["rows"]
    return g[g["deals"] >= min_deals].reset_index()


def learned_probability(
    rows: pd.DataFrame, learned: dict[tuple[str, ...], pd.DataFrame], stages: PipelineConfig
) -> pd.Series:
    """Each row's learned probability (0–1): finest cell with enough deals, else the default."""
    defaults = {s.name: s.probability / 100.0 for s in stages.stages}
    prob = pd.Series(np.nan, index=rows.index)
    for keys in FALLBACKS:
        table = learned.get(keys)
        if table is None or table.empty:
            continue
        hit = rows[list(keys)].merge(table[[*keys, "probability"]], on=list(keys), how="left")[
            "probability"
        ]
        hit.index = rows.index
        prob = prob.fillna(hit)
    fallback = rows["stage"].map(defaults)
    return prob.fillna(fallback).fillna(0.0)


def default_probability(rows: pd.DataFrame, stages: PipelineConfig) -> pd.Series:
    """The configured stage probability (0–1), the CRM's weighted pipeline."""
    defaults = {s.name: s.probability / 100.0 for s in stages.stages}
    return rows["stage"].map(defaults).fillna(0.0)


def prefer_manual(prob: pd.Series, rows: pd.DataFrame) -> pd.Series:
    """A manual probability, where a deal has one, replaces the computed one."""
    if "manual_probability" not in rows:
        return prob
    manual = rows["manual_probability"]
    return manual.where(manual.notna(), prob)
