"""A demo company to run revops on: Northwind Analytics, a B2B SaaS business, two years of data.

`generate(out_dir)` writes the company as its source systems would export it — Salesforce
(users, accounts, opportunities, stage history, activities, campaigns), HubSpot (contacts),
Marketo (activities, program costs), a billing system (subscriptions, Parquet), finance (sales
costs), the marketing automation's lifecycle event stream (JSON lines) and a territory sheet —
so the whole pipeline, from ingestion to reports, runs on realistic files instead of toy tables.

The history covers 2024-11-01 to 2026-10-31 (plus the deals that built the starting customer
base), independent of today's date. Generation is vectorized with numpy and deterministic: the
same `seed` and `scale` give byte-identical files. Scale 1 is ~5,000 accounts, ~50,000 persons,
~500,000 touchpoints, ~6,000 opportunities and ~100,000 activities.

Headline figures fall where public SaaS benchmark surveys put a healthy company (at scale 1,
seed 7, read from the metric dictionary at 2026-10; `tests/demo/test_headline.py` holds them):
NRR ≈ 120% and GRR ≈ 92% (100–125% and 85–95%: SaaS Capital's 2019 B2B SaaS retention
benchmarks and the KeyBanc Capital Markets 2019 private SaaS company survey, ~$28k median ACV);
LTV:CAC ≈ 3.1× (3–6×: the 3:1 rule of David Skok's "SaaS Metrics 2.0", ~3–5× in the same
surveys); new-business win rate ≈ 32% (20–35%, the range sales benchmark reports give for
mid-market B2B SaaS); sales and marketing about a fifth of ARR (an efficient go-to-market
beside Bessemer Venture Partners' ~50% of revenue in "Scaling to $100 Million", 2021).
Bookings reconcile with ARR movements: a deal at an account that already bought is an
expansion (cross-sell, `deals.cross_sell`), so new-business bookings ≈ new ARR and expansion
bookings ≈ expansion ARR; `sales_costs` gives CAC its real inputs (`demo.costs`).

Planted effects (see `PLANTED_EFFECTS` for the numbers a metric should show):

- webinar-sourced MQLs convert to SQL about twice as often as the average channel;
- attending a webinar between MQL and SQL raises the odds of qualifying, so webinar touches
  sit close to conversion and the data-driven attribution models rank webinar first;
- paid social has the highest cost per lead and the lowest conversion at every step;
- enterprise deals are ~5× larger and take ~2× longer than the rest;
- EMEA wins clearly fewer of its deals than NA;
- one named AE (Maya Okafor) wins clearly more of her deals than her peers;
- Embedded BI churns several times more than the other products;
- fit (company size, industry, title seniority) raises conversion at every funnel step;
- recent engagement matters: a touchpoint burst precedes each MQL;
- dirty data: ~0.2% of persons have a bad email or an unparseable date, and ~1% of lifecycle
  events break the lifecycle map (skipped stages, MQL without a company), so ingestion's
  quarantine and the lifecycle engine's rejections have something real to show;
- consent: a ledger with marketing opt-ins (double opt-in: most confirmed, some left pending),
  later opt-outs, do-not-contact requests and sales-call opt-ins (`demo.consent`);
- identity: ~2% duplicate persons, ~1% duplicate accounts and unmatched leads, with the truth
  written to `<out>/truth/*.csv` (not loaded) so dedupe and matching can be scored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from revops.demo.company import Company, build
from revops.demo.effects import PLANTED_EFFECTS, PlantedEffect, planted_count
from revops.demo.writers import (
    canonical_frame,
    export_frame,
    write_csv,
    write_jsonl,
    write_parquet,
)

__all__ = ["PLANTED_EFFECTS", "DemoFile", "PlantedEffect", "generate", "planted_count"]


@dataclass(frozen=True)
class DemoFile:
    """One generated file: the canonical table it holds and the preset its columns follow.

    `preset` None means the columns already carry canonical names.
    """

    table: str
    path: Path
    preset: str | None


# table -> (preset, file name); the preset decides column names, labels and date formats
LAYOUT: dict[str, tuple[str | None, str]] = {
    "territories": (None, "territories.csv"),
    "users": ("salesforce", "salesforce_users.csv"),
    "accounts": ("salesforce", "salesforce_accounts.csv"),
    "campaigns": ("salesforce", "salesforce_campaigns.csv"),
    "opportunities": ("salesforce", "salesforce_opportunities.csv"),
    "opportunity_stage_history": (
        "salesforce.OpportunityHistory",
        "salesforce_opportunity_history.csv",
    ),
    "opportunity_splits": ("salesforce.OpportunitySplit", "salesforce_opportunity_splits.csv"),
    "activities": ("salesforce.Task", "salesforce_activities.csv"),
    "persons": ("hubspot", "hubspot_contacts.csv"),
    "touchpoints": ("marketo", "marketo_activities.csv"),
    "campaign_spend": ("marketo", "marketo_program_costs.csv"),
    "sales_costs": (None, "finance_sales_costs.csv"),
    "subscriptions": (None, "billing_subscriptions.parquet"),
    "lifecycle_events": (None, "lifecycle_events.jsonl"),
    "product_usage": (None, "product_usage.csv"),
    "support_tickets": (None, "support_tickets.csv"),
    "invoices": (None, "billing_invoices.csv"),
    "champion_changes": (None, "champion_changes.csv"),
    "consent_ledger": (None, "consent_ledger.csv"),
}

_BAD_EMAILS = (
    "{local}@",
    "{local} at {domain}",
    "{local}@{domain_nodot}",
    "{local}@@{domain}",
    "{local}.{domain}",
)
_BAD_DATES = ("{y}-02-30 10:15", "31/{m}/{y} 09:00", "{y}-13-{d} 11:30", "yesterday", "{d}.{m}.{y}")


def _dirty_persons(table: pa.Table, dirty: np.ndarray) -> pa.Table:
    """Break the planted rows the way hand-typed CRM data breaks: emails first, then dates."""
    rows = np.flatnonzero(dirty)
    out = table.to_pandas()
    for k, row in enumerate(rows):
        email = str(out.at[row, "Email"])
        local, _, domain = email.partition("@")
        if k % 2 == 0:
            template = _BAD_EMAILS[(k // 2) % len(_BAD_EMAILS)]
            out.at[row, "Email"] = template.format(
                local=local, domain=domain, domain_nodot=domain.replace(".", "")
            )
        else:
            created = str(out.at[row, "Create Date"])
            template = _BAD_DATES[(k // 2) % len(_BAD_DATES)]
            out.at[row, "Create Date"] = template.format(
                y=created[:4], m=created[5:7], d=created[8:10]
            )
    return pa.Table.from_pandas(out, schema=table.schema, preserve_index=False)


def _write(company: Company, table: str, out_dir: Path) -> DemoFile:
    preset, name = LAYOUT[table]
    frame = company.tables[table]
    path = out_dir / name
    if name.endswith(".parquet"):
        write_parquet(frame, table, path)
    elif name.endswith(".jsonl"):
        write_jsonl(canonical_frame(frame, table), path)
    elif preset is None:
        write_csv(canonical_frame(frame, table), path)
    else:
        text = export_frame(frame, table, preset)
        if table == "persons":
            text = _dirty_persons(text, company.dirty_persons)
        write_csv(text, path)
    return DemoFile(table, path, preset)


def generate(
    out_dir: Path,
    *,
    scale: float = 1.0,
    seed: int = 7,
    written: Callable[[DemoFile], None] | None = None,
) -> list[DemoFile]:
    """Generate Northwind Analytics into `out_dir` and return the files written.

    `scale` multiplies every volume (1.0 ≈ 50,000 persons); tiny scales keep a minimum company
    so every table and effect exists. The same `seed` and `scale` always give identical bytes.
    Files are written in `LAYOUT` order, `written` told of each as soon as it is complete (the
    demo loads one while the next is written: `revops.demo.background`).
    """
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    company = build(scale, seed)
    _write_truth(company, out_dir / "truth")
    files = []
    for table in LAYOUT:
        files.append(_write(company, table, out_dir))
        if written is not None:
            written(files[-1])
    return files


def _write_truth(company: Company, truth_dir: Path) -> None:
    """The planted identity truth (duplicates, unmatched leads), beside but never loaded."""
    truth_dir.mkdir(parents=True, exist_ok=True)
    for stem, frame in company.truth.items():
        write_csv(
            pa.Table.from_pandas(frame.astype(str), preserve_index=False), truth_dir / f"{stem}.csv"
        )
