"""Benchmark: revenue and retention at 10x demo scale, the risk models, and CLV against lifetimes.

1. The full revenue metrics (monthly MRR per account, the ARR waterfall, NRR/GRR and churn
   rates, cohort counts) by the revops engine in DuckDB, next to a vectorized pandas
   implementation of the same definitions; both results are compared value by value first.
2. The churn-risk model's AUC on the last six labelled months (never seen in training) next to
   the health score's AUC on the same rows, and the same for expansion propensity.
3. Our BG/NBD + Gamma-Gamma against `lifetimes` on the CDNOW data it ships: parameters,
   predictions and seconds, in the same run.

Usage: python bench/revenue.py [--scale 10] [--repeat 3] [--rebuild]

`--check` (CI, a few seconds): on a tiny company (scale 0.02) revops' revenue figures must equal
the pandas implementation's value for value, and our BG/NBD and Gamma-Gamma parameters on CDNOW
must be within 1e-3 (relative) of lifetimes'; exit 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "examples" / "revops.yaml"
MOVES = ("new", "expansion", "contraction", "churn", "reactivation")


def _best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


# -- the pandas baseline -------------------------------------------------------------------------
def pandas_revenue(
    subs: pd.DataFrame, accounts: pd.DataFrame, first: int, last: int
) -> dict[str, pd.DataFrame]:
    """Month-end MRR per account, waterfall, retention and cohort counts, vectorized."""
    start = pd.to_datetime(subs["start_date"])
    end = pd.to_datetime(subs["end_date"])
    # month index = year x 12 + month - 1; a line counts from its start month to the last month
    # whose last day it covers (its end month if it ends on the last day, else the month before)
    end_i = end.dt.year * 12 + end.dt.month - 1
    covers_end = (end + pd.Timedelta(days=1)).dt.day == 1
    hi = (end_i - (~covers_end).astype(int)).fillna(last).to_numpy(dtype=np.int64)
    lo_i = np.maximum((start.dt.year * 12 + start.dt.month - 1).to_numpy(dtype=np.int64), first)
    hi_i = np.minimum(hi, last)
    n = np.maximum(hi_i - lo_i + 1, 0)
    rep = np.repeat(np.arange(len(subs)), n)
    month = lo_i[rep] + (np.arange(len(rep)) - np.repeat(np.cumsum(n) - n, n))
    lines = pd.DataFrame(
        {
            "account_id": subs["account_id"].to_numpy()[rep],
            "m": month,
            "mrr": subs["mrr"].to_numpy()[rep],
        }
    )
    active = lines.groupby(["account_id", "m"], as_index=False)["mrr"].sum()
    active["mrr"] = active["mrr"].round(2)
    active = active[active["mrr"] > 0]
    keys = pd.concat(
        [
            active[["account_id", "m"]],
            active[["account_id", "m"]].assign(m=active["m"] + 1),
            active[["account_id", "m"]].assign(m=active["m"] + 12),
        ]
    )
    keys = keys[keys["m"] <= last].drop_duplicates()
    cur = active.rename(columns={"mrr": "mrr_now"})
    rows = keys.merge(cur, on=["account_id", "m"], how="left")
    rows = rows.merge(
        active.assign(m=active["m"] + 1).rename(columns={"mrr": "prior"}),
        on=["account_id", "m"],
        how="left",
    )
    rows = rows.merge(
        active.assign(m=active["m"] + 12).rename(columns={"mrr": "base"}),
        on=["account_id", "m"],
        how="left",
    )
    rows = rows.fillna({"mrr_now": 0.0, "prior": 0.0, "base": 0.0})
    rows["first"] = rows["account_id"].map(active.groupby("account_id")["m"].min())
    delta = (rows["mrr_now"] - rows["prior"]) * 12
    kind = np.select(
        [
            (rows["prior"] == 0) & (rows["m"] == rows["first"]),
            rows["prior"] == 0,
            rows["mrr_now"] == 0,
            rows["mrr_now"] > rows["prior"],
        ],
        ["new", "reactivation", "churn", "expansion"],
        "contraction",
    )
    g = rows.assign(delta=delta, kind=kind)
    wf = g.groupby("m").agg(opening_arr=("prior", "sum"), closing_arr=("mrr_now", "sum"))
    wf[["opening_arr", "closing_arr"]] *= 12
    per = g[g["delta"] != 0].pivot_table(index="m", columns="kind", values="delta", aggfunc="sum")
    wf = wf.join(per.reindex(columns=list(MOVES))).fillna(0.0)
    has = rows["base"] > 0
    had = rows["prior"] > 0
    r = rows.assign(
        base_now=np.where(has, rows["mrr_now"], 0.0),
        kept=np.minimum(rows["mrr_now"], rows["base"]),
        had=had,
        churned=had & (rows["mrr_now"] == 0),
        lost=np.maximum(rows["prior"] - rows["mrr_now"], 0.0),
    )
    ret = r.groupby("m").agg(
        base=("base", "sum"),
        base_now=("base_now", "sum"),
        kept=("kept", "sum"),
        opening=("had", "sum"),
        churned=("churned", "sum"),
        opening_mrr=("prior", "sum"),
        lost=("lost", "sum"),
    )
    ret["nrr"] = ret["base_now"] / ret["base"].replace(0, np.nan)
    ret["grr"] = ret["kept"] / ret["base"].replace(0, np.nan)
    ret["logo_churn_rate"] = ret["churned"] / ret["opening"].replace(0, np.nan)
    ret["revenue_churn_rate"] = ret["lost"] / ret["opening_mrr"].replace(0, np.nan)
    live = rows[rows["mrr_now"] > 0].merge(accounts[["account_id", "segment"]], on="account_id")
    live["segment"] = live["segment"].fillna("unknown")
    coh = live.groupby(["first", "m", "segment"]).agg(
        logos=("account_id", "nunique"), mrr=("mrr_now", "sum")
    )
    return {"waterfall": wf, "retention": ret, "cohorts": coh}


def revops_revenue(db: str) -> dict[str, pd.DataFrame]:
    from revops.config import load_config
    from revops.revenue import build_revenue
    from revops.revenue.cohorts import cohort_counts
    from revops.revenue.retention import retention
    from revops.revenue.run import fetch
    from revops.revenue.waterfall import waterfall
    from revops.warehouse import Warehouse

    model = load_config(CONFIG).model
    with Warehouse.connect(db) as wh:
        build_revenue(wh, model)
        m = wh.table("mrr_monthly")
        return {
            "waterfall": fetch(wh, waterfall(m)),
            "retention": fetch(wh, retention(m)),
            "cohorts": fetch(wh, cohort_counts(m, wh.table("accounts"))),
        }


def revops_compute_only(db: str) -> dict[str, pd.DataFrame]:
    """The same figures straight from subscriptions, nothing stored: the engine's query cost."""
    from revops.revenue import mrr, revenue_range
    from revops.revenue.cohorts import cohort_counts
    from revops.revenue.retention import retention
    from revops.revenue.run import fetch
    from revops.revenue.waterfall import movements, waterfall
    from revops.warehouse import Warehouse

    with Warehouse.connect(db) as wh:
        first, last = revenue_range(wh)
        m = mrr.monthly(wh.table("subscriptions"), mrr.calendar(first, last))
        wh.to_arrow(m)
        wh.to_arrow(movements(m))
        return {
            "waterfall": fetch(wh, waterfall(m)),
            "retention": fetch(wh, retention(m)),
            "cohorts": fetch(wh, cohort_counts(m, wh.table("accounts"))),
        }


