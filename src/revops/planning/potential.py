"""Account potential and workload: the two quantities territory design balances.

Potential is an explainable estimate of an account's annual bookings opportunity, built from
two facts a sales leader can check by hand:

    potential = segment_base × size_factor
    segment_base = won ACV of the segment's accounts over the lookback / (accounts × years)
    size_factor  = (employee_ratio ** w × revenue_ratio ** (1 − w)) ** elasticity

where each ratio is the account's value over its segment's median, clipped to `size_clip` (a
missing value counts as the median). A segment without won history uses `fallback_base`.
Workload is the segment's effort weight: an enterprise account takes more selling time than a
small one whatever its potential, so it is balanced separately.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from revops.config.planning import PotentialConfig
from revops.warehouse import Warehouse

ACCOUNT_COLUMNS = ["account_id", "region", "segment", "employees", "annual_revenue", "owner_id"]


def _ratio(values: pd.Series, groups: pd.Series, clip: tuple[float, float]) -> pd.Series:
    """Value over its group's median, clipped; missing or non-positive values count as 1."""
    v = pd.to_numeric(values, errors="coerce").astype(float)
    v = v.where(v > 0)
    median = v.groupby(groups, dropna=False).transform("median")
    ratio = (v / median).fillna(1.0)
    return ratio.clip(lower=clip[0], upper=clip[1])


def segment_bases(
    accounts: pd.DataFrame, won: pd.DataFrame, cfg: PotentialConfig
) -> dict[str, float]:
    """Won ACV per account and year, by segment (fallback where a segment has no wins)."""
    years = cfg.lookback_days / 365.0
    seg_of = accounts.set_index("account_id")["segment"]
    won_seg = won.assign(segment=won["account_id"].map(seg_of))
    totals = won_seg.groupby("segment")["amount"].sum()
    counts = accounts.groupby("segment")["account_id"].count()
    bases: dict[str, float] = {}
    for seg, n in counts.items():
        total = float(totals.get(seg, 0.0))
        fallback = cfg.fallback_base.get(str(seg), 0.0)
        bases[str(seg)] = total / (n * years) if total > 0 else fallback
    return bases


def account_potential(
    accounts: pd.DataFrame,
    won: pd.DataFrame,
    cfg: PotentialConfig,
    segment_effort: dict[str, float],
) -> pd.DataFrame:
    """Accounts with `segment_base`, `size_factor`, `potential` and `workload` columns.

    `won` holds the won deals of the lookback (account_id, amount). Accounts without a segment
    get the mean base of all segments and an effort of 1.
    """
    out = accounts.copy()
    bases = segment_bases(out, won, cfg)
    mean_base = float(np.mean(list(bases.values()))) if bases else 0.0
    out["segment_base"] = out["segment"].map(bases).astype(float).fillna(mean_base)
    groups = out["segment"].fillna("")
    emp = _ratio(out["employees"], groups, cfg.size_clip)
    rev = _ratio(out["annual_revenue"], groups, cfg.size_clip)
    w = cfg.employee_weight
    size = np.exp(w * np.log(emp) + (1 - w) * np.log(rev)) ** cfg.elasticity
    out["size_factor"] = size.astype(float)
    out["potential"] = out["segment_base"] * out["size_factor"]
    out["workload"] = out["segment"].map(segment_effort).astype(float).fillna(1.0)
    return out


def load_potential(
    wh: Warehouse,
    cfg: PotentialConfig,
    segment_effort: dict[str, float],
    as_of: date | None = None,
) -> pd.DataFrame:
    """Read accounts and the lookback's won deals from the warehouse and score every account."""
    as_of = as_of or date.today()
    accounts = wh.execute(wh.table("accounts").select(*ACCOUNT_COLUMNS))
    opp = wh.table("opportunities")
    since = as_of - timedelta(days=cfg.lookback_days)
    won = wh.execute(
        opp.filter(
            opp.is_won,
            opp.close_date > since,
            opp.close_date <= as_of,
            opp.opportunity_type.isin(list(cfg.opportunity_types)),
        ).select("account_id", "amount")
    )
    won["amount"] = won["amount"].astype(float).fillna(0.0)
    return account_potential(accounts, won, cfg, segment_effort)
