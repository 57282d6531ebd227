"""Marketing performance: spend beside what it sourced, influenced and was credited with.

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

import ibis.expr.types as ir
import pandas as pd

from revops.config.models import Grain, OperatingModel
from revops.metrics import compute
from revops.warehouse import Warehouse
from revops.warehouse.exact import exact_sum

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


def sourced_influenced(journeys: ir.Table, dim: str = "channel") -> pd.DataFrame:
    """Per channel (or campaign): conversions and revenue sourced and influenced. `journeys` is
    the journeys query (journeys.marked_expr, `run.Journeys.marked`): the warehouse counts,
    only the per-channel rows come back. Amounts are summed exactly (warehouse.exact): the
    same journeys give the same bits, however the warehouse splits the rows over threads."""
    col = "campaign_id" if dim == "campaign" else dim
    j = journeys.filter(journeys.converted)
    j = j.mutate(**{col: j[col].fill_null("(none)"), "revenue": j.revenue.fill_null(0.0)})
    first = j.filter(j.pos == 0)
    sourced = first.group_by(col).aggregate(
        sourced=first.conversion_id.count(), sourced_amount=exact_sum(first.revenue)
    )
    pairs = j.group_by([col, "conversion_id"]).aggregate(revenue=j.revenue.max())
    influenced = pairs.group_by(col).aggregate(
        influenced=pairs.conversion_id.count(), influenced_amount=exact_sum(pairs.revenue)
    )
    out = influenced.left_join(sourced, col).select(
        influenced[col], "sourced", "influenced", "sourced_amount", "influenced_amount"
    )
    df = out.to_pyarrow().to_pandas().rename(columns={col: dim})
    df = df.fillna({"sourced": 0, "sourced_amount": 0.0})
    df = df.astype({"sourced": int, "influenced": int, "sourced_amount": float})
    df = df.sort_values(dim, ignore_index=True)
    return df.sort_values("sourced_amount", ascending=False, ignore_index=True)


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
