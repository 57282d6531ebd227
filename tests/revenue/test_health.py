"""Customer health by hand: signals as of a month end, the rules that fire, the weighted score,
its 3-month trend, the explanation, and the at-risk list built from them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from revops.config import load_config
from revops.config.revenue import SIGNALS, Health, HealthComponent, HealthRule, RevenueConfig
from revops.revenue.at_risk import at_risk_list
from revops.revenue.churn_model import labels
from revops.revenue.customers import change_since, load_success
from revops.revenue.health import compensated_sum, components, explain, scores
from revops.revenue.signals import SuccessData, signals
from revops.warehouse import Warehouse

MODEL = load_config(Path(__file__).parents[2] / "examples" / "revops.yaml").model
D = dt.date
T = pd.Timestamp


def _data() -> SuccessData:
    usage = [("A", D(2025, m, 1), 10 if m <= 3 else 6) for m in range(1, 7)]
    usage += [("B", D(2025, m, 1), 5) for m in range(1, 7)]
    return SuccessData(
        usage=pd.DataFrame(usage, columns=["account_id", "month", "active_users"]),
        tickets=pd.DataFrame(
            [
                ("A", T("2025-03-03"), "normal"),
                ("A", T("2025-05-02"), "normal"),
                ("A", T("2025-06-09"), "urgent"),
            ],
            columns=["account_id", "opened_at", "priority"],
        ),
        invoices=pd.DataFrame(
            [
                ("A", D(2025, 5, 1), D(2025, 5, 20)),
                ("A", D(2025, 6, 25), None),
                ("B", D(2025, 6, 1), D(2025, 6, 3)),
            ],
            columns=["account_id", "due_date", "paid_date"],
        ),
        activities=pd.DataFrame({"account_id": ["B"], "month": [D(2024, 12, 1)], "touches": [1]}),
        champions=pd.DataFrame({"account_id": ["A"], "changed_at": [T("2025-01-10")]}),
    )


@pytest.fixture
def scored() -> tuple[pd.DataFrame, pd.DataFrame]:
    snaps = pd.DataFrame(
        {"account_id": ["A", "A", "B"], "month": [D(2025, 3, 1), D(2025, 6, 1), D(2025, 6, 1)]}
    )
    rows = signals(snaps, _data(), MODEL.revenue.health.lookback_months)
    parts = components(rows, MODEL.revenue.health)
    return rows, parts


def test_signals_as_of_the_month_end(scored: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    rows, _ = scored
    a_jun = rows.iloc[1]
    assert a_jun["usage_trend"] == pytest.approx(6 / 10 - 1)  # Apr-Jun 6 vs Jan-Mar 10
    assert a_jun["tickets"] == 3  # May normal 1 + June urgent 2; March is outside Apr-Jun
    assert a_jun["engagement"] == 0
    assert a_jun["late_payments"] == 1  # May invoice 19 days late; June's is not 15 days due yet
    assert a_jun["champion_change"] == 0  # January is outside the lookback
    a_mar = rows.iloc[0]
    assert (a_mar["usage_trend"], a_mar["tickets"], a_mar["champion_change"]) == (0, 1, 1)


def test_activities_are_counted_per_account_and_month_in_the_warehouse(
    any_warehouse: Warehouse,
) -> None:
    """The warehouse counts activities per account and logged month; an activity without an
    account or a time is no account's touch."""
    rows = [
        ("a1", "A", dt.datetime(2025, 3, 3, 9)),
        ("a2", "A", dt.datetime(2025, 3, 31, 23, 59)),
        ("a3", "A", dt.datetime(2025, 4, 1, 0, 0)),
        ("a4", "B", dt.datetime(2025, 3, 15)),
        ("a5", None, dt.datetime(2025, 3, 15)),
        ("a6", "B", None),
    ]
    any_warehouse.write(
        "activities",
        pa.table(
            {
                "activity_id": [r[0] for r in rows],
                "activity_type": ["email"] * len(rows),
                "account_id": [r[1] for r in rows],
                "occurred_at": pa.array([r[2] for r in rows], pa.timestamp("us")),
            }
        ),
    )
    got = load_success(any_warehouse).activities
    counted = sorted(
        zip(got["account_id"], pd.to_datetime(got["month"]).dt.date, got["touches"], strict=True)
    )
    assert counted == [("A", D(2025, 3, 1), 2), ("A", D(2025, 4, 1), 1), ("B", D(2025, 3, 1), 1)]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("AB"), st.integers(0, 11)), max_size=30))