def _ordinal(d: Any) -> int:
    """The month index of a date: year x 12 + month - 1."""
    return int(d.year * 12 + d.month - 1)


def compare(ours: dict[str, pd.DataFrame], base: dict[str, pd.DataFrame]) -> int:
    """Raise SystemExit unless every figure agrees; return how many values were compared."""
    checked = 0
    wf = ours["waterfall"].assign(m=lambda f: f["month"].map(_ordinal)).set_index("m")
    ret = ours["retention"].assign(m=lambda f: f["month"].map(_ordinal)).set_index("m")
    coh = ours["cohorts"].assign(
        first=lambda f: f["cohort"].map(_ordinal), m=lambda f: f["month"].map(_ordinal)
    )
    coh = coh.set_index(["first", "m", "segment"]).sort_index()
    pairs = [
        (
            wf[["opening_arr", *MOVES, "closing_arr"]],
            base["waterfall"][["opening_arr", *MOVES, "closing_arr"]],
        ),
        (
            ret[["nrr", "grr", "logo_churn_rate", "revenue_churn_rate"]],
            base["retention"][["nrr", "grr", "logo_churn_rate", "revenue_churn_rate"]],
        ),
        (coh[["logos", "mrr"]], base["cohorts"].sort_index()[["logos", "mrr"]]),
    ]
    for a, b in pairs:
        a, b = a.sort_index().astype(float), b.sort_index().astype(float)
        if list(a.index) != list(b.index):
            sys.exit(f"MISMATCH: row keys differ ({len(a)} vs {len(b)})")
        diff = a.to_numpy() - b.to_numpy()
        ok = np.isclose(a.to_numpy(), b.to_numpy(), rtol=1e-9, atol=1e-6) | (
            np.isnan(a.to_numpy()) & np.isnan(b.to_numpy())
        )
        if not ok.all():
            sys.exit(f"MISMATCH in {list(a.columns)}: max abs diff {np.nanmax(np.abs(diff)):.6g}")
        checked += a.size
    gap = (wf["opening_arr"] + wf[list(MOVES)].sum(axis=1) - wf["closing_arr"]).abs().max()
    print(
        f"revops and pandas agree on {checked:,} values; "
        f"waterfall max gap {gap:.2e} (to the cent: {gap < 0.005})"
    )
    return checked


