"""Point-in-time pipeline: a hand-worked deal history read back as of several dates."""

from __future__ import annotations

from datetime import date, datetime

import pyarrow as pa

from revops.config.pipeline import PipelineConfig
from revops.pipeline import pipeline_as_of
from revops.warehouse import Batch, Warehouse

OPPS = {
    "opportunity_id": ["o1", "o2", "o3"],
    "account_id": ["a1", "a1", "a2"],
    "owner_id": ["u1", "u2", "u1"],
    "opportunity_type": ["new_business", "expansion", "new_business"],
    "stage": ["Closed Won", "Proposal", "Closed Lost"],
    "created_date": [date(2026, 1, 5), date(2026, 2, 1), date(2026, 1, 10)],
    "close_date": [date(2026, 3, 20), date(2026, 5, 31), date(2026, 2, 15)],
    "is_closed": [True, False, True],
    "is_won": [True, False, False],
    "amount": [12_000.0, 8_000.0, 5_000.0],
}
# o1: Prospecting (Jan 5) → Discovery (Jan 20, amount 10k) → pushed close date (Feb 10)
#     → Closed Won (Mar 20 at 15:00, amount 12k).
# o2: Prospecting (Feb 1) → Proposal (Mar 1): a skip of Discovery, Solution.
# o3: Prospecting (Jan 10) → Closed Lost (Feb 15).
HISTORY = [
    ("h1", "o1", "Prospecting", datetime(2026, 1, 5, 9), 10_000.0, date(2026, 3, 1)),
    ("h2", "o1", "Discovery", datetime(2026, 1, 20, 9), 10_000.0, date(2026, 3, 1)),
    ("h3", "o1", "Discovery", datetime(2026, 2, 10, 9), 10_000.0, date(2026, 3, 31)),
    ("h4", "o1", "Closed Won", datetime(2026, 3, 20, 15), 12_000.0, date(2026, 3, 20)),
    ("h5", "o2", "Prospecting", datetime(2026, 2, 1, 9), 8_000.0, date(2026, 5, 31)),
    ("h6", "o2", "Proposal", datetime(2026, 3, 1, 9), 8_000.0, date(2026, 5, 31)),
    ("h7", "o3", "Prospecting", datetime(2026, 1, 10, 9), 5_000.0, date(2026, 2, 28)),
    ("h8", "o3", "Closed Lost", datetime(2026, 2, 15, 9), 5_000.0, date(2026, 2, 15)),
]


def _load(wh: Warehouse) -> None:
    cols = ("history_id", "opportunity_id", "stage", "changed_at", "amount", "close_date")
    history = pa.table({c: [row[i] for row in HISTORY] for i, c in enumerate(cols)})
    wh.write_many(
        [Batch("opportunities", pa.table(OPPS)), Batch("opportunity_stage_history", history)]
    )


def test_pipeline_as_of_each_date(warehouse: Warehouse) -> None:
    _load(warehouse)
    dates = [date(2026, 1, 4), date(2026, 2, 10), date(2026, 3, 20), date(2026, 3, 19)]
    expr = pipeline_as_of(
        warehouse.table("opportunity_stage_history"),
        warehouse.table("opportunities"),
        dates,
        PipelineConfig(),
    )
    df = warehouse.execute(expr).sort_values(["as_of", "opportunity_id"])
    got = {
        (r.as_of.date() if hasattr(r.as_of, "date") else r.as_of, r.opportunity_id): (
            r.stage,
            r.amount,
            r.close_date.date() if hasattr(r.close_date, "date") else r.close_date,
            bool(r.is_open),
        )
        for r in df.itertuples()
    }
    assert got == {
        # Jan 4: nothing created yet. Feb 10 (end of day): o1 pushed to Mar 31 that morning,
        # o2 in Prospecting, o3 still open (lost on Feb 15).
        (date(2026, 2, 10), "o1"): ("Discovery", 10_000.0, date(2026, 3, 31), True),
        (date(2026, 2, 10), "o2"): ("Prospecting", 8_000.0, date(2026, 5, 31), True),
        (date(2026, 2, 10), "o3"): ("Prospecting", 5_000.0, date(2026, 2, 28), True),
        # Mar 19: o1 still in Discovery, o2 skipped to Proposal, o3 lost.
        (date(2026, 3, 19), "o1"): ("Discovery", 10_000.0, date(2026, 3, 31), True),
        (date(2026, 3, 19), "o2"): ("Proposal", 8_000.0, date(2026, 5, 31), True),
        (date(2026, 3, 19), "o3"): ("Closed Lost", 5_000.0, date(2026, 2, 15), False),
        # Mar 20 (end of day): o1 won at 15:00 with 12k.
        (date(2026, 3, 20), "o1"): ("Closed Won", 12_000.0, date(2026, 3, 20), False),
        (date(2026, 3, 20), "o2"): ("Proposal", 8_000.0, date(2026, 5, 31), True),
        (date(2026, 3, 20), "o3"): ("Closed Lost", 5_000.0, date(2026, 2, 15), False),
    }


def test_open_only_sums_open_pipeline(warehouse: Warehouse) -> None:
    _load(warehouse)
    expr = pipeline_as_of(
        warehouse.table("opportunity_stage_history"),
        warehouse.table("opportunities"),
        [date(2026, 2, 10), date(2026, 3, 20)],
        PipelineConfig(),
        open_only=True,
    )
    totals = warehouse.execute(expr.group_by("as_of").aggregate(open=expr.amount.sum()))
    by_day = {
        (d.date() if hasattr(d, "date") else d): v
        for d, v in zip(totals.as_of, totals.open, strict=True)
    }
    # Feb 10: 10k + 8k + 5k open; Mar 20: only o2's 8k.
    assert by_day == {date(2026, 2, 10): 23_000.0, date(2026, 3, 20): 8_000.0}
