"""The revenue engine on the demo company, loaded through ingestion: the waterfall reconciles to
the cent in every month, the dictionary agrees with the engine, and the planted churn shows."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from revops.config import load_config
from revops.demo import generate
from revops.ingest import load_file
from revops.metrics import compute
from revops.revenue import build_revenue
from revops.revenue.run import INPUT_TABLES, fetch
from revops.revenue.waterfall import MOVEMENTS, waterfall
from revops.warehouse import Warehouse

MODEL = load_config(Path(__file__).parents[2] / "examples" / "revops.yaml").model


@pytest.fixture(scope="module")
def demo_wh(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    out = tmp_path_factory.mktemp("revdemo")
    wh = Warehouse.connect(":memory:")
    for f in generate(out, scale=0.1, seed=11):
        if f.table in INPUT_TABLES:
            report = load_file(wh, f.path, f.table, f.preset)
            assert report.quarantined == 0, (f.table, report)
    build_revenue(wh, MODEL)
    return wh


def test_the_waterfall_reconciles_to_the_cent_every_month(demo_wh: Warehouse) -> None:
    wf = fetch(demo_wh, waterfall(demo_wh.table("mrr_monthly")))
    assert len(wf) >= 40  # legacy book from 2022-11 to 2026-10
    moved = wf[list(MOVEMENTS)].sum(axis=1)
    gap = (wf["opening_arr"] + moved - wf["closing_arr"]).abs()
    assert gap.max() < 0.005, wf[gap >= 0.005]
    # each month opens where the last closed
    assert (
        wf["opening_arr"].iloc[1:].to_numpy() - wf["closing_arr"].iloc[:-1].to_numpy()
    ).max() < 0.005
    # the stored movements are the same figures, movement by movement
    moves = fetch(demo_wh, demo_wh.table("arr_movements"))
    per = moves.pivot_table(index="month", columns="movement", values="amount", aggfunc="sum")
    per = per.reindex(wf["month"]).fillna(0.0)
    for name in MOVEMENTS:
        if name in per.columns:
            assert (per[name].to_numpy() - wf[name].to_numpy()).__abs__().max() < 0.01, name
    assert set(moves["movement"]) == set(MOVEMENTS)  # all five occur in the demo


def test_dictionary_agrees_with_the_engine_on_the_demo(demo_wh: Warehouse) -> None:
    wf = fetch(demo_wh, waterfall(demo_wh.table("mrr_monthly"))).set_index("month")
    arr = compute(demo_wh, MODEL, "arr", grain="month")
    for period, value in zip(arr["period"], arr["value"], strict=True):
        assert value == pytest.approx(wf.loc[period, "closing_arr"], abs=0.01)
    churned = compute(demo_wh, MODEL, "churned_arr", grain=None)["value"].iloc[0]
    assert churned == pytest.approx(wf["churn"].sum(), abs=0.05)


def test_churners_show_the_warning_signs_in_the_success_data(demo_wh: Warehouse) -> None:
    """Invoices due in the 4 months before a churn are paid late far more often than others."""
    churn = fetch(demo_wh, demo_wh.table("arr_movements").filter(lambda t: t.movement == "churn"))
    inv = demo_wh.execute(demo_wh.table("invoices"))
    inv["late"] = inv["paid_date"].isna() | ((inv["paid_date"] - inv["due_date"]).dt.days > 15)
    churn_at = pd.to_datetime(churn.groupby("account_id")["month"].max().astype(str))
    at = inv["account_id"].map(churn_at)
    due = pd.to_datetime(inv["due_date"])
    before = at.notna() & (due < at) & (due >= at - pd.DateOffset(months=4))
    assert before.sum() >= 20
    assert inv.loc[before, "late"].mean() > 2 * inv.loc[~before, "late"].mean()
