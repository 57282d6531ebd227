"""The ARR waterfall: every month's change in ARR split into five movements that reconcile.

Per account and month, with `prior` the MRR at the previous month end and `mrr` at this one:
new (prior 0, first month with MRR), reactivation (prior 0, had MRR before), churn (mrr 0,
prior > 0), expansion (both > 0, up) and contraction (both > 0, down). Amounts are signed ARR
(12 x the MRR change), so opening ARR + new + expansion + contraction + churn + reactivation is
closing ARR exactly: each account contributes mrr - prior, and the sums telescope.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from revops.warehouse.sums import exact_sum

MOVEMENTS = ("new", "expansion", "contraction", "churn", "reactivation")


def _movement(m: ir.Table) -> ir.StringValue:
    up = m.mrr > m.prior_mrr
    return ibis.cases(
        ((m.prior_mrr == 0) & (m.month == m.first_month), "new"),
        (m.prior_mrr == 0, "reactivation"),
        (m.mrr == 0, "churn"),
        (up, "expansion"),
        else_="contraction",
    )


def movements(monthly: ir.Table) -> ir.Table:
    """The `arr_movements` rows: one per account and month whose MRR changed."""
    m = monthly.filter(monthly.mrr != monthly.prior_mrr)
    return m.select(
        account_id=m.account_id,
        month=m.month,
        movement=_movement(m),
        amount=((m.mrr - m.prior_mrr) * 12).round(2).cast("float64"),
        prior_arr=(m.prior_mrr * 12).round(2).cast("float64"),
    )


def waterfall(monthly: ir.Table, by: tuple[str, ...] = ()) -> ir.Table:
    """Per month (and `by` columns of `monthly`): opening ARR, the five movements, closing ARR.

    Computed from the same rows as `movements`, in one aggregate. The sums are exact
    (`sums.exact_sum`): a float SUM's last digits follow the order the warehouse's threads add
    its rows in, which at 10x demo scale changed the report's bridge from run to run of the
    same seed.
    """
    m = monthly.mutate(movement=_movement(monthly), delta=(monthly.mrr - monthly.prior_mrr) * 12)
    sums = {
        name: exact_sum(ibis.cases((m.movement == name, m.delta), else_=0.0)) for name in MOVEMENTS
    }
    out = m.group_by(["month", *by]).aggregate(
        opening_arr=(exact_sum(m.prior_mrr) * 12),
        **sums,
        closing_arr=(exact_sum(m.mrr) * 12),
        customers=(m.mrr > 0).sum(),
    )
    return out.order_by(["month", *by])
