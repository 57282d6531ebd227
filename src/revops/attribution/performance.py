"""Marketing performance: spend beside what it sourced, influenced and was credited with.

Sourced and influenced conversions are counted in the warehouse (`placed.sourced_influenced`):

* Sourced: a conversion is sourced by the channel (campaign) of the first touch of its journey
  inside the lookback; each conversion is sourced by exactly one, so sourced values add up to
  the total.
* Influenced: a conversion is influenced by every channel (campaign) with at least one touch in
  its journey; it counts in full for each, so influenced values add up to more than the total.

Cost ratios (cost per lead, MQL, SQL, opportunity; CAC; ROI; ROAS) are dictionary metrics in
revops.yaml; `performance_table` computes them with the metric layer so a report shows the very
numbers `revops metrics compute` gives.
"""

from __future__ import annotations

import pandas as pd

from revops.config.models import Grain, OperatingModel
from revops.metrics import compute
from revops.warehouse import Warehouse

PERFORMANCE_METRICS = (
    "marketing_spend",
    "leads",
    "cost_per_lead",
    "cost_per_mql",
    "cost_per_sql",
    "cost_per_opportunity",
    "attributed_pipeline",
    "attributed_revenue",
    "roas",
    "roi",
)


def performance_table(
    wh: Warehouse, model: OperatingModel, dim: str = "channel", grain: Grain | None = None
) -> pd.DataFrame:
    """Spend, leads and the cost/return metrics side by side per channel or campaign."""
    frames = []
    for name in PERFORMANCE_METRICS:
        df = compute(wh, model, name, by=[dim], grain=grain)
        keys = [dim] + (["period"] if grain else [])
        frames.append(df.set_index(keys)["value"].rename(name))
    return pd.concat(frames, axis=1).reset_index()
