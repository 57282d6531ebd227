"""Retention over `mrr_monthly`: NRR, GRR, logo and revenue churn, per month.

- NRR(M) = MRR at M of the accounts that had MRR 12 months before / their MRR then
  (expansion counts, new and reactivated-from-zero-at-base accounts do not).
- GRR(M) = sum of min(MRR at M, MRR then) over those accounts / their MRR then (never above 1).
- logo churn rate(M) = accounts with MRR at M-1 and none at M / accounts with MRR at M-1.
- revenue churn rate(M) = (churned + contracted MRR in M) / MRR at M-1 (gross MRR churn).

The same formulas are in the metric dictionary (nrr, grr, logo_churn_rate, revenue_churn_rate);
this module is the engine's view for the report and the CLI, computed in one query.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir


def retention(monthly: ir.Table, by: tuple[str, ...] = ()) -> ir.Table:
    """Per month (and `by`): nrr, grr, logo_churn_rate, revenue_churn_rate and their bases."""
    m = monthly
    has_base = m.mrr_12m_ago > 0
    had = m.prior_mrr > 0
    lost = ibis.cases((m.mrr < m.prior_mrr, m.prior_mrr - m.mrr), else_=0.0)
    agg = m.group_by(["month", *by]).aggregate(
        base_mrr=m.mrr_12m_ago.sum(),
        base_now=ibis.cases((has_base, m.mrr), else_=0.0).sum(),
        retained=m.retained_mrr_12m.sum(),
        opening_logos=had.sum(),
        churned_logos=(had & (m.mrr == 0)).sum(),
        opening_mrr=m.prior_mrr.sum(),
        lost_mrr=lost.sum(),
    )
    out = agg.mutate(
        nrr=ibis.cases((agg.base_mrr > 0, agg.base_now / agg.base_mrr), else_=ibis.null("float64")),
        grr=ibis.cases((agg.base_mrr > 0, agg.retained / agg.base_mrr), else_=ibis.null("float64")),
        logo_churn_rate=ibis.cases(
            (agg.opening_logos > 0, agg.churned_logos / agg.opening_logos),
            else_=ibis.null("float64"),
        ),
        revenue_churn_rate=ibis.cases(
            (agg.opening_mrr > 0, agg.lost_mrr / agg.opening_mrr), else_=ibis.null("float64")
        ),
    )
    return out.order_by(["month", *by])
