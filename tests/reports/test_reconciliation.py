"""One figure, one number: every figure the demo shows in more than one place is equal in each.

On the session's demo (conftest.py `demo_run`): the funnel report's tiles, its dictionary table
and the revenue report's tiles show the stated period (the last full month of the data), and
`revops metrics show NAME --grain all --from … --to …` prints the same text for it; the
funnel chart counts the same persons as the lifecycle conversion table beside it; the
pipeline report's open pipeline is `revops pipeline snapshot`'s on the same evening; and the
demo writes the funnel report only after the attribution credits and quotas it reads exist.
The pipeline report's quarter tiles, by-type table, coverage and velocity are `metrics show`'s;
the quality tiles are the dq_* metrics; the forecast report's methods, call, roll-up and
accuracy are `revops forecast methods | rollup` and `metrics show forecast_accuracy`; the
revenue report's ARR at risk and waterfall are `revops revenue at-risk` and the ARR movement
metrics; the attribution report's per-channel credits are `revops attribution compare`'s.
The API shows no report figure (its comp statements are the compensation engine's), so it has
nothing to reconcile; every figure no metric computes is declared under `computed_elsewhere`.
"""

from __future__ import annotations

import html
import json
import re
from datetime import date
from pathlib import Path
from typing import Any

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


def _cli(demo_run: tuple[Path, str], name: str, period: tuple[date, date] | None = PERIOD) -> str:
    """`revops metrics show NAME --grain all` over `period` (all rows when None): its value."""
    wh = demo_run[1].split("\n", 1)[0]
    args = ["metrics", "show", name, "--grain", "all", "-w", wh]
    if period is not None:
        args += ["--from", period[0].isoformat(), "--to", period[1].isoformat()]
    res = runner.invoke(app, args, env=ENV)
    assert res.exit_code == 0, res.output
    body = res.output.splitlines()[-2]  # the value row of the result table
    return body.strip("│┃ ").split("│")[0].strip()  # the value; a missing-rows note follows


def test_the_period_is_stated(demo_run: tuple[Path, str]) -> None:
    funnel, revenue = _page(demo_run, "funnel"), _page(demo_run, "revenue")
    assert f"{PERIOD_LABEL}</strong>, the last full month" in funnel
    assert "All time</th>" not in funnel
    for name, _ in _tiles(revenue).items():
        assert f'data-metric="{name}"><div class="label">' in revenue
    # every tile but ARR at risk (the risk model's list now) states the period
    assert revenue.count(f"({PERIOD_LABEL})") >= len(_tiles(revenue)) - 1
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
    shown = re.search(r"Open pipeline \(end of [\d-]+\) \$([\d,]+) ([\d,]+) open deals", page)
    as_of = re.search(r"as of the end of (\d{4}-\d\d-\d\d)", page)
    assert shown
    assert as_of
    args = ["pipeline", "snapshot", "--as-of", as_of.group(1), "-w", wh]
    res = runner.invoke(app, args, env=ENV)
    assert res.exit_code == 0, res.output
    rows = re.findall(r"│ \w+\s+│\s+([\d,]+) │\s+\$([\d,]+) │", res.output)
    assert rows
    assert sum(int(d.replace(",", "")) for d, _ in rows) == int(shown.group(2).replace(",", ""))
    assert sum(int(v.replace(",", "")) for _, v in rows) == int(shown.group(1).replace(",", ""))


def test_open_pipeline_of_the_dictionary_is_the_snapshot_s(demo_run: tuple[Path, str]) -> None:
    """The CRM's open pipeline (opportunities.amount) and the one rebuilt from stage history as
    of the data's end are one figure: each open deal's amount is its last history row's."""
    page = _text(_page(demo_run, "pipeline"))
    shown = re.search(r"Open pipeline \(end of [\d-]+\) (\$[\d,]+)", page)
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


# -- pipeline, quality, forecast, revenue and attribution reports ---------------------------------
QUARTER = (date(2026, 8, 1), date(2026, 11, 1))  # the last full fiscal quarter (FY from Feb)
NEXT_QUARTER = (date(2026, 11, 1), date(2027, 2, 1))


def _wh(demo_run: tuple[Path, str]) -> str:
    return demo_run[1].split("\n", 1)[0]


def _run(*args: str) -> str:
    res = runner.invoke(app, list(args), env=ENV)
    assert res.exit_code == 0, res.output
    return res.output


def _tables(*args: str) -> dict[str, list[dict[str, Any]]]:
    """A command's tables as `--format json` gives them: name -> rows (ids, names, numbers)."""
    res = runner.invoke(app, [*args, "--format", "json"], env=ENV)
    assert res.exit_code == 0, res.output
    return {t["name"]: t["rows"] for t in json.loads(res.stdout)["tables"]}


