"""Field normalization before matching, column-wise with Arrow compute.

Two spellings of one value must meet in the same blocking key and compare as exact: case,
punctuation, `+tags` in emails, `www.` in domains, formatting in phone numbers and legal suffixes
in company names say nothing about identity. Empty strings become nulls, so "unknown" is never
mistaken for "agrees".
"""

from __future__ import annotations

import jellyfish
import pyarrow as pa
import pyarrow.compute as pc

from revops.config.dedupe import CompareKind

# Legal forms that companies drop or add freely ("Acme Inc." is "ACME").
_LEGAL = (
    "inc",
    "incorporated",
    "llc",
    "ltd",
    "limited",
    "corp",
    "corporation",
    "co",
    "company",
    "gmbh",
    "ag",
    "sa",
    "sarl",
    "bv",
    "nv",
    "plc",
    "pty",
    "srl",
    "spa",
    "oy",
    "ab",
    "as",
    "kk",
)
_LEGAL_RE = r"\b(?:" + "|".join(_LEGAL) + r")\b"


def _null_empty(arr: pa.Array) -> pa.Array:
    stripped = pc.utf8_trim_whitespace(arr)
    return pc.if_else(pc.equal(stripped, ""), pa.scalar(None, pa.string()), stripped)


def _squash(arr: pa.Array) -> pa.Array:
    return pc.replace_substring_regex(arr, r"\s+", " ")


def _text(arr: pa.Array) -> pa.Array:
    lowered = pc.utf8_lower(arr)
    return _squash(pc.replace_substring_regex(lowered, r"[^\w\s]+", " "))


def _email(arr: pa.Array) -> pa.Array:
    lowered = pc.utf8_lower(pc.utf8_trim_whitespace(arr))
    return pc.replace_substring_regex(lowered, r"\+[^@]*@", "@")


def _domain(arr: pa.Array) -> pa.Array:
    lowered = pc.utf8_lower(pc.utf8_trim_whitespace(arr))
    out = pc.replace_substring_regex(lowered, r"^.*@", "")
    out = pc.replace_substring_regex(out, r"^[a-z]+://", "")
    out = pc.replace_substring_regex(out, r"^www\.", "")
    return pc.replace_substring_regex(out, r"[/:?#].*$", "")


def _digits(arr: pa.Array) -> pa.Array:
    """Digits only; the last ten, so a country prefix does not hide a match."""
    digits = pc.replace_substring_regex(arr, r"\D+", "")
    short = pc.less(pc.utf8_length(digits), 7)
    digits = pc.if_else(short, pa.scalar(None, pa.string()), digits)
    return pc.utf8_slice_codeunits(digits, -10)


def _company(arr: pa.Array) -> pa.Array:
    text = _text(arr)
    return _squash(pc.replace_substring_regex(text, _LEGAL_RE, " "))


def normalize(values: pa.Array | pa.ChunkedArray, kind: CompareKind) -> pa.Array:
    """The values of one field made comparable for `kind`; empty values become null.

    Each distinct value is normalized once: names and companies repeat a lot, and the
    regular expressions cost more than the dictionary encoding (unique emails pay little)."""
    arr = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    encoded = pc.dictionary_encode(pc.cast(arr, pa.string()))
    return _normalize(encoded.dictionary, kind).take(encoded.indices)


def _normalize(arr: pa.Array, kind: CompareKind) -> pa.Array:
    if kind in ("name", "text"):
        out = _text(arr)
    elif kind == "email":
        out = _email(arr)
    elif kind == "domain":
        out = _domain(arr)
    elif kind == "phone":
        out = _digits(arr)
    elif kind == "company":
        out = _company(arr)
    else:  # exact, date: only case and surrounding space are noise
        out = pc.utf8_lower(arr)
    return _null_empty(out)


def block_value(values: pa.Array, function: str | None) -> pa.Array:
    """A blocking-key component: the normalized value, or a function of it."""
    if function is None:
        return values
    if function in ("prefix3", "prefix5", "first"):
        n = {"prefix3": 3, "prefix5": 5, "first": 1}[function]
        return pc.utf8_slice_codeunits(pc.replace_substring(values, " ", ""), 0, n)
    if function == "year":
        return pc.utf8_slice_codeunits(values, 0, 4)
    if function == "digits":
        return _null_empty(_digits(values))
    # soundex: a rust call per distinct value, so repeats cost nothing
    encoded = pc.dictionary_encode(values)
    words = [None if v is None else jellyfish.soundex(v) for v in encoded.dictionary.to_pylist()]
    codes = pa.array(words, pa.string())
    return _null_empty(codes.take(encoded.indices))
