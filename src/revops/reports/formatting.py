"""How a metric value reads to a person: its format comes from the metric dictionary."""

from __future__ import annotations

import math


def format_value(value: float | None, kind: str, currency: str = "USD") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if kind == "percent":
        return f"{value:.1%}"
    if kind == "currency":
        symbol = "$" if currency == "USD" else f"{currency} "
        return f"{symbol}{value:,.0f}"
    if kind == "days":
        return f"{value:,.1f} days"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
