"""The revenue report's cohort grids as colored HTML tables (`_heat_table`), on a grid worked by
hand: two cohorts, the younger one not yet at month 1, and a label that needs escaping.

  2026-01, 4 accounts: month 0 100% (green: 100% is 5/6 of the way from 50% to 110%),
                       month 1 50% (the scale's red end, so white figures), month 2 130%
                       (above the scale: its green end)
  2026-02, 2 accounts: month 0 100%, month 1 not reached yet: an empty cell, not 0%
"""

from __future__ import annotations

import re

import pandas as pd
from matplotlib import colormaps
from matplotlib.colors import to_hex

from revops.reports.revenue import _heat_table

GRID = pd.DataFrame(
    {"size": [4.0, 2.0], "0": [1.0, 1.0], "1": [0.5, float("nan")], "2": [1.3, float("nan")]},
    index=pd.to_datetime(["2026-01-01", "2026-02-01"]),
)


def _cells(html: str) -> list[list[str]]:
    body = html.split("<tbody>", 1)[1]
    return [re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row) for row in body.split("</tr>")[:-1]]


def test_cells_are_the_shares_with_the_scale_s_colors() -> None:
    html = _heat_table(GRID, "Logo <retention>", "{:,.0f} <accounts>")
    assert "<h2>Logo &lt;retention&gt;</h2>" in html
    assert _cells(html) == [
        ["2026-01 (4 &lt;accounts&gt;)", "100%", "50%", "130%"],
        ["2026-02 (2 &lt;accounts&gt;)", "100%", "", ""],
    ]
    styles = re.findall(r'style="background:(#[0-9a-f]{6});color:(#[0-9a-f]{3})"', html)
    rdylgn = colormaps["RdYlGn"]
    green, red, top = to_hex(rdylgn(5 / 6)), to_hex(rdylgn(0.0)), to_hex(rdylgn(1.0))
    assert styles == [(green, "#111"), (red, "#fff"), (top, "#fff"), (green, "#111")]
    assert red == "#a50026"
    assert html.count("<td></td>") == 2
    assert "<svg" not in html


def test_only_the_last_cohorts_and_ages_asked_are_shown() -> None:
    html = _heat_table(GRID, "t", "{:,.0f}", ages=1, cohorts=1)
    assert _cells(html) == [["2026-02 (2)", "100%", ""]]
    assert re.findall(r'<th class="num">(\d+)</th>', html) == ["0", "1"]
