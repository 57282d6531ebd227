"""Clean input at the edge: a lead's source as a channel of the taxonomy, its country as a code.

The intake API (`api.intake.clean`) and `revops load` of persons and touchpoints
(`ingest.load`) both call these functions, so a lead reads the same whichever way it came in:

* a source is a channel of `quality.utm.channels`, spelled any way ('Paid Search', 'paid-search'
  and 'PAID_SEARCH' are paid_search) or named by the persons.source picklist map ('PPC'). Any
  other value is stored as `quality.utm.unknown_channel` ('other'), never as a new channel that
  would split attribution and every report grouped by channel; the value given is kept where
  the quality tools see it (a touch's utm_source for the UTM audit; a quality_changes row with
  rule `unknown_source` for a load). Without a taxonomy a source is only spelled as a key.
* a country is its ISO 3166 alpha-2 code, from a code in any case ('us'), alpha-3, a name or an
  alias of `quality.country_aliases`; a value that is none of these is left for the caller to
  refuse (the API) or for `quality check` to report (a load).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from revops.config.quality import QualityConfig
from revops.errors import RevOpsError
from revops.quality.normalize import country as _country
from revops.quality.normalize import picklist_key
from revops.quality.reference import country_codes

_SEPARATORS = re.compile(r"[\s\-]+")
UNKNOWN_SOURCE_RULE = "unknown_source"
RULES = {"source": "source_channel", "channel": "source_channel", "country": "country_code"}


class UnknownSource(RevOpsError):
    """A source outside the channel taxonomy, with no unknown_channel to store it as."""


@dataclass(frozen=True)
class Channel:
    """The channel a source is stored as; `unknown` is the value given when it was no channel."""

    channel: str
    unknown: str | None = None


def channel_key(value: str) -> str:
    """'Paid Search' → 'paid_search': lower case, runs of spaces and dashes as one underscore."""
    return _SEPARATORS.sub("_", value.strip().lower())


def source_channel(value: str, quality: QualityConfig) -> Channel:
    """The channel of a lead source (see the module docstring); UnknownSource when the
    taxonomy has no unknown_channel."""
    key = channel_key(value)
    utm = quality.utm
    if utm is None or key in utm.channels:
        return Channel(key)
    mapped = _source_map(quality).get(picklist_key(value))
    if mapped is not None and mapped in utm.channels:
        return Channel(mapped)
    if utm.unknown_channel is None:
        raise UnknownSource(
            f"{value!r} is not a channel of quality.utm.channels ({', '.join(utm.channels)})"
        )
    return Channel(utm.unknown_channel, value)


def _source_map(quality: QualityConfig) -> dict[str, str]:
    out: dict[str, str] = {}
    for p in quality.picklists:
        if p.table == "persons" and p.field == "source":
            out |= {picklist_key(k): v for k, v in p.map.items()}
    return out


def country_code(value: str, quality: QualityConfig) -> str | None:
    """The ISO alpha-2 code of a country written any way, or None when it is no country."""
    code = _country(value, _country_aliases(quality.country_aliases))
    return code if code in country_codes() else None


_ALIASES: dict[int, tuple[Mapping[str, str], dict[str, str]]] = {}


def _country_aliases(aliases: Mapping[str, str]) -> dict[str, str]:
    """The operating model's country aliases keyed as `country` looks them up, built once per
    config (frozen) rather than for every request; the cache clears when full."""
    hit = _ALIASES.get(id(aliases))
    if hit is None or hit[0] is not aliases:
        hit = (aliases, {picklist_key(k): v for k, v in aliases.items()})
        if len(_ALIASES) >= 16:
            _ALIASES.clear()
        _ALIASES[id(aliases)] = hit
    return hit[1]


@dataclass(frozen=True)
class Normalized:
    """A loaded table with sources and countries normalized, and what changed, per value."""

    table: pa.Table
    changes: list[dict[str, Any]]  # record_id, field, before, after, rule


def normalize_table(name: str, table: pa.Table, quality: QualityConfig) -> Normalized:
    """persons.source and .country, touchpoints.channel of a load, as the API stores them.

    A touch's unknown channel keeps the value given as its utm_source when that is empty (the
    UTM audit flags it); every change, unknown sources included, is returned so the load can
    record it in quality_changes, where `quality undo` can restore it.
    """
    fields = {"persons": ("source", "country"), "touchpoints": ("channel",)}.get(name, ())
    key = {"persons": "person_id", "touchpoints": "touchpoint_id"}[name] if fields else ""
    present = [f for f in fields if f in table.column_names]
    if not present or table.num_rows == 0:
        return Normalized(table, [])
    ids = [str(v) for v in table.column(key).to_pylist()]
    changes: list[dict[str, Any]] = []
    utm_given: dict[int, str] = {}
    for field in present:
        values = table.column(field).to_pylist()
        out: list[Any] = []
        for i, value in enumerate(values):
            new, rule = _normalized(field, value, quality)
            if new is not None and new != value:
                changes.append(
                    {"record_id": ids[i], "field": field, "before": value, "after": new}
                    | {"rule": rule}
                )
                if rule == UNKNOWN_SOURCE_RULE and field == "channel":
                    utm_given[i] = str(value)
                out.append(new)
            else:
                out.append(value)
        i_col = table.schema.get_field_index(field)
        table = table.set_column(i_col, field, pa.array(out, table.schema.field(field).type))
    if utm_given:
        has = "utm_source" in table.column_names
        utm = table.column("utm_source").to_pylist() if has else [None] * table.num_rows
        filled = [utm_given.get(i) if utm[i] in (None, "") else utm[i] for i in range(len(utm))]
        column = pa.array(filled, pa.string())
        if has:
            at = table.schema.get_field_index("utm_source")
            table = table.set_column(at, "utm_source", column)
        else:
            table = table.append_column("utm_source", column)
    return Normalized(table, changes)


def _normalized(field: str, value: Any, quality: QualityConfig) -> tuple[str | None, str]:
    if not isinstance(value, str) or not value.strip():
        return None, ""
    if field == "country":
        return country_code(value, quality), RULES[field]
    try:
        channel = source_channel(value, quality)
    except UnknownSource:
        return None, ""  # no unknown_channel: left as given, for `quality check` to report
    return channel.channel, UNKNOWN_SOURCE_RULE if channel.unknown else RULES[field]
