"""Column presets: how Salesforce, HubSpot and Marketo name things, mapped to the data model.

A preset is data, not code: for each canonical table, the export's column names and, where the
source system uses its own picklist labels (Salesforce's "New Business", HubSpot's
"PAID_SEARCH"), the value map to canonical values. Unmapped values pass through and are then
validated like any other value, so an unknown label is quarantined with its reason, not lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TablePreset:
    """Export column → canonical column, plus per-column value maps (matched case-insensitively)."""

    columns: dict[str, str]
    values: dict[str, dict[str, str]] = field(default_factory=dict)


_CHANNELS = {
    "paid search": "paid_search",
    "paid_search": "paid_search",
    "organic search": "organic_search",
    "organic_search": "organic_search",
    "paid social": "paid_social",
    "paid_social": "paid_social",
    "social media": "social",
    "social_media": "social",
    "email marketing": "email",
    "email_marketing": "email",
    "direct traffic": "direct",
    "direct_traffic": "direct",
    "referrals": "referral",
    "offline sources": "events",
    "offline": "events",
    "trade show": "events",
    "webinar": "webinar",
    "partner": "partner",
    "outbound": "outbound",
}

_SF_OPP_TYPES = {
    "new business": "new_business",
    "new customer": "new_business",
    "existing customer - upgrade": "expansion",
    "existing business": "expansion",
    "upsell": "expansion",
    "existing customer - renewal": "renewal",
    "renewal": "renewal",
}
_SF_FORECAST = {
    "pipeline": "pipeline",
    "best case": "best_case",
    "commit": "commit",
    "omitted": "omitted",
    "closed": "closed",
}
_SEGMENTS = {
    "smb": "smb",
    "mid-market": "mid_market",
    "mid market": "mid_market",
    "enterprise": "enterprise",
}

SALESFORCE: dict[str, TablePreset] = {
    "accounts": TablePreset(
        {
            "Id": "account_id",
            "Name": "name",
            "Website": "domain",
            "Industry": "industry",
            "NumberOfEmployees": "employees",
            "AnnualRevenue": "annual_revenue",
            "BillingCountryCode": "country",
            "Region__c": "region",
            "Segment__c": "segment",
            "OwnerId": "owner_id",
            "Territory__c": "territory_id",
            "ParentId": "parent_account_id",
            "CreatedDate": "created_at",
        },
        {"segment": _SEGMENTS},
    ),
    "persons": TablePreset(
        {
            "Id": "person_id",
            "Email": "email",
            "FirstName": "first_name",
            "LastName": "last_name",
            "Company": "company",
            "Title": "title",
            "Phone": "phone",
            "CountryCode": "country",
            "StateCode": "state",
            "NumberOfEmployees": "employees",
            "Industry": "industry",
            "LeadSource": "source",
            "AccountId": "account_id",
            "OwnerId": "owner_id",
            "CreatedDate": "created_at",
            "LastModifiedDate": "updated_at",
        },
        {"source": _CHANNELS},
    ),
    "users": TablePreset(
        {
            "Id": "user_id",
            "Name": "name",
            "Email": "email",
            "Team__c": "team",
            "Role__c": "role",
            "Region__c": "region",
            "TimeZoneSidKey": "timezone",
            "ManagerId": "manager_id",
            "Territory__c": "territory_id",
            "IsActive": "is_active",
            "StartDate__c": "start_date",
        }
    ),
    "campaigns": TablePreset(
        {
            "Id": "campaign_id",
            "Name": "name",
            "Channel__c": "channel",
            "Type": "campaign_type",
            "Status": "status",
            "StartDate": "start_date",
            "EndDate": "end_date",
            "BudgetedCost": "budget",
        },
        {"channel": _CHANNELS},
    ),
    "opportunities": TablePreset(
        {
            "Id": "opportunity_id",
            "Name": "name",
            "AccountId": "account_id",
            "OwnerId": "owner_id",
            "ContactId": "person_id",
            "Type": "opportunity_type",
            "StageName": "stage",
            "Amount": "amount",
            "Probability": "probability",
            "ForecastCategoryName": "forecast_category",
            "NextStep": "next_step",
            "LeadSource": "lead_source",
            "CampaignId": "campaign_id",
            "CreatedDate": "created_date",
            "CloseDate": "close_date",
            "IsClosed": "is_closed",
            "IsWon": "is_won",
        },
        {
            "opportunity_type": _SF_OPP_TYPES,
            "forecast_category": _SF_FORECAST,
            "lead_source": _CHANNELS,
        },
    ),
    "opportunity_stage_history": TablePreset(
        {
            "Id": "history_id",
            "OpportunityId": "opportunity_id",
            "StageName": "stage",
            "CreatedDate": "changed_at",
            "Amount": "amount",
            "CloseDate": "close_date",
            "ForecastCategory": "forecast_category",
            "Probability": "probability",
        },
        {"forecast_category": _SF_FORECAST},
    ),
    "activities": TablePreset(
        {
            "Id": "activity_id",
            "TaskSubtype": "activity_type",
            "ActivityDate": "occurred_at",
            "OwnerId": "user_id",
            "WhoId": "person_id",
            "AccountId": "account_id",
            "WhatId": "opportunity_id",
            "Subject": "subject",
            "CallDisposition": "outcome",
        },
        {
            "activity_type": {
                "call": "call",
                "email": "email",
                "task": "task",
                "event": "meeting",
                "meeting": "meeting",
                "note": "note",
            }
        },
    ),
}

HUBSPOT: dict[str, TablePreset] = {
    "persons": TablePreset(
        {
            "Record ID": "person_id",
            "Email": "email",
            "First Name": "first_name",
            "Last Name": "last_name",
            "Company Name": "company",
            "Job Title": "title",
            "Phone Number": "phone",
            "Country/Region Code": "country",
            "State/Region Code": "state",
            "Number of Employees": "employees",
            "Industry": "industry",
            "Original Source": "source",
            "Original Source Campaign": "source_campaign_id",
            "Contact Type": "person_type",
            "Associated Company ID": "account_id",
            "Contact owner ID": "owner_id",
            "Create Date": "created_at",
            "Last Modified Date": "updated_at",
        },
        {"source": _CHANNELS, "person_type": {"lead": "lead", "contact": "contact"}},
    ),
    "accounts": TablePreset(
        {
            "Record ID": "account_id",
            "Company name": "name",
            "Company Domain Name": "domain",
            "Industry": "industry",
            "Number of Employees": "employees",
            "Annual Revenue": "annual_revenue",
            "Country/Region Code": "country",
            "Company owner ID": "owner_id",
            "Create Date": "created_at",
        }
    ),
    "opportunities": TablePreset(
        {
            "Record ID": "opportunity_id",
            "Deal Name": "name",
            "Associated Company ID": "account_id",
            "Deal owner ID": "owner_id",
            "Deal Type": "opportunity_type",
            "Deal Stage": "stage",
            "Amount": "amount",
            "Deal probability": "probability",
            "Forecast category": "forecast_category",
            "Original Source Type": "lead_source",
            "Create Date": "created_date",
            "Close Date": "close_date",
            "Is Closed": "is_closed",
            "Is Closed Won": "is_won",
        },
        {
            "opportunity_type": {
                "newbusiness": "new_business",
                "existingbusiness": "expansion",
                "renewal": "renewal",
            },
            "forecast_category": _SF_FORECAST,
            "lead_source": _CHANNELS,
        },
    ),
}

MARKETO: dict[str, TablePreset] = {
    "persons": TablePreset(
        {
            "Id": "person_id",
            "Email Address": "email",
            "First Name": "first_name",
            "Last Name": "last_name",
            "Company Name": "company",
            "Job Title": "title",
            "Phone Number": "phone",
            "Country": "country",
            "State": "state",
            "Number of Employees": "employees",
            "Industry": "industry",
            "Lead Source": "source",
            "Acquisition Program Id": "source_campaign_id",
            "SFDC Account ID": "account_id",
            "Created At": "created_at",
            "Updated At": "updated_at",
        },
        {"source": _CHANNELS},
    ),
    "touchpoints": TablePreset(
        {
            "marketoGUID": "touchpoint_id",
            "leadId": "person_id",
            "activityDate": "occurred_at",
            "activityTypeName": "touch_type",
            "channel": "channel",
            "campaignId": "campaign_id",
            "utm_source": "utm_source",
            "utm_medium": "utm_medium",
            "utm_campaign": "utm_campaign",
        },
        {
            "touch_type": {
                "visit webpage": "web_visit",
                "fill out form": "form_fill",
                "download content": "content_download",
                "request demo": "demo_request",
                "open email": "email_open",
                "click email": "email_click",
                "click ad": "ad_click",
                "attend event": "event_attended",
                "attend webinar": "webinar_attended",
                "chat": "chat",
                "meeting": "meeting",
            },
            "channel": _CHANNELS,
        },
    ),
    "campaigns": TablePreset(
        {
            "Program ID": "campaign_id",
            "Program Name": "name",
            "Channel": "channel",
            "Program Type": "campaign_type",
            "Status": "status",
            "Start Date": "start_date",
            "End Date": "end_date",
            "Budget": "budget",
        },
        {"channel": _CHANNELS},
    ),
    "campaign_spend": TablePreset(
        {"Program ID": "campaign_id", "Cost Date": "spend_date", "Cost": "amount"}
    ),
}

PRESETS: dict[str, dict[str, TablePreset]] = {
    "salesforce": SALESFORCE,
    "hubspot": HUBSPOT,
    "marketo": MARKETO,
}


def preset_for(preset: str | None, table: str) -> TablePreset | None:
    """The preset's mapping for `table`; None means canonical column names are expected."""
    if preset is None:
        return None
    try:
        tables = PRESETS[preset]
    except KeyError:
        raise ValueError(f"unknown preset {preset!r}; known: {', '.join(PRESETS)}") from None
    try:
        return tables[table]
    except KeyError:
        raise ValueError(
            f"preset {preset!r} has no mapping for table {table!r}; "
            f"it maps: {', '.join(sorted(tables))}"
        ) from None


def export_columns(preset: str, table: str) -> dict[str, str]:
    """Canonical column → export column name, for writers that produce preset-shaped files."""
    mapping = preset_for(preset, table)
    assert mapping is not None
    return {canonical: source for source, canonical in mapping.columns.items()}
