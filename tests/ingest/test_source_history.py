"""Salesforce history exports and the edges of a mapping, on committed real-format samples
(tests/cases/salesforce_org, written from the Salesforce Object Reference: LeadHistory,
OpportunityFieldHistory, OpportunitySplit) with every figure worked by hand in the test;
and Parquet timestamps with and without a time zone."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from test_source_exports import SF, SF_MODEL, counts, load, value

from revops.config import DEFAULT_CONFIG, OperatingModel
from revops.lifecycle import run_lifecycle
from revops.pipeline.stages import close_date_pushes, stage_moves
from revops.warehouse import Warehouse

O1, O4, O5, O7 = (f"0065g00000O{n}AAA" for n in (1, 4, 5, 7))


def _org(wh: Warehouse, *objects: str) -> None:
    m = SF_MODEL
    load(wh, SF / "User.csv", "users", "salesforce", m)
    load(wh, SF / "Account.csv", "accounts", "salesforce", m)
    if "leads" in objects:
        load(wh, SF / "Lead.csv", "persons", "salesforce.Lead", m)
    if "opportunities" in objects:
        load(wh, SF / "Opportunity.csv", "opportunities", "salesforce", m)


def test_lead_status_history_gives_dated_mqls(warehouse: Warehouse) -> None:
    m = SF_MODEL
    _org(warehouse, "leads")
    # The current Status has no date: kept as the custom field lead_status, never a stage.
    status = dict(warehouse.sql("SELECT person_id, lead_status FROM persons"))
    assert status["00Q5g00000L4AAA"] == "Working - Contacted"
    assert status["00Q5g00000L5AAA"] == "Open - Not Contacted"
    history = load(
        warehouse, SF / "LeadHistory.csv", "lifecycle_events", "salesforce.LeadHistory", m
    )
    # 10 rows: H9 deleted; H1 (`created`), H6 (Owner), H2 and H8 (Working - Contacted, no
    # stage) ignored; H3 L1 MQL, H4 L1 SAL, H5 L2 MQL, H7 L4 MQL (spelled in lower case) and
    # HA L7 Disqualified (Closed - Not Converted) loaded: 5 + 4 + 1 = 10.
    assert counts(history) == (10, 5, 0, 1)
    assert history.ignored == 4
    assert "ignored: 4 rows" in history.summary()
    logged = "SELECT rows_in, inserted, deleted, ignored FROM load_log WHERE load_id = "
    assert warehouse.sql(f"{logged}'{history.load_id}'") == [(10, 5, 1, 4)]
    report = run_lifecycle(warehouse, m.lifecycle)
    # Lead.csv: 7 Lead + 3 SQL (converted) + 2 Opportunity = 12; LeadHistory: 5 more
    assert (report.events, report.accepted, report.rejected) == (17, 17, 0)
    funnel = {n: value(warehouse, m, n)["value"].tolist() for n in ("leads", "mqls", "sqls")}
    assert funnel == {"leads": [7], "mqls": [3], "sqls": [3]}
    # lead → MQL within 60 days: L1, L2, L4 of the 7 leads
    assert value(warehouse, m, "lead_to_mql")["value"].tolist() == [pytest.approx(3 / 7)]
    # days from CreatedDate to the MQL status change: L1 Jan 2 15:00 → Jan 5 15:00 = 3.0;
    # L2 Jan 20 11:00 → Jan 25 23:00 = 5.5; L4 Mar 1 12:00 → Mar 8 12:00 = 7.0 (mean 5.1667)
    rows = warehouse.sql(
        "SELECT p.person_id, p.created_at, h.changed_at FROM lifecycle_history h "
        "JOIN persons p ON p.person_id = h.person_id WHERE h.to_stage = 'MQL' ORDER BY 1"
    )
    days = [(at - created).total_seconds() / 86_400 for _, created, at in rows]
    assert days == [3.0, 5.5, 7.0]
    assert sum(days) / len(days) == pytest.approx(5.1667, abs=1e-4)
    # conversion now skips only what the history did not show: L1 none, L2 SAL, L3 MQL and SAL
    skipped = dict(
        warehouse.sql("SELECT person_id, skipped FROM lifecycle_history WHERE to_stage = 'SQL'")
    )
    assert skipped["00Q5g00000L1AAA"] in (None, "")
    assert (skipped["00Q5g00000L2AAA"], skipped["00Q5g00000L3AAA"]) == ("SAL", "MQL|SAL")
    assert warehouse.sql(
        "SELECT from_stage, changed_at FROM lifecycle_history WHERE to_stage = 'Disqualified'"
    ) == [("Lead", dt.datetime(2024, 4, 5, 15))]


def test_opportunity_field_history_gives_pushes_and_regressions(warehouse: Warehouse) -> None:
    _org(warehouse, "opportunities")
    report = load(
        warehouse,
        SF / "OpportunityFieldHistory.csv",
        "opportunity_stage_history",
        "salesforce.OpportunityFieldHistory",
        SF_MODEL,
    )
    # 20 rows: F19 deleted; ignored: F05 and F17 (NextStep, untracked), F03 and F06 (folded
    # into the saves F04 and F07), F10 (folded into F11); 14 saves loaded: 14 + 5 + 1 = 20.
    assert counts(report) == (20, 14, 0, 1)
    assert report.ignored == 5
    rows = warehouse.sql(
        "SELECT history_id, stage, close_date, amount FROM opportunity_stage_history "
        f"WHERE opportunity_id = '{O1}' ORDER BY changed_at"
    )
    # before a field's first change it held that change's old value (created row F01)
    assert rows == [
        ("0175g00000F01AA", "Prospecting", dt.date(2024, 3, 1), 50_000.0),
        ("0175g00000F02AA", "Proposal", dt.date(2024, 3, 1), 50_000.0),
        ("0175g00000F04AA", "Negotiation", dt.date(2024, 3, 15), 50_000.0),
        ("0175g00000F07AA", "Closed Won", dt.date(2024, 3, 15), 55_000.0),
    ]
    # O5's close date never changed: missing, not invented; O7's stage never changed: the
    # opportunity's current stage (Prospecting)
    assert warehouse.sql(
        f"SELECT DISTINCT close_date FROM opportunity_stage_history WHERE opportunity_id = '{O5}'"
    ) == [(None,)]
    assert warehouse.sql(
        "SELECT stage, close_date, amount FROM opportunity_stage_history "
        f"WHERE opportunity_id = '{O7}'"
    ) == [("Prospecting", dt.date(2024, 7, 31), None)]
    h = warehouse.table("opportunity_stage_history")
    as_of = dt.date(2024, 12, 31)
    moves = warehouse.execute(stage_moves(h, SF_MODEL.pipeline, as_of))
    back = moves[moves["is_regression"]]
    # O4 went Negotiation → Proposal on 2024-03-20 (F10, saved with the push F11)
    assert back[["opportunity_id", "from_stage", "to_stage"]].values.tolist() == [
        [O4, "Negotiation", "Proposal"]
    ]
    pushes = warehouse.execute(close_date_pushes(h, as_of)).set_index("opportunity_id")
    # O1: Mar 1 → Mar 15; O4: Apr 15 → Apr 30 → May 31 (two pushes), then pulled in to
    # Apr 30 (no push): 15 days from the first close date to the last; O5 and O7: none
    assert pushes["pushes"].to_dict() == {O1: 1, O4: 2, O5: 0, O7: 0}
    assert pushes["days_pushed"].to_dict() == {O1: 14, O4: 15, O5: 0, O7: 0}


def test_a_deleted_split_is_identified_by_both_key_columns(warehouse: Warehouse) -> None:
    m = SF_MODEL
    _org(warehouse, "opportunities")
    first = load(warehouse, SF / "OpportunitySplit.csv", "opportunity_splits", "salesforce", m)
    assert counts(first) == (3, 3, 0, 0)
    # the queryAll export: S1 now 100 %, S2 (O1, Ben) deleted, S4 (O3, Ana) deleted but never
    # stored, S3 unchanged
    again = load(
        warehouse, SF / "OpportunitySplit_queryAll.csv", "opportunity_splits", "salesforce", m
    )
    assert (again.rows_in, again.updated, again.unchanged, again.deleted) == (4, 1, 1, 2)
    assert warehouse.sql(
        "SELECT opportunity_id, user_id, percent FROM opportunity_splits ORDER BY 1, 2"
    ) == [
        (O1, "0055g00000U1AAA", 100.0),  # the same deal's other split stays
        ("0065g00000O2AAA", "0055g00000U2AAA", 100.0),
    ]
    assert warehouse.sql("SELECT target_table, record_id, source FROM source_deletions") == [
        ("opportunity_splits", f"{O1}|0055g00000U2AAA", "salesforce.OpportunitySplit")
    ]


def _model_in(zone: str) -> OperatingModel:
    data: dict[str, Any] = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    data["company"]["timezone"] = zone
    return OperatingModel.model_validate(data)


def test_parquet_naive_times_are_read_in_the_source_zone_and_zoned_ones_converted_once(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    """CreatedDate is naive (ms), read in company.timezone New York; LastModifiedDate holds the
    same instants zoned (µs, America/New_York), converted, never shifted a second time."""
    local = [
        dt.datetime(2024, 1, 15, 9, 0),  # EST, UTC-5 → 14:00Z
        dt.datetime(2024, 7, 15, 9, 0),  # EDT, UTC-4 → 13:00Z
        dt.datetime(2024, 3, 10, 2, 30),  # skipped hour: read as 03:30 EDT → 07:30Z
        dt.datetime(2024, 11, 3, 1, 30),  # repeated hour: the first (EDT) → 05:30Z
    ]
    utc = [
        dt.datetime(2024, 1, 15, 14),
        dt.datetime(2024, 7, 15, 13),
        dt.datetime(2024, 3, 10, 7, 30),
        dt.datetime(2024, 11, 3, 5, 30),
    ]
    zoned = [u.replace(tzinfo=dt.UTC) for u in utc]
    ids = [f"00Q5g00000P{i}AAA" for i in range(1, 5)]
    path = tmp_path / "Lead.parquet"
    pq.write_table(
        pa.table(
            {
                "Id": ids,
                "LastName": ["A", "B", "C", "D"],
                "Email": [f"{n}@x.example" for n in "abcd"],
                "Company": ["X", "X", "X", "X"],
                "CreatedDate": pa.array(local, pa.timestamp("ms")),
                "LastModifiedDate": pa.array(zoned, pa.timestamp("us", "UTC")).cast(
                    pa.timestamp("us", "America/New_York")
                ),
            }
        ),
        path,
    )
    model = _model_in("America/New_York")
    report = load(warehouse, path, "persons", "salesforce.Lead", model)
    assert counts(report) == (4, 4, 0, 0)
    rows = warehouse.sql("SELECT created_at, updated_at FROM persons ORDER BY person_id")
    assert rows == list(zip(utc, utc, strict=True))
    # without a mapping a Parquet file is read as it stands, as a CSV is: naive times are UTC
    plain = tmp_path / "plain.parquet"
    pq.write_table(
        pa.table(
            {
                "person_id": ["p1"],
                "email": ["p1@x.example"],
                "created_at": pa.array([local[0]], pa.timestamp("ms")),
            }
        ),
        plain,
    )
    load(warehouse, plain, "persons", None, model)
    assert warehouse.sql("SELECT created_at FROM persons WHERE person_id = 'p1'") == [(local[0],)]
