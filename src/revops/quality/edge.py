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

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from revops.config.quality import QualityConfig
from revops.errors import RevOpsError
from revops.quality.normalize import country as _country
from revops.quality.normalize import picklist_key
from revops.quality.reference import country_codes

_SEPARATORS = re.compile(r"[\s\-]+")
UNKNOWN_SOURCE_RULE = "unknown_source"
RULES = {"source": "source_channel", "channel": "source_channel", "country": "country_code"}
# the columns a load normalizes, per table, in the order their changes are recorded
FIELDS = {"persons": ("source", "country"), "touchpoints": ("channel",)}


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


_SOURCE_MAPS: dict[int, tuple[QualityConfig, dict[str, str]]] = {}


def _source_map(quality: QualityConfig) -> dict[str, str]:
    """The persons.source picklist keyed as `picklist_key` looks it up, built once per config
    (frozen) rather than for every request; the cache clears when full."""
    hit = _SOURCE_MAPS.get(id(quality))
    if hit is None or hit[0] is not quality:
        out: dict[str, str] = {}
        for p in quality.picklists:
            if p.table == "persons" and p.field == "source":
                out |= {picklist_key(k): v for k, v in p.map.items()}
        hit = (quality, out)
        if len(_SOURCE_MAPS) >= 16:
            _SOURCE_MAPS.clear()
        _SOURCE_MAPS[id(quality)] = hit
    return hit[1]


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
    # record_id, field, before, after, rule: one row per changed value, as Arrow columns, since
    # a load whose every row names its source in another spelling changes a million values
    changes: pa.Table
    # per change, the position of its row in the table (a load done a slice at a time keeps
    # only the changes of the rows it stores, in the order one pass over them makes)
    rows: pa.Array = dataclasses.field(default_factory=lambda: pa.array([], pa.int64()))


def normalize_table(name: str, table: pa.Table, quality: QualityConfig) -> Normalized:
    """persons.source and .country, touchpoints.channel of a load, as the API stores them.

    A touch's unknown channel keeps the value given as its utm_source when that is empty (the
    UTM audit flags it); every change, unknown sources included, is returned so the load can
    record it in quality_changes, where `quality undo` can restore it.

    A column holds few distinct sources and countries however many rows it has, so each
    distinct value is judged once and the answers are spread over the rows by index: judging
    every row in Python took ten seconds per 100,000 rows.
    """
    fields = FIELDS.get(name, ())
    key = {"persons": "person_id", "touchpoints": "touchpoint_id"}[name] if fields else ""
    present = [f for f in fields if f in table.column_names]
    if not present or table.num_rows == 0:
        return Normalized(table, CHANGES.empty_table())
    changes: list[pa.Table] = []
    positions: list[pa.Array] = []
    utm_given: pa.Array | None = None
    for field in present:
        column = plain_text(table.column(field))
        if column is None:
            continue
        encoded = pc.dictionary_encode(column)
        distinct = encoded.dictionary.to_pylist()
        judged = [_normalized(field, value, quality) for value in distinct]
        news = pa.array([new for new, _ in judged], pa.string())
        rules = pa.array([rule for _, rule in judged], pa.string())
        pairs = zip(distinct, judged, strict=True)
        changed_value = pa.array([n is not None and n != v for v, (n, _) in pairs], pa.bool_())
        codes = encoded.indices
        changed = pc.fill_null(pc.take(changed_value, codes), False)
        if not pc.any(changed).as_py():
            continue
        rows = pc.indices_nonzero(changed)
        positions.append(pc.cast(rows, pa.int64()))
        row_codes = pc.take(codes, rows)
        changes.append(
            pa.table(
                [
                    pc.cast(pc.take(table.column(key), rows), pa.string()),
                    pa.repeat(pa.scalar(field), len(rows)),
                    pc.take(encoded.dictionary, row_codes),
                    pc.take(news, row_codes),
                    pc.take(rules, row_codes),
                ],
                schema=CHANGES,
            )
        )
        out = pc.if_else(changed, pc.take(news, codes), column)
        table = table.set_column(table.schema.get_field_index(field), field, out)
        if field == "channel":
            unknown = pc.and_(changed, pc.equal(pc.take(rules, codes), UNKNOWN_SOURCE_RULE))
            utm_given = pc.if_else(unknown, column, pa.nulls(len(column), pa.string()))
    if utm_given is not None and pc.any(utm_given.is_valid()).as_py():
        has = "utm_source" in table.column_names
        utm = table.column("utm_source") if has else pa.nulls(table.num_rows, pa.string())
        empty = pc.or_(pc.is_null(utm), pc.equal(pc.cast(utm, pa.string()), ""))
        filled = pc.if_else(pc.fill_null(empty, True), utm_given, pc.cast(utm, pa.string()))
        if has:
            at = table.schema.get_field_index("utm_source")
            table = table.set_column(at, "utm_source", filled)
        else:
            table = table.append_column("utm_source", filled)
    if not changes:
        return Normalized(table, CHANGES.empty_table())
    return Normalized(table, pa.concat_tables(changes), pa.concat_arrays(positions))


CHANGES = pa.schema(
    [(name, pa.string()) for name in ("record_id", "field", "before", "after", "rule")]
)


def plain_text(column: pa.ChunkedArray) -> pa.Array | None:
    """The column as one string array, or None when it holds no text to normalize."""
    if pa.types.is_large_string(column.type):
        column = column.cast(pa.string())
    if not pa.types.is_string(column.type):
        return None
    return column.combine_chunks() if column.num_chunks else pa.array([], pa.string())


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
