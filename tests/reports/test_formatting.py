"""How figures read: missing is n/a, the minus sign sits before the currency symbol, a change is
in points for a percentage and relative otherwise, and nothing reads −0.0."""

from __future__ import annotations

import math

from revops.reports.charts import _formatter
from revops.reports.formatting import MINUS, format_change, format_value


def test_values() -> None:
    assert format_value(None, "currency") == "n/a"
    assert format_value(math.nan, "percent") == "n/a"
    assert format_value(-3_200_000.0, "currency") == f"{MINUS}$3,200,000"
    assert format_value(-0.0, "percent") == "0.0%"
    assert format_value(-0.25, "percent") == f"{MINUS}25.0%"
    assert format_value(12.0, "number") == "12"


def test_changes() -> None:
    assert format_change(0.344, 0.52, "percent") == f"{MINUS}17.6 pts"
    assert format_change(-115_379.0, -444_867.0, "currency") == "+74.1%"  # less lost: up
    assert format_change(0.0041, 0.0042, "percent") == "0.0 pts"
    assert format_change(5.0, 0.0, "number") == "n/a"  # no base to be relative to
    assert format_change(None, 1.0, "number") == "n/a"


def test_chart_money() -> None:
    money = _formatter("currency")
    assert money(-23_000) == f"{MINUS}$23k"
    assert money(-3_200_000) == f"{MINUS}$3.2M"
    assert money(500) == "$500"
