"""The customer side of the engine at its I/O edge: health history, risk models, at-risk list.

Reads `mrr_monthly`, `arr_movements` and the customer-success tables through the `Warehouse`,
hands frames to the pure modules (signals, health, churn_model, at_risk) and writes
`health_scores` and `health_components` back in one transaction. Run `build_revenue` first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from revops.config.models import OperatingModel
from revops.config.revenue import Health
from revops.revenue.at_risk import at_risk_list
from revops.revenue.churn_model import FittedModel
from revops.revenue.errors import RevenueError
from revops.revenue.expansion import fit_churn, fit_expansion
from revops.revenue.health import components, scores
from revops.revenue.run import fetch
from revops.revenue.signals import SuccessData, month_index, signals
from revops.warehouse import Warehouse
from revops.warehouse.schema import table
from revops.warehouse.warehouse import Batch, arrow_schema


def load_success(wh: Warehouse) -> SuccessData:
    def cols(name: str, *names: str) -> pd.DataFrame:
        t = wh.table(name)
        return pd.DataFrame(wh.execute(t.select(*names)))

    acts = wh.table("activities")
    acts = acts.filter(acts.account_id.notnull(), acts.occurred_at.notnull())
    touches = acts.group_by(account_id=acts.account_id, month=acts.occurred_at.truncate("M"))
    return SuccessData(
        usage=cols("product_usage", "account_id", "month", "active_users"),
        tickets=cols("support_tickets", "account_id", "opened_at", "priority"),
        invoices=cols("invoices", "account_id", "due_date", "paid_date"),
        activities=pd.DataFrame(wh.execute(touches.aggregate(touches=acts.count()))),
        champions=cols("champion_changes", "account_id", "changed_at"),
    )


def snapshots(wh: Warehouse) -> pd.DataFrame:
    """Live account-months (MRR > 0) with MRR features: log_mrr, tenure, mrr_change_3m."""
    m = wh.table("mrr_monthly")
    live = m.filter(m.mrr > 0).select("account_id", "month", "mrr", "first_month")
    rows = fetch(wh, live.order_by(["account_id", "month"]))
    if rows.empty:
        raise RevenueError("mrr_monthly is empty: run `revops revenue run` first")
    midx = month_index(rows["month"])
    rows["tenure"] = midx - month_index(rows["first_month"])
    rows["log_mrr"] = np.log1p(rows["mrr"].to_numpy(float))
    rows["mrr_change_3m"] = change_since(rows["account_id"], midx, rows["mrr"].to_numpy(float), 3)
    return rows


def change_since(
    accounts: pd.Series, midx: npt.NDArray[np.int64], mrr: npt.NDArray[np.float64], months: int
) -> npt.NDArray[np.float64]:
    """Per row (one per account and month index), MRR over the same account's MRR `months`
    earlier, minus 1; 0 where it had no row then. The earlier row is found by position (a merge
    on account and month copied every row)."""
    key = pd.factorize(accounts)[0].astype(np.int64) * 1_000_000 + midx
    at = pd.Index(key).get_indexer(key - months)  # -1: no row then
    change = mrr / np.where(at >= 0, mrr[at], np.nan) - 1
    return np.where(np.isnan(change), 0.0, change)


@dataclass(frozen=True)
class CustomerRun:
    rows: pd.DataFrame  # every scored snapshot with signals, score and features
    health: Health  # the components that scored them

    @property
    def parts(self) -> pd.DataFrame:
        """The health components of every snapshot, built when asked: five rows per snapshot,
        which only `build_health` stores whole (the at-risk list needs one month's)."""
        return components(self.rows, self.health)


def score_customers(wh: Warehouse, model: OperatingModel) -> CustomerRun:
    """Score every live account at every month end from the first month with usage data."""
    health = model.revenue.health
    rows = snapshots(wh)
    data = load_success(wh)
    if len(data.usage):
        first = min(month_index(data.usage["month"]))
        rows = rows[month_index(rows["month"]) >= first].reset_index(drop=True)
    rows = signals(rows, data, health.lookback_months)
    del data  # the raw success data: every signal is in `rows` now
    rows = rows.merge(scores(rows, health), on=["account_id", "month"])
    rows["trend_3m"] = rows["trend_3m"].astype(float)
    return CustomerRun(rows, health)


def build_health(wh: Warehouse, model: OperatingModel) -> CustomerRun:
    """`score_customers`, stored: health_scores and health_components, in one transaction."""
    run = score_customers(wh, model)
    sc = run.rows[["account_id", "month", "score", "trend_3m"]]
    wh.write_many(
        [
            Batch("health_scores", _arrow(sc, "health_scores"), "replace"),
            Batch("health_components", _arrow(run.parts, "health_components"), "replace"),
        ]
    )
    return run


def _arrow(frame: pd.DataFrame, name: str) -> pa.Table:
    schema = arrow_schema(table(name))
    return pa.Table.from_pandas(frame[schema.names], schema=schema, preserve_index=False)


@dataclass(frozen=True)
class RiskRun:
    churn: FittedModel
    expansion: FittedModel
    at_risk: pd.DataFrame
    latest: pd.DataFrame


def assess_risk(wh: Warehouse, model: OperatingModel, run: CustomerRun) -> RiskRun:
    """Fit churn and expansion models on history, score the latest month, list accounts at risk.

    Both models are seeded from `revenue.seed` and read their rows in (account, month) order,
    so the same data give the same probabilities and the same list."""
    cfg = model.revenue
    moves = fetch(wh, wh.table("arr_movements").select("account_id", "month", "movement"))
    rows = run.rows.copy(deep=False)  # the same columns, not a copy of them (assign's)
    rows["trend_3m"] = rows["trend_3m"].fillna(0.0)  # a new column: run.rows keeps its NaN
    churn = fit_churn(rows, moves, cfg.churn_horizon_months, cfg.seed)
    expansion = fit_expansion(rows, moves, cfg.churn_horizon_months, cfg.seed)
    latest = rows[rows["month"] == rows["month"].max()].copy()
    # a model that does not beat the health score out of time is withheld (the health score's
    # calibrated probability is used) unless revenue.use_withheld names it
    latest["churn_probability"] = churn.probability(latest, "churn" in cfg.use_withheld)
    latest["expansion_probability"] = expansion.probability(latest, "expansion" in cfg.use_withheld)
    latest["trend_3m"] = run.rows.loc[latest.index, "trend_3m"]
    accounts = pd.DataFrame(
        wh.execute(wh.table("accounts").select("account_id", "name", "owner_id", "segment"))
    )
    users = pd.DataFrame(wh.execute(wh.table("users").select("user_id", "name")))
    source = churn.source("churn" in cfg.use_withheld)
    listed = at_risk_list(latest, components(latest, cfg.health), accounts, users, cfg, source)
    return RiskRun(churn, expansion, listed, latest)
