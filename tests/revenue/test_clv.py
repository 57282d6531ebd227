"""Our BG/NBD + Gamma-Gamma against the `lifetimes` reference on the CDNOW data it ships.

lifetimes 0.11.3 imports fine with numpy 2 / pandas 2, so the reference runs in the same
process (it is a dev dependency); the data are the CDNOW files in its installed wheel.
"""

from __future__ import annotations

from pathlib import Path

import lifetimes
import lifetimes.datasets as datasets
import numpy as np
import pandas as pd
import pytest

from revops.revenue.clv import fit_bgnbd, fit_gamma_gamma, lifetime_value, rfm_summary


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    return datasets.load_cdnow_summary_data_with_monetary_value()


def test_bgnbd_and_gamma_gamma_match_lifetimes_on_cdnow(cdnow: pd.DataFrame) -> None:
    x, tx, t = (cdnow[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    ours = fit_bgnbd(x, tx, t)
    ref = lifetimes.BetaGeoFitter(penalizer_coef=0.0).fit(
        cdnow["frequency"], cdnow["recency"], cdnow["T"]
    )
    for name in ("r", "alpha", "a", "b"):
        assert getattr(ours, name) == pytest.approx(ref.params_[name], rel=2e-3), name
    # the published CDNOW estimates (Fader, Hardie & Lee 2005): r .243, alpha 4.414, a .793, b 2.426
    assert (round(ours.r, 3), round(ours.alpha, 2), round(ours.a, 3), round(ours.b, 2)) == (
        0.243, 4.41, 0.793, 2.43,
    )  # fmt: skip
    ours_pred = ours.expected_purchases(39.0, x, tx, t)
    ref_pred = ref.conditional_expected_number_of_purchases_up_to_time(
        39.0, cdnow["frequency"], cdnow["recency"], cdnow["T"]
    )
    assert np.max(np.abs(ours_pred - ref_pred.to_numpy())) < 5e-3
    alive = ref.conditional_probability_alive(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    assert np.max(np.abs(ours.probability_alive(x, tx, t) - np.asarray(alive))) < 2e-3

    buyers = cdnow[cdnow["frequency"] > 0]
    gg = fit_gamma_gamma(
        buyers["frequency"].to_numpy(float), buyers["monetary_value"].to_numpy(float)
    )
    gref = lifetimes.GammaGammaFitter(penalizer_coef=0.0).fit(
        buyers["frequency"], buyers["monetary_value"]
    )
    for name in ("p", "q", "v"):
        assert getattr(gg, name) == pytest.approx(gref.params_[name], rel=5e-3), name
    spend = gg.expected_spend(
        buyers["frequency"].to_numpy(float), buyers["monetary_value"].to_numpy(float)
    )
    ref_spend = gref.conditional_expected_average_profit(
        buyers["frequency"], buyers["monetary_value"]
    )
    assert np.max(np.abs(spend - ref_spend.to_numpy()) / ref_spend.to_numpy()) < 5e-3

    clv = lifetime_value(ours, gg, buyers, months=12, discount_rate=0.01, periods_per_month=4.345)
    ref_clv = gref.customer_lifetime_value(
        ref, buyers["frequency"], buyers["recency"], buyers["T"], buyers["monetary_value"],
        time=12, discount_rate=0.01, freq="W",
    )  # fmt: skip
    assert np.max(np.abs(clv - ref_clv.to_numpy()) / np.maximum(ref_clv.to_numpy(), 1.0)) < 1e-2


def test_rfm_summary_matches_lifetimes() -> None:
    tx = datasets.load_transaction_data().assign(amount=1.0)
    end = pd.Timestamp("2014-12-31")
    ours = rfm_summary(tx, "id", "date", "amount", end, freq="D")
    ref = lifetimes.utils.summary_data_from_transaction_data(
        tx, "id", "date", observation_period_end=end, freq="D"
    )
    ours = ours.sort_index()
    ref = ref.sort_index()
    assert list(ours.index) == list(ref.index)
    assert len(ours) > 100
    assert ours["frequency"].max() > 1
    for col in ("frequency", "recency", "T"):
        assert np.allclose(ours[col].to_numpy(), ref[col].to_numpy()), col


def cdnow_transactions() -> pd.DataFrame:
    """The CDNOW master file lifetimes ships: id, YYYYMMDD, CDs bought, dollars."""
    path = Path(datasets.__file__).parent / "CDNOW_master.txt"
    tx = pd.read_csv(path, sep=r"\s+", header=0, names=["id", "date", "cds", "amount"])
    return tx.assign(date=pd.to_datetime(tx["date"].astype(str), format="%Y%m%d"))


@pytest.mark.parametrize("end", ["1997-09-30", "1998-06-30"])
def test_weekly_rfm_matches_lifetimes_on_cdnow(end: str) -> None:
    """Weekly periods, as lifetimes cuts them: every figure equal for every CDNOW customer."""
    tx = cdnow_transactions()
    ours = rfm_summary(tx, "id", "date", "amount", pd.Timestamp(end), freq="W")
    ref = lifetimes.utils.summary_data_from_transaction_data(
        tx, "id", "date", "amount", observation_period_end=end, freq="W"
    )
    ours, ref = ours.sort_index(), ref.sort_index()
    assert list(ours.index) == list(ref.index)
    assert len(ours) > 20_000
    for col in ("frequency", "recency", "T", "monetary_value"):
        assert np.allclose(ours[col].to_numpy(), ref[col].to_numpy()), col


def test_weekly_rfm_by_hand() -> None:
    """Weeks run Monday to Sunday; figures count whole weeks between week starts.

    Customer a buys Wed 2024-01-03 (10), Fri 2024-01-05 (5, same week), Mon 2024-01-15 (7) and
    Tue 2024-01-23 (9). The observation ends Wed 2024-01-24, in the week of Mon 2024-01-22, so T
    counts to that Monday. a: the first week (Jan 1) is acquisition (15 = 10 + 5, not a repeat);
    repeats in the weeks of Jan 15 and Jan 22 → frequency 2, recency 3 weeks (Jan 1 → Jan 22),
    T 3, monetary value (7 + 9) / 2 = 8. b buys Sun 2024-01-21 (4, week of Jan 15) and Sat
    2024-01-27 (6): after the end day but in its week, so it counts, as in lifetimes →
    frequency 1, recency 1, T 1, monetary 6.
    """
    tx = pd.DataFrame(
        {
            "c": ["a", "a", "a", "a", "b", "b"],
            "d": [
                "2024-01-03",
                "2024-01-05",
                "2024-01-15",
                "2024-01-23",
                "2024-01-21",
                "2024-01-27",
            ],
            "v": [10.0, 5.0, 7.0, 9.0, 4.0, 6.0],
        }
    )
    out = rfm_summary(tx, "c", "d", "v", pd.Timestamp("2024-01-24"), freq="W")
    assert out.loc["a"].to_dict() == {"frequency": 2, "recency": 3, "T": 3, "monetary_value": 8}
    assert out.loc["b"].to_dict() == {"frequency": 1, "recency": 1, "T": 1, "monetary_value": 6}