def _number(text: str) -> float:
    return float(re.sub(r"[^\d.−-]", "", text).replace("−", "-"))


def test_pipeline_tiles_are_the_dictionary_s(demo_run: tuple[Path, str]) -> None:
    page = _page(demo_run, "pipeline")
    tiles = _tiles(page)
    assert "Aug 2026–Oct 2026" in page
    for name in ("new_business_win_rate", "win_rate", "avg_deal_size", "sales_cycle_days"):
        assert tiles[name] == _cli(demo_run, name, QUARTER), name
    coverage = _cli(demo_run, "pipeline_coverage", NEXT_QUARTER)
    assert tiles["pipeline_coverage"] == ("n/a" if coverage == "n/a" else f"{coverage}×")
    assert tiles["sales_velocity"] == _cli(demo_run, "sales_velocity", None) + "/day"


def test_pipeline_by_type_table_is_the_dictionary_s(demo_run: tuple[Path, str]) -> None:
    page = _page(demo_run, "pipeline")
    table = page[page.index('<table id="by-type">') :]
    table = table[: table.index("</table>")]
    rows = {
        kind: [_text(c) for c in re.findall(r'<td class="num">(.*?)</td>', cells)]
        for kind, cells in re.findall(r'<tr data-type="(\w+)">(.*?)</tr>', table, re.S)
    }
    assert {"new_business", "expansion", "renewal"} <= set(rows)
    start, end = (d.isoformat() for d in QUARTER)
    for i, name in enumerate(("closed_deals", "won_deals", "win_rate", "win_rate_by_value")):
        out = _run("metrics", "show", name, "--by", "opportunity_type", "--grain", "all",
                   "--from", start, "--to", end, "-w", _wh(demo_run))  # fmt: skip
        for kind, cells in rows.items():
            shown = re.search(rf"│ {kind}\s+│\s+(\S+)", out)
            if shown is None and name in ("closed_deals", "won_deals"):
                assert cells[i] == "0", (name, kind)  # a count over no rows is 0, never n/a
                continue
            assert shown, (name, kind, out)
            assert cells[i] == shown.group(1), (name, kind)
    # the new-business row is the new_business_win_rate tile
    assert rows["new_business"][2] == _tiles(page)["new_business_win_rate"]


def test_pipeline_coverage_tile_is_the_engine_s_company_row(demo_run: tuple[Path, str]) -> None:
    """The dictionary's coverage of the next quarter (quota pipeline over quota still to book)
    is the pipeline engine's company row on the data's last evening."""
    # as of the next quarter's first day, the engine's quota period is that quarter
    out = _run("pipeline", "metrics", "--as-of", NEXT_QUARTER[0].isoformat(), "-w", _wh(demo_run))
    company = out[out.index("Pipeline coverage, company") :]
    engine = re.search(r"│ coverage\s+│\s+([\d.]+)×", company)
    assert engine, company
    tile = _tiles(_page(demo_run, "pipeline"))["pipeline_coverage"]
    assert _number(tile) == pytest.approx(float(engine.group(1)), abs=0.05)


def test_point_in_time_win_rates_are_the_dictionary_s_on_the_last_day(
    demo_run: tuple[Path, str],
) -> None:
    """`revops pipeline metrics` (rebuilt from stage history as known on the as-of day) prints
    the dictionary's win rate, deal size and cycle over the same closing days."""
    out = _run("pipeline", "metrics", "-w", _wh(demo_run))
    head = re.search(r"closed (\d{4}-\d\d-\d\d)–(\d{4}-\d\d-\d\d)", " ".join(out.split()))
    assert head
    since, as_of = date.fromisoformat(head.group(1)), date.fromisoformat(head.group(2))
    window = (since, date.fromordinal(as_of.toordinal() + 1))

    def shown(measure: str) -> str:
        found = re.search(rf"│ {measure.replace('_', ' ')}\s+│\s+(\S+)", out)
        assert found, measure
        return found.group(1)

    assert shown("win_rate") == _cli(demo_run, "win_rate", window)
    assert shown("win_rate_value") == _cli(demo_run, "win_rate_by_value", window)
    assert _number(shown("avg_deal_size")) == _number(_cli(demo_run, "avg_deal_size", window))
    assert _number(shown("cycle_days_mean")) == pytest.approx(
        _number(_cli(demo_run, "sales_cycle_days", window)), abs=0.05
    )


