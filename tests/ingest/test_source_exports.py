"""A Salesforce org and a HubSpot portal exported in their real formats, loaded through the
shipped mappings, and the funnel and deal figures that come out, each worked by hand below.

tests/cases/salesforce_org: Data Export CSVs (API names, UTC `Z` times, IsDeleted rows).
tests/cases/hubspot_portal: CRM exports (display labels, owner names, `;` id lists, naive local
times in the portal's zone, America/New_York = the shipped company.timezone).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import yaml
from ingest_helpers import CASES

from revops.audit.log import verify
from revops.config import DEFAULT_CONFIG, OperatingModel
from revops.ingest import load_file
from revops.ingest.report import LoadReport
from revops.lifecycle import run_lifecycle
from revops.metrics import compute
from revops.pipeline.stages import close_date_pushes, stage_moves
from revops.warehouse import Warehouse

SF = CASES / "salesforce_org"
HS = CASES / "hubspot_portal"


def model_with(sources: dict[str, Any]) -> OperatingModel:
    """The shipped operating model with a `sources:` section laid over the shipped mappings."""
    data = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    return OperatingModel.model_validate({**data, "sources": sources})


# The org's own custom field on Account, declared in revops.yaml as a user would.
SF_MODEL = model_with({"salesforce": {"Account": {"custom": {"Tier__c": {"name": "tier"}}}}})
# The portal's second pipeline closes with its own stage labels.
HS_MODEL = model_with(
    {
        "hubspot": {
            "deals": {
                "closed": {"won": ["Closed Won", "Renewed"], "lost": ["Closed Lost", "Churned"]}
            }
        }
    }
)


def load(
    wh: Warehouse, path: Any, table: str, preset: str | None, model: OperatingModel
) -> LoadReport:
    report = load_file(wh, path, table, preset, model=model)
    accounted = (
        report.loaded + report.quarantined + report.duplicates + report.deleted + report.ignored
    )
    assert report.rows_in == accounted
    return report


def counts(r: LoadReport) -> tuple[int, int, int, int]:
    return (r.rows_in, r.inserted, r.quarantined, r.deleted)


def value(wh: Warehouse, model: OperatingModel, name: str, **kw: Any) -> Any:
    """The metric over all time (one row, or one per `by` value)."""
    return compute(wh, model, name, grain=None, **kw)


def load_org(wh: Warehouse) -> dict[str, LoadReport]:
    m = SF_MODEL
    return {
        "users": load(wh, SF / "User.csv", "users", "salesforce", m),
        "accounts": load(wh, SF / "Account.csv", "accounts", "salesforce", m),
        "leads": load(wh, SF / "Lead.csv", "persons", "salesforce.Lead", m),
        "opportunities": load(wh, SF / "Opportunity.csv", "opportunities", "salesforce", m),
        "history": load(
            wh,
            SF / "OpportunityHistory.csv",
            "opportunity_stage_history",
            "salesforce.OpportunityHistory",
            m,
        ),
        "campaigns": load(wh, SF / "Campaign.csv", "campaigns", "salesforce", m),
        "tasks": load(wh, SF / "Task.csv", "activities", "salesforce.Task", m),
        "events": load(wh, SF / "Event.csv", "activities", "salesforce.Event", m),
    }


def test_salesforce_rows_after_deletes_and_real_user_export(warehouse: Warehouse) -> None:
    r = load_org(warehouse)
    # (rows in, inserted, quarantined, deleted): one IsDeleted=true row in each but User
    assert counts(r["users"]) == (3, 3, 0, 0)
    assert counts(r["accounts"]) == (5, 4, 0, 1)
    assert counts(r["leads"]) == (8, 7, 0, 1)
    assert counts(r["opportunities"]) == (7, 6, 0, 1)
    assert counts(r["history"]) == (11, 10, 0, 1)
    assert counts(r["campaigns"]) == (5, 4, 0, 1)
    assert counts(r["tasks"]) == (4, 3, 0, 1)
    assert counts(r["events"]) == (2, 2, 0, 0)
    # A User export has FirstName/LastName, the role id, no custom fields: name is combined,
    # team is the role id, role stays unknown.
    users = warehouse.sql("SELECT user_id, name, team, role, is_active FROM users ORDER BY 1")
    assert users[0] == ("0055g00000U1AAA", "Ana Ruiz", "00E5g000000R1AA", None, True)
    assert users[2][4] is False
    # BillingCountry names become codes; Campaign.Type is the channel through the value map.
    assert warehouse.sql("SELECT country FROM accounts ORDER BY account_id") == [
        ("US",), ("DE",), ("US",), ("JP",)
    ]  # fmt: skip
    channels = warehouse.sql("SELECT channel FROM campaigns ORDER BY campaign_id")
    assert channels == [("webinar",), ("events",), ("paid_social",), ("email",)]
    # Opportunity's ForecastCategoryName says "Commit"; OpportunityHistory's ForecastCategory
    # says "Forecast" (the API value for Commit) and "BestCase": all land as canonical values.
    assert warehouse.sql(
        "SELECT forecast_category FROM opportunities WHERE opportunity_id = '0065g00000O5AAA'"
    ) == [("commit",)]
    history = dict(
        warehouse.sql("SELECT history_id, forecast_category FROM opportunity_stage_history")
    )
    assert (history["0085g00000H03AA"], history["0085g00000H06AA"]) == ("best_case", "commit")
    # Task.ActivityDate is a date; Event.ActivityDateTime a UTC datetime
    assert warehouse.sql("SELECT activity_type, occurred_at FROM activities ORDER BY activity_id")[
        0
    ] == ("call", dt.datetime(2024, 1, 5))


def test_salesforce_deal_figures(warehouse: Warehouse) -> None:
    load_org(warehouse)
    m = SF_MODEL
    # After deletes: O1 won 50,000; O2 won 20,000; O3 won, no amount; O4 lost 30,000; O5 and
    # O7 open. (O6, IsDeleted, would have added a won 99,999.)
    assert value(warehouse, m, "won_deals")["value"].tolist() == [3]
    assert value(warehouse, m, "win_rate")["value"].tolist() == [pytest.approx(3 / 4)]
    # by value: won amounts / closed amounts, both over known amounts: 70,000 / 100,000
    assert value(warehouse, m, "win_rate_by_value")["value"].tolist() == [pytest.approx(0.7)]
    assert value(warehouse, m, "bookings")["value"].tolist() == [70_000]
    # average won deal over the two known amounts; O3's missing amount is reported, not a 0
    avg = value(warehouse, m, "avg_deal_size")
    assert (avg["value"].tolist(), avg["missing"].tolist()) == ([35_000], [1])
    # cycle, created → closed, won deals: Jan 10 → Mar 15 = 65, Feb 1 → Apr 20 = 79 (2024 is
    # a leap year), Mar 1 → May 31 = 91: (65 + 79 + 91) / 3
    cycle = value(warehouse, m, "sales_cycle_days")["value"].tolist()
    assert cycle == [pytest.approx(235 / 3)]


def test_salesforce_regressions_and_close_date_pushes(warehouse: Warehouse) -> None:
    load_org(warehouse)
    h = warehouse.table("opportunity_stage_history")
    as_of = dt.date(2024, 12, 31)
    moves = warehouse.execute(stage_moves(h, SF_MODEL.pipeline, as_of))
    # O4 went Negotiation → Proposal on 2024-03-20: the one regression
    back = moves[moves["is_regression"]]
    assert back[["opportunity_id", "from_stage", "to_stage"]].values.tolist() == [
        ["0065g00000O4AAA", "Negotiation", "Proposal"]
    ]
    pushes = warehouse.execute(close_date_pushes(h, as_of)).set_index("opportunity_id")
    # O1: Mar 1 → Mar 15 (14 days); O4: Apr 15 → Apr 30 (15 days); O5 never moved
    assert pushes["pushes"].to_dict() == {
        "0065g00000O1AAA": 1, "0065g00000O4AAA": 1, "0065g00000O5AAA": 0
    }  # fmt: skip
    assert pushes.loc["0065g00000O4AAA", "days_pushed"] == 15


def test_salesforce_lead_funnel_and_conversion(warehouse: Warehouse) -> None:
    load_org(warehouse)
    report = run_lifecycle(warehouse, SF_MODEL.lifecycle)
    # Events from Lead.csv: every lead is a Lead at CreatedDate (7); L1, L2, L3 converted
    # (SQL at ConvertedDate); L1 and L2 with an opportunity (Opportunity): 7 + 3 + 2 = 12.
    # Opportunity.csv adds Customer for the primary contacts of the won O1 and O2, contacts
    # this test does not load: 2 more events, refused as unknown persons.
    assert (report.events, report.accepted, report.rejected) == (14, 12, 2)
    assert report.rejected_by_kind["unknown_person"] == 2
    m = SF_MODEL
    funnel = {name: value(warehouse, m, name)["value"].tolist() for name in ("leads", "sqls")}
    assert funnel == {"leads": [7], "sqls": [3]}
    assert value(warehouse, m, "mqls")["value"].fillna(0).tolist() in ([0], [])
    assert value(warehouse, m, "opportunity_persons")["value"].tolist() == [2]
    # Conversion skipped MQL and SAL in Salesforce: recorded as skipped, never entered.
    skipped = warehouse.sql(
        "SELECT person_id, skipped FROM lifecycle_history WHERE to_stage = 'SQL' ORDER BY 1"
    )
    assert skipped == [
        ("00Q5g00000L1AAA", "MQL|SAL"), ("00Q5g00000L2AAA", "MQL|SAL"),
        ("00Q5g00000L3AAA", "MQL|SAL"),
    ]  # fmt: skip
    # lead → opportunity: 2 of 7 leads within 90 days (L1 after 8 days, L2 after 12)
    conv = value(warehouse, m, "lead_to_opportunity")["value"].tolist()
    assert conv == [pytest.approx(2 / 7)]


def test_salesforce_metric_cut_and_filtered_by_a_custom_field(warehouse: Warehouse) -> None:
    load_org(warehouse)
    # Tier__c is declared in revops.yaml as custom field `tier` of accounts, so the bookings of
    # won deals can be cut by their account's tier: Gold = O1 50,000 (+ O3, amount missing),
    # Silver = O2 20,000. The deleted Hooli (Bronze) is nowhere.
    assert warehouse.sql("SELECT account_id, tier FROM accounts ORDER BY 1")[0] == (
        "0015g00000A1AAA",
        "Gold",
    )
    cut = value(warehouse, SF_MODEL, "bookings", by=["tier"]).set_index("tier")
    assert cut["value"].to_dict() == {"Gold": 50_000, "Silver": 20_000}
    gold = value(warehouse, SF_MODEL, "won_deals", where="tier == 'Gold'")
    assert gold["value"].tolist() == [2]


def load_portal(wh: Warehouse) -> dict[str, LoadReport]:
    m = HS_MODEL
    return {
        "owners": load(wh, HS / "owners.csv", "users", None, m),
        "companies": load(wh, HS / "companies.csv", "accounts", "hubspot", m),
        "contacts": load(wh, HS / "contacts.csv", "persons", "hubspot", m),
        "deals": load(wh, HS / "deals.csv", "opportunities", "hubspot", m),
    }


def test_hubspot_contacts_owners_lists_and_time_zones(warehouse: Warehouse) -> None:
    r = load_portal(warehouse)
    assert counts(r["companies"]) == (3, 3, 0, 0)
    # Fay's owner "Zed Unknown" is no user: her row is refused with that reason
    assert counts(r["contacts"]) == (6, 5, 1, 0)
    load_id = r["contacts"].load_id
    [(row, fld, reason)] = warehouse.sql(
        f"SELECT row_number, field, reason FROM quarantine WHERE load_id = '{load_id}'"
    )
    assert (row, fld) == (6, "owner_id")
    assert reason == "Contact owner: 'Zed Unknown' matches no user by name (load users first)"
    rows = warehouse.sql(
        "SELECT person_id, owner_id, account_id, country, created_at FROM persons ORDER BY 1"
    )
    # Ada: created 2024-03-09 22:30 in New York (EST, UTC-5) = 2024-03-10 03:30 UTC
    assert rows[0] == ("101", "31", "9001", "GB", dt.datetime(2024, 3, 10, 3, 30))
    # Bob: 2024-11-03 01:30 happened twice in New York; the first (EDT, UTC-4) is taken
    assert rows[1][4] == dt.datetime(2024, 11, 3, 5, 30)
    # Cy: "9003;9001" keeps the first associated company
    assert rows[2][2] == "9003"
    assert warehouse.sql("SELECT owner_id FROM accounts ORDER BY account_id") == [
        ("31",), ("32",), ("31",)
    ]  # fmt: skip


def test_hubspot_funnel_from_became_dates(warehouse: Warehouse) -> None:
    load_portal(warehouse)
    report = run_lifecycle(warehouse, HS_MODEL.lifecycle)
    # Became-dates: Ada 5, Bob 2, Cy 2 (Lead, SQL: no MQL date), Di 2, Ed 1; Fay not loaded
    assert (report.events, report.accepted, report.rejected) == (12, 12, 0)
    m = HS_MODEL
    got = {
        name: value(warehouse, m, name)["value"].tolist()
        for name in ("leads", "mqls", "sqls", "opportunity_persons", "customer_persons")
    }
    assert got == {
        "leads": [5],
        "mqls": [3],  # Ada, Bob, Di: Cy skipped MQL and is not counted
        "sqls": [2],  # Ada, Cy
        "opportunity_persons": [1],
        "customer_persons": [1],
    }
    skipped = dict(
        warehouse.sql("SELECT person_id, skipped FROM lifecycle_history WHERE to_stage = 'SQL'")
    )
    assert skipped == {"101": "SAL", "103": "MQL|SAL"}  # HubSpot has no SAL stage
    # Lead → MQL after the time-zone conversion:
    # Ada: Lead 2024-03-09 22:30 EST = 03-10 03:30Z; MQL "2024-03-10 02:30" does not exist
    #   (clocks jump 02:00 → 03:00): read as 03:30 EDT = 07:30Z → 4 hours.
    # Bob: Lead 11-03 01:30 (first, EDT) = 05:30Z; MQL 11-05 10:00 EST = 15:00Z → 57.5 hours.
    # Di: 02-01 08:00 → 02-03 08:00 EST → 48 hours.
    hours = warehouse.sql(
        "SELECT l.person_id, epoch(q.changed_at) - epoch(l.changed_at) "
        "FROM lifecycle_history l JOIN lifecycle_history q ON q.person_id = l.person_id "
        "WHERE l.to_stage = 'Lead' AND q.to_stage = 'MQL' ORDER BY 1"
        if warehouse.backend == "duckdb"
        else "SELECT l.person_id, extract(epoch from q.changed_at - l.changed_at) "
        "FROM lifecycle_history l JOIN lifecycle_history q ON q.person_id = l.person_id "
        "WHERE l.to_stage = 'Lead' AND q.to_stage = 'MQL' ORDER BY 1"
    )
    assert [(p, float(s) / 3600) for p, s in hours] == [("101", 4.0), ("102", 57.5), ("104", 48.0)]


def test_hubspot_deals_pipelines_and_figures(warehouse: Warehouse) -> None:
    r = load_portal(warehouse)
    assert counts(r["deals"]) == (6, 6, 0, 0)
    rows = warehouse.sql(
        "SELECT opportunity_id, account_id, owner_id, opportunity_type, is_closed, is_won, "
        "close_date FROM opportunities ORDER BY 1"
    )
    # "9001;9002" keeps 9001; "Ana Ruiz" is user 31; closed flags come from the stage labels
    assert rows[0] == ("5001", "9001", "31", "new_business", True, True, dt.date(2024, 3, 15))
    assert [(x[0], x[4], x[5]) for x in rows[1:]] == [
        ("5002", False, False), ("5003", True, False), ("5004", True, True),
        ("5005", True, False), ("5006", True, True),
    ]  # fmt: skip
    m = HS_MODEL
    # won 5001, 5004 (Renewed), 5006; lost 5003, 5005 (Churned): 3 of 5
    assert value(warehouse, m, "win_rate")["value"].tolist() == [pytest.approx(3 / 5)]
    # known won amounts 24,000 + 12,000; known closed 24,000 + 6,000 + 12,000 + 5,000
    assert value(warehouse, m, "bookings")["value"].tolist() == [36_000]
    assert value(warehouse, m, "win_rate_by_value")["value"].tolist() == [
        pytest.approx(36_000 / 47_000)
    ]
    avg = value(warehouse, m, "avg_deal_size")
    assert (avg["value"].tolist(), avg["missing"].tolist()) == ([18_000], [1])


def test_a_delete_for_a_stored_record_removes_it_with_an_audited_tombstone(
    warehouse: Warehouse, tmp_path: Any
) -> None:
    load_org(warehouse)
    # A later export: Acme Corp deleted in Salesforce (IsDeleted=true), Globex unchanged.
    text = (SF / "Account.csv").read_text(encoding="utf-8").splitlines()
    header, acme, globex = text[0], text[1], text[2]
    later = tmp_path / "Account.csv"
    later.write_text("\n".join([header, acme.replace(",false,", ",true,", 1), globex]) + "\n")
    report = load(warehouse, later, "accounts", "salesforce", SF_MODEL)
    assert counts(report) == (2, 0, 0, 1)
    ids = [r[0] for r in warehouse.sql("SELECT account_id FROM accounts ORDER BY 1")]
    assert ids == ["0015g00000A2AAA", "0015g00000A3AAA", "0015g00000A4AAA"]
    tomb = warehouse.sql("SELECT target_table, record_id, source, load_id FROM source_deletions")
    assert tomb == [("accounts", "0015g00000A1AAA", "salesforce.Account", report.load_id)]
    audit = warehouse.sql("SELECT action, subject FROM audit_log WHERE action = 'source.delete'")
    assert audit == [("source.delete", "accounts")]
    checked = verify(warehouse)
    assert checked.ok, checked.problems


def test_amounts_in_several_currencies_are_converted_at_dated_rates(warehouse: Warehouse) -> None:
    load(warehouse, SF / "currency_rates.csv", "currency_rates", None, SF_MODEL)
    report = load(
        warehouse, SF / "Opportunity_multicurrency.csv", "opportunities", "salesforce", SF_MODEL
    )
    # JPY has no rate at all; GBP has none on or before 2023-12-31: both refused with why
    assert counts(report) == (5, 3, 2, 0)
    reasons = [r[0] for r in warehouse.sql("SELECT reason FROM quarantine ORDER BY row_number")]
    assert reasons == [
        "Amount: no JPY→USD rate on or before 2024-04-01 in currency_rates",
        "Amount: no GBP→USD rate on or before 2023-12-31 in currency_rates",
    ]
    rows = warehouse.sql(
        "SELECT opportunity_id, amount, currency, original_amount FROM opportunities ORDER BY 1"
    )
    # EUR 10,000 closing 2024-03-31 takes the 2024-01-01 rate (1.10); closing 2024-04-01, the
    # 2024-04-01 rate (1.08); USD is the company currency
    assert rows == [
        ("0065g00000M1AAA", pytest.approx(11_000), "EUR", 10_000),
        ("0065g00000M2AAA", pytest.approx(10_800), "EUR", 10_000),
        ("0065g00000M3AAA", 5_000, "USD", 5_000),
    ]


MK = CASES / "marketo_instance"


def test_marketo_activity_channel_comes_from_its_program(warehouse: Warehouse) -> None:
    m = SF_MODEL
    assert counts(load(warehouse, MK / "programs.csv", "campaigns", "marketo", m)) == (3, 3, 0, 0)
    assert counts(load(warehouse, MK / "leads.csv", "persons", "marketo", m)) == (3, 3, 0, 0)
    report = load(warehouse, MK / "activities.csv", "touchpoints", "marketo", m)
    # the activity log has no channel: each activity takes its program's; a-0006 names
    # program 9999, which does not exist, so it has no channel and is refused
    assert counts(report) == (6, 5, 1, 0)
    rows = warehouse.sql("SELECT touchpoint_id, touch_type, channel FROM touchpoints ORDER BY 1")
    assert rows == [
        ("a-0001", "form_fill", "webinar"), ("a-0002", "webinar_attended", "webinar"),
        ("a-0003", "event_attended", "events"), ("a-0004", "ad_click", "paid_search"),
        ("a-0005", "web_visit", "paid_search"),
    ]  # fmt: skip
    [(row, fld)] = warehouse.sql(
        f"SELECT row_number, field FROM quarantine WHERE load_id = '{report.load_id}'"
    )
    assert (row, fld) == (6, "channel")


def test_salesforce_contact_roles_put_contacts_in_the_opportunity_stage(
    warehouse: Warehouse,
) -> None:
    m = SF_MODEL
    load(warehouse, SF / "User.csv", "users", "salesforce", m)
    load(warehouse, SF / "Account.csv", "accounts", "salesforce", m)
    load(warehouse, SF / "Opportunity.csv", "opportunities", "salesforce", m)
    contacts = load(warehouse, SF / "Contact.csv", "persons", "salesforce.Contact", m)
    assert counts(contacts) == (4, 3, 0, 1)
    assert warehouse.sql("SELECT DISTINCT person_type FROM persons") == [("contact",)]
    roles = load(
        warehouse,
        SF / "OpportunityContactRole.csv",
        "lifecycle_events",
        "salesforce.OpportunityContactRole",
        m,
    )
    assert counts(roles) == (4, 3, 0, 1)  # the deleted role (of a deleted contact) is no event
    report = run_lifecycle(warehouse, m.lifecycle)
    # 3 contact roles, and 2 won deals whose primary contact becomes a Customer at CloseDate
    assert (report.events, report.accepted, report.rejected) == (5, 5, 0)
    rows = warehouse.sql(
        "SELECT person_id, from_stage, to_stage, changed_at, skipped FROM lifecycle_history "
        "WHERE to_stage = 'Opportunity' ORDER BY 1"
    )
    # a contact first seen on a deal enters at Opportunity; the stages before were skipped
    assert rows[0] == (
        "0035g00000C1AAA", None, "Opportunity", dt.datetime(2024, 1, 10, 14, 5),
        "Lead|MQL|SAL|SQL",
    )  # fmt: skip
    assert value(warehouse, m, "opportunity_persons")["value"].tolist() == [3]
    customers = warehouse.sql(
        "SELECT person_id, from_stage, changed_at FROM lifecycle_history "
        "WHERE to_stage = 'Customer' ORDER BY 1"
    )
    assert customers == [
        ("0035g00000C1AAA", "Opportunity", dt.datetime(2024, 3, 15)),
        ("0035g00000C2AAA", "Opportunity", dt.datetime(2024, 4, 20)),
    ]


def test_salesforce_campaign_members_are_touchpoints_with_the_campaigns_channel(
    warehouse: Warehouse,
) -> None:
    m = SF_MODEL
    load(warehouse, SF / "Campaign.csv", "campaigns", "salesforce", m)
    report = load(warehouse, SF / "CampaignMember.csv", "touchpoints", "salesforce", m)
    # M4 is deleted; M3 was only "Sent" an email, which is no interaction: refused with why
    assert counts(report) == (4, 2, 1, 1)
    rows = warehouse.sql(
        "SELECT touchpoint_id, person_id, touch_type, channel, occurred_at FROM touchpoints "
        "ORDER BY 1"
    )
    assert rows == [
        # a lead's response, at FirstRespondedDate; the channel is the campaign's Type
        ("00v5g00000M1AAA", "00Q5g00000L5AAA", "event_attended", "webinar",
         dt.datetime(2024, 3, 14, 16, 0)),
        # a member with both ids is the contact
        ("00v5g00000M2AAA", "0035g00000C1AAA", "form_fill", "events",
         dt.datetime(2024, 4, 11, 9, 30)),
    ]  # fmt: skip
    [reason] = [r[0] for r in warehouse.sql("SELECT reason FROM quarantine")]
    assert reason.startswith("touch_type: 'Sent' is not one of web_visit")