def test_engagement_counts_every_activity_of_the_lookback(events: list[tuple[str, int]]) -> None:
    """Counted per month, each activity still counts once in the engagement of every month end
    whose lookback (3 months) holds its month."""
    months = [D(2025, m, 1) for m in range(1, 13)]
    counted = (
        pd.DataFrame([(a, months[m]) for a, m in events], columns=["account_id", "month"])
        .groupby(["account_id", "month"], as_index=False)
        .size()
        .rename(columns={"size": "touches"})
    )
    data = SuccessData(
        usage=pd.DataFrame(columns=["account_id", "month", "active_users"]),
        tickets=pd.DataFrame(columns=["account_id", "opened_at", "priority"]),
        invoices=pd.DataFrame(columns=["account_id", "due_date", "paid_date"]),
        activities=counted,
        champions=pd.DataFrame(columns=["account_id", "changed_at"]),
    )
    snaps = pd.DataFrame([(a, m) for a in "AB" for m in months], columns=["account_id", "month"])
    rows = signals(snaps, data, 3)
    for i, (account, got) in enumerate(zip(snaps["account_id"], rows["engagement"], strict=True)):
        month = i % 12  # the snapshots: A's twelve month ends, then B's
        assert got == sum(1 for a, m in events if a == account and month - 3 < m <= month)


def test_weighted_score_trend_and_explanation(scored: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    rows, parts = scored
    sc = scores(rows, MODEL.revenue.health).set_index(["account_id", "month"])
    # A in June: usage 0 x .35 + support 50 x .2 + engagement 30 x .1 + payments 40 x .15
    # + champion 100 x .2 = 39; in March: 100 x .35 + 100 x .2 + 30 x .1 + 100 x .15 + 0 = 73
    assert sc.loc[("A", D(2025, 6, 1)), "score"] == pytest.approx(39.0)
    assert sc.loc[("A", D(2025, 3, 1)), "score"] == pytest.approx(73.0)
    assert sc.loc[("A", D(2025, 6, 1)), "trend_3m"] == pytest.approx(-34.0)
    assert sc.loc[("B", D(2025, 6, 1)), "score"] == pytest.approx(93.0)
    assert np.isnan(sc.loc[("B", D(2025, 6, 1)), "trend_3m"])
    lines = explain(parts, "A")
    assert lines[0].startswith("usage: active users down over 25% in 3 months (signal -0.4, 0/100")
    assert "-35.0 from the score" in lines[0]
    assert any(line.startswith("payments: a late payment") for line in lines)


def test_at_risk_list_has_reasons_owners_and_order(
    scored: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    rows, parts = scored
    june = parts[parts["month"] == D(2025, 6, 1)]
    latest = scores(rows[rows["month"] == D(2025, 6, 1)], MODEL.revenue.health).assign(
        mrr=[1000.0, 500.0], churn_probability=[0.2, 0.5], expansion_probability=[0.1, 0.3]
    )
    accounts = pd.DataFrame(
        {"account_id": ["A", "B"], "name": ["Acme", "Bolt"], "owner_id": ["U1", None],
         "segment": ["smb", "enterprise"]}
    )  # fmt: skip
    users = pd.DataFrame({"user_id": ["U1"], "name": ["Dana CSM"]})
    out = at_risk_list(latest, june, accounts, users, MODEL.revenue)
    # A: score 39 < 50 (probability 0.2); B: probability 0.5 >= 0.35 (score 93). By ARR at risk:
    # B 6,000 x 0.5 = 3,000 before A 12,000 x 0.2 = 2,400.
    assert list(out["account_id"]) == ["B", "A"]
    assert list(out["arr_at_risk"]) == [3000.0, 2400.0]
    assert list(out["owner"]) == ["unassigned", "Dana CSM"]
    assert out.loc[1, "reasons"].split("; ")[0] == "active users down over 25% in 3 months"
    assert out.loc[0, "reasons"] == "no touch from the team in the lookback"


@st.composite
def _health_and_snapshots(draw: st.DrawFn) -> tuple[Health, pd.DataFrame]:
    """A health model of random weights and rules, and snapshots with random signal values."""
    points = st.floats(0, 100)
    comps = []
    for i, signal in enumerate(
        draw(st.lists(st.sampled_from(list(SIGNALS)), min_size=1, max_size=6))
    ):
        bounds = sorted(draw(st.lists(st.floats(-5, 5), max_size=3)))
        rules = [HealthRule(below=b, score=draw(points), reason=f"r{i}<{b}") for b in bounds]
        comps.append(
            HealthComponent(
                name=f"c{i}",
                signal=signal,
                weight=draw(st.floats(0.01, 10)),
                rules=(*rules, HealthRule(score=draw(points), reason=f"r{i} else")),
            )
        )
    months = draw(st.lists(st.integers(0, 11), min_size=1, max_size=12, unique=True))
    accounts = sorted(draw(st.sets(st.sampled_from("ABC"), min_size=1)))
    keys = [(a, D(2025, m + 1, 1)) for a in accounts for m in months]
    value = st.one_of(st.floats(-6, 6), st.just(float("nan")), st.sampled_from([-1.0, 0.0, 2.5]))
    snaps = pd.DataFrame(keys, columns=["account_id", "month"])
    for signal in SIGNALS:
        snaps[signal] = draw(st.lists(value, min_size=len(keys), max_size=len(keys)))
    return Health(components=tuple(comps)), snaps


@settings(max_examples=150, deadline=None)
@given(_health_and_snapshots())
def test_scores_and_components_equal_the_plain_reading(case: tuple[Health, pd.DataFrame]) -> None:
    """Each component row is its rule's (`rule_for`), and the score is the weighted mean of the
    long table summed per account and month by pandas, to the last bit, with its 3-month trend."""
    health, snaps = case
    parts = components(snaps, health)
    plain = [
        (a, m, c.name, v, c.rule_for(v).score, c.weight, c.rule_for(v).reason)
        for c in health.components
        for a, m, v in zip(snaps["account_id"], snaps["month"], snaps[c.signal], strict=True)
    ]
    expected = pd.DataFrame(plain, columns=list(parts.columns))
    pd.testing.assert_frame_equal(parts, expected, check_exact=True)

    p = parts.assign(points=parts["score"] * parts["weight"])
    g = p.groupby(["account_id", "month"], sort=False)[["points", "weight"]].sum().reset_index()
    g["score"] = (g["points"] / g["weight"]).round(2)
    back = {(a, m): s for a, m, s in zip(g["account_id"], g["month"], g["score"], strict=True)}
    g["trend_3m"] = [
        s - back.get((a, D(m.year, m.month - 3, 1)) if m.month > 3 else None, np.nan)
        for a, m, s in zip(g["account_id"], g["month"], g["score"], strict=True)
    ]
    got = scores(snaps, health)
    pd.testing.assert_frame_equal(got, g[list(got.columns)], check_exact=True)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 8).flatmap(
        lambda n: st.lists(
            st.lists(st.floats(-1e6, 1e6) | st.floats(0, 1), min_size=n, max_size=n),
            min_size=1,
            max_size=7,
        )
    )
)
def test_compensated_sum_is_the_groupby_sum(terms: list[list[float]]) -> None:
    """Term by term, the sum pandas' groupby takes of each group's rows in row order."""
    n = len(terms[0])
    long = pd.DataFrame({"g": np.tile(np.arange(n), len(terms)), "x": np.concatenate(terms)})
    expected = long.groupby("g", sort=False)["x"].sum().to_numpy()
    got = compensated_sum([np.array(t) for t in terms], n)
    assert got.tobytes() == expected.tobytes()


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(
        st.tuples(st.sampled_from("ABC"), st.integers(0, 30)), st.floats(0.5, 1e5), max_size=40
    ),
    st.integers(1, 12),
)
def test_change_since_is_against_the_same_account_months_before(
    mrr: dict[tuple[str, int], float], months: int
) -> None:
    keys = list(mrr)
    got = change_since(
        pd.Series([a for a, _ in keys], dtype=object),
        np.array([24_000 + m for _, m in keys], dtype=np.int64),
        np.array(list(mrr.values())),
        months,
    )
    for (a, m), value, change in zip(keys, mrr.values(), got, strict=True):
        before = mrr.get((a, m - months))
        assert change == (0.0 if before is None else value / before - 1)


