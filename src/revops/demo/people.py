"""Companies and the humans in the funnel: accounts and persons.

Accounts carry the *fit* of the company (size and industry), persons add their own seniority;
together they form the latent fit score that drives conversion downstream, so a scoring model
built later on employees, industry and title has a real signal to find. Every person belongs to
a company that is an account, but only matched persons carry `account_id`, as after real
lead-to-account matching; everyone who reaches SQL is matched.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np
import pandas as pd

from revops.demo._common import (
    CHANNELS,
    COUNTRIES,
    FIRST_NAMES,
    LAST_NAMES,
    STATES,
    BoolArray,
    FloatArray,
    IntArray,
    StrArray,
    TimeArray,
    choice_idx,
    pick_among,
)
from revops.demo.org import Org, territory_number
from revops.warehouse.schema import REGIONS

INDUSTRIES = (
    "Software", "Financial Services", "Retail", "Healthcare", "Manufacturing", "Media",
    "Logistics", "Education", "Telecommunications", "Professional Services", "Government",
    "Energy",
)  # fmt: skip
_INDUSTRY_FIT = np.array([0.6, 0.45, 0.3, 0.0, -0.2, 0.1, 0.0, -0.45, 0.1, 0.0, -0.6, -0.2])
_INDUSTRY_WEIGHT = [0.16, 0.11, 0.10, 0.10, 0.12, 0.06, 0.07, 0.05, 0.05, 0.09, 0.04, 0.05]
_NAME_A = (
    "Blue", "North", "Silver", "Bright", "Red", "Green", "Iron", "Clear", "Swift", "Summit",
    "Quantum", "Atlas", "Nova", "Pioneer", "Vertex", "Crescent", "Harbor", "Granite", "Cedar",
    "Falcon", "Orion", "Polar", "Sterling", "Apex", "Lumen", "Evergreen", "Keystone", "Horizon",
    "Beacon", "Meridian", "Cobalt", "Maple", "Juniper", "Redwood", "Aurora", "Zenith", "Delta",
    "Coral", "Onyx", "Sage",
)  # fmt: skip
_NAME_B = (
    "Logistics", "Health", "Systems", "Labs", "Foods", "Capital", "Works", "Networks", "Energy",
    "Retail", "Media", "Bank", "Software", "Robotics", "Dynamics", "Partners", "Group",
    "Industries", "Solutions", "Pharma", "Motors", "Textiles", "Logic", "Cloud", "Markets",
    "Insurance", "Freight", "Studios", "Telecom", "Foundry", "Devices", "Outfitters", "Brands",
    "Biotech", "Payments", "Learning", "Mobility", "Security", "Materials", "Ventures",
)  # fmt: skip
_LEGAL = {
    "US": "Inc.", "CA": "Inc.", "GB": "Ltd", "DE": "GmbH", "FR": "SAS", "NL": "B.V.", "SE": "AB",
    "ES": "S.L.", "IE": "Ltd", "CH": "AG", "AU": "Pty Ltd", "JP": "K.K.", "SG": "Pte Ltd",
    "IN": "Pvt Ltd", "NZ": "Ltd", "BR": "Ltda.", "MX": "S.A. de C.V.", "AR": "S.A.",
    "CO": "S.A.S.", "CL": "SpA",
}  # fmt: skip
_TLD = {
    "US": "com", "CA": "ca", "GB": "co.uk", "DE": "de", "FR": "fr", "NL": "nl", "SE": "se",
    "ES": "es", "IE": "ie", "CH": "ch", "AU": "com.au", "JP": "jp", "SG": "sg", "IN": "in",
    "NZ": "co.nz", "BR": "com.br", "MX": "mx", "AR": "com.ar", "CO": "co", "CL": "cl",
}  # fmt: skip
_DIAL = {
    "US": "+1", "CA": "+1", "GB": "+44", "DE": "+49", "FR": "+33", "NL": "+31", "SE": "+46",
    "ES": "+34", "IE": "+353", "CH": "+41", "AU": "+61", "JP": "+81", "SG": "+65", "IN": "+91",
    "NZ": "+64", "BR": "+55", "MX": "+52", "AR": "+54", "CO": "+57", "CL": "+56",
}  # fmt: skip
_SEGMENT_SHARE = (0.55, 0.32, 0.13)
_REGION_SHARE = (0.45, 0.30, 0.15, 0.10)
_EMPLOYEE_RANGE = ((8, 199), (200, 1_999), (2_000, 60_000))
SENIORITY = ("Individual contributor", "Manager", "Director", "VP", "C-level")
_SENIORITY_SHARE = (0.40, 0.28, 0.17, 0.09, 0.06)
_DEPTS = (
    "Data",
    "Analytics",
    "Finance",
    "Operations",
    "Marketing",
    "Engineering",
    "Revenue Operations",
    "IT",
    "Business Intelligence",
    "Sales",
)
_IC_TITLES = (
    "Data Analyst",
    "Analytics Engineer",
    "Financial Analyst",
    "BI Developer",
    "Operations Analyst",
    "Software Engineer",
    "Marketing Analyst",
    "Data Engineer",
    "Data Scientist",
    "Sales Operations Analyst",
)
_C_TITLES = (
    "CFO",
    "CTO",
    "COO",
    "CEO",
    "Chief Data Officer",
    "CIO",
    "Chief Revenue Officer",
    "CFO",
    "CTO",
    "Chief Data Officer",
)
_PERSONAL = ("gmail.com", "outlook.com", "yahoo.com", "icloud.com")
PERSONAL_DOMAINS = _PERSONAL  # free-mail domains persons use; identity truth needs them


@dataclass
class Accounts:
    """Account attributes by account index; ids and created_at are settled in `finalize`."""

    n: int
    name: StrArray
    domain: StrArray
    industry: IntArray
    employees: IntArray
    annual_revenue: FloatArray
    country: StrArray
    region: IntArray
    segment: IntArray
    owner: IntArray  # user row
    territory: IntArray
    parent: IntArray  # account index or -1
    fit: FloatArray
    created_base: TimeArray


@dataclass
class Persons:
    """Person attributes by person index (index order = creation order)."""

    n: int
    created: TimeArray
    channel: IntArray
    campaign: IntArray  # campaign index
    company_account: IntArray  # the account the person works for
    has_company: BoolArray
    seniority: IntArray
    fit: FloatArray
    first: StrArray
    last: StrArray
    email: StrArray
    title: StrArray
    phone: StrArray
    state: StrArray
    captured_employees: FloatArray  # NaN when not captured
    captured_industry: StrArray  # '' when not captured
    company_text: StrArray


def _ascii(values: StrArray) -> StrArray:
    out = [unicodedata.normalize("NFKD", v).encode("ascii", "ignore").decode() for v in values]
    return np.array(out)


def _slug(values: StrArray) -> StrArray:
    low = np.char.lower(_ascii(values))
    for ch in (" ", "'", ".", "&", ","):
        low = np.char.replace(low, ch, "")
    return low


def build_accounts(rng: np.random.Generator, n: int, org: Org) -> Accounts:
    """`n` companies across regions and segments, each owned by an AE of its territory."""
    segment = choice_idx(rng, list(_SEGMENT_SHARE), n)
    region = choice_idx(rng, list(_REGION_SHARE), n)
    country = np.empty(n, dtype="<U2")
    for r, region_name in enumerate(REGIONS):
        codes, weights = COUNTRIES[region_name]
        mask = region == r
        country[mask] = np.array(codes)[choice_idx(rng, list(weights), int(mask.sum()))]
    lo = np.log(np.array([e[0] for e in _EMPLOYEE_RANGE], dtype=float))[segment]
    hi = np.log(np.array([e[1] for e in _EMPLOYEE_RANGE], dtype=float))[segment]
    employees = np.exp(lo + (hi - lo) * rng.beta(1.3, 2.2, n)).astype(np.int64)
    industry = choice_idx(rng, _INDUSTRY_WEIGHT, n)
    revenue = np.round(employees * rng.uniform(90_000, 260_000, n), -3)

    a = rng.integers(0, len(_NAME_A), n)
    b = rng.integers(0, len(_NAME_B), n)
    base = np.char.add(np.char.add(np.array(_NAME_A)[a], " "), np.array(_NAME_B)[b])
    dup = pd.Series(base).groupby(base).cumcount().to_numpy()
    qualifier = np.where(dup > 0, np.char.add(" ", np.array(LAST_NAMES)[(dup * 7 + a) % 80]), "")
    core = np.char.add(base, qualifier)
    legal = np.array([_LEGAL[c] for c in country])
    name = np.char.add(np.char.add(core, " "), legal)
    tld = np.array([_TLD[c] for c in country])
    slug = _slug(core)
    dup2 = pd.Series(slug).groupby(slug).cumcount().to_numpy()
    slug = np.where(dup2 > 0, np.char.add(slug, dup2.astype(str)), slug)
    domain = np.char.add(np.char.add(slug, "."), tld)

    terr = territory_number(region, segment)
    in_terr = org.ae_territory[None, :] == terr[:, None]
    owner = org.ae_users[pick_among(rng, in_terr)]

    parent = np.full(n, -1, dtype=np.int64)
    ent = np.flatnonzero(segment == 2)
    child = np.flatnonzero((segment < 2) & (rng.random(n) < 0.03))
    if len(ent) and len(child):
        same_region = region[ent][None, :] == region[child][:, None]
        pick = pick_among(rng, same_region)
        parent[child[pick >= 0]] = ent[pick[pick >= 0]]

    fit = (np.log(employees) - np.log(300.0)) / 1.6 + _INDUSTRY_FIT[industry]
    span = (np.datetime64("2026-10-31", "s") - np.datetime64("2018-01-01", "s")).astype(np.int64)
    created = np.datetime64("2018-01-01T00:00:00", "s") + (rng.random(n) * span).astype(
        np.int64
    ).astype("m8[s]")
    return Accounts(
        n=n,
        name=name,
        domain=domain,
        industry=industry,
        employees=employees,
        annual_revenue=revenue,
        country=country,
        region=region,
        segment=segment,
        owner=owner,
        territory=terr,
        parent=parent,
        fit=fit,
        created_base=created,
    )


def _titles(rng: np.random.Generator, seniority: IntArray) -> StrArray:
    n = len(seniority)
    k = rng.integers(0, 10, n)
    dept = np.array(_DEPTS)[k]
    vp = np.char.add("VP of ", dept)
    director = np.char.add("Director of ", dept)
    manager = np.char.add(dept, " Manager")
    table = np.stack([np.array(_IC_TITLES)[k], manager, director, vp, np.array(_C_TITLES)[k]])
    return np.asarray(table[seniority, np.arange(n)])


def build_persons(
    rng: np.random.Generator,
    created: TimeArray,
    channel: IntArray,
    campaign: IntArray,
    accounts: Accounts,
) -> Persons:
    """Persons created at `created` (sorted) through `channel`/`campaign`, each at a company."""
    n = len(created)
    weight = accounts.employees.astype(float) ** 0.45
    company = choice_idx(rng, weight, n)
    has_company = rng.random(n) >= 0.03
    seniority = choice_idx(rng, list(_SENIORITY_SHARE), n)
    fit_raw = 0.6 * accounts.fit[company] + 0.5 * (seniority - 1.1) / 1.2 + rng.normal(0, 0.35, n)
    fit = (fit_raw - fit_raw.mean()) / fit_raw.std()

    fi = rng.integers(0, len(FIRST_NAMES), n)
    li = rng.integers(0, len(LAST_NAMES), n)
    first, last = np.array(FIRST_NAMES)[fi], np.array(LAST_NAMES)[li]
    f_slug, l_slug = _slug(np.array(FIRST_NAMES))[fi], _slug(np.array(LAST_NAMES))[li]
    style = choice_idx(rng, [0.70, 0.15, 0.05, 0.10], n)
    local = np.select(
        [style == 0, style == 1, style == 2],
        [
            np.char.add(np.char.add(f_slug, "."), l_slug),
            np.char.add(f_slug.astype("<U1"), l_slug),
            f_slug,
        ],
        np.char.add(np.char.add(f_slug, "."), l_slug),
    )
    domain = np.where(
        style == 3, np.array(_PERSONAL)[rng.integers(0, 4, n)], accounts.domain[company]
    )
    local = np.where(style == 3, np.char.add(local, rng.integers(10, 9999, n).astype(str)), local)
    addr = np.char.add(np.char.add(local, "@"), domain)
    dup = pd.Series(addr).groupby(addr).cumcount().to_numpy()
    local = np.where(dup > 0, np.char.add(local, (dup + 1).astype(str)), local)
    email = np.char.add(np.char.add(local, "@"), domain)

    country = accounts.country[company]
    dial = np.array([_DIAL[c] for c in country])
    number = rng.integers(200, 999, n).astype(str)
    rest = rng.integers(1_000_000, 9_999_999, n).astype(str)
    phone = np.char.add(np.char.add(np.char.add(dial, " "), np.char.add(number, " ")), rest)
    phone = np.where(rng.random(n) < 0.35, "", phone)
    state = np.full(n, "", dtype="<U3")
    for code, options in STATES.items():
        mask = country == code
        state[mask] = np.array(options)[rng.integers(0, len(options), int(mask.sum()))]

    employees = np.where(rng.random(n) < 0.8, accounts.employees[company], np.nan)
    industry = np.where(rng.random(n) < 0.75, np.array(INDUSTRIES)[accounts.industry[company]], "")
    short = np.array([nm.rsplit(" ", 1)[0] if " " in nm else nm for nm in accounts.name])
    company_text = np.where(rng.random(n) < 0.85, accounts.name[company], short[company])
    company_text = np.where(has_company, company_text, "")
    return Persons(
        n=n,
        created=created,
        channel=channel,
        campaign=campaign,
        company_account=company,
        has_company=has_company,
        seniority=seniority,
        fit=fit,
        first=first,
        last=last,
        email=email,
        title=_titles(rng, seniority),
        phone=phone,
        state=state,
        captured_employees=employees,
        captured_industry=industry,
        company_text=company_text,
    )


CHANNEL_SHARE = {
    "paid_search": 0.17,
    "organic_search": 0.15,
    "paid_social": 0.10,
    "email": 0.07,
    "events": 0.08,
    "webinar": 0.10,
    "partner": 0.06,
    "referral": 0.05,
    "direct": 0.11,
    "outbound": 0.11,
}
assert tuple(CHANNEL_SHARE) == CHANNELS
