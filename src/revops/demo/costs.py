"""Sales costs: what the go-to-market team costs each month, so CAC has real inputs.

CAC is (campaign spend + sales cost) / new customers. Without a `sales_costs` table the
dictionary's CAC is unknown (never free), so the demo company exports one from its finance
system: fully loaded salaries of the people who win customers (AEs, SDRs, their managers, the
sales executive, sales and marketing operations, the marketing team),
commissions on new-business and expansion bookings, per-seat tools, and travel. Customer
success is a cost of keeping customers, not of winning them, so CSMs are left out.

The levels make an efficient go-to-market: sales and marketing about a fifth of ARR, below the
~50% of revenue Bessemer Venture Partners reports for faster-growing cloud companies near $100M
ARR ("Scaling to $100 Million", 2021), which with LTV bounded to five discounted years
(`revenue.unit_economics.ltv_horizon_months`) lands the demo's LTV:CAC in the 3-5x band SaaS
surveys and investors call healthy (KeyBanc Capital Markets private SaaS company survey; David
Skok, "SaaS Metrics 2.0").
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from revops.demo._common import END, START

# fully loaded monthly cost of one CRM user (salary, benefits, payroll tax, equipment), USD
MONTHLY_COST = {
    "ae": 10_500.0,
    "sdr": 5_500.0,
    "manager": 13_000.0,
    "executive": 20_000.0,
    "ops": 7_000.0,
    "marketing": 8_000.0,
}
TRAVEL = {"ae": 500.0, "manager": 400.0, "executive": 1_000.0}  # T&E a month
COMMISSION_RATE = 0.05  # of won new-business and expansion bookings, paid in the close month
TOOLS_PER_SEAT = 250.0  # CRM, sales engagement, data providers, per go-to-market seat a month


def build(
    rng: np.random.Generator, users: pd.DataFrame, opportunities: pd.DataFrame
) -> pd.DataFrame:
    """`sales_costs` rows (cost_date on the first of each month, category, amount)."""
    months = np.arange(
        START.astype("datetime64[M]"), END.astype("datetime64[M]") + 1, dtype="datetime64[M]"
    )
    role = users["role"].to_numpy()
    started = users["start_date"].to_numpy(dtype="datetime64[s]").astype("datetime64[M]")
    on = started[None, :] <= months[:, None]  # month x user: on the payroll that month

    def per_user(cost: dict[str, float]) -> np.ndarray:
        return (on * np.array([cost.get(r, 0.0) for r in role])[None, :]).sum(axis=1)

    is_won = opportunities["is_won"].to_numpy(bool)
    credited = opportunities["opportunity_type"].isin(["new_business", "expansion"]).to_numpy()
    won = opportunities[is_won & credited]
    closed = pd.to_datetime(won["close_date"]).to_numpy().astype("datetime64[M]")
    booked = pd.Series(won["amount"].to_numpy(float)).groupby(closed).sum()
    categories = {
        "salaries": per_user(MONTHLY_COST) * rng.uniform(0.98, 1.02, len(months)),
        "commissions": booked.reindex(months, fill_value=0.0).to_numpy() * COMMISSION_RATE,
        "tools": (on & np.isin(role, list(MONTHLY_COST))[None, :]).sum(axis=1) * TOOLS_PER_SEAT,
        "travel": per_user(TRAVEL) * rng.uniform(0.7, 1.3, len(months)),
    }
    day = months.astype("datetime64[D]")
    parts = [
        pd.DataFrame({"cost_date": day, "category": name, "amount": np.round(values, 2)})
        for name, values in categories.items()
    ]
    return pd.concat(parts, ignore_index=True).sort_values(["cost_date", "category"])