def _setup(scale: float, db: Path) -> None:
    from revops.demo import generate
    from revops.ingest import load_file
    from revops.revenue.run import INPUT_TABLES
    from revops.warehouse import Warehouse

    t0 = time.perf_counter()
    files = generate(db.parent / "data", scale=scale, seed=7)
    t1 = time.perf_counter()
    with Warehouse.connect(str(db)) as wh:
        rows = sum(
            load_file(wh, f.path, f.table, f.preset).rows_in
            for f in files
            if f.table in INPUT_TABLES
        )
    print(
        f"setup at scale {scale:g}: generate {t1 - t0:.1f} s, "
        f"load {rows:,} rows in {time.perf_counter() - t1:.1f} s"
    )


def _baseline_inputs(db: Path) -> tuple[pd.DataFrame, pd.DataFrame, int, int]:
    """What the pandas baseline reads: subscriptions, account segments, and the first and last
    day (as ordinals) any subscription touches."""
    from revops.warehouse import Warehouse

    with Warehouse.connect(str(db)) as wh:
        subs = wh.execute(wh.table("subscriptions"))
        accounts = wh.execute(wh.table("accounts").select("account_id", "segment"))
    first = _ordinal(pd.to_datetime(subs["start_date"]).min())
    last = _ordinal(
        max(pd.to_datetime(subs["start_date"]).max(), pd.to_datetime(subs["end_date"]).max())
    )
    return subs, accounts, first, last


def bench_revenue(db: Path, repeat: int) -> None:
    subs, accounts, first, last = _baseline_inputs(db)
    t_ours, ours = _best(lambda: revops_revenue(str(db)), repeat)
    t_only, only = _best(lambda: revops_compute_only(str(db)), repeat)
    t_pd, base = _best(lambda: pandas_revenue(subs, accounts, first, last), repeat)
    compare(ours, base)
    compare(only, base)
    print(
        f"\nfull revenue metrics ({len(subs):,} subscription lines, "
        f"{len(ours['waterfall'])} months), best of {repeat}:"
    )
    print(f"{'implementation':<44}{'seconds':>9}{'vs revops':>11}")
    print(f"{'revops (DuckDB; incl. writing 3 tables)':<44}{t_ours:>9.3f}{1.0:>10.2f}x")
    print(
        f"{'revops (DuckDB; computed, nothing stored)':<44}{t_only:>9.3f}{t_only / t_ours:>10.2f}x"
    )
    print(f"{'vectorized pandas (in memory, no writes)':<44}{t_pd:>9.3f}{t_pd / t_ours:>10.2f}x")


def bench_models(db: Path) -> None:
    from revops.config import load_config
    from revops.revenue.customers import assess_risk, build_health
    from revops.warehouse import Warehouse

    model = load_config(CONFIG).model
    with Warehouse.connect(str(db)) as wh:
        t0 = time.perf_counter()
        run = build_health(wh, model)
        t1 = time.perf_counter()
        risk = assess_risk(wh, model, run)
        t2 = time.perf_counter()
    print(
        f"\nhealth history: {len(run.rows):,} account-months scored in {t1 - t0:.1f} s; "
        f"models fitted in {t2 - t1:.1f} s"
    )
    print(
        f"{'model':<22}{'AUC (unseen months)':>20}{'health score AUC':>18}{'train rows':>12}"
        f"{'test rows':>11}"
    )
    for m in (risk.churn, risk.expansion):
        print(f"{m.label:<22}{m.auc:>20.3f}{m.baseline_auc:>18.3f}{m.n_train:>12,}{m.n_test:>11,}")
    print(
        f"at-risk list now: {len(risk.at_risk):,} accounts, "
        f"ARR at risk ${risk.at_risk['arr_at_risk'].sum():,.0f}"
    )


