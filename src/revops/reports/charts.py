"""Charts as inline SVG, so every report opens offline with nothing fetched from a CDN.

matplotlib renders to an SVG string that the HTML template embeds directly; fonts are turned
into paths (`svg.fonttype = path`) so the page looks the same on a machine without them.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

PALETTE = ("#2563eb", "#f97316", "#16a34a", "#dc2626", "#7c3aed", "#0891b2", "#ca8a04")
_STYLE: Any = {
    "svg.fonttype": "path",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#9ca3af",
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
}


# matplotlib's style (rcParams) and pyplot's figures are global to the process: while one
# thread draws inside `rc_context`, another's entering or leaving it would change the first
# one's style and SVG ids. One thread draws at a time (`revops demo` runs reports side by side).
_DRAWING = threading.RLock()


@contextmanager
def drawing(style: Any = _STYLE) -> Iterator[None]:
    """Draw a figure in `style` (rcParams), no other thread drawing meanwhile."""
    with _DRAWING, plt.rc_context(style):
        yield


def _svg(fig: Figure) -> str:
    """The figure as inline SVG, the same bytes for the same figure: a fixed hash salt for the
    element ids matplotlib derives, and no creation date in the metadata."""
    buf = io.StringIO()
    with drawing({"svg.hashsalt": "revops"}):
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]


def _formatter(kind: str) -> FuncFormatter:
    def fmt(value: float, _pos: int | None = None) -> str:
        if kind == "percent":
            return f"{value:.0%}"
        if kind == "currency":  # the sign before the symbol: −$3.2M, never $-3.2M
            sign, size = ("\u2212" if value < 0 else ""), abs(value)
            if size >= 1e6:
                return f"{sign}${size / 1e6:.1f}M"
            return f"{sign}${size / 1e3:.0f}k" if size >= 1e3 else f"{sign}${size:.0f}"
        return f"{value:,.0f}"

    return FuncFormatter(fmt)


def _thin_ticks(ax: Any, labels: list[str], most: int = 12) -> None:
    """Label at most `most` evenly spaced x positions, so month labels never overlap."""
    step = max(1, -(-len(labels) // most))
    ticks = list(range(0, len(labels), step))
    ax.set_xticks(ticks, [labels[i] for i in ticks], rotation=45, ha="right")


def funnel_chart(stages: Sequence[str], counts: Sequence[float], title: str) -> str:
    """Horizontal funnel: one bar per stage, widest first, labelled with count and step rate."""
    with drawing():
        fig, ax = plt.subplots(figsize=(7, 0.45 * len(stages) + 0.8))
        ys = list(range(len(stages)))[::-1]
        ax.barh(ys, counts, color=PALETTE[0], height=0.65)
        top = max(counts) if counts else 1
        for y, count, prev in zip(ys, counts, [None, *counts[:-1]], strict=True):
            label = f"{count:,.0f}"
            if prev:
                label += f"  ({count / prev:.1%} of previous)"
            ax.text(count + top * 0.01, y, label, va="center", fontsize=8)
        ax.set_yticks(ys, stages)
        ax.set_xlim(0, top * 1.45)
        ax.xaxis.set_major_formatter(_formatter("number"))
        ax.set_title(title, loc="left")
        return _svg(fig)


def line_chart(
    x: Sequence[str], series: Mapping[str, Sequence[float]], title: str, kind: str = "number"
) -> str:
    """Monthly trend lines sharing one axis."""
    with drawing():
        fig, ax = plt.subplots(figsize=(7, 2.8))
        for i, (name, values) in enumerate(series.items()):
            ax.plot(
                range(len(x)), list(values), label=name, color=PALETTE[i % len(PALETTE)], lw=1.8
            )
        ax.yaxis.set_major_formatter(_formatter(kind))
        ax.legend(frameon=False, ncols=min(len(series), 4), fontsize=8)
        ax.set_title(title, loc="left")
        ax.grid(axis="y", color="#e5e7eb")
        _thin_ticks(ax, list(x))
        return _svg(fig)


def grouped_bars(
    x: Sequence[str],
    series: Mapping[str, Sequence[float]],
    title: str,
    kind: str = "number",
    width_inches: float = 14,
) -> str:
    """Side-by-side bars per x value (e.g. pipeline created vs bookings per month)."""
    with drawing():
        fig, ax = plt.subplots(figsize=(width_inches, 2.8))
        n = len(series)
        width = 0.8 / max(n, 1)
        positions = range(len(x))
        for i, (name, values) in enumerate(series.items()):
            offs = [p - 0.4 + width * (i + 0.5) for p in positions]
            ax.bar(offs, list(values), width=width, label=name, color=PALETTE[i % len(PALETTE)])
        _thin_ticks(ax, list(x))
        ax.yaxis.set_major_formatter(_formatter(kind))
        ax.legend(frameon=False, fontsize=8)
        ax.set_title(title, loc="left")
        ax.grid(axis="y", color="#e5e7eb")
        return _svg(fig)


def bar_chart(labels: Sequence[str], values: Sequence[float], title: str, kind: str) -> str:
    """One bar per category, sorted as given, with the value printed on each bar."""
    with drawing():
        fig, ax = plt.subplots(figsize=(3.4, 0.32 * len(labels) + 0.9))
        ys = list(range(len(labels)))[::-1]
        ax.barh(ys, list(values), color=PALETTE[2], height=0.6)
        fmt = _formatter(kind)
        top = max(values) if len(values) else 1
        for y, v in zip(ys, values, strict=True):
            ax.text(v + top * 0.02, y, fmt(v), va="center", fontsize=8)
        ax.set_yticks(ys, list(labels))
        ax.set_xlim(0, top * 1.3 if top > 0 else 1)
        ax.xaxis.set_major_formatter(fmt)
        ax.set_title(title, loc="left")
        return _svg(fig)
