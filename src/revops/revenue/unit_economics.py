"""Unit economics per month: ARPA, LTV, CAC, CAC payback and LTV:CAC.

Formulas (monthly units; window sums smooth a noisy month):
- ARPA = MRR at month end / accounts with MRR;
- logo churn = churned accounts / accounts at the previous month end, summed over the trailing
  `churn_window_months`;
- LTV = the gross profit an account is expected to bring over `ltv_horizon_months`, surviving
  the monthly logo churn c and discounted at `ltv_discount_rate` a year:
  Σ_{m=1..H} ARPA x gross margin x (1 − c)^(m−1) / (1 + d)^(m/12). Unbounded (ARPA x margin / c)
  it grows without limit as churn falls and is infinite when nobody churned; bounded, a quiet
  window gives H discounted months, and no account at the start of the window leaves it empty;
- CAC is the metric dictionary's `cac` ((marketing_spend + sales_cost) / new_customers) over the
  trailing `cac_window_months`: its components' monthly values from the dictionary, summed over
  the window, so there is one CAC (with a window of one month it is the dictionary's monthly
  figure exactly; a window counts an account winning two new-business deals in different
  months of it twice). No cost row in a month of the window (campaign spend or sales_costs)
  leaves CAC, payback and LTV:CAC empty: unknown cost is not free;
- CAC payback months = CAC / (new MRR per new logo x gross margin);
- LTV:CAC = LTV / CAC.
The gross margin and windows come from `revenue.unit_economics` in revops.yaml.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa

from revops.config.models import OperatingModel
from revops.config.revenue import UnitEconomics
from revops.revenue import mrr
from revops.warehouse import Warehouse
from revops.warehouse.schema import table
from revops.warehouse.warehouse import arrow_schema

CAC_PARTS = ("marketing_spend", "sales_cost", "new_customers")


def dictionary_costs(wh: Warehouse, model: OperatingModel) -> pd.DataFrame:
    """The dictionary's CAC components per month (index: first day of month; NaN where a cost
    table has no row that month)."""
    from revops.metrics import compute

    cols = {}
    for name in CAC_PARTS:
        frame = compute(wh, model, name, grain="month")
        cols[name] = pd.Series(
            frame["value"].to_numpy(dtype=float),
            index=[mrr.month_start(pd.Timestamp(d).date()) for d in frame["period"]],
            dtype=float,
        )
    return pd.DataFrame(cols)


def bounded_ltv(
    margin_per_month: pd.Series, churn: pd.Series, horizon_months: int, annual_discount: float
) -> pd.Series:
    """Σ_{m=1..H} margin x (1 − churn)^(m−1) / (1 + d)^(m/12), in closed form.

    With v = (1 + d)^(−1/12) and q = (1 − churn) v the sum is margin x v (1 − q^H) / (1 − q);
    q = 1 (no churn, no discount) is H months of margin.
    """
    v = (1 + annual_discount) ** (-1 / 12)
    q = (1 - churn) * v
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(np.isclose(q, 1.0), horizon_months, (1 - q**horizon_months) / (1 - q))
    return margin_per_month * v * pd.Series(factor, index=churn.index)


def compute(
    monthly: pd.DataFrame, costs: pd.DataFrame, cfg: UnitEconomics, months: list[dt.date]
) -> pd.DataFrame:
    """The `unit_economics` rows for `months` from `mrr_monthly` rows and the dictionary's CAC
    components per month (`dictionary_costs`)."""
    m = monthly.assign(
        month=pd.to_datetime(monthly["month"]), first_month=pd.to_datetime(monthly["first_month"])
    )
    live = m[m["mrr"] > 0]
    g = pd.DataFrame(index=pd.DatetimeIndex(pd.to_datetime(months), name="month"))
    g["customers"] = live.groupby("month")["account_id"].nunique()
    g["mrr"] = live.groupby("month")["mrr"].sum()
    had = m[m["prior_mrr"] > 0]
    g["opening"] = had.groupby("month")["account_id"].nunique()
    g["churned"] = had[had["mrr"] == 0].groupby("month")["account_id"].nunique()
    new = m[(m["prior_mrr"] == 0) & (m["mrr"] > 0) & (m["month"] == m["first_month"])]
    g["new_logos"] = new.groupby("month")["account_id"].nunique()
    g["new_mrr"] = new.groupby("month")["mrr"].sum()
    g = g.fillna(0.0)
    parts = costs.reindex(columns=list(CAC_PARTS)).reindex(months)
    # a month with no new customer is 0 of them; a month with no cost row is an unknown cost
    parts["new_customers"] = parts["new_customers"].fillna(0.0)
    cw, sw = cfg.churn_window_months, cfg.cac_window_months
    churn = g["churned"].rolling(cw, min_periods=1).sum() / g["opening"].rolling(
        cw, min_periods=1
    ).sum().replace(0, np.nan)
    arpa = g["mrr"] / g["customers"].replace(0, np.nan)
    new_logos = g["new_logos"].rolling(sw, min_periods=1).sum()
    new_mrr = g["new_mrr"].rolling(sw, min_periods=1).sum()
    window = parts.rolling(sw, min_periods=1).sum()
    costs_known = parts[["marketing_spend", "sales_cost"]].notna().all(axis=1).astype(float)
    known = costs_known.rolling(sw, min_periods=1).min() == 1
    spend_w = (window["marketing_spend"] + window["sales_cost"]).where(known)
    gm = cfg.gross_margin
    ltv = bounded_ltv(arpa * gm, churn, cfg.ltv_horizon_months, cfg.ltv_discount_rate)
    cac = spend_w / window["new_customers"].replace(0, np.nan)
    payback = cac / (new_mrr / new_logos.replace(0, np.nan) * gm)
    return pd.DataFrame(
        {
            "month": months,
            "customers": g["customers"].astype("int64").to_numpy(),
            "arpa": arpa.to_numpy(),
            "gross_margin": gm,
            "logo_churn_rate": churn.to_numpy(),
            "ltv": ltv.to_numpy(),
            "new_logos": new_logos.astype("int64").to_numpy(),
            "new_mrr": new_mrr.to_numpy(),
            "spend": spend_w.to_numpy(dtype=float),
            "cac": cac.to_numpy(dtype=float),
            "cac_payback_months": payback.to_numpy(),
            "ltv_to_cac": (ltv / cac).to_numpy(),
        }
    )


def unit_economics(
    wh: Warehouse, monthly: pa.Table, model: OperatingModel, first: dt.date, last: dt.date
) -> pa.Table:
    """`compute` over the dictionary's CAC components and the given `mrr_monthly` rows."""
    cfg = model.revenue.unit_economics
    # only the columns `compute` reads, months as datetime64 (what it makes of them): a date
    # object per row and month column would be ~40 bytes each
    used = monthly.select(["account_id", "month", "mrr", "prior_mrr", "first_month"])
    rows = used.to_pandas(date_as_object=False, coerce_temporal_nanoseconds=True)
    frame = compute(rows, dictionary_costs(wh, model), cfg, mrr.months(first, last))
    frame = frame.replace([np.inf, -np.inf], np.nan)
    return pa.Table.from_pandas(
        frame, schema=arrow_schema(table("unit_economics")), preserve_index=False
    )