def test_quality_tiles_are_the_dictionary_s(demo_run: tuple[Path, str]) -> None:
    tiles = _tiles(_page(demo_run, "quality"))
    assert set(tiles) == {"dq_completeness", "dq_validity", "dq_uniqueness", "dq_match_rate"}
    for name, value in tiles.items():
        assert value == _cli(demo_run, name, None), name


def test_forecast_report_is_the_forecast_cli_s(demo_run: tuple[Path, str]) -> None:
    page = _page(demo_run, "forecast")
    head = re.search(r"Forecast (\d{4}Q\d) \(.*?\) as of (\d{4}-\d\d-\d\d)", page)
    assert head
    period, as_of = head.groups()
    wh = _wh(demo_run)
    out = _run("forecast", "methods", "--period", period, "--as-of", as_of, "-w", wh)
    methods = _tables("forecast", "methods", "--period", period, "--as-of", as_of, "-w", wh)
    cli = {
        r["method"]: round(r["forecast"])
        for r in methods["methods"]
        if r["opportunity_type"] == "all"
    }
    found = re.findall(r'data-method="(\w+)">.*?<div class="value">(.*?)</div>', page, re.S)
    report = {method: int(_number(value)) for method, value in found}
    assert report
    assert report == cli
    call = re.search(r'<b id="recommended-call">\$([\d,]+)</b>', page)
    cli_call = re.search(r"recommended call USD ([\d,]+)", out)
    assert (call is None) == (cli_call is None)
    if call and cli_call:
        assert call.group(1) == cli_call.group(1)
    # the company roll-up row, and its categories add up to the dictionary's open pipeline
    roll = _tables("forecast", "rollup", "--period", period, "--as-of", as_of, "--level",
                   "company", "--type", "all", "-w", wh)["rollup"]  # fmt: skip
    assert len(roll) == 1
    skip = ("level", "subject_id", "subject_name", "opportunity_type", "notes")
    cli_cells = [round(v) for k, v in roll[0].items() if k not in skip and v is not None]
    row = re.search(r'<tr data-level="company">(.*?)</tr>', page, re.S)
    assert row
    cells = [_text(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)]
    money = [int(_number(c)) for c in cells if c.startswith("$")]
    assert money == cli_cells[: len(money)]
    assert period == "2026Q4"  # the demo forecasts the quarter after its data: NEXT_QUARTER
    open_pipeline = _number(_cli(demo_run, "open_pipeline", NEXT_QUARTER))
    assert sum(money[:3]) == open_pipeline  # pipeline + best case + commit


def test_forecast_accuracy_is_the_dictionary_s(demo_run: tuple[Path, str]) -> None:
    page = _page(demo_run, "forecast")
    shown = re.search(r'data-metric="forecast_accuracy">(.*?)</b>', page)
    assert shown
    assert shown.group(1) == _cli(demo_run, "forecast_accuracy", None)


