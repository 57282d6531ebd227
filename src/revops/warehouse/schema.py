"""The canonical revenue data model: every table revops knows, declared once.

Everything downstream reads this module: ingestion validates against it, the warehouse creates
tables from it, the metric layer resolves dimensions through its relations, and
`revops tables` / docs/data-model.md render it for analysts. Adding a column here is the whole
change needed for it to be loadable, stored and documented.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ColumnType = Literal["string", "int", "float", "bool", "date", "timestamp"]

SEGMENTS = ("smb", "mid_market", "enterprise")
REGIONS = ("NA", "EMEA", "APAC", "LATAM")
OPPORTUNITY_TYPES = ("new_business", "expansion", "renewal")
TOUCH_TYPES = (
    "web_visit",
    "form_fill",
    "content_download",
    "demo_request",
    "email_open",
    "email_click",
    "ad_click",
    "event_attended",
    "webinar_attended",
    "chat",
    "meeting",
)
ACTIVITY_TYPES = ("call", "email", "meeting", "task", "note")
USER_ROLES = ("sdr", "ae", "am", "csm", "manager", "marketing", "ops", "executive")
FORECAST_CATEGORIES = ("pipeline", "best_case", "commit", "omitted", "closed")
FORECAST_LEVELS = ("rep", "manager", "region", "company")
PERSON_TYPES = ("lead", "contact")
TICKET_PRIORITIES = ("low", "normal", "high", "urgent")
TICKET_STATUSES = ("open", "pending", "solved", "closed")
ARR_MOVEMENTS = ("new", "expansion", "contraction", "churn", "reactivation")
CONSENT_STATUSES = ("opt_in", "opt_out")
LAWFUL_BASES = (
    "consent",
    "contract",
    "legal_obligation",
    "vital_interests",
    "public_task",
    "legitimate_interest",
)
DOUBLE_OPT_IN_STATES = ("pending", "confirmed", "not_required")


@dataclass(frozen=True)
class Column:
    """One typed column. `enum` restricts values; `format` names an extra check (e.g. email)."""

    name: str
    type: ColumnType
    description: str
    required: bool = False
    enum: tuple[str, ...] | None = None
    format: Literal["email"] | None = None
    pii: bool = False  # stored encrypted when REVOPS_PII_KEY is set (warehouse/pii.py)


@dataclass(frozen=True)
class Relation:
    """A foreign key, named so dimension paths can follow it (`account.segment`)."""

    name: str
    column: str
    table: str


@dataclass(frozen=True)
class Table:
    """A canonical table: typed columns, a primary key and its relations to other tables.

    `time_column` is the default event time that metrics bucket by; `dimensions` maps the
    metric dictionary's dimension names (channel, segment, region, …) to a column of this table
    or to a dotted path through its relations.
    """

    name: str
    description: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    relations: tuple[Relation, ...] = ()
    time_column: str | None = None
    dimensions: dict[str, str] = field(default_factory=dict)
    system: bool = False

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"table {self.name!r} has no column {name!r}")

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def relation(self, name: str) -> Relation:
        for rel in self.relations:
            if rel.name == name:
                return rel
        raise KeyError(f"table {self.name!r} has no relation {name!r}")


def _c(
    name: str,
    type_: ColumnType,
    description: str,
    *,
    required: bool = False,
    enum: tuple[str, ...] | None = None,
    fmt: Literal["email"] | None = None,
    pii: bool = False,
) -> Column:
    return Column(name, type_, description, required=required, enum=enum, format=fmt, pii=pii)


_ACCOUNT_DIMS = {"segment": "account.segment", "region": "account.region"}

TABLES: tuple[Table, ...] = (
    Table(
        name="users",
        description="People who work leads and deals: reps, managers, CSMs, marketers.",
        primary_key=("user_id",),
        columns=(
            _c("user_id", "string", "CRM user id.", required=True),
            _c("name", "string", "Full name.", required=True),
            _c("email", "string", "Work email.", fmt="email"),
            _c("team", "string", "Team, e.g. 'EMEA Mid-Market AE' (Salesforce: the role id)."),
            _c("role", "string", "Role in the revenue team (exports rarely say).", enum=USER_ROLES),
            _c("region", "string", "Sales region.", enum=REGIONS),
            _c("timezone", "string", "IANA timezone, e.g. 'Europe/Berlin'."),
            _c("manager_id", "string", "The user's manager (users.user_id)."),
            _c("territory_id", "string", "Territory the user covers."),
            _c("is_active", "bool", "False once the user leaves; never routed to.", required=True),
            _c("start_date", "date", "First day; quota ramp starts here."),
        ),
        relations=(
            Relation("manager", "manager_id", "users"),
            Relation("territory", "territory_id", "territories"),
        ),
        dimensions={"region": "region", "owner": "user_id"},
    ),
    Table(
        name="territories",
        description="Sales territories: a region, a segment and the countries they cover.",
        primary_key=("territory_id",),
        columns=(
            _c("territory_id", "string", "Territory id.", required=True),
            _c("name", "string", "Display name, e.g. 'NA Enterprise'.", required=True),
            _c("region", "string", "Region.", required=True, enum=REGIONS),
            _c("segment", "string", "Company-size segment.", enum=SEGMENTS),
            _c("countries", "string", "ISO country codes covered, separated by '|'."),
            _c("owner_id", "string", "Manager who owns the territory (users.user_id)."),
        ),
        relations=(Relation("owner", "owner_id", "users"),),
        dimensions={"region": "region", "segment": "segment"},
    ),
    Table(
        name="accounts",
        description="Companies: prospects and customers.",
        primary_key=("account_id",),
        columns=(
            _c("account_id", "string", "CRM account id.", required=True),
            _c("name", "string", "Company name.", required=True),
            _c("domain", "string", "Website domain, e.g. 'acme.com'."),
            _c("industry", "string", "Industry."),
            _c("employees", "int", "Employee count."),
            _c("annual_revenue", "float", "Annual revenue in the company currency."),
            _c("country", "string", "ISO 3166 alpha-2 country code."),
            _c("region", "string", "Sales region.", enum=REGIONS),
            _c("segment", "string", "Company-size segment.", enum=SEGMENTS),
            _c("owner_id", "string", "Account owner (users.user_id)."),
            _c("territory_id", "string", "Territory (territories.territory_id)."),
            _c("parent_account_id", "string", "Parent in the account hierarchy."),
            _c("created_at", "timestamp", "When the account was created.", required=True),
            _c("csm_id", "string", "Customer success manager (users.user_id)."),
        ),
        relations=(
            Relation("owner", "owner_id", "users"),
            Relation("csm", "csm_id", "users"),
            Relation("territory", "territory_id", "territories"),
            Relation("parent", "parent_account_id", "accounts"),
        ),
        time_column="created_at",
        dimensions={"segment": "segment", "region": "region", "owner": "owner_id"},
    ),
    Table(
        name="persons",
        description="Leads and contacts: every human in the funnel, one row each.",
        primary_key=("person_id",),
        columns=(
            _c("person_id", "string", "Person id (lead or contact id).", required=True),
            _c("email", "string", "Email address.", required=True, fmt="email", pii=True),
            _c("first_name", "string", "First name.", pii=True),
            _c("last_name", "string", "Last name.", pii=True),
            _c("company", "string", "Company name as the person gave it."),
            _c("title", "string", "Job title."),
            _c("phone", "string", "Phone number.", pii=True),
            _c("country", "string", "ISO 3166 alpha-2 country code."),
            _c("state", "string", "State or province."),
            _c("employees", "int", "Company employee count as captured."),
            _c("industry", "string", "Industry as captured."),
            _c("source", "string", "Original source channel, e.g. 'paid_search'."),
            _c("source_campaign_id", "string", "Campaign that created the person."),
            _c("person_type", "string", "Lead or contact.", enum=PERSON_TYPES),
            _c("account_id", "string", "Matched account (accounts.account_id)."),
            _c("owner_id", "string", "Current owner (users.user_id)."),
            _c("lifecycle_stage", "string", "Current lifecycle stage (see revops.yaml)."),
            _c("created_at", "timestamp", "When the person was created.", required=True),
            _c("updated_at", "timestamp", "Last modification in the source system."),
            _c("seniority", "string", "Seniority derived from the title by `quality fix`."),
            _c("job_function", "string", "Job function derived from the title by `quality fix`."),
        ),
        relations=(
            Relation("account", "account_id", "accounts"),
            Relation("owner", "owner_id", "users"),
            Relation("campaign", "source_campaign_id", "campaigns"),
        ),
        time_column="created_at",
        dimensions={
            "channel": "source",
            "campaign": "source_campaign_id",
            "owner": "owner_id",
            **_ACCOUNT_DIMS,
        },
    ),
    Table(
        name="campaigns",
        description="Marketing campaigns and programs.",
        primary_key=("campaign_id",),
        columns=(
            _c("campaign_id", "string", "Campaign id.", required=True),
            _c("name", "string", "Campaign name.", required=True),
            _c("channel", "string", "Channel, e.g. 'paid_search', 'events'.", required=True),
            _c("campaign_type", "string", "Type, e.g. 'webinar', 'trade_show'."),
            _c("status", "string", "Planned, active or completed."),
            _c("start_date", "date", "First day."),
            _c("end_date", "date", "Last day."),
            _c("budget", "float", "Planned budget."),
        ),
        time_column="start_date",
        dimensions={"channel": "channel", "campaign": "campaign_id"},
    ),
    Table(
        name="campaign_spend",
        description="What was spent on a campaign, per day.",
        primary_key=("campaign_id", "spend_date"),
        columns=(
            _c("campaign_id", "string", "Campaign (campaigns.campaign_id).", required=True),
            _c("spend_date", "date", "Day of the spend.", required=True),
            _c("amount", "float", "Amount spent in the company currency.", required=True),
        ),
        relations=(Relation("campaign", "campaign_id", "campaigns"),),
        time_column="spend_date",
        dimensions={"channel": "campaign.channel", "campaign": "campaign_id"},
    ),
    Table(
        name="touchpoints",
        description="Marketing interactions of a person: visits, form fills, clicks, events.",
        primary_key=("touchpoint_id",),
        columns=(
            _c("touchpoint_id", "string", "Touchpoint id.", required=True),
            _c("person_id", "string", "Who (persons.person_id).", required=True),
            _c("occurred_at", "timestamp", "When.", required=True),
            _c("channel", "string", "Channel.", required=True),
            _c("touch_type", "string", "Kind of interaction.", required=True, enum=TOUCH_TYPES),
            _c("utm_source", "string", "utm_source."),
            _c("utm_medium", "string", "utm_medium."),
            _c("utm_campaign", "string", "utm_campaign."),
            _c("campaign_id", "string", "Campaign (campaigns.campaign_id)."),
        ),
        relations=(
            Relation("person", "person_id", "persons"),
            Relation("campaign", "campaign_id", "campaigns"),
        ),
        time_column="occurred_at",
        dimensions={
            "channel": "channel",
            "campaign": "campaign_id",
            "segment": "person.account.segment",
            "region": "person.account.region",
            "owner": "person.owner_id",
        },
    ),
    Table(
        name="activities",
        description="Sales activities: calls, emails, meetings, tasks.",
        primary_key=("activity_id",),
        columns=(
            _c("activity_id", "string", "Activity id.", required=True),
            _c("activity_type", "string", "Kind.", required=True, enum=ACTIVITY_TYPES),
            _c("occurred_at", "timestamp", "When.", required=True),
            _c("user_id", "string", "Who did it (users.user_id)."),
            _c("person_id", "string", "Person involved."),
            _c("account_id", "string", "Account involved."),
            _c("opportunity_id", "string", "Opportunity involved."),
            _c("subject", "string", "Subject line.", pii=True),
            _c("outcome", "string", "Outcome, e.g. 'connected'."),
        ),
        relations=(
            Relation("user", "user_id", "users"),
            Relation("person", "person_id", "persons"),
            Relation("account", "account_id", "accounts"),
            Relation("opportunity", "opportunity_id", "opportunities"),
        ),
        time_column="occurred_at",
        dimensions={"owner": "user_id", "region": "user.region", "segment": "account.segment"},
    ),
    Table(
        name="opportunities",
        description="Deals: new business, expansion and renewal.",
        primary_key=("opportunity_id",),
        columns=(
            _c("opportunity_id", "string", "Opportunity id.", required=True),
            _c("name", "string", "Deal name."),
            _c("account_id", "string", "Account (accounts.account_id).", required=True),
            _c("owner_id", "string", "Owner (users.user_id).", required=True),
            _c("person_id", "string", "Primary contact (persons.person_id)."),
            _c("opportunity_type", "string", "Motion.", required=True, enum=OPPORTUNITY_TYPES),
            _c("stage", "string", "Current sales stage.", required=True),
            _c("amount", "float", "Deal amount (ACV) in the company currency."),
            _c("currency", "string", "ISO code of the amount as the source wrote it."),
            _c("original_amount", "float", "The amount in that currency, before conversion."),
            _c("probability", "float", "Probability of winning, 0–100."),
            _c("forecast_category", "string", "Forecast category.", enum=FORECAST_CATEGORIES),
            _c("next_step", "string", "Agreed next step with the buyer; empty when none."),
            _c("lead_source", "string", "Channel that sourced the deal."),
            _c("campaign_id", "string", "Primary campaign (campaigns.campaign_id)."),
            _c("created_date", "date", "When the opportunity was created.", required=True),
            _c("close_date", "date", "Expected or actual close date.", required=True),
            _c("is_closed", "bool", "True once won or lost.", required=True),
            _c("is_won", "bool", "True when closed won.", required=True),
        ),
        relations=(
            Relation("account", "account_id", "accounts"),
            Relation("owner", "owner_id", "users"),
            Relation("person", "person_id", "persons"),
            Relation("campaign", "campaign_id", "campaigns"),
        ),
        time_column="created_date",
        dimensions={
            "channel": "lead_source",
            "campaign": "campaign_id",
            "owner": "owner_id",
            "opportunity_type": "opportunity_type",
            "segment": "account.segment",
            "region": "owner.region",
        },
    ),
    Table(
        name="currency_rates",
        description="Dated exchange rates: how much one unit of a currency is worth in the "
        "company currency from `rate_date` on; loads convert amounts with the latest rate on or "
        "before the deal's close date.",
        primary_key=("currency", "rate_date"),
        columns=(
            _c("currency", "string", "ISO 4217 code, e.g. 'EUR'.", required=True),
            _c("rate_date", "date", "First day the rate applies.", required=True),
            _c("rate", "float", "Company-currency units per unit of `currency`.", required=True),
        ),
        time_column="rate_date",
    ),
    Table(
        name="opportunity_stage_history",
        description="Every stage change of every opportunity, with amount and close date then.",
        primary_key=("history_id",),
        columns=(
            _c("history_id", "string", "History row id.", required=True),
            _c("opportunity_id", "string", "Opportunity.", required=True),
            _c("stage", "string", "Stage entered.", required=True),
            _c("changed_at", "timestamp", "When the stage was entered.", required=True),
            _c("amount", "float", "Amount at that moment."),
            _c("close_date", "date", "Close date at that moment."),
            _c("forecast_category", "string", "Forecast category then.", enum=FORECAST_CATEGORIES),
            _c("probability", "float", "Probability then, 0–100."),
        ),
        relations=(Relation("opportunity", "opportunity_id", "opportunities"),),
        time_column="changed_at",
        dimensions={
            "owner": "opportunity.owner_id",
            "segment": "opportunity.account.segment",
            "region": "opportunity.owner.region",
            "opportunity_type": "opportunity.opportunity_type",
        },
    ),
    Table(
        name="lifecycle_events",
        description="Requested lifecycle stage changes, as exported or sent in; the lifecycle "
        "engine validates them into lifecycle_history.",
        primary_key=("event_id",),
        columns=(
            _c("event_id", "string", "Event id.", required=True),
            _c("person_id", "string", "Person.", required=True),
            _c("stage", "string", "Stage requested.", required=True),
            _c("occurred_at", "timestamp", "When.", required=True),
            _c("source", "string", "What asked for it: 'scoring', 'rep', 'map_sync'…"),
        ),
        relations=(Relation("person", "person_id", "persons"),),
        time_column="occurred_at",
    ),
    Table(
        name="lifecycle_history",
        description="Accepted lifecycle transitions, one row each; written by the lifecycle "
        "engine.",
        primary_key=("transition_id",),
        columns=(
            _c("transition_id", "string", "Transition id (the event id).", required=True),
            _c("person_id", "string", "Person.", required=True),
            _c("from_stage", "string", "Stage before (empty on entry)."),
            _c("to_stage", "string", "Stage entered.", required=True),
            _c("changed_at", "timestamp", "When.", required=True),
            _c("source", "string", "What caused it."),
            _c(
                "skipped",
                "string",
                "Funnel stages an imported transition passed over, '|'-separated (a CRM "
                "export without a date for them): recorded, never counted as entered.",
            ),
        ),
        relations=(Relation("person", "person_id", "persons"),),
        time_column="changed_at",
        dimensions={
            "channel": "person.source",
            "campaign": "person.source_campaign_id",
            "owner": "person.owner_id",
            "segment": "person.account.segment",
            "region": "person.account.region",
        },
    ),
    Table(
        name="lifecycle_rejections",
        description="Lifecycle events the engine refused, with the reason.",
        primary_key=("event_id",),
        columns=(
            _c("event_id", "string", "Event id.", required=True),
            _c("person_id", "string", "Person.", required=True),
            _c("from_stage", "string", "Stage the person was in."),
            _c("to_stage", "string", "Stage requested.", required=True),
            _c("occurred_at", "timestamp", "When it was requested.", required=True),
            _c("source", "string", "What asked for it."),
            _c("reason", "string", "Why it was refused.", required=True),
        ),
        relations=(Relation("person", "person_id", "persons"),),
        time_column="occurred_at",
    ),
    Table(
        name="subscriptions",
        description="Recurring revenue lines: one product for one account over a period.",
        primary_key=("subscription_id",),
        columns=(
            _c("subscription_id", "string", "Subscription id.", required=True),
            _c("account_id", "string", "Account.", required=True),
            _c("product", "string", "Product or plan.", required=True),
            _c("mrr", "float", "Monthly recurring revenue.", required=True),
            _c("start_date", "date", "First day billed.", required=True),
            _c("end_date", "date", "Last day billed; empty while active."),
            _c("opportunity_id", "string", "Deal that created or changed it."),
        ),
        relations=(
            Relation("account", "account_id", "accounts"),
            Relation("opportunity", "opportunity_id", "opportunities"),
        ),
        time_column="start_date",
        dimensions={**_ACCOUNT_DIMS, "owner": "account.owner_id"},
    ),
    # -- customer success sources (issue 7: revenue and retention) ----------------------------
    Table(
        name="product_usage",
        description="Product usage per account and month, as the product analytics tool rolls "
        "it up: the usage trend of customer health.",
        primary_key=("account_id", "month"),
        columns=(
            _c("account_id", "string", "Account.", required=True),
            _c("month", "date", "First day of the month.", required=True),
            _c("active_users", "int", "Distinct users active in the month.", required=True),
            _c("events", "int", "Product events in the month."),
        ),
        relations=(Relation("account", "account_id", "accounts"),),
        time_column="month",
        dimensions={**_ACCOUNT_DIMS, "owner": "account.owner_id"},
    ),
    Table(
        name="support_tickets",
        description="Support tickets (Zendesk-shaped): volume and severity feed customer health.",
        primary_key=("ticket_id",),
        columns=(
            _c("ticket_id", "string", "Ticket id.", required=True),
            _c("account_id", "string", "Account.", required=True),
            _c("opened_at", "timestamp", "When the ticket was opened.", required=True),
            _c("closed_at", "timestamp", "When it was closed; empty while open."),
            _c("priority", "string", "Priority.", enum=TICKET_PRIORITIES),
            _c("status", "string", "Status.", enum=TICKET_STATUSES),
        ),
        relations=(Relation("account", "account_id", "accounts"),),
        time_column="opened_at",
        dimensions={**_ACCOUNT_DIMS, "owner": "account.owner_id"},
    ),
    Table(
        name="invoices",
        description="Invoices from billing: late or missing payments feed customer health.",
        primary_key=("invoice_id",),
        columns=(
            _c("invoice_id", "string", "Invoice id.", required=True),
            _c("account_id", "string", "Account.", required=True),
            _c("due_date", "date", "Payment due date.", required=True),
            _c("paid_date", "date", "When it was paid; empty while unpaid."),
            _c("amount", "float", "Amount invoiced.", required=True),
        ),
        relations=(Relation("account", "account_id", "accounts"),),
        time_column="due_date",
        dimensions={**_ACCOUNT_DIMS, "owner": "account.owner_id"},
    ),
    Table(
        name="champion_changes",
        description="Events where an account's champion (main sponsor) left or changed role.",
        primary_key=("change_id",),
        columns=(
            _c("change_id", "string", "Event id.", required=True),
            _c("account_id", "string", "Account.", required=True),
            _c("changed_at", "timestamp", "When the change became known.", required=True),
        ),
        relations=(Relation("account", "account_id", "accounts"),),
        time_column="changed_at",
        dimensions={**_ACCOUNT_DIMS, "owner": "account.owner_id"},
    ),
    # -- derived by the revenue engine (revops.revenue) --------------------------------------
    Table(
        name="mrr_monthly",
        description="MRR per account at each month end, written by the revenue engine. A row "
        "exists when the account has MRR that month, had it the month before, or 12 months "
        "before, so churn months and retention bases are rows too.",
        primary_key=("account_id", "month"),
        columns=(
            _c("account_id", "string", "Account.", required=True),
            _c(
                "month", "date", "First day of the month; MRR is as of its last day.", required=True
            ),
            _c("mrr", "float", "MRR on the month's last day.", required=True),
            _c("arr", "float", "ARR: 12 x mrr.", required=True),
            _c("prior_mrr", "float", "MRR at the previous month end.", required=True),
            _c("mrr_12m_ago", "float", "MRR at the month end 12 months earlier.", required=True),
            _c(
                "retained_mrr_12m",
                "float",
                "min(mrr, mrr_12m_ago): GRR's numerator.",
                required=True,
            ),
            _c(
                "first_month",
                "date",
                "The account's first month with MRR (its cohort).",
                required=True,
            ),
        ),
        relations=(Relation("account", "account_id", "accounts"),),
        time_column="month",
        dimensions={**_ACCOUNT_DIMS, "owner": "account.owner_id"},
    ),
    Table(
        name="arr_movements",
        description="The ARR waterfall: one movement per account and month, written by the "
        "revenue engine. Opening ARR + the month's movements = closing ARR, to the cent.",
        primary_key=("account_id", "month"),
        columns=(
            _c("account_id", "string", "Account.", required=True),
            _c(
                "month",
                "date",
                "First day of the month the change shows at its end.",
                required=True,
            ),
            _c("movement", "string", "Kind of change.", required=True, enum=ARR_MOVEMENTS),
            _c(
                "amount",
                "float",
                "Signed ARR change (negative for contraction and churn).",
                required=True,
            ),
            _c("prior_arr", "float", "ARR at the previous month end.", required=True),
        ),
        relations=(Relation("account", "account_id", "accounts"),),
        time_column="month",
        dimensions={**_ACCOUNT_DIMS, "owner": "account.owner_id"},
    ),
    Table(
        name="unit_economics",
        description="Unit economics per month (LTV, CAC, payback), written by the revenue engine "
        "with the gross margin and sales spend from revops.yaml.",
        primary_key=("month",),
        columns=(
            _c("month", "date", "First day of the month.", required=True),
            _c("customers", "int", "Accounts with MRR at month end.", required=True),
            _c("arpa", "float", "Average MRR per account at month end."),
            _c("gross_margin", "float", "Gross margin used (revops.yaml)."),
            _c("logo_churn_rate", "float", "Trailing monthly logo churn rate."),
            _c("ltv", "float", "ARPA x gross margin over the LTV horizon, churned and discounted."),
            _c("new_logos", "int", "New customers in the CAC window."),
            _c("new_mrr", "float", "MRR of those new customers."),
            _c("spend", "float", "Marketing + sales spend in the CAC window."),
            _c("cac", "float", "The dictionary's cac over the window: spend / new customers."),
            _c("cac_payback_months", "float", "cac / (new MRR per new logo x gross margin)."),
            _c("ltv_to_cac", "float", "ltv / cac."),
        ),
        time_column="month",
    ),
    Table(
        name="health_scores",
        description="Customer health per account and month end, written by the revenue engine "
        "from the weighted components in revops.yaml; health_components explains each score.",
        primary_key=("account_id", "month"),
        columns=(
            _c("account_id", "string", "Account.", required=True),
            _c(
                "month",
                "date",
                "First day of the month scored (as of its last day).",
                required=True,
            ),
            _c("score", "float", "Weighted health score, 0-100.", required=True),
            _c("trend_3m", "float", "Score change over the last 3 months (empty when new)."),
        ),
        relations=(Relation("account", "account_id", "accounts"),),
        time_column="month",
        dimensions={**_ACCOUNT_DIMS, "owner": "account.owner_id"},
    ),
    Table(
        name="health_components",
        description="Each component of each health score: the signal, the rule that fired and "
        "the points it gave.",
        primary_key=("account_id", "month", "component"),
        columns=(
            _c("account_id", "string", "Account.", required=True),
            _c("month", "date", "First day of the month scored.", required=True),
            _c("component", "string", "Component name (revops.yaml).", required=True),
            _c("value", "float", "The signal's value."),
            _c("score", "float", "Points the matching rule gave, 0-100.", required=True),
            _c("weight", "float", "The component's weight.", required=True),
            _c("reason", "string", "The matching rule's reason.", required=True),
        ),
        relations=(Relation("account", "account_id", "accounts"),),
        time_column="month",
        dimensions={**_ACCOUNT_DIMS, "owner": "account.owner_id"},
    ),
    Table(
        name="quality_changes",
        description="Every field value `revops quality fix` changed, with the value before, so "
        "a fix run can be undone exactly.",
        primary_key=("change_id",),
        columns=(
            _c("change_id", "string", "Run id and sequence number.", required=True),
            _c("fix_run_id", "string", "The `quality fix` run.", required=True),
            _c("table_name", "string", "Table changed.", required=True),
            _c("record_id", "string", "Primary key of the changed row.", required=True),
            _c("field", "string", "Column changed.", required=True),
            _c("before", "string", "Value before the fix (empty when it was null).", pii=True),
            _c("after", "string", "Value written by the fix.", pii=True),
            _c("rule", "string", "Normalization rule that made the change.", required=True),
            _c("changed_at", "timestamp", "When the fix ran.", required=True),
            _c("undone_at", "timestamp", "When `quality undo` restored the value, if it did."),
        ),
        time_column="changed_at",
        system=True,
    ),
    Table(
        name="quality_snapshots",
        description="The data quality scorecard, one row per table, field and snapshot date, so "
        "completeness, validity, uniqueness and match rate can be followed over time.",
        primary_key=("snapshot_date", "table_name", "field_name"),
        columns=(
            _c("snapshot_date", "date", "Day of the snapshot.", required=True),
            _c("table_name", "string", "Table measured.", required=True),
            _c("field_name", "string", "Column measured.", required=True),
            _c("rows", "int", "Rows in the table.", required=True),
            _c("filled", "int", "Rows with a non-empty value.", required=True),
            _c("valid", "int", "Filled rows passing every rule on the field; empty if none."),
            _c("distinct_values", "int", "Distinct non-empty values.", required=True),
            _c("expect_unique", "bool", "Values should be unique.", required=True),
            _c("is_match_field", "bool", "A link whose fill rate is a match rate.", required=True),
            _c("taken_at", "timestamp", "When the snapshot was taken.", required=True),
        ),
        time_column="snapshot_date",
    ),
    # -- written by identity resolution (revops.identity.merge / .matching) ------------------
    Table(
        name="merge_log",
        description="Every merge of duplicate records, one row per merged record, with the "
        "before-images and child re-parenting that `revops quality unmerge` needs to restore "
        "the exact prior state.",
        primary_key=("merge_id", "merged_id"),
        columns=(
            _c("merge_id", "string", "Merge id: one per command or cluster.", required=True),
            _c("sequence", "int", "Order of the merge among all merges.", required=True),
            _c("table_name", "string", "Merged table: persons or accounts.", required=True),
            _c("survivor_id", "string", "Record that survived.", required=True),
            _c("merged_id", "string", "Record merged in and removed.", required=True),
            _c(
                "merged_before",
                "string",
                "JSON of the merged record as it was.",
                required=True,
                pii=True,
            ),
            _c(
                "survivor_before",
                "string",
                "JSON of the survivor before.",
                required=True,
                pii=True,
            ),
            _c("children", "string", "JSON {child table: [re-parented keys]}.", required=True),
            _c("merged_at", "timestamp", "When the merge ran.", required=True),
            _c("actor", "string", "Who or what merged."),
            _c("undone_at", "timestamp", "When the merge was undone; empty while in force."),
        ),
        time_column="merged_at",
        system=True,
    ),
    Table(
        name="account_matches",
        description="Lead-to-account matching output: the best account per person, with a "
        "confidence and the reason; written by `revops quality match`.",
        primary_key=("person_id",),
        columns=(
            _c("person_id", "string", "Person matched.", required=True),
            _c("account_id", "string", "Best matching account.", required=True),
            _c("confidence", "float", "Confidence of the match, 0–1.", required=True),
            _c("reason", "string", "Evidence, e.g. 'domain acme.com'.", required=True),
            _c("candidates", "int", "Accounts that matched before tie-breaking.", required=True),
            _c("applied", "bool", "True when written to persons.account_id.", required=True),
            _c("matched_at", "timestamp", "When the match ran.", required=True),
        ),
        time_column="matched_at",
        system=True,
    ),
    Table(
        name="dedupe_pairs",
        description="Likely duplicate pairs from `revops quality dedupe`, with the Fellegi-Sunter "
        "score and per-field evidence; pairs at or above the review threshold.",
        primary_key=("target_table", "left_id", "right_id"),
        columns=(
            _c("target_table", "string", "persons or accounts.", required=True),
            _c("left_id", "string", "One record's primary key.", required=True),
            _c("right_id", "string", "The other record's primary key.", required=True),
            _c("match_weight", "float", "log2 of prior odds times Bayes factor.", required=True),
            _c("match_probability", "float", "Probability the two are one entity.", required=True),
            _c("status", "string", "auto_merge or review.", required=True),
            _c("evidence", "string", "JSON: each field's level and weight.", required=True),
            _c("found_at", "timestamp", "When the dedupe ran.", required=True),
        ),
        system=True,
    ),
    Table(
        name="dedupe_clusters",
        description="Records that auto-merge pairs join into one entity (connected components).",
        primary_key=("target_table", "record_id"),
        columns=(
            _c("target_table", "string", "persons or accounts.", required=True),
            _c("cluster_id", "string", "Smallest record id in the cluster.", required=True),
            _c("record_id", "string", "A member record's primary key.", required=True),
            _c("cluster_size", "int", "Records in the cluster.", required=True),
            _c("min_pair_probability", "float", "Weakest merge link.", required=True),
            _c("found_at", "timestamp", "When the dedupe ran.", required=True),
        ),
        system=True,
    ),
    Table(
        name="duplicate_alerts",
        description="Rows a duplicate rule let in although they match a stored record.",
        primary_key=("alert_id",),
        columns=(
            _c("alert_id", "string", "Load id and position.", required=True),
            _c("load_id", "string", "The load that brought the row.", required=True),
            _c("target_table", "string", "persons or accounts.", required=True),
            _c("record_id", "string", "The new row's primary key.", required=True),
            _c("matched_id", "string", "The stored record it matches.", required=True),
            _c("rule", "string", "The duplicate rule that fired.", required=True),
            _c("probability", "float", "Match probability.", required=True),
            _c("created_at", "timestamp", "When.", required=True),
        ),
        system=True,
    ),
    Table(
        name="dedupe_models",
        description="Fellegi-Sunter fits (m, u and λ per compared field) that duplicate rules "
        "at entry reuse, so a load blocks its rows against stored records without refitting; "
        "the newest row per table is in use until the settings change, the stored records "
        "outgrow it, or `revops quality model --refit` asks.",
        primary_key=("target_table", "fitted_at"),
        columns=(
            _c("target_table", "string", "persons or accounts.", required=True),
            _c("fitted_at", "timestamp", "When the model was fitted.", required=True),
            _c("records", "int", "Records in the population it was fitted on.", required=True),
            _c(
                "settings_hash",
                "string",
                "Hash of the dedupe settings it was fitted under.",
                required=True,
            ),
            _c(
                "reason",
                "string",
                "Why it was fitted (first fit, settings changed, …).",
                required=True,
            ),
            _c(
                "prior",
                "float",
                "λ: the probability that two random records are one entity.",
                required=True,
            ),
            _c("iterations", "int", "EM iterations, summed over sessions.", required=True),
            _c("converged", "bool", "Every EM session met the tolerance.", required=True),
            _c("params", "string", "The fit as JSON (FellegiSunterParams).", required=True),
        ),
        time_column="fitted_at",
        system=True,
    ),
    Table(
        name="sales_costs",
        description="Sales cost (salaries, commissions, tools) per period, for CAC: marketing "
        "spend plus these, per new customer.",
        primary_key=("cost_date", "category"),
        columns=(
            _c(
                "cost_date",
                "date",
                "Day the cost is booked (e.g. the first of the month).",
                required=True,
            ),
            _c(
                "category",
                "string",
                "Cost category, e.g. 'salaries', 'commissions'.",
                required=True,
            ),
            _c("amount", "float", "Amount in the company currency.", required=True),
        ),
        time_column="cost_date",
    ),
    Table(
        name="attribution_credits",
        description="Credit of each touch for each conversion under each attribution model; "
        "written by the attribution engine. A rule model's credits of one conversion sum to 1; "
        "Markov's and Shapley's sum per channel to the model's channel credits.",
        primary_key=("model", "conversion_id", "touchpoint_id"),
        columns=(
            _c("model", "string", "Attribution model, e.g. 'w_shaped', 'markov'.", required=True),
            _c("conversion_type", "string", "mql, sql, opportunity or closed_won.", required=True),
            _c(
                "conversion_id",
                "string",
                "'<type>:<person, account or opportunity id>'.",
                required=True,
            ),
            _c("level", "string", "person or account (account-based attribution)."),
            _c("entity_id", "string", "The person or account that converted."),
            _c("person_id", "string", "Person of the touch (persons.person_id)."),
            _c("account_id", "string", "Account of that person (accounts.account_id)."),
            _c(
                "touchpoint_id",
                "string",
                "Touch credited (touchpoints.touchpoint_id).",
                required=True,
            ),
            _c("channel", "string", "Channel of the touch.", required=True),
            _c("campaign_id", "string", "Campaign of the touch (campaigns.campaign_id)."),
            _c("occurred_at", "timestamp", "When the touch happened."),
            _c("converted_at", "timestamp", "When the conversion happened.", required=True),
            _c("lookback_days", "int", "Lookback window used."),
            _c(
                "credit",
                "float",
                "Share of the conversion (rule models: sums to 1 per conversion; data-driven: "
                "per channel, to the model's channel credit).",
                required=True,
            ),
            _c("revenue_credit", "float", "credit x the conversion's revenue or pipeline."),
        ),
        relations=(
            Relation("person", "person_id", "persons"),
            Relation("account", "account_id", "accounts"),
            Relation("campaign", "campaign_id", "campaigns"),
        ),
        time_column="converted_at",
        dimensions={
            "channel": "channel",
            "campaign": "campaign_id",
            "segment": "account.segment",
            "region": "account.region",
        },
    ),
    Table(
        name="routing_decisions",
        description="Every lead routing decision: the owner or queue, the winning rule, every "
        "rule evaluated and why; written by `revops route`. Re-routing adds a row (replay_of).",
        primary_key=("decision_id",),
        columns=(
            _c("decision_id", "string", "Decision id.", required=True),
            _c("person_id", "string", "Person routed (persons.person_id).", required=True),
            _c("owner_id", "string", "Owner assigned (users.user_id); null for a queue."),
            _c("queue", "string", "Queue assigned when no owner was."),
            _c("rule", "string", "Winning rule; null when no rule matched (fallback)."),
            _c("pool", "string", "Round-robin pool the owner came from."),
            _c("reason", "string", "Why the winner won.", required=True, pii=True),
            _c("evaluated", "string", "Every rule evaluated, as JSON.", required=True, pii=True),
            _c("decided_at", "timestamp", "Instant the decision was made for.", required=True),
            _c("replay_of", "string", "Earlier decision this one re-routes."),
        ),
        relations=(
            Relation("person", "person_id", "persons"),
            Relation("owner", "owner_id", "users"),
        ),
        time_column="decided_at",
        dimensions={"owner": "owner_id"},
        system=True,
    ),
    Table(
        name="routing_watermarks",
        description="How far `revops route run` has routed: persons who became routable after "
        "the watermark are routed by the next run, so a run never re-routes history.",
        primary_key=("name",),
        columns=(
            _c(
                "name",
                "string",
                "Which run the watermark belongs to (e.g. 'route_run').",
                required=True,
            ),
            _c("watermark_at", "timestamp", "Routable up to this instant: done.", required=True),
            _c("updated_at", "timestamp", "When the run that set it ran.", required=True),
        ),
        system=True,
    ),
    Table(
        name="rep_operations",
        description="Operational changes to reps outside operating-model versions: pause, "
        "unpause, out of office and capacity; each audited. Routing applies the latest "
        "pause/unpause and capacity per rep and every out-of-office range.",
        primary_key=("operation_id",),
        columns=(
            _c("operation_id", "string", "Operation id.", required=True),
            _c("user_id", "string", "The rep (users.user_id).", required=True),
            _c("operation", "string", "pause, unpause, ooo or capacity.", required=True),
            _c("starts_at", "timestamp", "Out of office from (UTC)."),
            _c("ends_at", "timestamp", "Out of office until, exclusive (UTC)."),
            _c("daily_cap", "int", "Capacity: leads per local day (empty: the pool's)."),
            _c("weekly_cap", "int", "Capacity: leads per ISO week (empty: the pool's)."),
            _c("reason", "string", "Why."),
            _c("actor", "string", "Who recorded it.", required=True),
            _c("recorded_at", "timestamp", "When it was recorded (UTC).", required=True),
        ),
        relations=(Relation("user", "user_id", "users"),),
        time_column="recorded_at",
        system=True,
    ),
    Table(
        name="sla_escalations",
        description="Each escalation step of a breached SLA clock: a reminder to the owner, "
        "then to the owner's manager, then a re-route (routing.sla.escalation).",
        primary_key=("escalation_id",),
        columns=(
            _c("escalation_id", "string", "Escalation id.", required=True),
            _c("clock_id", "string", "The breached clock (sla_clocks.clock_id).", required=True),
            _c("person_id", "string", "The lead.", required=True),
            _c("step", "string", "remind_owner, remind_manager or reroute.", required=True),
            _c(
                "breach_count",
                "int",
                "Breaches on the lead when the step was taken.",
                required=True,
            ),
            _c("notified_user_id", "string", "Who was reminded (users.user_id)."),
            _c("rerouted_to", "string", "New owner or 'queue:NAME' of a re-route."),
            _c("escalated_at", "timestamp", "When (UTC).", required=True),
        ),
        relations=(Relation("person", "person_id", "persons"),),
        time_column="escalated_at",
        system=True,
    ),
    Table(
        name="lead_scores",
        description="Lead scores per person and scoring time, written by `revops score "
        "apply`: the rule-based fit, engagement and combined scores from revops.yaml and the "
        "calibrated probability of the predictive model that produced them.",
        primary_key=("person_id", "scored_at"),
        columns=(
            _c("person_id", "string", "Person.", required=True),
            _c("scored_at", "timestamp", "As-of time of the score.", required=True),
            _c("fit", "float", "Fit score: capped firmographic points.", required=True),
            _c("engagement", "float", "Engagement: capped decayed touch points.", required=True),
            _c("combined", "float", "fit + engagement.", required=True),
            _c("is_mql_ready", "bool", "combined reaches the MQL threshold (and min_fit)."),
            _c("predicted_sql_probability", "float", "Calibrated P(SQL within the window)."),
            _c("model_version", "string", "Version of the model behind the probability."),
        ),
        relations=(Relation("person", "person_id", "persons"),),
        time_column="scored_at",
    ),
    Table(
        name="sla_clocks",
        description="Speed-to-lead clocks: one per owner assignment (and one per re-arm after a "
        "breach), with the deadline in the owner's business hours, the response and any "
        "breach or escalation; written by `revops route`.",
        primary_key=("clock_id",),
        columns=(
            _c("clock_id", "string", "Clock id.", required=True),
            _c("person_id", "string", "Lead (persons.person_id).", required=True),
            _c("decision_id", "string", "Routing decision that assigned the owner.", required=True),
            _c("owner_id", "string", "Owner on the clock (users.user_id).", required=True),
            _c("priority", "string", "SLA priority (target name, or 'default').", required=True),
            _c("started_at", "timestamp", "Clock start (UTC).", required=True),
            _c("due_at", "timestamp", "Deadline, in business hours (UTC).", required=True),
            _c("responded_at", "timestamp", "When the owner accepted or rejected."),
            _c("response", "string", "'accepted' or 'rejected'."),
            _c("rejection_reason", "string", "Reason from the sla rejection_reasons list."),
            _c("breached", "bool", "Responded late, or found open past due.", required=True),
            _c(
                "breach_count",
                "int",
                "Breaches of this owner on this lead so far, this clock included.",
                required=True,
            ),
            _c("escalated_to", "string", "Owner (or 'queue:NAME') the lead was re-routed to."),
            _c("closed_at", "timestamp", "When the clock stopped; empty while running."),
        ),
        relations=(
            Relation("person", "person_id", "persons"),
            Relation("owner", "owner_id", "users"),
        ),
        time_column="started_at",
        dimensions={"owner": "owner_id"},
        system=True,
    ),
    Table(
        name="quotas",
        description="Quota per rep (or manager, region) per period, set by `revops quota set` or "
        "loaded from the planning system.",
        primary_key=("user_id", "period_start"),
        columns=(
            _c("user_id", "string", "Quota holder (users.user_id).", required=True),
            _c("period_start", "date", "First day of the quota period.", required=True),
            _c("period_end", "date", "Last day of the quota period.", required=True),
            _c("amount", "float", "Bookings quota (ACV) for the period.", required=True),
            _c("method", "string", "How it was set: top_down, bottom_up, loaded, adjusted."),
            _c("set_at", "timestamp", "When it was set (UTC)."),
        ),
        relations=(Relation("user", "user_id", "users"),),
        time_column="period_start",
        dimensions={"owner": "user_id", "region": "user.region"},
    ),
    Table(
        name="config_versions",
        description="Every operating model ever applied, in full: `revops apply` adds a version, "
        "`revops rollback` re-activates an earlier one as a new version. The newest is active.",
        primary_key=("version",),
        columns=(
            _c("version", "int", "Version number, from 1 (0: the baseline file).", required=True),
            _c("yaml", "string", "The operating model's full YAML text.", required=True),
            _c("sha256", "string", "SHA-256 of the YAML text.", required=True),
            _c("applied_at", "timestamp", "When it became active (UTC).", required=True),
            _c("applied_by", "string", "Who applied it.", required=True),
            _c("approved_by", "string", "Who approved the change.", required=True),
            _c("reason", "string", "Why it changed.", required=True),
            _c("source", "string", "The file it was read from."),
            _c(
                "rolled_back_from",
                "int",
                "For a rollback: the version that was active before it.",
            ),
            _c("restores", "int", "For a rollback: the earlier version whose text it restores."),
        ),
        time_column="applied_at",
        system=True,
    ),
    Table(
        name="api_idempotency",
        description="Responses of the intake API by idempotency key, so a retried POST /leads "
        "returns the first answer instead of creating the lead twice.",
        primary_key=("idem_key",),
        columns=(
            _c("idem_key", "string", "API key id and the client's Idempotency-Key.", required=True),
            _c("request_hash", "string", "SHA-256 of the request body.", required=True),
            _c("status_code", "int", "HTTP status of the stored response.", required=True),
            _c("response", "string", "The response body (JSON).", required=True),
            _c("person_id", "string", "Person the request created or matched."),
            _c(
                "created_at",
                "timestamp",
                "When the first request was answered (UTC).",
                required=True,
            ),
        ),
        time_column="created_at",
        system=True,
    ),
    # -- privacy: consent, erasure tombstones, pseudonyms (revops.privacy) -------------------
    Table(
        name="consent_ledger",
        description="Append-only consent events per person, purpose and channel: opt-ins, "
        "opt-outs, double opt-in confirmations and do-not-contact flags. The current consent "
        "state is derived from it (`revops privacy consent show`); every outgoing list is "
        "filtered by that state.",
        primary_key=("event_id",),
        columns=(
            _c("event_id", "string", "Event id.", required=True),
            _c("person_id", "string", "Person (persons.person_id).", required=True),
            _c(
                "purpose",
                "string",
                "Purpose from revops.yaml privacy.purposes, or '*'.",
                required=True,
            ),
            _c(
                "channel",
                "string",
                "Channel from revops.yaml privacy.channels, or '*'.",
                required=True,
            ),
            _c("status", "string", "opt_in or opt_out.", required=True, enum=CONSENT_STATUSES),
            _c("lawful_basis", "string", "GDPR Art. 6 basis.", enum=LAWFUL_BASES),
            _c("source", "string", "Where it was captured, e.g. 'web_form', 'preference_center'."),
            _c(
                "recorded_at",
                "timestamp",
                "When the person gave or withdrew it (UTC).",
                required=True,
            ),
            _c(
                "double_opt_in",
                "string",
                "pending, confirmed or not_required.",
                enum=DOUBLE_OPT_IN_STATES,
            ),
            _c(
                "do_not_contact",
                "string",
                "Reason for a global do-not-contact; it beats everything.",
            ),
        ),
        relations=(Relation("person", "person_id", "persons"),),
        time_column="recorded_at",
    ),
    Table(
        name="privacy_tombstones",
        description="Erased persons: salted SHA-256 hashes of the normalised email and phone, "
        "so a later import of the same person is quarantined; no PII is kept.",
        primary_key=("tombstone_id",),
        columns=(
            _c("tombstone_id", "string", "Tombstone id.", required=True),
            _c("person_id", "string", "The anonymized person row kept for aggregates."),
            _c("email_hash", "string", "Salted SHA-256 of the normalised email."),
            _c("phone_hash", "string", "Salted SHA-256 of the phone's last ten digits."),
            _c("erased_at", "timestamp", "When (UTC).", required=True),
            _c("reason", "string", "Why, e.g. 'GDPR Art. 17 request'.", required=True),
        ),
        system=True,
    ),
    Table(
        name="person_pseudonyms",
        description="Keyed HMAC-SHA256 of each person's email and phone (key from "
        "REVOPS_PSEUDONYM_KEY, never stored): joinable identifiers for analytics without PII; "
        "refreshed by `revops privacy pseudonymize`.",
        primary_key=("person_id",),
        columns=(
            _c("person_id", "string", "Person (persons.person_id).", required=True),
            _c("email_hmac", "string", "HMAC-SHA256 of the normalised email."),
            _c("phone_hmac", "string", "HMAC-SHA256 of the phone's last ten digits."),
            _c("computed_at", "timestamp", "When computed (UTC).", required=True),
        ),
        relations=(Relation("person", "person_id", "persons"),),
        system=True,
    ),
    # -- planning and compensation (revops.planning) -----------------------------------------
    Table(
        name="opportunity_splits",
        description="Split credit: the share of a deal each rep is credited with. A deal with "
        "no rows credits its owner in full; overlays may push the total above 100 when the "
        "compensation section allows it.",
        primary_key=("opportunity_id", "user_id"),
        columns=(
            _c("opportunity_id", "string", "Deal (opportunities.opportunity_id).", required=True),
            _c("user_id", "string", "Credited rep (users.user_id).", required=True),
            _c("percent", "float", "Credit share, 0–100.", required=True),
        ),
        relations=(
            Relation("opportunity", "opportunity_id", "opportunities"),
            Relation("user", "user_id", "users"),
        ),
        dimensions={"owner": "user_id"},
    ),
    Table(
        name="territory_designs",
        description="Territory design proposals from `revops territory design`: parameters, "
        "solver status and the spread of potential and workload before and after.",
        primary_key=("design_id",),
        columns=(
            _c("design_id", "string", "Design id.", required=True),
            _c("created_at", "timestamp", "When it was solved (UTC).", required=True),
            _c("status", "string", "proposed or applied.", required=True),
            _c(
                "solver_status",
                "string",
                "Per region (× segment): CP-SAT's moves, bound and gap, or the fallback used.",
            ),
            _c("solve_seconds", "float", "Wall time of the solver.", required=True),
            _c("accounts", "int", "Accounts in scope.", required=True),
            _c("reps", "int", "Reps in scope.", required=True),
            _c("moved", "int", "Accounts whose owner changes.", required=True),
            _c("spread_before", "float", "Max/min rep potential before.", required=True),
            _c("spread_after", "float", "Max/min rep potential after.", required=True),
            _c("cv_before", "float", "Coefficient of variation of rep potential before."),
            _c("cv_after", "float", "Coefficient of variation of rep potential after."),
            _c("workload_cv_before", "float", "CV of rep workload before."),
            _c("workload_cv_after", "float", "CV of rep workload after."),
            _c("parameters", "string", "The territory settings used, as JSON.", required=True),
            _c("applied_at", "timestamp", "When `territory apply` wrote the owners."),
            _c("applied_by", "string", "Who applied it."),
        ),
        time_column="created_at",
        system=True,
    ),
    Table(
        name="territory_assignments",
        description="The account-to-rep assignment of each territory design, with the potential "
        "and workload that drove it.",
        primary_key=("design_id", "account_id"),
        columns=(
            _c("design_id", "string", "Design (territory_designs.design_id).", required=True),
            _c("account_id", "string", "Account.", required=True),
            _c("region", "string", "Account region.", enum=REGIONS),
            _c("segment", "string", "Account segment.", enum=SEGMENTS),
            _c("current_owner_id", "string", "Owner when the design was made."),
            _c("owner_id", "string", "Proposed owner (users.user_id).", required=True),
            _c("potential", "float", "Expected annual bookings of the account.", required=True),
            _c("workload", "float", "Segment effort weight.", required=True),
            _c("moved", "bool", "Proposed owner differs from the current one.", required=True),
        ),
        relations=(
            Relation("account", "account_id", "accounts"),
            Relation("owner", "owner_id", "users"),
        ),
        system=True,
    ),
    Table(
        name="comp_periods",
        description="Compensation periods (months): open periods can be reprocessed and "
        "adjusted; a locked period never changes.",
        primary_key=("period_start",),
        columns=(
            _c("period_start", "date", "First day of the month.", required=True),
            _c("period_end", "date", "Last day of the month.", required=True),
            _c("status", "string", "open or locked.", required=True, enum=("open", "locked")),
            _c("runs", "int", "Times the period was processed.", required=True),
            _c("processed_at", "timestamp", "Last processing (UTC).", required=True),
            _c("locked_at", "timestamp", "When it was locked."),
            _c("locked_by", "string", "Who locked it."),
        ),
        time_column="period_start",
        system=True,
    ),
    Table(
        name="comp_lines",
        description="Payout statement lines of a period: one per deal and tier slice, advance, "
        "true-up, cap, SPIFF, clawback, draw, draw recovery and base pay, each with its source "
        "deal and rate.",
        primary_key=("line_id",),
        columns=(
            _c("line_id", "string", "Line id (period, rep, sequence).", required=True),
            _c("period_start", "date", "Comp period.", required=True),
            _c("user_id", "string", "Rep paid.", required=True),
            _c("plan", "string", "Compensation plan.", required=True),
            _c(
                "kind",
                "string",
                "What the line pays.",
                required=True,
                enum=(
                    "base",
                    "commission",
                    "spiff",
                    "clawback",
                    "draw",
                    "draw_recovery",
                    "advance",
                    "true_up",
                    "cap",
                ),
            ),
            _c("opportunity_id", "string", "Source deal."),
            _c("close_date", "date", "Source deal's close date."),
            _c("deal_amount", "float", "Source deal's amount (ACV)."),
            _c("credit_pct", "float", "Rep's split credit, 0–100."),
            _c(
                "credited_amount",
                "float",
                "Bookings credited on this line; for a measure line, what was measured (a count, "
                "expansion ARR or a retention ratio).",
            ),
            _c("tier", "int", "Tier index (from 1) of a commission line."),
            _c("rate", "float", "Commission rate applied."),
            _c("amount", "float", "Payout of the line (negative for recoveries).", required=True),
            _c("note", "string", "Why: tier bounds, SPIFF name, churn date."),
        ),
        relations=(
            Relation("user", "user_id", "users"),
            Relation("opportunity", "opportunity_id", "opportunities"),
        ),
        time_column="period_start",
        dimensions={"owner": "user_id"},
        system=True,
    ),
    Table(
        name="comp_statement_events",
        description="Approvals and disputes of a rep's statement for a period, append-only: "
        "the latest event is the statement's state; a period with an open dispute cannot lock.",
        primary_key=("event_id",),
        columns=(
            _c("event_id", "string", "Event id.", required=True),
            _c("period_start", "date", "Comp period.", required=True),
            _c("user_id", "string", "Rep whose statement it is.", required=True),
            _c(
                "state",
                "string",
                "approved or disputed.",
                required=True,
                enum=("approved", "disputed"),
            ),
            _c("total", "float", "The statement's total when the event was recorded."),
            _c("note", "string", "Why."),
            _c("actor", "string", "Who.", required=True),
            _c("created_at", "timestamp", "When (UTC).", required=True),
        ),
        relations=(Relation("user", "user_id", "users"),),
        time_column="period_start",
        system=True,
    ),
    Table(
        name="comp_adjustments",
        description="Manual payout adjustments of an open period, with who and why.",
        primary_key=("adjustment_id",),
        columns=(
            _c("adjustment_id", "string", "Adjustment id.", required=True),
            _c("period_start", "date", "Comp period.", required=True),
            _c("user_id", "string", "Rep.", required=True),
            _c("amount", "float", "Signed amount.", required=True),
            _c("note", "string", "Reason.", required=True),
            _c("actor", "string", "Who made it.", required=True),
            _c("created_at", "timestamp", "When (UTC).", required=True),
        ),
        relations=(Relation("user", "user_id", "users"),),
        time_column="period_start",
        system=True,
    ),
    Table(
        name="forecast_adjustments",
        description="Manager adjustments to the forecast: a manager's number for one category of "
        "a rep, manager or region in a period, with the note that justifies it. The rep's call "
        "is never overwritten; the newest adjustment made by the as-of date applies.",
        primary_key=(
            "period_start",
            "level",
            "subject_id",
            "opportunity_type",
            "category",
            "adjusted_at",
        ),
        columns=(
            _c("period_start", "date", "First day of the forecast period.", required=True),
            _c("period_end", "date", "Last day of the forecast period.", required=True),
            _c("level", "string", "Roll-up level adjusted.", required=True, enum=FORECAST_LEVELS),
            _c(
                "subject_id",
                "string",
                "Rep or manager user_id, region code, or 'all'.",
                required=True,
            ),
            _c(
                "opportunity_type",
                "string",
                "Pipeline adjusted: an opportunity type, or 'all'.",
                required=True,
            ),
            _c("category", "string", "Category adjusted.", required=True, enum=FORECAST_CATEGORIES),
            _c("amount", "float", "The manager's number for the category.", required=True),
            _c("note", "string", "Why: required.", required=True),
            _c("adjusted_by", "string", "Who adjusted.", required=True),
            _c("adjusted_at", "timestamp", "When (UTC).", required=True),
        ),
        time_column="period_start",
        system=True,
    ),
    Table(
        name="deal_probability_overrides",
        description="Win probabilities set by hand on a deal. A stage change never overwrites "
        "them: weighted forecasts use the newest override set by the as-of date instead of the "
        "stage's probability; an override with no probability clears the earlier ones.",
        primary_key=("opportunity_id", "set_at"),
        columns=(
            _c("opportunity_id", "string", "Opportunity.", required=True),
            _c("probability", "float", "Win probability 0–100; empty clears the override."),
            _c("set_by", "string", "Who set it.", required=True),
            _c("set_at", "timestamp", "When (UTC).", required=True),
            _c("note", "string", "Why.", required=True),
        ),
        relations=(Relation("opportunity", "opportunity_id", "opportunities"),),
        time_column="set_at",
        system=True,
    ),
    Table(
        name="forecast_snapshots",
        description="Weekly snapshots of the pipeline, one row per deal per snapshot date, taken "
        "by `revops forecast snapshot` or backfilled from stage history; `forecast changes` "
        "compares two of them.",
        primary_key=("snapshot_date", "opportunity_id"),
        columns=(
            _c("snapshot_date", "date", "As of the end of this day.", required=True),
            _c("opportunity_id", "string", "Opportunity.", required=True),
            _c("owner_id", "string", "Owner (users.user_id)."),
            _c("opportunity_type", "string", "Motion.", enum=OPPORTUNITY_TYPES),
            _c("stage", "string", "Stage then.", required=True),
            _c("amount", "float", "Amount then."),
            _c("close_date", "date", "Close date then."),
            _c("forecast_category", "string", "Category then.", enum=FORECAST_CATEGORIES),
            _c("probability", "float", "Probability then (a manual override when one was set)."),
            _c("is_open", "bool", "Open stage then.", required=True),
            _c("is_won", "bool", "Won stage then.", required=True),
        ),
        relations=(
            Relation("opportunity", "opportunity_id", "opportunities"),
            Relation("owner", "owner_id", "users"),
        ),
        time_column="snapshot_date",
        dimensions={"owner": "owner_id", "opportunity_type": "opportunity_type"},
        system=True,
    ),
    Table(
        name="forecast_backtests",
        description="Each forecast method replayed as of every week of past quarters against "
        "the bookings that closed: signed and absolute percentage error per week.",
        primary_key=("period_start", "as_of", "method"),
        columns=(
            _c("period_start", "date", "First day of the quarter forecast.", required=True),
            _c("period_end", "date", "Last day of the quarter.", required=True),
            _c("as_of", "date", "The forecast was made as of the end of this day.", required=True),
            _c("method", "string", "Forecast method.", required=True),
            _c("forecast", "float", "Forecast closed-won bookings for the quarter.", required=True),
            _c("actual", "float", "Closed-won bookings of the quarter.", required=True),
            _c("error_pct", "float", "(forecast − actual) / actual.", required=True),
            _c("abs_pct_error", "float", "|forecast − actual| / actual.", required=True),
            _c("is_primary", "bool", "The operating model's primary method.", required=True),
            _c("trained_through", "date", "Last day of data the learned parts saw."),
            _c("run_at", "timestamp", "When the backtest ran (UTC).", required=True),
        ),
        time_column="period_start",
        system=True,
    ),
    Table(
        name="pipeline_changes",
        description="Every stage-history row after a deal's first, classified against the "
        "configured stage order: stage moves, skips, regressions, close-date pushes. Rebuilt from "
        "opportunity_stage_history by `revops pipeline run`; the metric dictionary reads it.",
        primary_key=("change_id",),
        columns=(
            _c("change_id", "string", "The history row (history_id).", required=True),
            _c("opportunity_id", "string", "Opportunity.", required=True),
            _c("changed_at", "timestamp", "When the row was written.", required=True),
            _c("from_stage", "string", "Stage before this row.", required=True),
            _c("to_stage", "string", "Stage in this row.", required=True),
            _c("from_open", "bool", "True when the stage before was an open stage.", required=True),
            _c("is_stage_change", "bool", "True when the stage changed.", required=True),
            _c("is_skip", "bool", "Moved forward past at least one stage.", required=True),
            _c("is_regression", "bool", "Moved back to an earlier open stage.", required=True),
            _c("stages_skipped", "int", "Stages jumped over (0 unless a skip).", required=True),
            _c("days_in_stage", "float", "Days spent in from_stage (stage changes only)."),
            _c("is_push", "bool", "The expected close date moved later.", required=True),
            _c("days_pushed", "int", "Days the close date moved later (0 unless a push)."),
        ),
        relations=(Relation("opportunity", "opportunity_id", "opportunities"),),
        time_column="changed_at",
        dimensions={
            "owner": "opportunity.owner_id",
            "segment": "opportunity.account.segment",
            "region": "opportunity.owner.region",
            "opportunity_type": "opportunity.opportunity_type",
        },
        system=True,
    ),
    # -- automation: outbox, deliveries, tasks, nurture lists, dispatcher lease (revops.automation)
    Table(
        name="automation_events",
        description="Every time an automation fired: the trigger, the record and when; written "
        "in the same transaction as the change that caused it (or by `revops automate run` for "
        "time-based triggers). The event id is derived from the automation and the source row, "
        "so an event is recorded once however often triggers are evaluated.",
        primary_key=("event_id",),
        columns=(
            _c(
                "event_id",
                "string",
                "Event id (digest of automation and source key).",
                required=True,
            ),
            _c("automation", "string", "Automation name (revops.yaml).", required=True),
            _c("trigger", "string", "Trigger type.", required=True),
            _c("record_table", "string", "persons, accounts or opportunities.", required=True),
            _c("record_id", "string", "The record it fired on.", required=True),
            _c("source_key", "string", "The source row that fired it.", required=True),
            _c("owner_id", "string", "Owner of the record at the time (users.user_id)."),
            _c("occurred_at", "timestamp", "When the change happened (UTC).", required=True),
            _c("detected_at", "timestamp", "When the event was recorded (UTC).", required=True),
            _c("details", "string", "Trigger particulars as JSON.", required=True),
        ),
        time_column="detected_at",
        dimensions={"owner": "owner_id"},
        system=True,
    ),
    Table(
        name="automation_actions",
        description="The transactional outbox: one row per action of an event, with its "
        "idempotency key (the action id), delivery status, attempts and the next retry.",
        primary_key=("action_id",),
        columns=(
            _c(
                "action_id",
                "string",
                "Action id; sent to receivers as the idempotency key.",
                required=True,
            ),
            _c("event_id", "string", "Event (automation_events.event_id).", required=True),
            _c("automation", "string", "Automation name.", required=True),
            _c("position", "int", "Place of the action in the automation's list.", required=True),
            _c(
                "kind",
                "string",
                "task, escalation, nurture, webhook, chat, email or sync (a write-back file).",
                required=True,
            ),
            _c("target", "string", "Endpoint, program or assignee it goes to."),
            _c("payload", "string", "What is delivered, as JSON.", required=True),
            _c(
                "status",
                "string",
                "pending, delivered, dead (retries exhausted), blocked (consent) or skipped.",
                required=True,
            ),
            _c("attempts", "int", "Delivery attempts since queued or last retried.", required=True),
            _c("retries", "int", "Times it was put back from the dead-letter list.", required=True),
            _c("next_attempt_at", "timestamp", "Earliest next attempt (UTC), while pending."),
            _c("last_error", "string", "Why the last attempt failed, or why it was not sent."),
            _c("created_at", "timestamp", "When it was queued (UTC).", required=True),
            _c("delivered_at", "timestamp", "When a receiver accepted it (UTC)."),
        ),
        time_column="created_at",
        system=True,
    ),
    Table(
        name="automation_attempts",
        description="Every delivery attempt of an outbox action: outcome, HTTP status or SMTP "
        "reply, error and duration.",
        primary_key=("action_id", "retry", "attempt"),
        columns=(
            _c("action_id", "string", "Action.", required=True),
            _c("retry", "int", "The action's retries at the time (0 before any).", required=True),
            _c("attempt", "int", "Attempt number, from 1.", required=True),
            _c("at", "timestamp", "When it was made (UTC).", required=True),
            _c("ok", "bool", "The receiver accepted it.", required=True),
            _c("status_code", "int", "HTTP status or SMTP reply code; empty when none came."),
            _c("error", "string", "What went wrong."),
            _c("duration_ms", "float", "How long the attempt took.", required=True),
            _c("dispatcher", "string", "Which dispatcher made it.", required=True),
        ),
        time_column="at",
        system=True,
    ),
    Table(
        name="tasks",
        description="Tasks for owners and their managers, created by automations: due in the "
        "assignee's business hours; `revops tasks list | done`.",
        primary_key=("task_id",),
        columns=(
            _c("task_id", "string", "Task id (the action id that created it).", required=True),
            _c("assignee_id", "string", "Who should do it (users.user_id).", required=True),
            _c("kind", "string", "task or escalation.", required=True),
            _c("title", "string", "What to do.", required=True),
            _c("record_table", "string", "persons, accounts or opportunities.", required=True),
            _c("record_id", "string", "The record it is about.", required=True),
            _c("automation", "string", "Automation that created it.", required=True),
            _c("created_at", "timestamp", "When (UTC).", required=True),
            _c(
                "due_at", "timestamp", "Due, in the assignee's business hours (UTC).", required=True
            ),
            _c("done_at", "timestamp", "When it was marked done; empty while open."),
            _c("done_by", "string", "Who marked it done."),
        ),
        relations=(Relation("assignee", "assignee_id", "users"),),
        time_column="created_at",
        dimensions={"owner": "assignee_id"},
        system=True,
    ),
    Table(
        name="nurture_memberships",
        description="Persons enrolled in nurture programs by automations, for export to the "
        "marketing-automation system (which stays the sender); consent checked at enrolment.",
        primary_key=("program", "person_id"),
        columns=(
            _c("program", "string", "Nurture program (list) name.", required=True),
            _c("person_id", "string", "Person enrolled.", required=True),
            _c("action_id", "string", "Outbox action that enrolled them.", required=True),
            _c("enrolled_at", "timestamp", "When (UTC).", required=True),
        ),
        relations=(Relation("person", "person_id", "persons"),),
        time_column="enrolled_at",
        system=True,
    ),
    Table(
        name="automation_leases",
        description="Dispatcher leases: the one dispatcher allowed to send until `expires_at`, "
        "so two dispatchers never send the same action.",
        primary_key=("name",),
        columns=(
            _c("name", "string", "Lease name.", required=True),
            _c("holder", "string", "Dispatcher holding it.", required=True),
            _c("expires_at", "timestamp", "When it lapses unless renewed (UTC).", required=True),
        ),
        system=True,
    ),
    Table(
        name="sync_ledger",
        description="Write-back: the last value of each field revops owns (owner, lifecycle "
        "stage, scores, territory, at-risk flag, SLA status, routing reason) handed to each "
        "system's import, per record; a value that differs from it is a change to sync.",
        primary_key=("system", "object", "record_id", "field"),
        columns=(
            _c("system", "string", "Source system (salesforce, hubspot, marketo).", required=True),
            _c("object", "string", "Its object (Lead, contacts).", required=True),
            _c("record_id", "string", "The record (its table's primary key).", required=True),
            _c("field", "string", "The owned field (fit, owner_id, at_risk).", required=True),
            _c("value", "string", "The value as written to the import file; empty: blank."),
            _c("run_id", "string", "The sync run that wrote it (sync_runs.run_id).", required=True),
            _c("synced_at", "timestamp", "When (UTC).", required=True),
        ),
        time_column="synced_at",
        system=True,
    ),
    Table(
        name="sync_runs",
        description="Write-back runs: one import file per system object, exported to a folder "
        "or pushed to an endpoint through the outbox (action_id).",
        primary_key=("run_id",),
        columns=(
            _c("run_id", "string", "Run id.", required=True),
            _c("system", "string", "Source system.", required=True),
            _c("object", "string", "Its object.", required=True),
            _c("mode", "string", "export (a file) or push (an outbox action).", required=True),
            _c("records", "int", "Records in the file.", required=True),
            _c("changes", "int", "Field values that changed since the last sync.", required=True),
            _c("file", "string", "The file written (export)."),
            _c("action_id", "string", "The outbox action delivering it (push)."),
            _c("created_at", "timestamp", "When (UTC).", required=True),
        ),
        time_column="created_at",
        system=True,
    ),
    Table(
        name="pii_keys",
        description="Which REVOPS_PII_KEY encrypts this warehouse's PII columns: an HMAC of a "
        "fixed label under a key derived from it (never the key), so a missing or wrong key is "
        "refused with a clear message.",
        primary_key=("key_check",),
        columns=(
            _c("key_check", "string", "HMAC-SHA256 of a fixed label (hex).", required=True),
            _c("created_at", "timestamp", "When PII encryption was enabled (UTC).", required=True),
        ),
        system=True,
    ),
    Table(
        name="intake_journal_state",
        description="How far the intake API's write-ahead journal has been applied: the last "
        "group written to the warehouse, updated in the same transaction as that group, so a "
        "restart replays only later groups and never applies one twice.",
        primary_key=("journal_id",),
        columns=(
            _c(
                "journal_id",
                "string",
                "The journal (a digest of the warehouse URL).",
                required=True,
            ),
            _c("applied_group", "int", "Highest journal group number applied.", required=True),
            _c("applied_at", "timestamp", "When that group was applied (UTC).", required=True),
        ),
        time_column="applied_at",
        system=True,
    ),
    Table(
        name="audit_log",
        description="Append-only, hash-chained record of every change: config versions, "
        "approvals, merges, erasures, routing overrides, access changes and API writes. "
        "`revops audit verify` recomputes the chain.",
        primary_key=("seq",),
        columns=(
            _c("seq", "int", "Position in the chain, from 1, without gaps.", required=True),
            _c("at", "timestamp", "When (UTC).", required=True),
            _c("actor", "string", "Who: user name, or key name and id.", required=True),
            _c("action", "string", "What, e.g. 'config.applied', 'privacy.erased'.", required=True),
            _c(
                "subject",
                "string",
                "What it was done to (version, person id, key id).",
                required=True,
            ),
            _c("details", "string", "Canonical JSON with the particulars.", required=True),
            _c(
                "prev_hash",
                "string",
                "Hash of the previous entry (64 zeros for the first).",
                required=True,
            ),
            _c("hash", "string", "SHA-256 of this entry's fields and prev_hash.", required=True),
        ),
        time_column="at",
        system=True,
    ),
    Table(
        name="api_keys",
        description="API keys, each scoped to one role. Only an argon2 hash of the key is stored.",
        primary_key=("key_id",),
        columns=(
            _c("key_id", "string", "Public part of the key, used to find its row.", required=True),
            _c("name", "string", "Who or what uses the key.", required=True),
            _c("role", "string", "Role the key acts with.", required=True),
            _c("key_hash", "string", "argon2id hash of the whole key.", required=True),
            _c("created_at", "timestamp", "When created (UTC).", required=True),
            _c("created_by", "string", "Who created it.", required=True),
            _c("revoked_at", "timestamp", "When revoked; empty while valid."),
        ),
        system=True,
    ),
    Table(
        name="user_passwords",
        description="Sign-in passwords of people, for the web workspace: only an argon2id hash is "
        "stored, set with `revops users passwd`. API keys stay for machines.",
        primary_key=("login",),
        columns=(
            _c("login", "string", "Email (lower case) the person signs in with.", required=True),
            _c("password_hash", "string", "argon2id hash of the password.", required=True),
            _c("set_at", "timestamp", "When set (UTC).", required=True),
            _c("set_by", "string", "Who set it.", required=True),
        ),
        system=True,
    ),
    Table(
        name="web_sessions",
        description="Server-side sessions of the web workspace. The cookie carries a random id; "
        "only its SHA-256 is stored, with the session's CSRF token and expiry.",
        primary_key=("session_hash",),
        columns=(
            _c("session_hash", "string", "SHA-256 (hex) of the session id.", required=True),
            _c("login", "string", "Who signed in.", required=True),
            _c(
                "csrf_token",
                "string",
                "Token every POST form of the session carries.",
                required=True,
            ),
            _c("created_at", "timestamp", "When signed in (UTC).", required=True),
            _c(
                "expires_at",
                "timestamp",
                "When the session ends at the latest (UTC).",
                required=True,
            ),
            _c("ended_at", "timestamp", "When signed out; empty while open."),
        ),
        system=True,
    ),
    Table(
        name="signin_failures",
        description="Failed sign-ins of the web workspace in the last minutes, per login and "
        "client address: the limit is the warehouse's, so every server process (and a "
        "restart) sees the same count. Rows older than the window are deleted as new ones come.",
        primary_key=("failure_id",),
        columns=(
            _c("failure_id", "string", "Random id.", required=True),
            _c("pair", "string", "SHA-256 (hex) of the login and client address.", required=True),
            _c("failed_at", "timestamp", "When (UTC).", required=True),
        ),
        system=True,
    ),
    Table(
        name="council_notes",
        description="Notes of the monthly funnel council, one row per note, by the month "
        "discussed.",
        primary_key=("note_id",),
        columns=(
            _c("note_id", "string", "Random id.", required=True),
            _c("month", "string", "Council month (YYYY-MM).", required=True),
            _c("body", "string", "The note.", required=True),
            _c("author", "string", "Who wrote it.", required=True),
            _c("created_at", "timestamp", "When (UTC).", required=True),
        ),
        time_column="created_at",
        system=True,
    ),
    Table(
        name="council_actions",
        description="Action items of the monthly funnel council: an open item is carried to "
        "every later council until it is closed.",
        primary_key=("action_id",),
        columns=(
            _c("action_id", "string", "Random id.", required=True),
            _c("month", "string", "Council month that opened it (YYYY-MM).", required=True),
            _c("title", "string", "What is to be done.", required=True),
            _c("owner", "string", "Who owns it.", required=True),
            _c("due", "date", "When it is due.", required=True),
            _c(
                "closed_month",
                "string",
                "Council month that closed it (YYYY-MM); empty while open.",
            ),
            _c("created_by", "string", "Who recorded it.", required=True),
            _c("created_at", "timestamp", "When recorded (UTC).", required=True),
        ),
        time_column="created_at",
        system=True,
    ),
    Table(
        name="access_grants",
        description="Roles of CLI users (operating-system user names), managed by revops_admins.",
        primary_key=("user_name",),
        columns=(
            _c("user_name", "string", "Operating-system user name.", required=True),
            _c("role", "string", "Role granted.", required=True),
            _c("granted_by", "string", "Who granted it.", required=True),
            _c("granted_at", "timestamp", "When (UTC).", required=True),
        ),
        system=True,
    ),
    Table(
        name="quarantine",
        description="Rows ingestion refused, with file, row number, field and reason. Nothing "
        "is dropped silently: every refused row lands here with its raw values.",
        primary_key=("load_id", "row_number"),
        columns=(
            _c("load_id", "string", "The load that refused the row.", required=True),
            _c("target_table", "string", "Table the row was meant for.", required=True),
            _c("file", "string", "Source file.", required=True),
            _c("row_number", "int", "1-based data row number in the file.", required=True),
            _c("field", "string", "First field that failed.", required=True),
            _c(
                "reason",
                "string",
                "Every failure in the row, separated by '; '.",
                required=True,
                pii=True,
            ),
            _c("raw", "string", "The raw row as JSON.", required=True, pii=True),
            _c("quarantined_at", "timestamp", "When.", required=True),
            _c("replayed_by", "string", "The load that took the row in once it was fixed."),
        ),
        system=True,
    ),
    Table(
        name="demo_origin",
        description="Written by `revops demo` into a warehouse it created: the demo may "
        "replace a warehouse holding this row, and refuses any other that holds data.",
        primary_key=("generator",),
        columns=(
            _c("generator", "string", "Always 'revops demo'.", required=True),
            _c("seed", "int", "Random seed of the generated company.", required=True),
            _c("scale", "float", "Size multiplier of the generated company.", required=True),
            _c("created_at", "timestamp", "When the demo created the warehouse.", required=True),
        ),
        system=True,
    ),
    Table(
        name="load_log",
        description="One row per ingestion run: what came in and where it went.",
        primary_key=("load_id",),
        columns=(
            _c("load_id", "string", "Load id.", required=True),
            _c("target_table", "string", "Table loaded.", required=True),
            _c("file", "string", "Source file.", required=True),
            _c("preset", "string", "Column preset used."),
            _c("rows_in", "int", "Data rows read.", required=True),
            _c("inserted", "int", "New rows.", required=True),
            _c("updated", "int", "Rows that changed a stored row.", required=True),
            _c("quarantined", "int", "Rows sent to quarantine.", required=True),
            _c("unchanged", "int", "Rows equal to (or older than) the stored row."),
            _c("duplicates", "int", "Rows whose id the file repeats later (the last one wins)."),
            _c("blank_lines", "int", "Whitespace-only lines, skipped and not counted as rows."),
            _c(
                "deleted",
                "int",
                "Rows the export flags deleted: not loaded, stored copies removed.",
            ),
            _c(
                "ignored",
                "int",
                "Rows that are no records of their own by the mapping (keep:, history:).",
            ),
            _c("loaded_at", "timestamp", "When.", required=True),
        ),
        system=True,
    ),
    Table(
        name="source_deletions",
        description="Tombstones of records a source export flagged deleted (IsDeleted) after "
        "they were stored: the record is removed, this row says what, when and by which load.",
        primary_key=("target_table", "record_id"),
        columns=(
            _c("target_table", "string", "Table the record was removed from.", required=True),
            _c("record_id", "string", "Its primary key.", required=True),
            _c("source", "string", "Source mapping that flagged it, e.g. salesforce.Lead."),
            _c("load_id", "string", "Load that removed it (load_log.load_id).", required=True),
            _c("deleted_at", "timestamp", "When.", required=True),
        ),
        system=True,
    ),
)

_BY_NAME = {t.name: t for t in TABLES}


def table(name: str) -> Table:
    """The declared table called `name`, or a KeyError listing the known ones."""
    try:
        return _BY_NAME[name]
    except KeyError:
        known = ", ".join(sorted(_BY_NAME))
        raise KeyError(f"unknown table {name!r}; known tables: {known}") from None


def business_tables() -> tuple[Table, ...]:
    """Tables that hold company data (everything but the system bookkeeping tables)."""
    return tuple(t for t in TABLES if not t.system)


def resolve_path(start: str, path: str) -> list[tuple[Table, Relation]]:
    """Follow a dotted dimension path (`person.account.segment`) to the relations it crosses.

    Returns the relations hopped, in order; the last path element is a column of the final table.
    """
    hops: list[tuple[Table, Relation]] = []
    current = table(start)
    *rels, column = path.split(".")
    for rel_name in rels:
        rel = current.relation(rel_name)
        hops.append((current, rel))
        current = table(rel.table)
    current.column(column)
    return hops


def render_markdown() -> str:
    """The data model as Markdown: the analyst's reference (docs/data-model.md)."""
    lines = [
        "# The revops data model",
        "",
        "Generated from `src/revops/warehouse/schema.py` by `revops tables --markdown`; "
        "do not edit by hand.",
        "",
    ]
    for t in TABLES:
        lines += [f"## `{t.name}`", "", t.description, ""]
        lines.append(f"Primary key: {', '.join(f'`{k}`' for k in t.primary_key)}.")
        if t.time_column:
            lines.append(f"Metrics bucket it by `{t.time_column}`.")
        if t.relations:
            rels = ", ".join(f"`{r.column}` → `{r.table}` (as `{r.name}`)" for r in t.relations)
            lines.append(f"Relations: {rels}.")
        if t.dimensions:
            dims = ", ".join(f"{k} = `{v}`" for k, v in t.dimensions.items())
            lines.append(f"Dimensions: {dims}.")
        lines += ["", "| column | type | required | rule | description |", "|---|---|---|---|---|"]
        for c in t.columns:
            rule = ", ".join(c.enum) if c.enum else (c.format or "")
            req = "yes" if c.required else ""
            lines.append(f"| `{c.name}` | {c.type} | {req} | {rule} | {c.description} |")
        lines.append("")
    return "\n".join(lines)
