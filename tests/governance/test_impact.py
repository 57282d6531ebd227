"""The plan's impact on the hand-worked company of gov_case.py, on DuckDB and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from gov_case import new_model, old_model, seed

from revops.governance import diff_models, impact
from revops.governance.impact import month_window
from revops.warehouse import Warehouse


def test_impact_on_hand_worked_company(warehouse: Warehouse) -> None:
    seed(warehouse)
    old, new = old_model(), new_model()
    result = impact(warehouse, old, new, diff_models(old, new), days=30, months=2)

    assert result.stages is not None
    changed = dict(
        zip(
            result.stages.changed["person_id"].to_pylist(),
            zip(
                result.stages.changed["old_stage"].to_pylist(),
                result.stages.changed["new_stage"].to_pylist(),
                strict=True,
            ),
            strict=True,
        )
    )
    assert changed == {"P2": ("MQL", "Lead"), "P4": ("Lead", "SQL")}
    assert result.stages.persons == 10
    assert sorted(result.stages.moves) == [("Lead", "SQL", 1), ("MQL", "Lead", 1)]

    r = result.routing
    assert r is not None
    assert r.until == datetime(2025, 6, 20, 10)
    assert r.leads == 4  # L1..L4; L0 is 50 days old
    moved = {x.person_id: (x.old_owner, x.new_owner, x.cause) for x in r.rerouted}
    assert moved == {
        "L2": ("u1", "ae1", "rule"),
        "L3": ("u2", "u1", "rotation"),
        "L4": ("u1", "u2", "rotation"),
    }
    assert sorted(r.flows()) == [("u1", "ae1", 1), ("u1", "u2", 1), ("u2", "u1", 1)]
    assert r.by_rule() == [("rest", "rest", 2), ("rest", "big", 1)]

    assert result.metric_window == (date(2025, 5, 1), date(2025, 7, 1))
    by_name = {m.name: m for m in result.metrics}
    assert list(by_name) == ["won", "win_rate", "big_bookings"]
    won = by_name["won"].values
    assert won["old"].tolist() == [2.0, 1.0]
    assert won["new"].tolist() == [1.0, 1.0]
    assert won["change"].tolist() == [-1.0, 0.0]
    rate = by_name["win_rate"].values
    assert rate["old"].tolist() == pytest.approx([2 / 3, 1 / 2])
    assert rate["new"].tolist() == pytest.approx([1 / 3, 1 / 2])
    assert by_name["win_rate"].old_formula == by_name["win_rate"].new_formula == "won / closed"
    big = by_name["big_bookings"]
    assert big.old_formula is None
    assert big.values["new"].tolist() == [5000.0, 3000.0]
    assert big.values["old"].isna().all()
    assert by_name["won"].new_formula == (
        "count(opportunities) where is_won and amount >= 1000, by close_date"
    )


def test_unchanged_areas_are_not_recomputed(warehouse: Warehouse) -> None:
    seed(warehouse)
    old = old_model()
    result = impact(warehouse, old, old, diff_models(old, old))
    assert result.stages is None
    assert result.routing is None
    assert result.metrics == ()


@pytest.mark.parametrize(
    ("anchor", "months", "window"),
    [
        (date(2025, 6, 20), 2, (date(2025, 5, 1), date(2025, 7, 1))),
        (date(2025, 1, 31), 6, (date(2024, 8, 1), date(2025, 2, 1))),
        (date(2024, 12, 1), 1, (date(2024, 12, 1), date(2025, 1, 1))),
        (date(2024, 12, 1), 13, (date(2023, 12, 1), date(2025, 1, 1))),
    ],
)
def test_month_window(anchor: date, months: int, window: tuple[date, date]) -> None:
    assert month_window(anchor, months) == window
