"""The monthly funnel council: figures worked out by hand, action items carried to the next
council until one closes them, and `revops report council` writing the same pack offline."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner
from web_fixture import ADMIN, MONTH
from web_support import company

from revops.access import Principal
from revops.cli import app
from revops.context import RevOps
from revops.errors import RevOpsError
from revops.web.council import (
    actions,
    add_action,
    add_note,
    close_action,
    council_pack,
    month_period,
    notes,
)
from revops.web.static_pack import council_html


def test_the_pack_by_hand(ro: RevOps) -> None:
    pack = council_pack(ro, month_period(MONTH))
    rows = {r.name: r for r in pack.rows}
    assert [r.name for r in pack.rows] == [m.name for m in ro.model.metrics]  # every metric
    b = rows["bookings"]
    assert (b.value, b.previous, b.last_year, b.target) == (90_000, 15_000, 12_000, 100_000)
    assert (b.text, b.target_text, b.target_gap_text) == ("$90,000", "$100,000", "−10.0%")
    assert b.owner == "revops"
    assert b.formula == "sum(opportunities.amount) where is_won, by close_date"
    assert pack.months[0] == "2025-11"
    assert pack.months[-1] == MONTH
    assert b.trend[-2:] == [15_000, 90_000]
    assert b.trend[0] == 0  # no won deal in Nov 2025: $0 of bookings, as the dictionary says
    m = rows["mqls"]
    assert (m.value, m.previous, m.target) == (3, 1, 4)
    w = rows["win_rate"]
    assert w.value == pytest.approx(0.75)
    assert w.previous == 1.0  # September: O5 won, nothing lost
    assert w.last_year == 1.0
    assert w.target is None
    assert w.target_text == "—"
    assert rows["marketing_spend"].value is None  # no spend rows: missing, never 0
    assert rows["marketing_spend"].reason is not None
    # the shipped model's targets (the demo's plan): attainment 100%, new-business win rate 32%
    q = rows["quota_attainment"]
    assert (q.value, q.target, q.target_text) == (pytest.approx(0.9), 1.0, "100.0%")  # 90k/100k
    nb = rows["new_business_win_rate"]
    assert (nb.value, nb.target, nb.target_text) == (pytest.approx(0.75), 0.32, "32.0%")
    assert rows["mql_to_sql"].target == 0.31


def test_actions_carry_over_until_closed(ro: RevOps) -> None:
    wh = ro.warehouse
    me = Principal("ops@x.com", "sales_ops")
    first = add_action(wh, me, "2026-09", "Fix EMEA routing", "Bo", dt.date(2026, 10, 15))
    add_action(wh, me, "2026-10", "Re-score webinar leads", "Ada", dt.date(2026, 11, 1))
    add_note(wh, me, "2026-10", "MQL→SQL in EMEA fell; see routing")
    assert [a.title for a in actions(wh, "2026-08")] == []
    assert [a.title for a in actions(wh, "2026-09")] == ["Fix EMEA routing"]
    october = actions(wh, "2026-10")
    assert [(a.title, a.carried("2026-10")) for a in october] == [
        ("Fix EMEA routing", True),
        ("Re-score webinar leads", False),
    ]
    close_action(wh, me, first, "2026-10")
    assert [a.closed_month for a in actions(wh, "2026-10")] == ["2026-10", None]
    assert [a.closed_month for a in actions(wh, "2026-09")] == ["2026-10", None][:1]
    assert [a.title for a in actions(wh, "2026-11")] == ["Re-score webinar leads"]
    assert [n.body for n in notes(wh, "2026-10")] == ["MQL→SQL in EMEA fell; see routing"]
    assert notes(wh, "2026-11") == []
    with pytest.raises(RevOpsError, match="opened after"):
        close_action(wh, me, first, "2026-08")
    with pytest.raises(RevOpsError, match="not YYYY-MM"):
        add_note(wh, me, "October", "x")
    with pytest.raises(RevOpsError, match="is empty"):
        add_note(wh, me, "2026-10", "   ")
    with pytest.raises(RevOpsError, match=r"may not council\.write"):
        add_note(wh, Principal("ada@x.com", "viewer"), "2026-10", "x")


def test_the_static_pack_is_the_pages_pack_offline(tmp_path: Path) -> None:
    ro = company(tmp_path)  # writes tmp_path / "web.duckdb"
    add_action(ro.warehouse, ADMIN, MONTH, "Call every EMEA MQL", "Bo", dt.date(2026, 11, 15))
    html = council_html(ro, MONTH)
    ro.close()
    out = tmp_path / "pack.html"
    r = CliRunner().invoke(
        app,
        [
            "report",
            "council",
            "--month",
            MONTH,
            "--out",
            str(out),
            "-w",
            str(tmp_path / "web.duckdb"),
        ],
        env={"REVOPS_USER": "setup", "COLUMNS": "200"},
    )
    assert r.exit_code == 0, r.output
    written = out.read_text()
    # the same figures as the page's pack; the CLI reads the shipped model, which has no
    # targets, so the two agree on every column before the target
    for metric in ("bookings", "mqls", "win_rate", "leads"):
        assert _cells(written, metric)[:7] == _cells(html, metric)[:7], metric
    assert _cells(written, "bookings")[2:6] == ["$90,000", "$15,000", "+500.0%", "$12,000"]
    assert "Call every EMEA MQL" in written
    assert "carried over" not in written
    # offline: no script, nothing fetched, the stylesheet inlined, print rules included
    assert "<script" not in written
    assert not re.search(r'(src|href)="(https?:)?//', written)
    assert "@media print" in written
    assert 'action="' not in written  # no forms in the emailed copy


def _cells(html: str, metric: str) -> list[str]:
    row = re.search(rf'<tr data-metric="{metric}">(.*?)</tr>', html, re.S)
    assert row is not None
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)
    return [re.sub(r"<[^>]+>", "", c).strip() for c in cells]


def test_a_month_must_be_a_month() -> None:
    assert month_period("2026-12").end == dt.date(2027, 1, 1)
    with pytest.raises(RevOpsError, match="not YYYY-MM"):
        month_period("2026-13")
