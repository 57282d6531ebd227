"""The hand-made exports in tests/cases, with real Salesforce / HubSpot / Marketo column names."""

from __future__ import annotations

import datetime as dt
import json

from ingest_helpers import CASES, column, quarantined

from revops.ingest import load_file
from revops.warehouse import Warehouse


def test_salesforce_accounts(warehouse: Warehouse) -> None:
    report = load_file(warehouse, CASES / "salesforce_accounts.csv", "accounts", "salesforce")
    assert (report.rows_in, report.inserted, report.updated, report.quarantined) == (6, 3, 0, 3)
    assert report.ignored_columns == ("Description",)
    assert report.problems == {
        ("employees", "int"): 1,
        ("region", "enum"): 1,
        ("segment", "enum"): 1,
        ("name", "required"): 1,
    }
    rows = warehouse.sql(
        "SELECT account_id, name, employees, region, segment, created_at "
        "FROM accounts ORDER BY account_id"
    )
    assert rows == [
        # "1,200" has a thousands separator; "Mid-Market" goes through the segment value map.
        (
            "0015g00000A1AAA",
            "Acme, Inc.",
            1200,
            "NA",
            "mid_market",
            dt.datetime(2023, 3, 14, 9, 30),
        ),
        # "emea" matches the enum case-insensitively; +0200 is converted to UTC.
        ("0015g00000A2AAA", "Globex GmbH", 85, "EMEA", "smb", dt.datetime(2023, 4, 2, 12, 5)),
        ("0015g00000A3AAA", "Initech", 12000, "NA", "enterprise", dt.datetime(2023, 5, 20, 8, 0)),
    ]
    bad = quarantined(warehouse, report.load_id)
    assert [(r[0], r[1]) for r in bad] == [(4, "employees"), (5, "region"), (6, "name")]
    assert bad[0][2] == "employees: 'lots' is not a valid integer"
    assert bad[1][2] == (
        "region: 'Mars' is not one of NA, EMEA, APAC, LATAM; "
        "segment: 'Huge' is not one of smb, mid_market, enterprise"
    )
    assert bad[2][2] == "name: required value is empty"
    assert json.loads(bad[0][3])["NumberOfEmployees"] == "lots"


def test_salesforce_opportunities_us_dates_and_value_maps(warehouse: Warehouse) -> None:
    report = load_file(
        warehouse, CASES / "salesforce_opportunities.csv", "opportunities", "salesforce"
    )
    assert (report.rows_in, report.inserted, report.quarantined) == (4, 3, 1)
    rows = warehouse.sql(
        "SELECT opportunity_type, forecast_category, lead_source, amount, created_date, "
        "close_date, is_closed, is_won FROM opportunities ORDER BY opportunity_id"
    )
    assert rows[0] == (
        "new_business", "closed", "paid_search", 48000.0,
        dt.date(2024, 1, 5), dt.date(2024, 3, 29), True, True,
    )  # fmt: skip
    assert rows[1][:3] == ("expansion", "best_case", "referral")
    assert rows[2][0] == "renewal"
    assert rows[2][6:] == (True, False)
    [bad] = quarantined(warehouse, report.load_id)
    assert bad[:2] == (4, "opportunity_type")
    assert bad[2].split("; ") == [
        "opportunity_type: 'Pilot' is not one of new_business, expansion, renewal",
        "close_date: '6/31/2024' is not a valid date (use YYYY-MM-DD or MM/DD/YYYY)",
        "is_won: 'maybe' is not a valid boolean (use true/false, yes/no or 1/0)",
    ]


def test_hubspot_contacts(warehouse: Warehouse) -> None:
    report = load_file(warehouse, CASES / "hubspot_contacts.csv", "persons", "hubspot")
    assert (report.rows_in, report.inserted, report.quarantined) == (4, 2, 2)
    assert report.ignored_columns == ("Marketing contact status",)
    rows = warehouse.sql(
        "SELECT person_id, email, source, person_type, employees, created_at FROM persons "
        "ORDER BY person_id"
    )
    assert rows == [
        ("101", "ada@analytical.io", "paid_search", "lead", 250, dt.datetime(2024, 1, 5, 10, 30)),
        ("104", "dan@react.dev", "social", "contact", 70000, dt.datetime(2024, 1, 8, 14, 0)),
    ]
    bad = quarantined(warehouse, report.load_id)
    assert [(r[0], r[2]) for r in bad] == [
        (2, "email: 'bob@' is not a valid email"),
        (3, "person_type: 'Customer' is not one of lead, contact"),
    ]


