"""Change tracking between two hand-made snapshots: one deal per change kind."""

from __future__ import annotations

from datetime import date

import pandas as pd

from revops.pipeline.forecast.changes import CHANGE_KINDS, changes, summary
from revops.pipeline.forecast.periods import Period

Q = Period(date(2026, 2, 1), date(2026, 4, 30), "2026Q1")
COLS = ("opportunity_id", "opportunity_type", "owner_id", "stage", "amount", "close_date")
COLS2 = ("forecast_category", "is_open", "is_won")


def _snap(rows: list[tuple[object, ...]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=[*COLS, *COLS2])


NB = "new_business"
BEFORE = _snap(
    [
        ("won", NB, "r1", "Negotiation", 10.0, date(2026, 3, 30), "commit", True, False),
        ("lost", NB, "r1", "Proposal", 20.0, date(2026, 3, 30), "best_case", True, False),
        ("gone", NB, "r1", "Discovery", 30.0, date(2026, 3, 30), "pipeline", True, False),
        ("push", NB, "r1", "Proposal", 40.0, date(2026, 4, 20), "best_case", True, False),
        ("pull", NB, "r1", "Proposal", 50.0, date(2026, 4, 20), "best_case", True, False),
        ("resize", NB, "r1", "Proposal", 60.0, date(2026, 4, 20), "best_case", True, False),
        ("move", NB, "r1", "Discovery", 70.0, date(2026, 4, 20), "pipeline", True, False),
        ("still", NB, "r1", "Discovery", 80.0, date(2026, 4, 20), "pipeline", True, False),
        ("later", NB, "r1", "Discovery", 90.0, date(2026, 6, 20), "pipeline", True, False),
    ]
)
AFTER = _snap(
    [
        ("won", NB, "r1", "Closed Won", 10.0, date(2026, 3, 10), "closed", False, True),
        ("lost", NB, "r1", "Closed Lost", 20.0, date(2026, 3, 10), "omitted", False, False),
        # "gone" vanished from the CRM
        ("push", NB, "r1", "Proposal", 40.0, date(2026, 5, 20), "best_case", True, False),
        ("pull", NB, "r1", "Proposal", 50.0, date(2026, 3, 20), "best_case", True, False),
        ("resize", NB, "r1", "Proposal", 75.0, date(2026, 4, 20), "best_case", True, False),
        ("move", NB, "r1", "Proposal", 70.0, date(2026, 4, 20), "best_case", True, False),
        ("still", NB, "r1", "Discovery", 80.0, date(2026, 4, 20), "pipeline", True, False),
        ("later", NB, "r1", "Solution", 90.0, date(2026, 6, 20), "pipeline", True, False),
        ("new", NB, "r2", "Prospecting", 5.0, date(2026, 4, 1), "pipeline", True, False),
    ]
)
ORDER = {"Prospecting": 0, "Discovery": 1, "Solution": 2, "Proposal": 3, "Negotiation": 4}


def test_each_change_kind_once() -> None:
    out = changes(BEFORE, AFTER, Q, ORDER)
    got = {(r.opportunity_id, r.change) for r in out.itertuples()}
    assert got == {
        ("new", "added"),
        ("won", "won"),
        ("lost", "lost"),
        ("gone", "removed"),
        ("push", "pushed"),
        ("pull", "pulled_in"),
        ("resize", "amount_changed"),
        ("move", "stage_moved"),
    }  # "still" did not change; "later" is due outside the period at both ends
    row = out.set_index("opportunity_id")
    assert row.loc["push", "days_moved"] == 30  # Apr 20 → May 20
    assert bool(row.loc["push", "left_period"])  # May 20 is after Apr 30
    assert row.loc["pull", "days_moved"] == -31  # Apr 20 → Mar 20
    assert row.loc["resize", "amount_delta"] == 15.0
    assert row.loc["lost", "amount_delta"] == -20.0
    assert row.loc["gone", "amount_delta"] == -30.0
    assert row.loc["new", "amount_delta"] == 5.0
    assert row.loc["move", "direction"] == "forward"
    s = summary(out).set_index("change")
    assert list(s.index) == list(CHANGE_KINDS)
    assert s["deals"].sum() == 8


def test_without_a_period_every_deal_counts() -> None:
    out = changes(BEFORE, AFTER, None, ORDER)
    assert ("later", "stage_moved") in {(r.opportunity_id, r.change) for r in out.itertuples()}