def test_churn_labels_look_ahead_only_within_the_horizon() -> None:
    snaps = pd.DataFrame(
        {"account_id": ["A", "A", "A", "B"],
         "month": [D(2025, 1, 1), D(2025, 3, 1), D(2025, 4, 1), D(2025, 1, 1)]}
    )  # fmt: skip
    moves = pd.DataFrame(
        {"account_id": ["A", "B"], "month": [D(2025, 4, 1), D(2025, 6, 1)],
         "movement": ["churn", "expansion"]}
    )  # fmt: skip
    got = labels(snaps, moves, "churn", 3)
    # Jan: Feb-Apr holds the April churn; Mar: Apr-Jun runs past April, the last snapshot
    # month (the end of the data), so it is unknown; Apr: unknown too; B never churns
    assert got.iloc[0] == 1
    assert got.iloc[3] == 0
    assert np.isnan(got.iloc[1])
    assert np.isnan(got.iloc[2])


def test_health_rules_must_end_with_a_catch_all() -> None:
    with pytest.raises(ValidationError, match="last rule needs no 'below'"):
        HealthComponent(
            name="x", signal="tickets", weight=1, rules=[{"below": 3, "score": 1, "reason": "r"}]
        )
    with pytest.raises(ValidationError, match="must increase"):
        HealthComponent(
            name="x", signal="tickets", weight=1,
            rules=[{"below": 3, "score": 1, "reason": "r"}, {"below": 1, "score": 1, "reason": "r"},
                   {"score": 0, "reason": "r"}],
        )  # fmt: skip
    assert RevenueConfig().health.components[0].rule_for(-0.3).score == 0