def bench_clv(repeat: int) -> None:
    import lifetimes
    from lifetimes.datasets import load_cdnow_summary_data_with_monetary_value

    from revops.revenue.clv import fit_bgnbd, fit_gamma_gamma, lifetime_value

    d = load_cdnow_summary_data_with_monetary_value()
    x, tx, t = (d[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    buyers = d[d["frequency"] > 0]
    bx, bm = buyers["frequency"].to_numpy(float), buyers["monetary_value"].to_numpy(float)
    t_ours, (bg, gg) = _best(lambda: (fit_bgnbd(x, tx, t), fit_gamma_gamma(bx, bm)), repeat)

    def reference() -> tuple[Any, Any]:
        ref = lifetimes.BetaGeoFitter(penalizer_coef=0.0).fit(d["frequency"], d["recency"], d["T"])
        gref = lifetimes.GammaGammaFitter(penalizer_coef=0.0).fit(
            buyers["frequency"], buyers["monetary_value"]
        )
        return ref, gref

    t_ref, (ref, gref) = _best(reference, repeat)
    print(f"\nCLV on CDNOW ({len(d):,} customers, lifetimes {lifetimes.__version__} shipped data):")
    print(f"{'parameter':<12}{'revops':>12}{'lifetimes':>12}{'rel diff':>11}")
    for name, ours_v, ref_v in [
        *[(n, getattr(bg, n), ref.params_[n]) for n in ("r", "alpha", "a", "b")],
        *[(n, getattr(gg, n), gref.params_[n]) for n in ("p", "q", "v")],
    ]:
        print(f"{name:<12}{ours_v:>12.5f}{ref_v:>12.5f}{abs(ours_v - ref_v) / abs(ref_v):>11.1e}")
    pred = bg.expected_purchases(39.0, x, tx, t)
    ref_pred = ref.conditional_expected_number_of_purchases_up_to_time(
        39.0, d["frequency"], d["recency"], d["T"]
    ).to_numpy()
    alive = bg.probability_alive(x, tx, t)
    ref_alive = np.asarray(ref.conditional_probability_alive(d["frequency"], d["recency"], d["T"]))
    clv = lifetime_value(bg, gg, buyers)
    ref_clv = gref.customer_lifetime_value(
        ref,
        buyers["frequency"],
        buyers["recency"],
        buyers["T"],
        buyers["monetary_value"],
        time=12,
        discount_rate=0.01,
        freq="W",
    ).to_numpy()
    print(
        f"expected purchases in 39 weeks: total {pred.sum():,.1f} vs {ref_pred.sum():,.1f}, "
        f"max abs diff {np.abs(pred - ref_pred).max():.1e}"
    )
    print(
        f"P(alive): mean {alive.mean():.4f} vs {ref_alive.mean():.4f}, "
        f"max abs diff {np.abs(alive - ref_alive).max():.1e}"
    )
    print(
        f"12-month CLV of repeat buyers: total ${clv.sum():,.0f} vs ${ref_clv.sum():,.0f}, "
        f"max rel diff {np.max(np.abs(clv - ref_clv) / np.maximum(ref_clv, 1)):.1e}"
    )
    print(f"fit seconds (best of {repeat}): revops {t_ours:.3f}, lifetimes {t_ref:.3f}")


def check() -> None:
    import contextlib
    import io
    import tempfile

    import lifetimes
    from lifetimes.datasets import load_cdnow_summary_data_with_monetary_value

    from revops.revenue.clv import fit_bgnbd, fit_gamma_gamma

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "revops.duckdb"
        with contextlib.redirect_stdout(io.StringIO()):
            _setup(0.02, db)
        subs, accounts, first, last = _baseline_inputs(db)
        checked = compare(revops_revenue(str(db)), pandas_revenue(subs, accounts, first, last))
    d = load_cdnow_summary_data_with_monetary_value()
    x, tx, t = (d[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    buyers = d[d["frequency"] > 0]
    bg = fit_bgnbd(x, tx, t)
    gg = fit_gamma_gamma(
        buyers["frequency"].to_numpy(float), buyers["monetary_value"].to_numpy(float)
    )
    ref = lifetimes.BetaGeoFitter(penalizer_coef=0.0).fit(d["frequency"], d["recency"], d["T"])
    gref = lifetimes.GammaGammaFitter(penalizer_coef=0.0).fit(
        buyers["frequency"], buyers["monetary_value"]
    )
    params = [(n, getattr(bg, n), ref.params_[n]) for n in ("r", "alpha", "a", "b")]
    params += [(n, getattr(gg, n), gref.params_[n]) for n in ("p", "q", "v")]
    worst = max(abs(ours - theirs) / abs(theirs) for _, ours, theirs in params)
    if worst > 1e-3:
        sys.exit(f"check failed: CLV parameters differ from lifetimes by {worst:.1e} (> 1e-3)")
    print(f"check passed: {checked:,} revenue values agree; CLV parameters within {worst:.1e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="Tiny agreement check (CI).")
    parser.add_argument("--scale", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rebuild", action="store_true", help="Regenerate the data set.")
    args = parser.parse_args()
    if args.check:
        check()
        return
    work = ROOT / "out" / "bench" / f"revenue{args.scale:g}"
    db = work / "revops.duckdb"
    if args.rebuild or not db.exists():
        work.mkdir(parents=True, exist_ok=True)
        db.unlink(missing_ok=True)
        _setup(args.scale, db)
    bench_revenue(db, args.repeat)
    bench_models(db)
    bench_clv(args.repeat)


if __name__ == "__main__":
    main()