def test_revenue_at_risk_and_waterfall_are_the_cli_s(demo_run: tuple[Path, str]) -> None:
    page = _page(demo_run, "revenue")
    wh = _wh(demo_run)
    out = _run("revenue", "at-risk", "--limit", "1", "-w", wh)
    total = re.search(r"At risk: ([\d,]+) accounts, (\$[\d,]+) ARR at risk", out)
    assert total
    assert _tiles(page)["arr_at_risk"] == total.group(2)
    assert f"{total.group(1)} accounts on the at-risk list" in page
    # the waterfall's last month is the dictionary's ARR movements for that month
    table = page[page.index("ARR waterfall, last 12 months") :]
    last = re.findall(
        r"<tr><td>(\d{4}-\d\d)</td>(.*?)</tr>", table[: table.index("</table>")], re.S
    )
    month, cells = last[-1]
    assert month == "2026-10"
    values = [_text(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", cells, re.S)]
    names = ("opening_arr", "new_arr", "expansion_arr", "contraction_arr", "churned_arr",
             "reactivation_arr", "arr")  # fmt: skip
    for name, value in zip(names, values, strict=False):
        assert _number(value) == pytest.approx(_number(_cli(demo_run, name)), abs=1), name


def test_attribution_credits_are_attribution_compare_s(demo_run: tuple[Path, str]) -> None:
    page = _page(demo_run, "attribution")
    head = page[page.index("All models per channel") :]
    head = head[: head.index("</table>")]
    channels = [_text(c) for c in re.findall(r'<th class="num">(.*?)</th>', head)]
    rows = {
        m: [_number(_text(v)) for v in re.findall(r'<td class="num">(.*?)</td>', cells)]
        for m, cells in re.findall(r"<tr><td>(\w+)</td>(.*?)</tr>", head, re.S)
    }
    checked = 0
    for table in _tables("attribution", "compare", "-w", _wh(demo_run)).values():
        for row in table:
            i = channels.index(row["channel"])
            for model, value in row.items():
                if model == "channel":
                    continue
                assert rows[model][i] == pytest.approx(value, abs=0.05), (model, row["channel"])
                checked += 1
    assert checked >= len(channels) * 5


def _report_page(demo_run: tuple[Path, str], area: str) -> dict[str, list[dict[str, str]]]:
    """The web workspace's report page for `area` (`/view/AREA/report`, what a revops_admin
    reads): each table's CSV, the raw values its CSV link answers, by table key."""
    import csv
    import io

    from revops.access import Principal
    from revops.context import RevOps
    from revops.web.views import report_page

    ro = RevOps.open(None, _wh(demo_run))
    try:
        page = report_page(ro, Principal("council", "revops_admin"), area)
    finally:
        ro.close()
    (section,) = page["sections"]
    assert not section.error, section.error
    return {g.key: list(csv.DictReader(io.StringIO(g.csv()))) for g in section.grids}


def _same_rows(page: list[dict[str, str]], cli: list[dict[str, Any]], key: str) -> int:
    """Page rows (CSV text) equal the CLI's (json) in every column they share; the count."""
    assert [r[key] for r in page] == [str(r[key]) for r in cli]
    checked = 0
    for got, want in zip(page, cli, strict=True):
        for column, value in want.items():
            if column not in got or column == key:
                continue
            if isinstance(value, int | float) and not isinstance(value, bool):
                assert float(got[column]) == pytest.approx(value, rel=1e-4, abs=0.01), column
            else:
                assert got[column] == ("" if value is None else str(value)), column
            checked += 1
    return checked


def test_report_pages_are_the_cli_s(demo_run: tuple[Path, str]) -> None:
    """/view/revenue|attribution|forecast/report show the figures `revops revenue waterfall |
    at-risk`, `attribution compare | performance` and `forecast methods | rollup` print."""
    wh = _wh(demo_run)
    revenue = _report_page(demo_run, "revenue")
    waterfall = _tables("revenue", "waterfall", "-w", wh)["waterfall"]
    for row in revenue["waterfall"]:
        row["month"] = row["month"][:7]  # the page's raw date, the CLI's month
    assert _same_rows(revenue["waterfall"], waterfall, "month") >= 12 * 7
    at_risk = _run("revenue", "at-risk", "--limit", "1", "-w", wh)
    total = re.search(r"At risk: ([\d,]+) accounts, (\$[\d,]+) ARR at risk", at_risk)
    assert total
    assert len(revenue["at_risk"]) == int(total.group(1).replace(",", ""))
    shown = sum(float(r["arr_at_risk"]) for r in revenue["at_risk"])
    assert shown == pytest.approx(_number(total.group(2)), abs=1)

    attribution = _report_page(demo_run, "attribution")
    checked = 0
    for table in _tables("attribution", "compare", "-w", wh).values():
        checked += _same_rows(attribution["models"], table, "channel")
    assert checked >= len(attribution["models"]) * 10
    perf = list(_tables("attribution", "performance", "-w", wh).values())[-1]  # by channel
    spend = "marketing_spend"  # the page's order: most spent first, none last
    perf = sorted(
        (r for r in perf if r["channel"] is not None),
        key=lambda r: (r[spend] is None, -(r[spend] or 0)),
    )
    assert _same_rows(attribution["performance"], perf, "channel") >= len(perf) * 9

    forecast = _report_page(demo_run, "forecast")
    args = ("--period", "2026Q4", "-w", wh)  # the quarter after the data; as of its last day
    methods = _tables("forecast", "methods", *args)["methods"]
    everything = [r for r in methods if r["opportunity_type"] == "all"]
    assert _same_rows(forecast["methods"], everything, "method") == len(everything) * 4
    roll = _tables("forecast", "rollup", *args)["rollup"]
    wanted = [
        r for r in roll if r["level"] in ("region", "company") and r["opportunity_type"] == "all"
    ]
    assert _same_rows(forecast["rollup"], wanted, "subject_id") >= len(wanted) * 5


def test_every_declared_elsewhere_figure_is_owned_and_explained() -> None:
    from revops.config import DEFAULT_CONFIG, load_config

    model = load_config(DEFAULT_CONFIG).model
    names = {f.name for f in model.computed_elsewhere}
    assert {"clean_pipeline_share", "forecast_by_method", "arr_at_risk"} <= names
    assert names.isdisjoint(m.name for m in model.metrics)
    for f in model.computed_elsewhere:
        assert f.computed_by.startswith("revops "), f.name
        assert f.formula, f.name
        assert f.shown_in, f.name
