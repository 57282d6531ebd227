"""Revenue and retention: MRR/ARR, the ARR waterfall, NRR/GRR, cohorts, unit economics,
customer lifetime value, customer health, churn risk and expansion propensity.

Pure functions over Ibis tables (and pandas frames for the models) at the core; `run` and
`success` are the edges that read and write the warehouse.
"""

from __future__ import annotations

from revops.revenue.errors import RevenueError
from revops.revenue.run import RevenueRun, build_revenue, revenue_range

__all__ = ["RevenueError", "RevenueRun", "build_revenue", "revenue_range"]
