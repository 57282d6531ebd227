"""One figure, one number: every figure the demo shows in more than one place is equal in each.

On the session's demo (conftest.py `demo_run`): the funnel report's tiles, its dictionary table
and the revenue report's tiles show the stated period (the last full month of the data), and
`revops metrics show NAME --grain all --from … --to …` prints the same text for it; the
funnel chart counts the same persons as the lifecycle conversion table beside it; the
pipeline report's open pipeline is `revops pipeline snapshot`'s on the same evening; and the
demo writes the funnel report only after the attribution credits and quotas it reads exist.
The API shows no metric-dictionary figure, so it has nothing to reconcile.
"""

from __future__ import annotations

import html
import re
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from revops.cli import app

runner = CliRunner()
ENV = {"COLUMNS": "240"}
PERIOD = (date(2026, 10, 1), date(2026, 11, 1))  # the demo's data ends on 2026-10-31
PERIOD_LABEL = "Oct 2026"
# figures two or more places show for the period: funnel tiles, revenue tiles, the dictionary
SHARED = ("bookings", "win_rate", "avg_deal_size", "sales_cycle_days", "arr", "nrr", "grr", "ltv")


def _text(fragment: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", fragment))).strip()


def _page(demo_run: tuple[Path, str], name: str) -> str:
    return (demo_run[0] / "reports" / f"{name}.html").read_text(encoding="utf-8")


def _tiles(page: str) -> dict[str, str]:
    """metric -> the value a tile shows."""
    found = re.findall(
        r'<div class="tile" data-metric="([a-z_]+)">.*?<div class="value">(.*?)</div>', page, re.S
    )
    return {name: _text(value) for name, value in found}


def _dictionary(page: str) -> dict[str, str]:
    """metric -> the period's value in the funnel report's dictionary table (reason dropped)."""
    cells = re.findall(r'<td class="num" data-metric="([a-z_]+)">(.*?)</td>', page, re.S)
    return {name: _text(value.split("<br>")[0]) for name, value in cells}


def _cli(demo_run: tuple[Path, str], name: str) -> str:
    wh = demo_run[1].split("\n", 1)[0]
    start, end = (d.isoformat() for d in PERIOD)
    args = ["metrics", "show", name, "--grain", "all", "--from", start, "--to", end, "-w", wh]
    res = runner.invoke(app, args, env=ENV)
    assert res.exit_code == 0, res.output
    body = res.output.splitlines()[-2]  # the value row of the result table
    value = body.strip("│┃ ").strip()
    return re.sub(r" \(\d+ .*\)$", "", value)  # drop a missing-rows note


def test_the_period_is_stated(demo_run: tuple[Path, str]) -> None:
    funnel, revenue = _page(demo_run, "funnel"), _page(demo_run, "revenue")
    assert f"{PERIOD_LABEL}</strong>, the last full month" in funnel
    assert "All time</th>" not in funnel
    for name, _ in _tiles(revenue).items():
        assert f'data-metric="{name}"><div class="label">' in revenue
    assert revenue.count(f"({PERIOD_LABEL})") >= len(_tiles(revenue))
    assert "Sep 2026:" in funnel  # the previous period beside it
    assert "Sep 2026:" in revenue


def test_shared_figures_are_one_number(demo_run: tuple[Path, str]) -> None:
    funnel = _page(demo_run, "funnel")
    tiles = {**_tiles(_page(demo_run, "revenue")), **_tiles(funnel)}
    table = _dictionary(funnel)
    assert set(SHARED) <= set(table)
    for name in SHARED:
        shown = {"dictionary": table[name], "cli": _cli(demo_run, name)}
        if name in tiles:
            shown["tile"] = tiles[name]
        assert len(set(shown.values())) == 1, (name, shown)
    for name, value in _tiles(funnel).items():  # every funnel tile is its dictionary row
        assert value == table[name], name


def test_ltv_to_cac_tile_is_the_dictionary(demo_run: tuple[Path, str]) -> None:
    tiles, table = _tiles(_page(demo_run, "revenue")), _dictionary(_page(demo_run, "funnel"))
    for name in ("ltv_to_cac", "cac_payback_months", "logo_churn_rate"):
        if table[name] == "n/a":
            assert tiles[name] == "n/a", name
        else:  # the tile adds a unit and keeps one decimal
            assert float(re.sub(r"[^\d.−-]", "", tiles[name]).replace("−", "-")) == pytest.approx(
                float(table[name].replace("%", "").replace(",", "").replace("−", "-")), abs=0.05
            ), name


def test_funnel_chart_counts_the_table_s_persons(demo_run: tuple[Path, str]) -> None:
    funnel = _page(demo_run, "funnel")
    caption = re.search(r'<p class="caption" id="funnel-counts">(.*?)</p>', funnel, re.S)
    assert caption
    counts = dict(re.findall(r'data-metric="([a-z_]+)">([\d,]+)<', caption.group(1)))
    table = funnel[funnel.index("<h2>Lifecycle conversion</h2>") :]
    table = table[: table.index("</table>")]
    row = r'<tr><td>(\w+)</td><td>\w+</td>\s*<td class="num">([\d,]+)</td>'
    reached = {_text(stage): _text(n) for stage, n in re.findall(row, table)}
    assert counts["lead_persons"] == reached["Lead"]
    assert counts["mqls"] == reached["MQL"]
    assert counts["sqls"] == reached["SQL"]


def test_open_pipeline_is_the_snapshot_s(demo_run: tuple[Path, str]) -> None:
    wh = demo_run[1].split("\n", 1)[0]
    page = _text(_page(demo_run, "pipeline"))
    shown = re.search(r"Open pipeline \$([\d,]+) ([\d,]+) open deals", page)
    as_of = re.search(r"as of the end of (\d{4}-\d\d-\d\d)", page)
    assert shown
    assert as_of
    args = ["pipeline", "snapshot", "--as-of", as_of.group(1), "-w", wh]
    res = runner.invoke(app, args, env=ENV)
    assert res.exit_code == 0, res.output
    rows = re.findall(r"│ \w+\s+│\s+([\d,]+) │ ([\d,]+)\s+│", res.output)
    assert rows
    assert sum(int(d.replace(",", "")) for d, _ in rows) == int(shown.group(2).replace(",", ""))
    assert sum(int(v.replace(",", "")) for _, v in rows) == int(shown.group(1).replace(",", ""))


def test_open_pipeline_of_the_dictionary_is_the_snapshot_s(demo_run: tuple[Path, str]) -> None:
    """The CRM's open pipeline (opportunities.amount) and the one rebuilt from stage history as
    of the data's end are one figure: each open deal's amount is its last history row's."""
    page = _text(_page(demo_run, "pipeline"))
    shown = re.search(r"Open pipeline (\$[\d,]+)", page)
    assert shown
    wh = demo_run[1].split("\n", 1)[0]
    res = runner.invoke(app, ["metrics", "show", "open_pipeline", "--grain", "all", "-w", wh])
    assert shown.group(1) in res.output


def test_reports_are_written_after_their_inputs(demo_run: tuple[Path, str]) -> None:
    """The funnel report reads attribution credits and quotas: it is written last, and its
    ROAS and coverage are figures or n/a with a reason, never computed from empty tables."""
    out = demo_run[0] / "reports"
    funnel = (out / "funnel.html").stat().st_mtime_ns
    for name in ("attribution", "pipeline", "forecast", "revenue", "quality"):
        assert (out / f"{name}.html").stat().st_mtime_ns <= funnel, name
    page = _page(demo_run, "funnel")
    cells = re.findall(r'<td class="num" data-metric="([a-z_]+)">(.*?)</td>', page, re.S)
    shown = {name: _text(value) for name, value in cells}
    for name in ("roas", "roi", "attributed_revenue", "quota", "pipeline_coverage"):
        value = shown[name]
        assert not value.startswith("n/a") or ":" in value, (name, value)  # n/a says why
    assert shown["quota"] != "n/a" or "no quotas rows" in shown["quota"]


def test_markov_and_shapley_rows_are_the_models_own_credits(demo_run: tuple[Path, str]) -> None:
    """The attribution report's per-channel table (summed stored per-touch credits) and its
    data-driven table (the chain's and the Shapley values' own channel credits) agree."""
    page = _page(demo_run, "attribution")
    head = page[page.index("All models per channel") :]
    channels = [
        _text(c) for c in re.findall(r'<th class="num">(.*?)</th>', head[: head.index("</thead>")])
    ]
    rows = {
        _text(m): [_text(v) for v in re.findall(r'<td class="num">(.*?)</td>', cells)]
        for m, cells in re.findall(
            r"<tr><td>(\w+)</td>(.*?)</tr>", head[: head.index("</table>")], re.S
        )
    }
    fits = page[page.index("<h2>Data-driven models</h2>") :]
    fits = fits[: fits.index("</table>")]
    own = {
        _text(c): (_text(mk), _text(sh))
        for c, _, mk, sh in re.findall(
            r'<tr><td>(\w+)</td><td class="num">(.*?)</td>\s*<td class="num">(.*?)</td>\s*'
            r'<td class="num">(.*?)</td>',
            fits,
        )
    }
    assert own
    for i, channel in enumerate(channels):
        assert rows["markov"][i] == own[channel][0], channel
        assert rows["shapley"][i] == own[channel][1], channel
