"""A small warehouse with one data subject in every table that can mention a person.

Built on the hand-worked funnel of tests/metrics/funnel_case.py, so the funnel metric totals
are known; person P1 becomes Zephyrine Quillfeather (distinctive enough that any leftover
byte is hers) and gets rows in every person-referencing table, derived ones included: a
merged-away duplicate (P1B, through the real merge engine), consent events, routing decisions
whose text names her, a quality fix that logged her old email, dedupe output, a lead score, an
SLA clock, attribution credit, an account match, an audit entry about her, and two quarantine
rows: one with her email, one refused for a mistyped email that still carries her names.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).parents[1] / "metrics"))

from funnel_case import load as load_funnel

from revops.audit import record
from revops.config.identity import MergeConfig
from revops.identity.merge import merge
from revops.warehouse import Warehouse

EMAIL = "Zephyrine.Quillfeather@Example.org"
FIRST, LAST = "Zephyrine", "Quillfeather"
PHONE = "+44 20 7946 0958"
PHONE_DIGITS = "2079460958"
TITLE = "Chief Xylophone Officer"
NEEDLES = ("zephyrine", "quillfeather", "7946 0958", "xylophone")
T = datetime(2024, 1, 6, 9, 0)


def _one(wh: Warehouse, name: str, row: dict[str, object]) -> None:
    wh.write(name, pa.table({k: [v] for k, v in row.items()}))


def build(wh: Warehouse) -> None:
    load_funnel(wh)
    wh.write(
        "persons",
        pa.table(
            {
                "person_id": ["P1", "P1B"],
                "email": [EMAIL, "zephyrine.quillfeather+events@example.org"],
                "first_name": [FIRST, "Zephy"],
                "last_name": [LAST, LAST],
                "phone": [PHONE, "020 7946 0958"],
                "title": [TITLE, None],
                "company": ["Acme", "Acme"],
                "country": ["GB", "GB"],
                "created_at": [datetime(2024, 1, 5, 10), datetime(2023, 12, 1, 10)],
                "source": ["paid_search", "paid_search"],
                "source_campaign_id": ["C1", "C1"],
                "account_id": ["A1", "A1"],
                "owner_id": ["U1", "U1"],
            }
        ),
    )
    _one(
        wh,
        "touchpoints",
        {
            "touchpoint_id": "TP1",
            "person_id": "P1B",
            "occurred_at": T,
            "channel": "paid_search",
            "touch_type": "ad_click",
        },
    )
    merge(wh, MergeConfig(), "persons", "P1", ["P1B"], actor="test")
    _one(
        wh,
        "activities",
        {
            "activity_id": "ACT1",
            "activity_type": "call",
            "occurred_at": T,
            "user_id": "U1",
            "person_id": "P1",
            "subject": f"Call with {FIRST} {LAST} ({EMAIL})",
        },
    )
    _one(
        wh,
        "lifecycle_events",
        {"event_id": "LE1", "person_id": "P1", "stage": "MQL", "occurred_at": T},
    )
    _one(
        wh,
        "lifecycle_rejections",
        {
            "event_id": "LR1",
            "person_id": "P1",
            "to_stage": "Customer",
            "occurred_at": T,
            "reason": "skipped stages",
        },
    )
    _one(
        wh,
        "attribution_credits",
        {
            "model": "first_touch",
            "conversion_type": "mql",
            "conversion_id": "mql:P1",
            "level": "person",
            "entity_id": "P1",
            "person_id": "P1",
            "touchpoint_id": "TP1",
            "channel": "paid_search",
            "converted_at": T,
            "credit": 1.0,
        },
    )
    _one(
        wh,
        "routing_decisions",
        {
            "decision_id": "D1",
            "person_id": "P1",
            "owner_id": "U1",
            "rule": "uk_enterprise",
            "reason": f"lead {FIRST} {LAST} <{EMAIL.lower()}> matched uk_enterprise",
            "evaluated": json.dumps([{"rule": "uk", "reason": f"email {EMAIL} in GB"}]),
            "decided_at": T,
        },
    )
    _one(
        wh,
        "lead_scores",
        {"person_id": "P1", "scored_at": T, "fit": 30.0, "engagement": 20.0, "combined": 50.0},
    )
    _one(
        wh,
        "sla_clocks",
        {
            "clock_id": "S1",
            "person_id": "P1",
            "decision_id": "D1",
            "owner_id": "U1",
            "priority": "default",
            "started_at": T,
            "due_at": T,
            "breached": False,
            "breach_count": 0,
        },
    )
    _one(
        wh,
        "quality_changes",
        {
            "change_id": "F1-1",
            "fix_run_id": "F1",
            "table_name": "persons",
            "record_id": "P1",
            "field": "email",
            "before": f" {EMAIL.upper()} ",
            "after": EMAIL,
            "rule": "email_normalize",
            "changed_at": T,
        },
    )
    _one(
        wh,
        "account_matches",
        {
            "person_id": "P1",
            "account_id": "A1",
            "confidence": 0.9,
            "reason": "domain example.org",
            "candidates": 1,
            "applied": True,
            "matched_at": T,
        },
    )
    _one(
        wh,
        "dedupe_pairs",
        {
            "target_table": "persons",
            "left_id": "P1",
            "right_id": "P1B",
            "match_weight": 12.0,
            "match_probability": 0.99,
            "status": "auto_merge",
            "evidence": json.dumps({"email": {"level": 2, "weight": 9.1}}),
            "found_at": T,
        },
    )
    wh.write(
        "dedupe_clusters",
        pa.table(
            {
                "target_table": ["persons", "persons"],
                "cluster_id": ["P1", "P1"],
                "record_id": ["P1", "P1B"],
                "cluster_size": [2, 2],
                "min_pair_probability": [0.99, 0.99],
                "found_at": [T, T],
            }
        ),
    )
    _one(
        wh,
        "duplicate_alerts",
        {
            "alert_id": "L1-1",
            "load_id": "L1",
            "target_table": "persons",
            "record_id": "P1B",
            "matched_id": "P1",
            "rule": "same_email",
            "probability": 0.99,
            "created_at": T,
        },
    )
    raw_ok = {"Record ID": "P1X", "Email": EMAIL, "First Name": FIRST, "Last Name": LAST,
              "Create Date": "yesterday", "Phone Number": PHONE}  # fmt: skip
    raw_bad = {"Record ID": "P1Y", "Email": "zephyrine.quillfeather@", "First Name": FIRST,
               "Last Name": LAST, "Create Date": "2024-01-05 10:00"}  # fmt: skip
    wh.write(
        "quarantine",
        pa.table(
            {
                "load_id": ["L0", "L0"],
                "target_table": ["persons", "persons"],
                "file": ["hubspot_contacts.csv", "hubspot_contacts.csv"],
                "row_number": [3, 4],
                "field": ["created_at", "email"],
                "reason": [
                    "created_at: 'yesterday' is not a valid timestamp",
                    "email: 'zephyrine.quillfeather@' is not a valid email",
                ],
                "raw": [json.dumps(raw_ok), json.dumps(raw_bad)],
                "quarantined_at": [T, T],
            }
        ),
    )
    _one(
        wh,
        "consent_ledger",
        {
            "event_id": "CE1",
            "person_id": "P1",
            "purpose": "marketing",
            "channel": "email",
            "status": "opt_in",
            "lawful_basis": "consent",
            "source": "web_form",
            "recorded_at": T,
            "double_opt_in": "confirmed",
        },
    )
    record(wh, "test", "consent.recorded", "P1", {"purpose": "marketing", "status": "opt_in"})


def string_values(wh: Warehouse) -> dict[str, list[str]]:
    """Every non-null string cell of every table, lower-cased, by table."""
    from revops.warehouse.schema import TABLES

    out: dict[str, list[str]] = {}
    for t in TABLES:
        cols = [c.name for c in t.columns if c.type == "string"]
        if not cols:
            continue
        data = wh.to_arrow(wh.table(t.name).select(*cols))
        out[t.name] = [
            str(v).lower() for col in data.columns for v in col.to_pylist() if v is not None
        ]
    return out


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def traces(wh: Warehouse) -> dict[str, list[str]]:
    """Cells that still mention the subject, by table (phones compared on digits too)."""
    found: dict[str, list[str]] = {}
    for name, values in string_values(wh).items():
        hits = [v for v in values if any(n in v for n in NEEDLES) or PHONE_DIGITS in _digits(v)]
        if hits:
            found[name] = hits
    return found
