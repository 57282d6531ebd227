"""The effects planted in the demo company, so later engines can be checked against them.

Each effect is caused on purpose by a parameter of the generator, described here once, and
asserted on the raw files by tests/demo. The numbers in `expected` are what the raw data shows
at scale 1, seed 7; other seeds and scales land close by.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PlantedEffect:
    """One planted effect: what was planted, and what a metric over the data should show."""

    name: str
    description: str
    metric: str  # the metric (revops.yaml) or table that reveals it
    expected: str  # what that metric should show


# Planted row counts as a share of persons, with a floor so tiny scales still have some.
_RATES = {
    "dirty_persons": (0.002, 2),
    "skipped_stage_events": (0.016, 3),
    "mql_missing_company": (0.006, 2),
}


def planted_count(name: str, n_persons: int) -> int:
    """How many planted rows of kind `name` a company with `n_persons` persons gets."""
    rate, floor = _RATES[name]
    return max(floor, round(rate * n_persons))


PLANTED_EFFECTS: tuple[PlantedEffect, ...] = (
    PlantedEffect(
        "webinar_mql_to_sql",
        "Webinar-sourced MQLs qualify to SQL about twice as often as the average channel.",
        "mql_to_sql by channel",
        "webinar ≈ 56% vs ≈ 31% overall (≈ 1.8×); paid social lowest at ≈ 15%",
    ),
    PlantedEffect(
        "webinar_attendance",
        "Attending a webinar after MQL raises the odds of qualifying, whatever the source: 22% "
        "of MQLs attend one (live or on demand, a webinar_attended touch of the webinar "
        "channel) between MQL and the SQL decision — before SQL for those who qualify, within "
        "three weeks of MQL for the rest — and attendance adds 1.3 to the log-odds of SQL "
        "(funnel.WEBINAR_ATTEND, WEBINAR_SQL_LIFT). So webinar touches sit close to "
        "conversion in converting journeys, and the data-driven attribution models rank "
        "webinar first.",
        "mql_to_sql for MQLs with a webinar touch in the window; attribution credit (Markov, "
        "Shapley, sql) per journey the channel touched",
        "≈ 45% of attendees reach SQL vs ≈ 27% of the other MQLs; at scale 0.1 Markov (orders "
        "1–4) and Shapley give webinar ≈ 0.047–0.061 SQL credit per journey touched vs ≤ 0.044 "
        "for every other channel",
    ),
    PlantedEffect(
        "paid_social_cpl",
        "Paid social is the most expensive channel per lead and converts worst at every step.",
        "marketing_spend / leads by channel; lead_to_mql by channel",
        "cost per lead ≈ $490 (next: trade shows ≈ $350, paid search ≈ $190); lead→MQL ≈ 23% "
        "vs 31–41% elsewhere",
    ),
    PlantedEffect(
        "enterprise_deals",
        "Enterprise new-business deals are about five times larger and take twice as long.",
        "avg_deal_size and sales_cycle_days by segment (new_business)",
        "won enterprise deals ≈ 4.5× the average size of SMB+mid-market ones; cycle ≈ 99 vs "
        "≈ 53 days (≈ 1.9×)",
    ),
    PlantedEffect(
        "emea_win_rate",
        "EMEA closes clearly fewer of its new-business deals than NA.",
        "win_rate by region (new_business)",
        "EMEA ≈ 21% vs NA ≈ 46% (APAC ≈ 31%, LATAM ≈ 31%)",
    ),
    PlantedEffect(
        "star_rep",
        "One AE, Maya Okafor (NA Mid-Market), wins far more of her deals than her peers.",
        "win_rate by owner (new_business)",
        "≈ 70% vs a median rep of ≈ 30%; nobody else above ≈ 60%",
    ),
    PlantedEffect(
        "embedded_bi_churn",
        "Embedded BI contracts are lost at renewal far more often than the other products.",
        "renewal win rate by product (opportunity name); subscriptions ending without successor",
        "Embedded BI renewals lost ≈ 47% vs 8–12% for the others (in every segment: SMB "
        "customers leave ≈ 2.6× and enterprise ≈ 0.5× as often as mid-market)",
    ),
    PlantedEffect(
        "fit_conversion",
        "Fit — company size, industry and title seniority — raises conversion at every step, "
        "the signal a lead-scoring model should find.",
        "lead→SQL by employees / title",
        "lead→SQL ≈ 16% for VP/C-level vs ≈ 7% for individual contributors; ≈ 13% at ≥ 1,000 "
        "employees vs ≈ 3% under 50",
    ),
    PlantedEffect(
        "touch_recency",
        "A burst of touchpoints precedes every MQL, so recent engagement predicts conversion.",
        "touchpoints in the 14 days before a snapshot vs MQL in the next 30 days",
        "open leads touched in the last 14 days become MQL within 30 days ≈ 8.4% of the time "
        "vs ≈ 0.6% for the rest (≈ 14×)",
    ),
    PlantedEffect(
        "dirty_persons",
        "About 0.2% of persons rows are unloadable: half with a malformed email, half with an "
        "unparseable Create Date. Nothing else refers to them.",
        "quarantine (target_table = persons)",
        "100 rows at scale 1 (0.2% of persons, at least 2)",
    ),
    PlantedEffect(
        "skipped_stage_events",
        "Lifecycle events that skip stages: SQL, SAL or Opportunity requested while the person "
        "is still a Lead.",
        "lifecycle_rejections (transition not allowed)",
        "800 events at scale 1 (1.6% of persons ≈ 0.7% of events, at least 3)",
    ),
    PlantedEffect(
        "mql_missing_company",
        "MQL events for persons who never gave a company (MQL requires company).",
        "lifecycle_rejections (required field company missing)",
        "300 events at scale 1 (0.6% of persons ≈ 0.3% of events, at least 2)",
    ),
    PlantedEffect(
        "duplicate_persons",
        "2% of persons (at least 4) re-entered as a new lead: email case, +alias or nickname "
        "variants, first-name nicknames (50%), a last-name typo (35%), a company typo or "
        "re-casing (35%), another source, no lifecycle events, account kept half the time. "
        "Truth: truth/person_duplicates.csv.",
        "revops quality evaluate (persons dedupe)",
        "1,000 duplicate records at scale 1; dedupe P ≈ 0.80, R ≈ 0.94, F1 ≈ 0.86",
    ),
    PlantedEffect(
        "duplicate_accounts",
        "1% of accounts (at least 2) entered twice: 'ACME, INC.' / lower-case / typo names, "
        "www. domain (60%) or none, no owner, no children. Truth: truth/account_duplicates.csv.",
        "revops quality evaluate (accounts dedupe)",
        "50 duplicate accounts at scale 1; dedupe recall ≈ 0.90",
    ),
    PlantedEffect(
        "unmatched_leads",
        "Leads without account_id (≈ 20% of persons, plus duplicates that lost theirs) whose "
        "email domain or company name identifies their employer; 30% of their company names "
        "re-cased or mistyped, ≈ 10% on free-mail addresses that must not match by domain. "
        "Truth: truth/lead_accounts.csv.",
        "revops quality evaluate (lead-to-account matching)",
        "≈ 9,500 leads at scale 1; matching P = 1.00, R ≈ 0.997, F1 ≈ 0.999",
    ),
)