def test_hubspot_deals(warehouse: Warehouse) -> None:
    report = load_file(warehouse, CASES / "hubspot_deals.csv", "opportunities", "hubspot")
    assert (report.rows_in, report.inserted, report.quarantined) == (3, 2, 1)
    assert column(warehouse, "opportunities", "opportunity_type", "opportunity_id") == [
        "new_business",
        "expansion",
    ]
    assert column(warehouse, "opportunities", "is_won", "opportunity_id") == [True, False]
    assert column(warehouse, "opportunities", "amount", "opportunity_id") == [24000.0, 8000.5]
    [bad] = quarantined(warehouse, report.load_id)
    assert bad[:3] == (3, "owner_id", "owner_id: required value is empty")


def test_marketo_leads(warehouse: Warehouse) -> None:
    report = load_file(warehouse, CASES / "marketo_leads.csv", "persons", "marketo")
    assert (report.rows_in, report.inserted, report.quarantined) == (4, 2, 2)
    rows = warehouse.sql("SELECT person_id, source, employees, created_at FROM persons")
    assert sorted(rows) == [
        ("2001", "webinar", 300000, dt.datetime(2024, 1, 2, 8, 0)),
        ("2004", "outbound", 150, dt.datetime(2024, 1, 4, 18, 0)),  # -08:00 → UTC
    ]
    bad = quarantined(warehouse, report.load_id)
    assert [(r[0], r[1]) for r in bad] == [(2, "email"), (3, "created_at")]
    assert bad[1][2].startswith("created_at: 'not yet' is not a valid timestamp")


def test_marketo_activities_jsonl(warehouse: Warehouse) -> None:
    report = load_file(warehouse, CASES / "marketo_activities.jsonl", "touchpoints", "marketo")
    assert (report.rows_in, report.inserted, report.quarantined) == (5, 3, 2)
    assert report.ignored_columns == ("primaryAttributeValue",)
    rows = warehouse.sql(
        "SELECT touchpoint_id, person_id, touch_type, channel, campaign_id, occurred_at "
        "FROM touchpoints ORDER BY touchpoint_id"
    )
    assert rows == [
        ("a-1", "2001", "web_visit", "paid_search", "1042", dt.datetime(2024, 1, 2, 8, 5)),
        ("a-2", "2001", "form_fill", "paid_search", "1042", dt.datetime(2024, 1, 2, 8, 9)),
        ("a-5", "2004", "demo_request", "outbound", None, dt.datetime(2024, 1, 5, 14, 0)),
    ]
    bad = quarantined(warehouse, report.load_id)
    # The blank line after row 3 is not a row, so "Send Fax" is data row 4.
    assert [(r[0], r[1]) for r in bad] == [(3, "(json)"), (4, "touch_type")]
    assert bad[0][2].startswith("malformed JSON: Expecting ',' delimiter")
    assert json.loads(bad[0][3])["_line"].startswith('{"marketoGUID": "a-3"')
    assert json.loads(bad[1][3])["activityTypeName"] == "Send Fax"


def test_marketo_program_costs_repeats_count_as_updates(warehouse: Warehouse) -> None:
    report = load_file(warehouse, CASES / "marketo_program_costs.csv", "campaign_spend", "marketo")
    # Rows 3 and 4 share a key: the later one is loaded, the earlier reported as a repeat.
    assert (report.rows_in, report.inserted, report.updated, report.quarantined) == (5, 3, 0, 1)
    assert (report.duplicates, report.duplicate_ids) == (1, (("1043/2024-01-15", (3, 4)),))
    rows = warehouse.sql("SELECT campaign_id, spend_date, amount FROM campaign_spend ORDER BY 1, 2")
    assert rows == [
        ("1042", dt.date(2024, 1, 1), 1500.0),
        ("1042", dt.date(2024, 2, 1), 1750.0),
        ("1043", dt.date(2024, 1, 15), 12500.0),
    ]
    [bad] = quarantined(warehouse, report.load_id)
    assert bad[:2] == (5, "spend_date")
