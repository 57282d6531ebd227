"""A query over a window is compiled once per shape and each window's dates are written into
its SQL (`revops.metrics.results._windowed`): the text must be exactly what compiling with
those dates gives, in each dialect, for date and timestamp time columns alike.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import ibis
import pytest

from revops.config import load_config
from revops.metrics import results
from revops.metrics.compiler import compile_dictionary, compile_metric

MODEL = load_config(Path(__file__).parents[2] / "examples" / "revops.yaml").model
WINDOWS = [
    (dt.date(2026, 7, 1), dt.date(2026, 10, 1)),
    (dt.date(2025, 2, 1), None),
    (None, dt.date(2024, 12, 1)),
    (dt.date(1789, 1, 1), dt.date(1791, 9, 3)),  # the stand-ins' own years: compiled as given
]
# on a date (opportunities.created_date), a timestamp (lifecycle_history.changed_at), a ratio and a
# conversion over two tables
METRICS = ("pipeline_created", "mqls", "win_rate", "mql_to_sql")


def _direct(name: str, dialect: str, start: dt.date | None, end: dt.date | None) -> str:
    expr = compile_metric(MODEL, name, results.declared_table, grain="month", start=start, end=end)
    return str(ibis.to_sql(expr.order_by(["period"]), dialect=dialect))


@pytest.mark.parametrize("dialect", ["duckdb", "postgres"])
@pytest.mark.parametrize("name", METRICS)
def test_a_window_is_the_sql_its_dates_compile_to(dialect: str, name: str) -> None:
    for start, end in WINDOWS:
        got = results._metric_query(dialect, MODEL, name, (), "month", start, end, None, ())
        assert got.sql == _direct(name, dialect, start, end), (start, end)


def test_the_dictionary_over_a_period_is_the_sql_its_dates_compile_to() -> None:
    start, end = WINDOWS[0]
    got = results._dictionary_query("duckdb", MODEL, None, start, end)
    expr = compile_dictionary(MODEL, results.declared_table, grain=None, start=start, end=end)
    assert got.sql == str(ibis.to_sql(expr, dialect="duckdb"))
    assert "MAKE_DATE(2026, 7, 1)" in got.sql
    assert "1791" not in got.sql


def test_every_shipped_metric_takes_the_compiled_shape() -> None:
    # The fast path holds only when the stand-ins' SQL carries no other 18th/19th-century year
    # (a date derived from a stand-in, or a constant such as 1800): otherwise each window is
    # compiled on its own, correct but as slow as before. Every metric of the shipped model and
    # the whole dictionary must keep the fast path.
    lo, hi = results._STAND_INS
    for name in [m.name for m in MODEL.metrics]:
        shape = results._metric_query("duckdb", MODEL, name, (), "month", lo, hi, None, ())
        rest = shape.sql.replace(str(lo.year), "").replace(str(hi.year), "")
        assert not results._LEFTOVER_YEAR.search(rest), name
    whole = results._dictionary_query("duckdb", MODEL, None, lo, hi).sql
    assert not results._LEFTOVER_YEAR.search(whole.replace("1789", "").replace("1791", ""))
