"""Lead-to-account matching: which account does a person without one work for?

Evidence, strongest first: the registrable domain of the person's email equals the account's
website domain (never for free-mail providers: a gmail address says nothing about an employer);
the normalized company name equals the account's; the company name is a close fuzzy match
(rapidfuzz token_sort_ratio) within a block of accounts sharing its first word or its country.
When several accounts tie on the strongest evidence, the configured tie-breakers decide (same
country, most employees, has an owner, most recent activity). The core is a pure function over
Arrow tables; `run_matching` is the warehouse edge.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa
from rapidfuzz import fuzz, process

from revops.config.identity import MatchingConfig
from revops.identity.freemail import free_mail_domains
from revops.warehouse import Warehouse
from revops.warehouse.warehouse import Batch

__all__ = ["MatchRun", "match_accounts", "normalize_company", "registrable_domain", "run_matching"]

# Legal forms, dropped from the end of a company name ("Acme Inc." is "acme").
_LEGAL = frozenset(
    [
        "inc",
        "incorporated",
        "llc",
        "llp",
        "ltd",
        "limited",
        "corp",
        "corporation",
        "co",
        "company",
        "gmbh",
        "ag",
        "sa",
        "sas",
        "sarl",
        "bv",
        "nv",
        "plc",
        "pty",
        "pte",
        "pvt",
        "kk",
        "sl",
        "spa",
        "srl",
        "oy",
        "ab",
        "as",
        "ltda",
        "de",
        "cv",
    ]
)
# Second-level labels under which the registrable domain has three labels (acme.co.uk).
_SECOND_LEVEL = frozenset(("co", "com", "net", "org", "gov", "ac", "edu", "ne", "or"))
_PUNCT = re.compile(r"[^\w\s]+")
_DOTS = re.compile(r"(?<=\w)\.(?=\w)|\.$")


def normalize_company(name: str | None) -> str:
    """Lowercase ASCII words without punctuation or trailing legal forms; '' when empty."""
    if not name:
        return ""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    text = _PUNCT.sub(" ", _DOTS.sub("", text.replace(" & ", " and ")))
    words = text.split()
    while len(words) > 1 and words[-1] in _LEGAL:
        words.pop()
    return " ".join(words)


def registrable_domain(value: str | None) -> str:
    """The registrable domain of an email address, URL or host ('' when there is none)."""
    text = (value or "").strip().lower()
    text = text.rsplit("@", 1)[-1]
    text = re.sub(r"^[a-z]+://", "", text).split("/", 1)[0].split(":", 1)[0].strip(".")
    labels = [x for x in text.split(".") if x]
    if len(labels) < 2:
        return ""
    if len(labels) >= 3 and labels[-2] in _SECOND_LEVEL and len(labels[-1]) == 2:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


@dataclass(frozen=True)
class MatchRun:
    matches: pa.Table  # account_matches rows
    applied: int


def _no_candidates() -> pd.DataFrame:
    """An empty candidate frame with integer positions: concatenated with non-empty ones it
    keeps `person` and `account` integer, so they can still index numpy arrays."""
    return pd.DataFrame(
        {
            "person": pd.Series(dtype="int64"),
            "account": pd.Series(dtype="int64"),
            "kind": pd.Series(dtype="object"),
            "score": pd.Series(dtype="float64"),
            "key": pd.Series(dtype="object"),
        }
    )


def _candidates_exact(left: pd.Series, right: pd.Series, kind: str) -> pd.DataFrame:
    """(person, account) pairs whose keys are equal and non-empty."""
    lf = pd.DataFrame({"person": np.arange(len(left)), "key": left.to_numpy()})
    rf = pd.DataFrame({"account": np.arange(len(right)), "key": right.to_numpy()})
    out = lf[lf["key"] != ""].merge(rf[rf["key"] != ""], on="key")
    out["kind"] = kind
    out["score"] = 1.0
    return out[["person", "account", "kind", "score", "key"]]


def _candidates_fuzzy(
    names: pd.Series, countries: pd.Series, acc: pd.DataFrame, todo: np.ndarray, cutoff: float
) -> pd.DataFrame:
    """Best fuzzy name matches within first-word and country blocks, for persons in `todo`."""
    frames = []
    acc_first = acc["norm"].str.split(" ").str[0]
    per_first = pd.Series(np.arange(len(acc))).groupby(acc_first.to_numpy()).apply(list)
    per_country = pd.Series(np.arange(len(acc))).groupby(acc["country"].to_numpy()).apply(list)
    people = pd.DataFrame({"person": todo, "name": names.to_numpy()[todo]})
    people = people[people["name"] != ""]
    people["first"] = people["name"].str.split(" ").str[0]
    people["country"] = countries.to_numpy()[people["person"].to_numpy()]
    for col, blocks in (("first", per_first), ("country", per_country)):
        for key, group in people.groupby(col):
            if key not in blocks.index:
                continue
            cand = np.asarray(blocks[key])
            uniq = group["name"].unique()
            scores = process.cdist(
                uniq,
                acc["norm"].to_numpy()[cand],
                scorer=fuzz.token_sort_ratio,
                score_cutoff=cutoff * 100,
                workers=1,
            )
            best = scores.max(axis=1)
            rows, cols = np.nonzero((scores == best[:, None]) & (best[:, None] > 0))
            hits = pd.DataFrame({"name": uniq[rows], "account": cand[cols], "score": best[rows]})
            frames.append(group[["person", "name"]].merge(hits, on="name"))
    if not frames:
        return _no_candidates()
    out = pd.concat(frames, ignore_index=True)
    out["score"] = out["score"] / 100.0
    top = out.groupby("person")["score"].transform("max")
    out = out[out["score"] == top].drop_duplicates(["person", "account"])
    out["kind"] = "fuzzy"
    out["key"] = ""
    return out[["person", "account", "kind", "score", "key"]]


def match_accounts(
    persons: pa.Table,
    accounts: pa.Table,
    cfg: MatchingConfig,
    *,
    last_activity: pa.Table | None = None,
    now: datetime | None = None,
) -> pa.Table:
    """The best account for each person, as `account_matches` rows (applied = False).

    `persons` needs person_id, email, company, country; `accounts` needs account_id, name,
    domain, country, employees, owner_id; `last_activity` (account_id, last_at) feeds the
    'most_recent_activity' tie-breaker.
    """
    p = persons.select(["person_id", "email", "company", "country"]).to_pandas()
    a = accounts.select(
        ["account_id", "name", "domain", "country", "employees", "owner_id"]
    ).to_pandas()
    free = free_mail_domains()
    p_dom = p["email"].fillna("").map(registrable_domain)
    p_dom = p_dom.where(~p_dom.isin(free) & ~p["email"].fillna("").map(_host).isin(free), "")
    a_dom = a["domain"].fillna("").map(registrable_domain)
    a_dom = a_dom.where(~a_dom.isin(free), "")
    p_name = p["company"].fillna("").map(normalize_company)
    a["norm"] = a["name"].fillna("").map(normalize_company)
    a["country"] = a["country"].fillna("")
    p_country = p["country"].fillna("")

    domain = _candidates_exact(p_dom, a_dom, "domain")
    exact = _candidates_exact(p_name, a["norm"], "exact")
    exact = exact[~exact["person"].isin(domain["person"])]
    done = np.union1d(domain["person"].to_numpy(), exact["person"].to_numpy())
    todo = np.setdiff1d(np.arange(len(p)), done)
    fuzzy = _candidates_fuzzy(p_name, p_country, a, todo, cfg.fuzzy_threshold)
    cand = pd.concat([domain, exact, fuzzy], ignore_index=True)
    if cand.empty:
        return _empty(now)

    cand["same_country"] = (
        p_country.to_numpy()[cand["person"]] == a["country"].to_numpy()[cand["account"]]
    ) & (p_country.to_numpy()[cand["person"]] != "")
    cand["employees"] = a["employees"].fillna(-1).to_numpy()[cand["account"]]
    cand["has_owner"] = a["owner_id"].notna().to_numpy()[cand["account"]]
    recency = pd.Series(dtype="float64")
    if last_activity is not None and last_activity.num_rows:
        la = last_activity.to_pandas()
        recency = pd.Series(
            la["last_at"].astype("int64").to_numpy(), index=la["account_id"].to_numpy()
        )
    cand["recent"] = a["account_id"].iloc[cand["account"]].map(recency).fillna(-1).to_numpy()
    cand["account_id"] = a["account_id"].to_numpy()[cand["account"]]
    keys = {
        "same_country": "same_country",
        "most_employees": "employees",
        "has_owner": "has_owner",
        "most_recent_activity": "recent",
    }
    order = ["person", *(keys[t] for t in cfg.tie_breakers), "account_id"]
    asc = [True, *([False] * len(cfg.tie_breakers)), True]
    cand = cand.sort_values(order, ascending=asc, kind="stable")
    n_cand = cand.groupby("person")["account"].transform("size")
    cand["candidates"] = n_cand
    best = cand.drop_duplicates("person", keep="first")
    boost = np.where(best["same_country"], cfg.country_boost, 0.0)
    conf = np.select(
        [best["kind"] == "domain", best["kind"] == "exact"],
        [cfg.domain_confidence, cfg.exact_name_confidence + boost],
        best["score"].to_numpy() * cfg.exact_name_confidence + boost,
    )
    reason = [
        (
            f"domain {key}"
            if kind == "domain"
            else "company name exact"
            if kind == "exact"
            else f"fuzzy company {score:.2f}"
        )
        + (" + country" if same and kind != "domain" else "")
        for kind, key, score, same in zip(
            best["kind"], best["key"], best["score"], best["same_country"], strict=True
        )
    ]
    when = (now or datetime.now()).replace(microsecond=0)
    return pa.table(
        {
            "person_id": pa.array(p["person_id"].to_numpy()[best["person"]], pa.string()),
            "account_id": pa.array(best["account_id"].to_numpy(), pa.string()),
            "confidence": pa.array(np.minimum(conf, 1.0).round(4), pa.float64()),
            "reason": pa.array(reason, pa.string()),
            "candidates": pa.array(best["candidates"].to_numpy(), pa.int64()),
            "applied": pa.array(np.zeros(len(best), dtype=bool)),
            "matched_at": pa.array([when] * len(best), pa.timestamp("us")),
        }
    )


def _host(email: str) -> str:
    return email.strip().lower().rsplit("@", 1)[-1]


def _empty(now: datetime | None) -> pa.Table:
    from revops.warehouse.schema import table as schema_table
    from revops.warehouse.warehouse import arrow_schema

    return arrow_schema(schema_table("account_matches")).empty_table()


def run_matching(wh: Warehouse, cfg: MatchingConfig, *, dry_run: bool = False) -> MatchRun:
    """Match every person without an account; unless `dry_run`, write account_matches and set
    persons.account_id for matches at or above the write threshold, in one transaction."""
    pt = wh.table("persons")
    persons = wh.to_arrow(
        pt.filter(pt.account_id.isnull()).select("person_id", "email", "company", "country")
    )
    accounts = wh.to_arrow(wh.table("accounts"))
    acts = wh.table("activities")
    last = wh.to_arrow(
        acts.filter(acts.account_id.notnull())
        .group_by("account_id")
        .aggregate(last_at=acts.occurred_at.max())
    )
    matches = match_accounts(persons, accounts, cfg, last_activity=last)
    apply = np.asarray(matches["confidence"].to_numpy() >= cfg.write_threshold)
    matches = matches.set_column(
        matches.schema.get_field_index("applied"), "applied", pa.array(apply)
    )
    if not dry_run:
        chosen = matches.filter(pa.array(apply))
        wh.write_many(
            [
                Batch("account_matches", matches, "replace"),
                Batch("persons", chosen.select(["person_id", "account_id"]), "upsert"),
            ]
        )
    return MatchRun(matches, int(apply.sum()))
