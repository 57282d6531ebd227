"""Normalization and comparison levels, worked by hand."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz.distance import OSA, DamerauLevenshtein

from revops.config.dedupe import CompareKind
from revops.identity.compare import compare_codes, encode, level_labels
from revops.identity.normalize import _normalize, block_value, normalize


def _levels(kind: str, left: list[str | None], right: list[str | None]) -> list[int]:
    values = normalize(pa.array(left + right, pa.string()), kind)  # type: ignore[arg-type]
    n = len(left)
    idx = np.arange(n, dtype=np.int64)
    return compare_codes(encode(values), kind, idx, idx + n).tolist()  # type: ignore[arg-type]


def test_name_levels_follow_jaro_winkler_cutoffs() -> None:
    # JW(martha, marhta) = 0.961, JW(dwayne, duane) = 0.840, JW(smith, jones) = 0.0
    got = _levels(
        "name",
        ["Martha", "martha", "Dwayne", "Smith", None, "  "],
        ["MARTHA ", "marhta", "Duane", "Jones", "Ann", "Ann"],
    )
    assert got == [3, 2, 1, 0, -1, -1]
    assert level_labels("name") == ("different", "jaro_winkler>=0.8", "jaro_winkler>=0.92", "exact")


def test_date_email_phone_and_exact_levels() -> None:
    assert _levels(
        "date", ["19560409", "19560409", "19560409"], ["19560409", "19560490", "19651231"]
    ) == [3, 2, 0]
    assert _levels(
        "email",
        ["Ann+news@acme.com", "ann@acme.com", "ann@acme.com"],
        ["ann@ACME.com", "anm@acme.com", "bob@acme.com"],
    ) == [2, 1, 0]
    assert _levels(
        "phone",
        ["+1 (555) 123-4567", "555 123 4567", "555-123-4567"],
        ["5551234567", "555 123 4568", "555 999 0000"],
    ) == [2, 1, 0]
    assert _levels("exact", ["NSW", "nsw"], ["nsw", "vic"]) == [1, 0]
    domains = (
        ["www.acme.com", "acme.com", "acme.com"],
        ["ACME.com", "acme.co", "acmelogistics.com"],
    )
    assert _levels("domain", *domains) == [2, 1, 0]


def test_normalization_removes_what_says_nothing_about_identity() -> None:
    companies = normalize(pa.array(["Acme, Inc.", "ACME Corp", "Acme GmbH & Co"]), "company")
    assert companies.to_pylist() == ["acme", "acme", "acme"]
    domains = normalize(pa.array(["https://www.Acme.com/about", "bob@acme.io", ""]), "domain")
    assert domains.to_pylist() == ["acme.com", "acme.io", None]
    phones = normalize(pa.array(["+44 20 7946 0018", "123"]), "phone")
    assert phones.to_pylist() == ["2079460018", None]


def test_block_functions() -> None:
    names = normalize(pa.array(["Robert", "Rupert", "Ashcraft", None]), "name")
    assert block_value(names, "soundex").to_pylist() == ["R163", "R163", "A261", None]
    assert block_value(names, "prefix3").to_pylist() == ["rob", "rup", "ash", None]


@settings(max_examples=500, deadline=None)
@given(a=st.text("ab@.", max_size=6), b=st.text("ab@.", max_size=6))
def test_one_edit_by_osa_is_one_edit_by_damerau_levenshtein(a: str, b: str) -> None:
    """Email and domain bands score with OSA, which agrees with Damerau-Levenshtein within
    one edit: the level of every pair is what the unrestricted distance gives. (A four-letter
    alphabet and six letters at most make pairs one edit apart common.)"""
    assert (OSA.distance(a, b) <= 1) == (DamerauLevenshtein.distance(a, b) <= 1)
    assert OSA.distance("ab.c@x", "ba.c@x") == 1  # a swap is one edit for both
    assert DamerauLevenshtein.distance("ca", "abc") == 2 < OSA.distance("ca", "abc") == 3


@settings(max_examples=100, deadline=None)
@given(
    values=st.lists(
        st.one_of(
            st.none(),
            st.sampled_from(
                ["", " Acme Inc.", "ACME", "a+b@X.com", "+1 (415) 555-0100", "www.acme.com/x"]
            ),
            st.text(max_size=12),
        ),
        max_size=30,
    ),
    kind=st.sampled_from(["name", "text", "email", "domain", "phone", "company", "exact", "date"]),
)
def test_normalizing_distinct_values_once_is_normalizing_each_value(
    values: list[str | None], kind: CompareKind
) -> None:
    arr = pa.array(values, pa.string())
    assert normalize(arr, kind).to_pylist() == _normalize(arr, kind).to_pylist()
