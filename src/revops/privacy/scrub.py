"""Which fields identify a person, and how to take them out of text and JSON.

The data model declares which columns of a person are identifying (`PII_COLUMNS`); export
files name them differently (HubSpot's "Email", Salesforce's "FirstName"), so the raw JSON that
quarantine keeps is scrubbed by every name any preset maps to those columns. Free text (a
routing reason, an audit detail, an activity subject) is scrubbed by the person's own values,
case-insensitively, so an email that was typed into a note goes too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from functools import cache
from typing import Any

ERASED = "[erased]"

# Identifying columns per table; everything else about a person (stage dates, source, country,
# amounts, scores) is kept so funnel and revenue totals stay right after an erasure.
PII_COLUMNS: dict[str, tuple[str, ...]] = {
    "persons": ("email", "first_name", "last_name", "phone", "title", "company", "state"),
}
# Free text written about a person by people, nulled on erasure.
FREE_TEXT: dict[str, tuple[str, ...]] = {"activities": ("subject",)}


@cache
def pii_keys(target_table: str) -> frozenset[str]:
    """Canonical and export (shipped source mapping) names of the identifying columns of
    `target_table`, so quarantined raw rows in any export's own column names are scrubbed."""
    from revops.config.sources import shipped_sources

    canonical = set(PII_COLUMNS.get(target_table, ()))
    names = set(canonical)
    for objects in shipped_sources().values():
        for mapping in objects.values():
            if mapping.table == target_table:
                names |= {src for src, dst in mapping.columns.items() if dst in canonical}
                names |= {src for dst, srcs in mapping.combine.items() for src in srcs}
    return frozenset(n.lower() for n in names)


def scrub_text(text: str | None, tokens: Iterable[str]) -> str | None:
    """`text` with every token replaced by [erased], ignoring case."""
    if text is None:
        return None
    out = text
    for token in tokens:
        if token:  # whole words only: erasing "Ann" must not touch "annual"
            pattern = rf"(?<!\w){re.escape(token)}(?!\w)"
            out = re.sub(pattern, ERASED, out, flags=re.IGNORECASE)
    return out


def _scrub_value(value: Any, tokens: tuple[str, ...], keys: frozenset[str]) -> Any:
    if isinstance(value, dict):
        return {
            k: (None if str(k).lower() in keys else _scrub_value(v, tokens, keys))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_scrub_value(v, tokens, keys) for v in value]
    if isinstance(value, str):
        return scrub_text(value, tokens)
    return value


def scrub_json(text: str | None, tokens: Iterable[str], target_table: str = "persons") -> str:
    """A JSON document with identifying keys nulled and tokens removed from every string.

    Text that is not JSON is scrubbed as plain text; the result is always valid to store.
    """
    toks = tuple(tokens)
    if text is None:
        return "{}"
    try:
        value = json.loads(text)
    except ValueError:
        return scrub_text(text, toks) or ""
    scrubbed = _scrub_value(value, toks, pii_keys(target_table))
    return json.dumps(scrubbed, ensure_ascii=False, sort_keys=True, default=str)


def without_pii(row: dict[str, Any], target_table: str) -> dict[str, Any]:
    """A raw row with its identifying fields removed (for tombstone quarantine rows)."""
    keys = pii_keys(target_table)
    return {k: v for k, v in row.items() if str(k).lower() not in keys}
