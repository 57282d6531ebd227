"""The UTM and campaign taxonomy audit on a hand-worked dataset, on DuckDB and PostgreSQL.

Taxonomy (quality_data.QUALITY): sources google, linkedin; mediums cpc, paid_social; channels
paid_search, paid_social, direct, webinar; direct is untracked (no UTM expected).

id  campaign  day         source    medium       channel      issues
T1  C1        2025-01-05  google    cpc          paid_search  -
T2  C1        2025-01-20  Google    cpc          paid_search  source case
T3  C1        2025-02-03  -         -            paid_search  source, medium missing
T4  C2        2025-02-10  bing      CPC          paid_search  source unknown, medium case
T5  C2        2025-02-11  -         -            direct       - (untracked)
T6  -         2025-02-12  linkedin  paid_social  Paid_Social  channel case
T7  C3        2025-01-30  linkedin  paid_social  tv           channel unknown
Campaigns C1 paid_search, C2 'Paid Search' (off-taxonomy), C3 webinar (no spend).
Spend C1, C2 and CX (no such campaign: 2 rows, 30 + 20).
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
from quality_data import model

from revops.quality.utm import TaxonomyMissing, audit
from revops.warehouse import Warehouse

D = dt.date
TP = [
    ("T1", "C1", D(2025, 1, 5), "google", "cpc", "paid_search"),
    ("T2", "C1", D(2025, 1, 20), "Google", "cpc", "paid_search"),
    ("T3", "C1", D(2025, 2, 3), None, None, "paid_search"),
    ("T4", "C2", D(2025, 2, 10), "bing", "CPC", "paid_search"),
    ("T5", "C2", D(2025, 2, 11), None, None, "direct"),
    ("T6", None, D(2025, 2, 12), "linkedin", "paid_social", "Paid_Social"),
    ("T7", "C3", D(2025, 1, 30), "linkedin", "paid_social", "tv"),
]


def _load(wh: Warehouse) -> None:
    wh.write(
        "touchpoints",
        pa.table(
            {
                "touchpoint_id": [t[0] for t in TP],
                "person_id": ["P1"] * len(TP),
                "campaign_id": [t[1] for t in TP],
                "occurred_at": [dt.datetime.combine(t[2], dt.time(10)) for t in TP],
                "utm_source": [t[3] for t in TP],
                "utm_medium": [t[4] for t in TP],
                "channel": [t[5] for t in TP],
                "touch_type": ["web_visit"] * len(TP),
            }
        ),
    )
    wh.write(
        "campaigns",
        pa.table(
            {
                "campaign_id": ["C1", "C2", "C3"],
                "name": ["Search", "Search 2", "Webinar"],
                "channel": ["paid_search", "Paid Search", "webinar"],
                "budget": [100.0, 50.0, 70.0],
            }
        ),
    )
    wh.write(
        "campaign_spend",
        pa.table(
            {
                "campaign_id": ["C1", "C2", "CX", "CX"],
                "spend_date": [D(2025, 1, 1), D(2025, 1, 1), D(2025, 1, 1), D(2025, 1, 2)],
                "amount": [10.0, 5.0, 30.0, 20.0],
            }
        ),
    )


def test_issues_per_campaign_and_month(warehouse: Warehouse) -> None:
    _load(warehouse)
    result = audit(warehouse, model().quality.utm)
    by_campaign = {
        r.campaign_id: (r.touchpoints, r.missing, r.case, r.unknown)
        for r in result.by_campaign.itertuples()
    }
    assert by_campaign == {
        "C1": (3, 2, 1, 0),
        "C2": (2, 0, 1, 1),
        None: (1, 0, 1, 0),
        "C3": (1, 0, 0, 1),
    }
    months = {
        str(r.month)[:7]: (r.touchpoints, r.missing, r.case, r.unknown)
        for r in result.by_month.itertuples()
    }
    assert months == {"2025-01": (3, 0, 1, 1), "2025-02": (4, 2, 2, 1)}


def test_offending_values_and_spend_reconciliation(warehouse: Warehouse) -> None:
    _load(warehouse)
    result = audit(warehouse, model().quality.utm)
    values = {
        (r.field, None if r.value is None else r.value, r.issue): r.touchpoints
        for r in result.values.itertuples()
    }
    assert values == {
        ("utm_source", "Google", "case"): 1,
        ("utm_source", None, "missing"): 1,
        ("utm_medium", None, "missing"): 1,
        ("utm_source", "bing", "unknown"): 1,
        ("utm_medium", "CPC", "case"): 1,
        ("channel", "Paid_Social", "case"): 1,
        ("channel", "tv", "unknown"): 1,
    }
    assert result.campaign_channels[["campaign_id", "issue"]].values.tolist() == [["C2", "unknown"]]
    assert result.campaigns_without_spend["campaign_id"].tolist() == ["C3"]
    orphan = result.spend_without_campaign
    assert orphan.values.tolist() == [["CX", 2, 50.0]]


def test_no_taxonomy_is_a_user_error(warehouse: Warehouse) -> None:
    with pytest.raises(TaxonomyMissing, match=r"quality\.utm"):
        audit(warehouse, None)
