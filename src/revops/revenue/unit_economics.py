"""Unit economics per month: ARPA, LTV, CAC, CAC payback and LTV:CAC.

Formulas (monthly units; window sums smooth a noisy month):
- ARPA = MRR at month end / accounts with MRR;
- logo churn = churned accounts / accounts at the previous month end, summed over the trailing
  `churn_window_months`;
- LTV = ARPA x gross margin / logo churn (the expected gross profit of an account, with churn
  as the monthly hazard); empty when nobody churned in the window;
- CAC = (campaign spend + `sales_spend_per_month` x months) / new logos, over the trailing
  `cac_window_months`;
- CAC payback months = CAC / (new MRR per new logo x gross margin);
- LTV:CAC = LTV / CAC.
The gross margin and sales spend come from `revenue.unit_economics` in revops.yaml.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa

from revops.config.revenue import UnitEconomics
from revops.revenue import mrr
from revops.warehouse import Warehouse
from revops.warehouse.schema import table
from revops.warehouse.warehouse import arrow_schema


def monthly_spend(wh: Warehouse) -> pd.Series:
    """Campaign spend per month (index: first day of month)."""
    cs = wh.table("campaign_spend")
    expr = cs.group_by(month=cs.spend_date.truncate("M").cast("date")).aggregate(
        amount=cs.amount.sum()
    )
    frame = wh.execute(expr)
    return pd.Series(
        frame["amount"].to_numpy(dtype=float),
        index=[mrr.month_start(pd.Timestamp(d).date()) for d in frame["month"]],
        dtype=float,
    )


def compute(
    monthly: pd.DataFrame, spend: pd.Series, cfg: UnitEconomics, months: list[dt.date]
) -> pd.DataFrame:
    """The `unit_economics` rows for `months` from `mrr_monthly` rows and spend per month."""
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
    g["spend"] = spend.reindex(months).fillna(0.0).to_numpy() + cfg.sales_spend_per_month
    g = g.fillna(0.0)
    cw, sw = cfg.churn_window_months, cfg.cac_window_months
    churn = g["churned"].rolling(cw, min_periods=1).sum() / g["opening"].rolling(
        cw, min_periods=1
    ).sum().replace(0, np.nan)
    arpa = g["mrr"] / g["customers"].replace(0, np.nan)
    new_logos = g["new_logos"].rolling(sw, min_periods=1).sum()
    new_mrr = g["new_mrr"].rolling(sw, min_periods=1).sum()
    spend_w = g["spend"].rolling(sw, min_periods=1).sum()
    gm = cfg.gross_margin
    ltv = arpa * gm / churn.replace(0, np.nan)
    cac = spend_w / new_logos.replace(0, np.nan)
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
            "spend": spend_w.to_numpy(),
            "cac": cac.to_numpy(),
            "cac_payback_months": payback.to_numpy(),
            "ltv_to_cac": (ltv / cac).to_numpy(),
        }
    )


def unit_economics(
    wh: Warehouse, monthly: pa.Table, cfg: UnitEconomics, first: dt.date, last: dt.date
) -> pa.Table:
    """`compute` over the warehouse's spend and the given `mrr_monthly` rows, as Arrow."""
    frame = compute(monthly.to_pandas(), monthly_spend(wh), cfg, mrr.months(first, last))
    frame = frame.replace([np.inf, -np.inf], np.nan)
    return pa.Table.from_pandas(
        frame, schema=arrow_schema(table("unit_economics")), preserve_index=False
    )
