"""Opportunity splits: the deals two account executives sold together.

In Salesforce (Opportunity Splits enabled) a revenue split credits the deal team shares that add
up to 100 %; a deal without splits credits its owner in full. Co-selling is common on big
deals (a second AE who owns the buyer's other office or a named account) and rare on small
ones, so a new-business or expansion deal owned by an AE is co-sold with probability
`BIG_SHARE` when its amount is in the top quarter and `SMALL_SHARE` otherwise, with another AE
of the owner's region who had started by the deal's creation: 60/40 or 50/50, the owner first.
The draw comes from its own random stream, so every other file stays byte-identical.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

BIG_SHARE = 0.25
SMALL_SHARE = 0.04
_SPLITS = ((60.0, 40.0), (50.0, 50.0))


def build(rng: np.random.Generator, users: pd.DataFrame, opps: pd.DataFrame) -> pd.DataFrame:
    """opportunity_id, user_id, percent: one row per credited AE of each co-sold deal."""
    aes = users[users["role"] == "ae"]
    region = dict(zip(aes["user_id"], aes["region"], strict=True))
    types = opps["opportunity_type"].isin(["new_business", "expansion"]).to_numpy(bool)
    owned = opps["owner_id"].isin(list(region)).to_numpy(bool)
    amount = pd.to_numeric(opps["amount"], errors="coerce").to_numpy(float)
    big = amount >= np.nanquantile(amount, 0.75)
    draw = rng.uniform(size=len(opps))
    kind = rng.integers(0, len(_SPLITS), len(opps))
    pick = rng.uniform(size=len(opps))
    chosen = types & owned & (draw < np.where(big, BIG_SHARE, SMALL_SHARE))
    starts = pd.to_datetime(aes["start_date"]).to_numpy()
    ae_ids, ae_regions = aes["user_id"].to_numpy(), aes["region"].to_numpy()
    owners, ids = opps["owner_id"].to_numpy(), opps["opportunity_id"].to_numpy()
    created_at = pd.to_datetime(opps["created_date"]).to_numpy()
    rows = []
    for i in np.flatnonzero(chosen).tolist():
        owner, created = owners[i], created_at[i]
        ok = (ae_regions == region[owner]) & (ae_ids != owner) & (starts <= created)
        others = ae_ids[ok]
        if not len(others):
            continue
        other = others[min(int(pick[i] * len(others)), len(others) - 1)]
        first, second = _SPLITS[kind[i]]
        rows += [(ids[i], owner, first), (ids[i], other, second)]
    return pd.DataFrame(rows, columns=["opportunity_id", "user_id", "percent"])
