"""Charts drawn on the server as small inline SVG: a trend sparkline and linked bars.

Hand-written rather than matplotlib (reports/charts.py): a council pack has one sparkline per
metric, and each bar must be a link to its breakdown, which a rendered image cannot be. Pure
functions: numbers in, markup out; a missing value leaves a gap, never a zero.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from markupsafe import Markup


def _known(v: float | None) -> bool:
    return v is not None and not math.isnan(v)


def sparkline(values: Sequence[float | None], width: int = 96, height: int = 26) -> Markup:
    """A line through the known values, gaps where unknown, the last point marked."""
    known = [v for v in values if v is not None and not math.isnan(v)]
    if len(values) < 2 or not known:
        return Markup('<svg class="spark" width="%d" height="%d" role="img"></svg>') % (
            width,
            height,
        )
    low, high = min(known), max(known)
    span = high - low or 1.0
    step = (width - 4) / (len(values) - 1)

    def y(v: float) -> float:
        return round(height - 3 - (v - low) / span * (height - 6), 1)

    runs: list[list[str]] = [[]]
    for i, v in enumerate(values):
        if v is None or math.isnan(v):
            runs.append([])
            continue
        runs[-1].append(f"{round(2 + i * step, 1)},{y(v)}")
    lines = "".join(
        f'<polyline points="{" ".join(r)}" fill="none" stroke="#2563eb" stroke-width="1.5"/>'
        for r in runs
        if len(r) > 1
    )
    last = [(i, v) for i, v in enumerate(values) if v is not None and not math.isnan(v)][-1]
    dot = f'<circle cx="{round(2 + last[0] * step, 1)}" cy="{y(last[1])}" r="2" fill="#2563eb"/>'
    return Markup(  # noqa: S704 (numbers and escape()d labels only)
        f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="trend">{lines}{dot}</svg>'
    )


def bars(
    labels: Sequence[str],
    values: Sequence[float | None],
    texts: Sequence[str],
    hrefs: Sequence[str | None],
    width: int = 560,
) -> Markup:
    """Horizontal bars, one per label, each a link (drill-down) when it has an href."""
    row = 22
    height = row * len(labels) + 4
    known = [abs(v) for v in values if v is not None and _known(v)]
    top = max(known) if known else 1.0
    top = top or 1.0
    label_w, text_w = 150, 90
    room = width - label_w - text_w
    parts = []
    for i, (label, v, text, href) in enumerate(zip(labels, values, texts, hrefs, strict=True)):
        y0 = 2 + i * row
        w = 0.0 if v is None or not _known(v) else abs(v) / top * room
        bar = (
            f'<text x="{label_w - 6}" y="{y0 + 15}" text-anchor="end">{escape(label[:24])}</text>'
            f'<rect x="{label_w}" y="{y0 + 3}" width="{round(w, 1)}" height="{row - 6}" '
            f'fill="#2563eb"/>'
            f'<text x="{label_w + w + 4:.1f}" y="{y0 + 15}">{escape(text)}</text>'
        )
        if href:
            bar = f'<a href="{escape(href)}">{bar}</a>'
        parts.append(bar)
    return Markup(  # noqa: S704 (numbers and escape()d labels only)
        f'<svg class="bars" width="100%" viewBox="0 0 {width} {height}" role="img" '
        f'font-size="12" preserveAspectRatio="xMinYMin meet">{"".join(parts)}</svg>'
    )
