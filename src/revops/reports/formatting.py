"""How a metric value reads to a person: its format comes from the metric dictionary."""

from __future__ import annotations

import math

MINUS = "\u2212"  # a real minus sign: "−$3,200" reads as money, "$-3,200" does not


def format_value(value: float | None, kind: str, currency: str = "USD") -> str:
    """`value` in the dictionary's format; a missing value is n/a, never 0."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    value = value + 0.0  # -0.0 (a negated zero) reads as 0
    if kind == "percent":
        return f"{value:.1%}".replace("-", MINUS)
    if kind == "currency":
        symbol = "$" if currency == "USD" else f"{currency} "
        return f"{MINUS if value < 0 else ''}{symbol}{abs(value):,.0f}"
    if kind == "days":
        return f"{value:,.1f} days"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def format_change(
    current: float | None, previous: float | None, kind: str, currency: str = "USD"
) -> str:
    """The change from `previous` to `current`: points for a percentage, the relative change
    for anything else (n/a when either is unknown or the base is 0)."""
    if current is None or previous is None or math.isnan(current) or math.isnan(previous):
        return "n/a"
    if kind == "percent":
        return f"{_signed((current - previous) * 100, '.1f')} pts"
    if previous == 0:
        return "n/a" if current != 0 else "0.0%"
    return f"{_signed((current - previous) / abs(previous) * 100, '.1f')}%"


def _signed(x: float, spec: str) -> str:
    """`x` with its sign, none when it rounds to zero (never "−0.0")."""
    text = format(abs(x), spec)
    if float(text) == 0:
        return text
    return ("+" if x > 0 else MINUS) + text
