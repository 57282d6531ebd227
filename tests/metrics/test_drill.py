"""The rows behind a number are the rows the dictionary aggregated: their count and sum are the
figure, on DuckDB and PostgreSQL, with and without a filter."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pytest

from revops.metrics import MetricError, compute
from revops.metrics.drill import rows_behind
from revops.warehouse import Warehouse

sys.path.insert(0, str(Path(__file__).parents[1] / "web"))
import web_fixture as fixture

OCT = {"start": dt.date(2026, 10, 1), "end": dt.date(2026, 11, 1)}


@pytest.mark.parametrize(
    ("metric", "where", "ids"),
    [
        ("bookings", None, ["O2", "O3", "O1"]),
        ("bookings", "region == 'NA'", ["O2", "O1"]),
        ("closed_deals", None, ["O4", "O2", "O3", "O1"]),
        ("won_deals", "region == 'EMEA'", ["O3"]),
    ],
)
def test_deals_behind_a_figure(
    warehouse: Warehouse, metric: str, where: str | None, ids: list[str]
) -> None:
    fixture.seed(warehouse)
    model = fixture.model()
    table, rows = rows_behind(warehouse, model, metric, where=where, **OCT)
    assert table == "opportunities"
    assert rows["opportunity_id"].tolist() == ids  # newest close date first
    value = compute(warehouse, model, metric, grain=None, where=where, **OCT)["value"].iloc[0]
    measure = rows["amount"].sum() if metric == "bookings" else len(rows)
    assert measure == value
    assert set(rows["_owner"]) <= {"U1", "U2"}


def test_persons_behind_mqls_and_ratios_name_their_parts(warehouse: Warehouse) -> None:
    fixture.seed(warehouse)
    model = fixture.model()
    table, rows = rows_behind(warehouse, model, "mqls", **OCT)
    assert table == "lifecycle_history"
    assert sorted(rows["person_id"]) == ["P1", "P2", "P3"]
    assert (
        rows["person_id"].nunique()
        == compute(warehouse, model, "mqls", grain=None, **OCT)["value"].iloc[0]
    )
    with pytest.raises(MetricError, match="drill into won_deals, closed_deals"):
        rows_behind(warehouse, model, "win_rate", **OCT)
