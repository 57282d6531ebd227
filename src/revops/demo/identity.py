"""Planted identity problems, with the truth written next to the exports.

Real CRMs hold the same human twice, the same company twice, and leads nobody matched to their
account. This module plants all three into the finished company at known rates and returns the
truth, which `generate` writes under `<out>/truth/` (never loaded): `person_duplicates.csv` and
`account_duplicates.csv` (record_id, true_entity_id for every record of a duplicate group), and
`lead_accounts.csv` (person_id, true_account_id for every unmatched lead whose email domain or
company name identifies its account). Duplicates are new lead records with no lifecycle events,
touchpoints or deals, so the funnel is unchanged. It draws from its own seeded generator, so the
rest of the company is byte-identical with or without it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from revops.demo._common import CHANNELS, END, BoolArray, StrArray, days, sf_ids
from revops.demo.people import PERSONAL_DOMAINS

RATES = {"duplicate_persons": (0.02, 4), "duplicate_accounts": (0.01, 2)}
COMPANY_VARIANT_SHARE = 0.3  # of unmatched leads with a company: typo, case or punctuation
_NICK = {
    "James": "Jim", "Robert": "Bob", "John": "Johnny", "Michael": "Mike", "David": "Dave",
    "Elizabeth": "Liz", "William": "Bill", "Richard": "Rick", "Joseph": "Joe", "Thomas": "Tom",
    "Daniel": "Dan", "Matthew": "Matt", "Anthony": "Tony", "Steven": "Steve", "Andrew": "Andy",
    "Joshua": "Josh", "Patricia": "Pat", "Jennifer": "Jen", "Susan": "Sue", "Jessica": "Jess",
    "Barbara": "Barb", "Kevin": "Kev", "Samantha": "Sam", "Gabriel": "Gabe", "Rafael": "Rafa",
    "Valentina": "Vale", "Santiago": "Santi", "Charlotte": "Lottie", "Michelle": "Shelly",
}  # fmt: skip


@dataclass(frozen=True)
class IdentityTruth:
    persons: pd.DataFrame  # updated persons (duplicates appended)
    accounts: pd.DataFrame  # updated accounts (duplicates appended)
    dirty: BoolArray  # aligned with persons rows
    truth: dict[str, pd.DataFrame]  # file stem -> frame
    planted: dict[str, int]


def _count(name: str, n: int) -> int:
    rate, floor = RATES[name]
    return max(floor, round(rate * n))


def _typo(rng: np.random.Generator, text: str) -> str:
    """Swap two adjacent letters or drop one, away from the first letter."""
    if len(text) < 4:
        return text
    i = int(rng.integers(1, len(text) - 2))
    if rng.random() < 0.5:
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    return text[:i] + text[i + 1 :]


def _company_variant(rng: np.random.Generator, name: str) -> str:
    """'Blue Harbor Inc.' as people type it: 'BLUE HARBOR, INC.', 'blue harbor', a typo."""
    kind = int(rng.integers(0, 3))
    if kind == 0:
        core, _, legal = name.rpartition(" ")
        return f"{core.upper()}, {legal.upper()}" if core else name.upper()
    if kind == 1:
        return name.lower().replace(".", "")
    return _typo(rng, name)


def _email_variant(rng: np.random.Generator, email: str, first: str, nick: str) -> str:
    local, _, domain = email.partition("@")
    kind = int(rng.integers(0, 3))
    if kind == 0:
        return f"{local.title()}@{domain.title()}"
    if kind == 1:
        return f"{local}+{rng.choice(['web', 'events', 'news'])}@{domain}"
    if nick != first and local.startswith(first.lower()):
        return f"{nick.lower()}{local[len(first) :]}@{domain}"
    return f"{local}+crm@{domain}"


def _duplicate_persons(
    rng: np.random.Generator, persons: pd.DataFrame, dirty: BoolArray
) -> tuple[pd.DataFrame, pd.DataFrame]:
    n_dup = _count("duplicate_persons", len(persons))
    pool = np.flatnonzero(~dirty & persons["company"].fillna("").ne("").to_numpy())
    src = np.sort(rng.choice(pool, size=min(n_dup, len(pool)), replace=False))
    dup = persons.iloc[src].astype(object).reset_index(drop=True)
    base_id = int(pd.to_numeric(persons["person_id"]).max())
    dup["person_id"] = (base_id + np.cumsum(rng.integers(1, 40, len(src)))).astype(str)
    for i in range(len(dup)):
        first = str(dup.at[i, "first_name"])
        nick = _NICK.get(first, first)
        if rng.random() < 0.5:
            dup.at[i, "first_name"] = nick
        dup.at[i, "email"] = _email_variant(rng, str(dup.at[i, "email"]), first, nick)
        if rng.random() < 0.35:
            dup.at[i, "last_name"] = _typo(rng, str(dup.at[i, "last_name"]))
        if rng.random() < 0.35:
            dup.at[i, "company"] = _company_variant(rng, str(dup.at[i, "company"]))
        if rng.random() < 0.5:
            dup.at[i, "phone"] = None
    created = persons["created_at"].to_numpy(dtype="datetime64[s]")[src]
    created = np.minimum(created + days(rng.uniform(1, 200, len(src))), END - days(2))
    dup["created_at"] = created
    dup["updated_at"] = created + days(rng.uniform(0, 2, len(src)))
    dup["source"] = np.array(CHANNELS)[rng.integers(0, len(CHANNELS), len(src))]
    dup["source_campaign_id"] = None
    dup["person_type"] = "lead"
    dup["owner_id"] = None
    dup["lifecycle_stage"] = "Lead"
    keep_account = rng.random(len(src)) < 0.5
    dup["account_id"] = dup["account_id"].where(keep_account, None)
    truth = pd.DataFrame(
        {
            "record_id": np.concatenate([persons["person_id"].to_numpy()[src], dup["person_id"]]),
            "true_entity_id": np.tile(persons["person_id"].to_numpy()[src], 2),
        }
    )
    return dup, truth


def _duplicate_accounts(
    rng: np.random.Generator, accounts: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    n = len(accounts)
    src = np.sort(rng.choice(n, size=_count("duplicate_accounts", n), replace=False))
    dup = accounts.iloc[src].astype(object).reset_index(drop=True)
    dup["account_id"] = sf_ids("001", n + len(src))[n:]
    dup["name"] = [_company_variant(rng, str(v)) for v in dup["name"]]
    www = rng.random(len(src)) < 0.6
    dup["domain"] = ("www." + dup["domain"].astype(str)).where(www, None)
    dup["employees"] = dup["employees"].where(rng.random(len(src)) < 0.5, None)
    dup["annual_revenue"] = None
    dup["owner_id"] = None
    dup["parent_account_id"] = None
    created = accounts["created_at"].to_numpy(dtype="datetime64[s]")[src]
    dup["created_at"] = np.minimum(created + days(rng.uniform(30, 400, len(src))), END)
    ids = accounts["account_id"].to_numpy()[src]
    truth = pd.DataFrame(
        {"record_id": np.concatenate([ids, dup["account_id"]]), "true_entity_id": np.tile(ids, 2)}
    )
    return dup, truth


def plant(
    seed: int,
    persons: pd.DataFrame,
    accounts: pd.DataFrame,
    dirty: BoolArray,
    true_account: StrArray,
) -> IdentityTruth:
    """Plant duplicates and unmatched-lead variants; `true_account` is each person's employer."""
    rng = np.random.default_rng([seed, 0x1D])
    p_dup, p_truth = _duplicate_persons(rng, persons, dirty)
    a_dup, a_truth = _duplicate_accounts(rng, accounts)
    src_of = dict(
        zip(
            p_truth["record_id"].iloc[len(p_dup) :],
            p_truth["true_entity_id"].iloc[len(p_dup) :],
            strict=True,
        )
    )
    employer = dict(zip(persons["person_id"], true_account, strict=True))

    out = persons.copy()
    unmatched = (
        out["account_id"].isna().to_numpy() & ~dirty & out["company"].fillna("").ne("").to_numpy()
    )
    variant = np.flatnonzero(unmatched & (rng.random(len(out)) < COMPANY_VARIANT_SHARE))
    out.loc[variant, "company"] = [
        _company_variant(rng, str(v)) for v in out.loc[variant, "company"]
    ]
    all_p = pd.concat([out, p_dup.astype(persons.dtypes.to_dict())], ignore_index=True)
    a_types = {**accounts.dtypes.to_dict(), "employees": np.float64}
    all_a = pd.concat([accounts.astype(a_types), a_dup.astype(a_types)], ignore_index=True)

    leads = all_p[all_p["account_id"].isna()]
    leads = leads[~np.concatenate([dirty, np.zeros(len(p_dup), bool)])[leads.index]]
    true_acc = leads["person_id"].map(lambda pid: employer[src_of.get(pid, pid)])
    corporate = ~leads["email"].str.rsplit("@", n=1).str[-1].str.lower().isin(
        list(PERSONAL_DOMAINS)
    )
    known = corporate | leads["company"].fillna("").ne("")
    lead_truth = pd.DataFrame(
        {"person_id": leads["person_id"][known], "true_account_id": true_acc[known]}
    )
    planted = {
        "duplicate_persons": len(p_dup),
        "duplicate_accounts": len(a_dup),
        "unmatched_leads": len(lead_truth),
        "unmatched_free_mail": int((known & ~corporate).sum()),
        "company_variants": len(variant),
    }
    return IdentityTruth(
        all_p,
        all_a,
        np.concatenate([dirty, np.zeros(len(p_dup), dtype=bool)]),
        {"person_duplicates": p_truth, "account_duplicates": a_truth, "lead_accounts": lead_truth},
        planted,
    )
