"""The filter/expression language: what it accepts, what it refuses, and what it computes."""

from __future__ import annotations

import datetime as dt

import ibis
import pyarrow as pa
import pytest

from revops.metrics.errors import MetricError
from revops.metrics.expressions import (
    ExpressionError,
    compile_filter,
    compile_metric_expr,
    compile_row,
    names,
    parse,
)
from revops.warehouse import Warehouse

T = ibis.table({"a": "int64", "b": "float64", "s": "string", "ok": "boolean"}, name="t")


@pytest.mark.parametrize(
    "text",
    [
        "s.upper()",  # attribute access
        "__import__('os')",  # calls to anything but the four functions
        "open('x')",
        "len(s)",
        "s[0]",  # subscripts
        "lambda: 1",  # lambdas
        "a if ok else b",
        "a ** 2",
        "a // 2",
        "a % 2",
        "[a, b]",
        "a in [b]",  # 'in' only with literals
        "a in s",
        "None",
        "is_null(a, b)",
        "lower(x=s)",
        "f'{a}'",
        "(a := 1)",
        "a; b",
        "",
    ],
)
def test_rejects_everything_outside_the_language(text: str) -> None:
    with pytest.raises(ExpressionError, match="metric 'm': expression"):
        parse(text, metric="m")


def test_expression_errors_are_metric_errors_and_value_errors() -> None:
    assert issubclass(ExpressionError, MetricError)
    assert issubclass(ExpressionError, ValueError)


@pytest.mark.parametrize(
    "text",
    [
        "ok",
        "not ok",
        "ok == true and a > 1 or b <= -2.5",
        "s in ['x', 'y'] and s not in ('z',)",
        "is_null(s) or lower(s) == 'x'",
        "coalesce(a, 0) + b * 2 / 3 - a != 0",
        "1 < a <= 3",
        "ok == false",
    ],
)
def test_accepts_the_language(text: str) -> None:
    assert compile_filter(text, T, metric="m").type().is_boolean()


def test_names_are_the_columns_or_metrics_used_not_functions_or_booleans() -> None:
    assert sorted(names("days_between(a, b) > 1 and ok == true")) == ["a", "b", "ok"]
    assert names("won_deals / closed_deals") == ["won_deals", "closed_deals"]


def test_unknown_column_names_metric_expression_and_columns() -> None:
    with pytest.raises(ExpressionError) as err:
        compile_row("stage_name == 'x'", T, metric="mqls")
    msg = str(err.value)
    assert msg.startswith("metric 'mqls': expression \"stage_name == 'x'\": unknown column")
    assert "'stage_name'" in msg
    assert "available columns: a, b, s, ok" in msg


def test_a_filter_must_be_true_or_false() -> None:
    with pytest.raises(ExpressionError, match="not true/false"):
        compile_filter("a + 1", T, metric="m")
    with pytest.raises(ExpressionError, match="not true/false"):
        compile_filter("a and ok", T, metric="m")


def test_metric_expressions_refer_to_metrics() -> None:
    values = {"x": ibis.literal(6.0), "y": ibis.literal(0.0)}
    with pytest.raises(ExpressionError, match="unknown metric 'z'; available: x, y"):
        compile_metric_expr("x / z", values, metric="m")
    assert compile_metric_expr("x / y + 1", values, metric="m").type().is_floating()


def test_functions_and_logic_compute_the_same_on_both_backends(warehouse: Warehouse) -> None:
    warehouse.write(
        "persons",
        pa.table(
            {
                "person_id": ["p1", "p2", "p3"],
                "email": ["a@x.io", "b@x.io", "c@x.io"],
                "source": ["Paid_Search", None, "events"],
                "employees": [10, None, 300],
                "created_at": [dt.datetime(2024, 1, 1)] * 3,
                "updated_at": [
                    dt.datetime(2024, 1, 2, 12),
                    dt.datetime(2024, 1, 1, 6),
                    dt.datetime(2023, 12, 31),
                ],
            }
        ),
    )
    t = warehouse.table("persons")
    exprs = {
        "days": "days_between(created_at, updated_at)",
        "low": "lower(source) == 'paid_search'",
        "nul": "is_null(source)",
        "co": "coalesce(employees, -1) * 2",
        "inl": "source in ['events', 'x'] or not employees > 5",
        "div": "employees / (employees - 10)",
    }
    expr = t.order_by("person_id").select(
        **{k: compile_row(v, t, metric="m") for k, v in exprs.items()}
    )
    df = warehouse.execute(expr)
    # fractional days for timestamps: +1.5, +0.25, -1
    assert df["days"].tolist() == pytest.approx([1.5, 0.25, -1.0])
    assert df["low"].tolist() == [True, None, False]
    assert df["nul"].tolist() == [False, True, False]
    assert df["co"].tolist() == [20, -2, 600]
    assert df["inl"].tolist() == [False, None, True]
    # division by zero is NULL on both backends (DuckDB alone would say inf)
    assert df["div"].isna().tolist() == [True, True, False]


def test_days_between_dates_is_whole_days(warehouse: Warehouse) -> None:
    warehouse.write(
        "opportunities",
        pa.table(
            {
                "opportunity_id": ["o1"],
                "account_id": ["a"],
                "owner_id": ["u"],
                "opportunity_type": ["renewal"],
                "stage": ["x"],
                "created_date": [dt.date(2024, 1, 10)],
                "close_date": [dt.date(2024, 2, 20)],
                "is_closed": [True],
                "is_won": [True],
            }
        ),
    )
    t = warehouse.table("opportunities")
    value = compile_row("days_between(created_date, close_date)", t, metric="m")
    assert value.type().is_integer()
    assert warehouse.execute(t.select(d=value))["d"].tolist() == [41]
