"""Lead-to-account matching: hand-worked evidence, tie-breakers, free-mail, and the write."""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa
import pytest

from revops.config.identity import MatchingConfig
from revops.identity.freemail import free_mail_domains, is_free_mail
from revops.identity.matching import (
    match_accounts,
    normalize_company,
    registrable_domain,
    run_matching,
)
from revops.warehouse import Warehouse

T = datetime(2025, 5, 1)


def _accounts() -> pa.Table:
    return pa.table(
        {
            "account_id": ["A", "B", "C", "D", "E"],
            "name": ["Acme Inc.", "Acme GmbH", "Globex Corporation", "GLOBEX, CORP", "Gmail Fans"],
            "domain": ["www.acme.com", "acme.de", "globex.com", None, "gmail.com"],
            "country": ["US", "DE", "US", "US", "US"],
            "employees": [100, 500, 300, None, 5],
            "owner_id": ["u1", "u2", "u3", None, "u4"],
            "created_at": [T] * 5,
        }
    )


def _persons() -> pa.Table:
    return pa.table(
        {
            "person_id": ["p1", "p2", "p3", "p4", "p5", "p6"],
            "email": [
                "ann@acme.com",
                "bob@gmail.com",
                "carl@yahoo.com",
                "dan@gmail.com",
                "eve@mail.acme.com",
                "fay@gmx.de",
            ],
            "company": [None, "ACME, Inc", "Globx Corporation", None, None, "Initech"],
            "country": ["US", "DE", "US", "US", "US", "DE"],
            "created_at": [T] * 6,
        }
    )


def test_normalizers() -> None:
    assert normalize_company("ACME, Inc.") == "acme"
    assert normalize_company("Cedar Pharma S.A. de C.V.") == "cedar pharma"
    assert normalize_company("Blue Harbor Pty Ltd") == "blue harbor"
    assert normalize_company("") == ""
    assert registrable_domain("https://www.Acme.com/about") == "acme.com"
    assert registrable_domain("ann@mail.acme.co.uk") == "acme.co.uk"
    assert registrable_domain("nodomain") == ""


def test_free_mail_list() -> None:
    domains = free_mail_domains()
    assert len(domains) >= 100
    for d in (
        "gmail.com",
        "yahoo.com",
        "outlook.com",
        "hotmail.com",
        "gmx.de",
        "web.de",
        "mail.ru",
        "qq.com",
        "163.com",
        "icloud.com",
        "proton.me",
    ):
        assert is_free_mail(d), d
    assert is_free_mail("Someone@GMAIL.COM")
    assert not is_free_mail("acme.com")


def test_match_accounts_by_hand() -> None:
    out = match_accounts(_persons(), _accounts(), MatchingConfig())
    got = {r["person_id"]: r for r in out.to_pylist()}
    assert set(got) == {"p1", "p2", "p3", "p5"}  # p4: free mail only; p6: unknown company
    assert (got["p1"]["account_id"], got["p1"]["reason"]) == ("A", "domain acme.com")
    assert got["p5"]["account_id"] == "A"  # subdomain of the registrable domain
    # 'ACME, Inc' names A and B equally; same country (DE) breaks the tie
    assert (got["p2"]["account_id"], got["p2"]["candidates"]) == ("B", 2)
    assert got["p2"]["reason"] == "company name exact + country"
    assert got["p2"]["confidence"] == pytest.approx(0.95)
    # typo: fuzzy on 'globx' vs 'globex' (0.91); C and D tie, C has more employees
    assert got["p3"]["account_id"] == "C"
    assert got["p3"]["reason"] == "fuzzy company 0.91 + country"
    assert got["p3"]["confidence"] == pytest.approx(0.91 * 0.9 + 0.05, abs=0.005)


def test_tie_breakers_follow_the_configured_order() -> None:
    cfg = MatchingConfig(tie_breakers=("most_employees",))
    out = {
        r["person_id"]: r["account_id"]
        for r in match_accounts(_persons(), _accounts(), cfg).to_pylist()
    }
    assert out["p2"] == "B"  # 500 employees beats 100
    cfg = MatchingConfig(tie_breakers=("has_owner",))
    out = {
        r["person_id"]: r["account_id"]
        for r in match_accounts(_persons(), _accounts(), cfg).to_pylist()
    }
    assert out["p2"] == "A"  # both owned: falls through to account id order


def test_run_matching_writes_confident_matches_only(warehouse: Warehouse) -> None:
    warehouse.write("accounts", _accounts())
    persons = _persons()
    account = pa.array([None, None, None, None, "B", None], pa.string())
    warehouse.write("persons", persons.append_column("account_id", account))
    dry = run_matching(warehouse, MatchingConfig(), dry_run=True)
    assert dry.applied == 3
    assert warehouse.count("account_matches") == 0
    run = run_matching(warehouse, MatchingConfig())
    assert run.applied == 3  # p1 (0.97), p2 (0.95), p3 (≈0.87); p5 already has an account
    rows = {
        r["person_id"]: r["account_id"]
        for r in warehouse.to_arrow(warehouse.table("persons")).to_pylist()
    }
    assert rows == {"p1": "A", "p2": "B", "p3": "C", "p4": None, "p5": "B", "p6": None}
    assert warehouse.count("account_matches") == 3


def test_no_fuzzy_candidate_leaves_the_exact_matches_standing() -> None:
    """Issue 12: with a domain match for one person and no fuzzy candidate for the other (its
    company shares no first word or country with any account), matching crashed with an
    IndexError; p1 matches Acme by domain and p2 ("Zeta", country FR) stays unmatched."""
    persons = pa.table(
        {
            "person_id": ["p1", "p2"],
            "email": ["ann@acme.com", "zed@gmail.com"],
            "company": [None, "Zeta"],
            "country": ["US", "FR"],
        }
    )
    accounts = _accounts().filter(pa.array([True, False, False, False, False]))
    out = match_accounts(persons, accounts, MatchingConfig(), now=T)
    assert out.select(["person_id", "account_id", "reason"]).to_pylist() == [
        {"person_id": "p1", "account_id": "A", "reason": "domain acme.com"}
    ]
