"""`map_raw`: a source mapping applied to a raw batch, before validation. Pure: tables in, out.

What a mapping does beyond renaming columns happens here, on the export's own columns, so
validation then judges canonical values exactly as it judges a hand-made file:
- a write-back file's blank marker (`#N/A`) in a written-back column is an empty cell;
- deleted rows (`IsDeleted = true`) leave the batch; their ids come back so stored records
  can be removed (they are never counted);
- rows that are no records of the table (`keep:` a history export's other fields, a status
  the org maps to no stage) leave the batch too, counted as ignored: not errors, not lost;
- a field-history export (`history:`) is folded into one row per record and save
  (`field_history`); the rows folded into another and those of untracked fields are ignored;
- list cells (`Associated Company IDs` = `a;b`) keep their first element;
- owners given by name or email become user ids, or the row is refused with the reason;
- a missing column is combined from others (User FirstName + LastName → name), taken from
  the first filled of several (`first_of:`) or set to a constant (`constants:`);
- deals without closed flags get them from the stage labels of `closed`;
- a column the export lacks is taken from the related record (`related:`: a Marketo
  activity's channel is its program's);
- naive timestamps with a time of day are read in the source's time zone and rewritten in UTC
  (`…Z`); a bare date stays the day it names (midnight UTC); a typed naive timestamp column
  (Parquet `timestamp` without `isAdjustedToUTC`) is read in that zone the same way, while a
  zoned one already names instants and is left for validation to convert, never shifted twice;
- amounts in another currency are converted to the company currency at the latest dated rate
  (`currency_rates`) on or before the row's date, keeping the original amount and code; a row
  with no such rate is refused with the reason, never loaded unconverted;
- `lifecycle` stage dates become lifecycle events.

Time zone rule around DST changes (zoneinfo, fold=0): a local time that does not exist (the
hour skipped in spring) is read with the offset before the change, i.e. shifted forward by the
gap (02:30 on the US spring-forward day is 03:30 EDT); a local time that occurs twice (the hour
repeated in autumn) is the first occurrence (daylight time).
"""

from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from revops.config.sources import SourceObject
from revops.ingest.coerce import (
    _MAX_US,
    _MIN_US,
    _PER_US,
    clean_text,
    coerce,
    plain,
)
from revops.ingest.dates import parse_times
from revops.ingest.field_history import fold_history
from revops.ingest.raw import BrokenRow, IntArray, RawData
from revops.warehouse.schema import Table
from revops.warehouse.warehouse import ARROW_TYPES

_ZONED = r"[Zz]$|[Tt ].*[+-]\d{2}(?::?\d{2})?$"
_US_PER_SECOND = 1_000_000
_US_PER_HOUR = 3600 * _US_PER_SECOND
_EPOCH = dt.datetime(1970, 1, 1)


# canonical column → (related key, value) pairs read from the related table
Related = dict[str, pa.Table]


@dataclass(frozen=True)
class Mapped:
    """The batch ready for validation, the keys it deletes, and the lifecycle events it implies.

    `raw.rows_in + deleted_rows + ignored_rows` is the rows the reader produced: deleted and
    ignored (`keep:`) rows are accounted for, never silently dropped.
    """

    raw: RawData
    deleted_keys: pa.Table  # primary-key columns of the deleted rows
    deleted_rows: int
    lifecycle_events: pa.Table | None
    ignored_rows: int = 0


def _present(raw: RawData, canonical: str, source: SourceObject) -> str | None:
    """The file column feeding `canonical`: a mapped export column, else the canonical name."""
    for col in raw.columns:
        if source.columns.get(col.strip()) == canonical:
            return col
    return canonical if canonical in raw.columns else None


def _text(raw: RawData, column: str) -> pa.Array:
    return clean_text(plain(raw.data.column(column)).cast(pa.string()))


def _keep(raw: RawData, keep: np.ndarray, broken: list[BrokenRow]) -> RawData:
    data = raw.data.filter(pa.array(keep))
    numbers = raw.row_numbers[keep]
    positions = np.flatnonzero(keep).astype(np.int64)
    render = raw.raw_json

    def raw_json(indices: IntArray) -> list[str]:
        return render(positions[indices])

    merged = tuple(sorted((*raw.broken, *broken), key=lambda b: b.row_number))
    return RawData(raw.columns, data, numbers, merged, raw_json)


def _set(raw: RawData, name: str, values: pa.Array) -> RawData:
    data = raw.data
    if name in data.column_names:
        data = data.set_column(data.column_names.index(name), name, values)
        columns = raw.columns
    else:
        data = data.append_column(name, values)
        columns = (*raw.columns, name)
    return replace(raw, data=data, columns=columns)


def _blanks(raw: RawData, source: SourceObject) -> RawData:
    """A write-back file's blank marker (Salesforce `#N/A`: clear the field) reads as empty in
    the columns revops writes back, so a re-imported file stores the blank it meant."""
    wb = source.writeback
    if wb is None or wb.blank is None:
        return raw
    for column in wb.fields.values():
        for col in raw.columns:
            if col.strip() == column:
                text = _text(raw, col)
                raw = _set(
                    raw,
                    col,
                    pc.if_else(pc.equal(text, wb.blank), pa.scalar(None, pa.string()), text),
                )
    return raw


def _drop_deleted(raw: RawData, source: SourceObject, t: Table) -> tuple[RawData, pa.Table]:
    """The batch without its deleted rows, and the keys of those rows: every primary-key
    column of the table, typed, so a junction record (OpportunitySplit: opportunity and rep)
    is identified by all of its key. A deleted row missing part of its key names no record."""
    keys = _keys(raw, t, source, np.zeros(raw.data.num_rows, dtype=np.bool_))
    if source.deleted is None or source.deleted.column not in raw.columns:
        return raw, keys
    flags = pc.utf8_lower(_text(raw, source.deleted.column))
    marked = pc.is_in(flags, value_set=pa.array([v.lower() for v in source.deleted.values]))
    deleted = np.asarray(marked.fill_null(False).to_numpy(zero_copy_only=False), dtype=np.bool_)
    if not deleted.any():
        return raw, keys
    return _keep(raw, ~deleted, []), _keys(raw, t, source, deleted)


def _keys(raw: RawData, t: Table, source: SourceObject, rows: np.ndarray) -> pa.Table:
    """The typed primary-key values of `rows`, complete and valid ones only (empty when the
    export lacks a key column)."""
    mask = pa.array(rows)
    columns: dict[str, pa.Array] = {}
    complete = rows.copy()
    for key in t.primary_key:
        col = _present(raw, key, source)
        type_ = t.column(key).type
        if col is None:
            complete[:] = False
            columns[key] = pa.nulls(int(rows.sum()), ARROW_TYPES[type_])
            continue
        parsed = coerce(_text(raw, col).filter(mask), type_)
        columns[key] = parsed.values
        complete[rows] &= np.asarray(parsed.values.is_valid()) & ~parsed.invalid
    return pa.table(columns).filter(pa.array(complete[rows]))


def _keep_rows(raw: RawData, source: SourceObject) -> RawData:
    """Only the rows `source.keep` says are records; a missing `where` column keeps none."""
    spec = source.keep
    if spec is None or raw.data.num_rows == 0:
        return raw
    keep = np.ones(raw.data.num_rows, dtype=np.bool_)
    tests = [(col, values) for col, values in spec.where.items()]
    for canonical in spec.mapped:
        col = _present(raw, canonical, source)
        tests.append((col or canonical, tuple(source.values[canonical])))
    for col, values in tests:
        if col not in raw.columns:
            keep[:] = False
            break
        folded = pa.array([v.strip().casefold() for v in values], pa.string())
        hit = pc.is_in(pc.utf8_lower(_text(raw, col)), value_set=folded).fill_null(False)
        keep &= np.asarray(hit.to_numpy(zero_copy_only=False), dtype=np.bool_)
    return raw if keep.all() else _keep(raw, keep, [])


def _split_lists(raw: RawData, source: SourceObject) -> RawData:
    for canonical, separator in source.split.items():
        col = _present(raw, canonical, source)
        if col is None:
            continue
        parts = pc.split_pattern(_text(raw, col), separator, max_splits=1)
        first = clean_text(pc.utf8_trim_whitespace(pc.list_element(parts, 0)))
        raw = _set(raw, col, first)
    return raw


def _combine(raw: RawData, source: SourceObject) -> RawData:
    for canonical, parts in source.combine.items():
        if _present(raw, canonical, source) is not None or not all(p in raw.columns for p in parts):
            continue
        texts = [_text(raw, p) for p in parts]
        joined = pc.binary_join_element_wise(*texts, " ", null_handling="skip")
        raw = _set(raw, canonical, clean_text(joined))
    return raw


def _resolve_owner(raw: RawData, source: SourceObject, users: pa.Table | None) -> RawData:
    owner = source.owner
    if owner is None or owner.column not in raw.columns:
        return raw
    values = _text(raw, owner.column)
    if owner.by == "id":
        return _set(raw, owner.target, values)
    lookup: dict[str, list[str]] = {}
    if users is not None and users.num_rows:
        for uid, key in zip(
            users.column("user_id").to_pylist(), users.column(owner.by).to_pylist(), strict=True
        ):
            if key:
                lookup.setdefault(str(key).strip().casefold(), []).append(str(uid))
    resolved: list[str | None] = []
    bad: list[tuple[int, str]] = []
    for i, value in enumerate(values.to_pylist()):
        if value is None:
            resolved.append(None)
            continue
        hits = lookup.get(value.casefold(), [])
        if len(hits) == 1:
            resolved.append(hits[0])
        else:
            resolved.append(None)
            why = "matches no user" if not hits else f"matches {len(hits)} users"
            bad.append((i, f"{owner.column}: {value!r} {why} by {owner.by} (load users first)"))
    raw = _set(raw, owner.target, pa.array(resolved, pa.string()))
    if not bad:
        return raw
    rows = np.array([i for i, _ in bad], dtype=np.int64)
    texts = raw.raw_json(rows)
    broken = [
        BrokenRow(int(raw.row_numbers[i]), owner.target, "owner", reason, text)
        for (i, reason), text in zip(bad, texts, strict=True)
    ]
    keep = np.ones(raw.data.num_rows, dtype=np.bool_)
    keep[rows] = False
    return _keep(raw, keep, broken)


def _fill_related(raw: RawData, source: SourceObject, t: Table, related: Related) -> RawData:
    for canonical, lookup in related.items():
        fk = _present(raw, t.relation(source.related[canonical]).column, source)
        if fk is None:
            continue
        hit = pc.index_in(_text(raw, fk), value_set=lookup.column(0).cast(pa.string()))
        found = pc.take(lookup.column(1).cast(pa.string()), hit)
        own = _present(raw, canonical, source)
        values = found if own is None else pc.coalesce(_text(raw, own), found)
        raw = _set(raw, own or canonical, values)
    return raw


def _first_of(raw: RawData, source: SourceObject) -> RawData:
    for canonical, parts in source.first_of.items():
        present = [p for p in parts if p in raw.columns]
        if _present(raw, canonical, source) is None and present:
            raw = _set(raw, canonical, pc.coalesce(*[_text(raw, p) for p in present]))
    return raw


def _constants(raw: RawData, source: SourceObject) -> RawData:
    for canonical, value in source.constants.items():
        if _present(raw, canonical, source) is None:
            raw = _set(raw, canonical, pa.array([value] * raw.data.num_rows, pa.string()))
    return raw


def _closed_flags(raw: RawData, source: SourceObject) -> RawData:
    closed = source.closed
    stage = _present(raw, "stage", source)
    if closed is None or stage is None:
        return raw
    text = pc.utf8_lower(_text(raw, stage))
    won = pc.is_in(text, value_set=pa.array([s.lower() for s in closed.won], pa.string()))
    lost = pc.is_in(text, value_set=pa.array([s.lower() for s in closed.lost], pa.string()))
    flags = {"is_won": won, "is_closed": pc.or_(won, lost)}
    for name, flag in flags.items():
        if _present(raw, name, source) is None:
            raw = _set(raw, name, pc.if_else(flag.fill_null(False), "true", "false"))
    return raw


@dataclass(frozen=True)
class Rates:
    """Dated rates per currency (sorted by date) and the company currency they convert into."""

    company: str
    by_currency: dict[str, tuple[list[dt.date], list[float]]]

    @classmethod
    def of(cls, company: str, table: pa.Table | None) -> Rates:
        out: dict[str, tuple[list[dt.date], list[float]]] = {}
        rows = (
            table.sort_by([("currency", "ascending"), ("rate_date", "ascending")])
            if table
            else None
        )
        for r in rows.to_pylist() if rows is not None else []:
            dates, values = out.setdefault(str(r["currency"]).upper(), ([], []))
            dates.append(r["rate_date"])
            values.append(float(r["rate"]))
        return cls(company.upper(), out)

    def rate(self, currency: str, day: dt.date) -> float | None:
        if currency == self.company:
            return 1.0
        found = self.by_currency.get(currency)
        if found is None:
            return None
        i = bisect.bisect_right(found[0], day) - 1
        return found[1][i] if i >= 0 else None


def _convert_currency(raw: RawData, source: SourceObject, rates: Rates | None) -> RawData:
    spec = source.currency
    if spec is None or rates is None or spec.column not in raw.columns:
        return raw
    codes = pc.utf8_upper(_text(raw, spec.column)).fill_null(rates.company)
    date_col = _present(raw, spec.date, source)
    days = coerce(_text(raw, date_col), "date").values.to_pylist() if date_col else None
    raw = _set(raw, "currency", codes)
    bad: list[tuple[int, str]] = []
    for canonical in spec.amounts:
        col = _present(raw, canonical, source)
        if col is None:
            continue
        parsed = coerce(_text(raw, col), "float")
        amounts = parsed.values.to_pylist()
        converted: list[float | None] = []
        for i, (amount, code) in enumerate(zip(amounts, codes.to_pylist(), strict=True)):
            day = days[i] if days else None
            rate = (
                rates.rate(code, day)
                if day is not None
                else (1.0 if code == rates.company else None)
            )
            if amount is None:
                converted.append(None)
            elif rate is None:
                converted.append(None)
                when = f"on or before {day}" if day else "(the row has no date)"
                bad.append((i, f"{col}: no {code}→{rates.company} rate {when} in currency_rates"))
            else:
                converted.append(amount * rate)
        keep_text = (
            pc.if_else(parsed.invalid, _text(raw, col), None) if parsed.invalid.any() else None
        )
        if canonical == "amount":
            raw = _set(raw, "original_amount", parsed.values)
        values = pa.array(converted, pa.float64())
        raw = _set(
            raw,
            col,
            values if keep_text is None else pc.coalesce(keep_text, values.cast(pa.string())),
        )
    if not bad:
        return raw
    rows = np.array(sorted({i for i, _ in bad}), dtype=np.int64)
    first: dict[int, str] = {}
    for i, reason in bad:
        first.setdefault(i, reason)
    texts = raw.raw_json(rows)
    broken = [
        BrokenRow(int(raw.row_numbers[i]), "amount", "currency", first[int(i)], text)
        for i, text in zip(rows.tolist(), texts, strict=True)
    ]
    keep = np.ones(raw.data.num_rows, dtype=np.bool_)
    keep[rows] = False
    return _keep(raw, keep, broken)


def utc_offsets(local_micros: np.ndarray, zone: str) -> np.ndarray:
    """Per naive local time (µs since epoch), its UTC offset in µs by the DST rule above.

    Offsets are looked up once per distinct local hour; an hour whose start and end disagree
    (a change inside it, as in 30-minute zones) is looked up per value.
    """
    tz = ZoneInfo(zone)

    def offset(micros: int) -> int:
        local = _EPOCH + dt.timedelta(microseconds=micros)
        delta = local.replace(tzinfo=tz, fold=0).utcoffset() or dt.timedelta(0)
        return int(delta / dt.timedelta(microseconds=1))

    hours = np.floor_divide(local_micros, _US_PER_HOUR)
    unique, inverse = np.unique(hours, return_inverse=True)
    starts = [offset(int(h) * _US_PER_HOUR) for h in unique]
    ends = [offset(int(h) * _US_PER_HOUR + _US_PER_HOUR - 1) for h in unique]
    out = np.asarray(starts, dtype=np.int64)[inverse]
    for k in np.flatnonzero(np.asarray(starts) != np.asarray(ends)):
        rows = np.flatnonzero(inverse == k)
        out[rows] = [offset(int(m)) for m in local_micros[rows]]
    return out


def localize(text: pa.Array, zone: str) -> pa.Array:
    """Naive timestamps in `text` read in `zone`, written back as UTC ISO text with `Z`.

    Values with an offset or `Z`, values without a time of day (a date names a day, not an
    instant: Salesforce Task.ActivityDate), and values that do not parse are left as they are
    (validation judges the latter).
    """
    text = clean_text(text)
    zoned = pc.match_substring_regex(text, _ZONED).fill_null(True)
    timed = pc.match_substring_regex(text, r"\d:\d\d").fill_null(False)
    local = pc.and_(pc.invert(zoned), timed)
    naive_idx = np.flatnonzero(np.asarray(local.to_numpy(zero_copy_only=False), dtype=np.bool_))
    if naive_idx.size == 0:
        return text
    naive = text.take(pa.array(naive_idx))
    parsed = parse_times(naive)
    ok = parsed.ok
    if not ok.any():
        return text
    micros = parsed.micros[ok]
    utc = micros - utc_offsets(micros, zone)
    stamps = pa.array(utc, pa.timestamp("us"))
    rendered = pc.strftime(stamps, format="%Y-%m-%dT%H:%M:%S", locale="C")
    out = np.asarray(text.to_pylist(), dtype=object)
    out[naive_idx[ok]] = [f"{v}Z" for v in rendered.to_pylist()]
    return pa.array(out.tolist(), pa.string())


def _timestamp_columns(source: SourceObject, t: Table, raw: RawData) -> list[str]:
    cols = []
    for c in t.columns:
        if c.type == "timestamp":
            found = _present(raw, c.name, source)
            if found is not None:
                cols.append(found)
    cols += [s.column for s in source.lifecycle if s.column in raw.columns]
    return list(dict.fromkeys(cols))


def localize_typed(arr: pa.Array, zone: str) -> pa.Array:
    """A naive typed timestamp column read in `zone`: the same instants, naive in UTC, in the
    column's own unit (by the DST rule above). A value outside years 1–9999 is left as it is,
    for validation to refuse."""
    unit = arr.type.unit
    mul, div = _PER_US[unit]
    native = np.asarray(pc.cast(arr, pa.int64()).fill_null(0).to_numpy(zero_copy_only=False))
    valid = np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=np.bool_)
    ok = valid & (native >= _MIN_US // mul * div) & (native <= _MAX_US // mul * div)
    out = native.astype(np.int64).copy()
    local = out[ok] * mul // div
    out[ok] = out[ok] - utc_offsets(local, zone) * div // mul
    return pa.array(out, pa.timestamp(unit), mask=~valid)


def _localize_all(raw: RawData, source: SourceObject, t: Table, zone: str) -> RawData:
    for col in _timestamp_columns(source, t, raw):
        arr = plain(raw.data.column(col))
        if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
            raw = _set(raw, col, localize(arr.cast(pa.string()), zone))
        elif pa.types.is_timestamp(arr.type) and arr.type.tz is None:
            raw = _set(raw, col, localize_typed(arr, zone))
    return raw


def _lifecycle(raw: RawData, source: SourceObject, t: Table, system: str) -> pa.Table | None:
    id_col = _present(raw, t.primary_key[0], source)
    if not source.lifecycle or id_col is None:
        return None
    ids = _text(raw, id_col)
    parts = []
    for i, rule in enumerate(source.lifecycle):
        needed = [c for c in (rule.column, rule.when, rule.person) if c is not None]
        if any(c not in raw.columns for c in needed):
            continue
        when = _text(raw, rule.column)
        people = _text(raw, rule.person) if rule.person else ids
        mask = pc.and_(pc.and_(ids.is_valid(), people.is_valid()), when.is_valid())
        if rule.when is not None:
            flag = _text(raw, rule.when)
            if rule.equals is not None:
                flag = pc.if_else(pc.equal(pc.utf8_lower(flag), rule.equals.lower()), flag, None)
            mask = pc.and_(mask, flag.is_valid())
        record = ids.filter(mask)
        event = pc.binary_join_element_wise(f"{system}:", record, f":{i:02d}", "")
        n = len(record)
        parts.append(
            pa.table(
                {
                    "event_id": event,
                    "person_id": people.filter(mask),
                    "stage": pa.array([rule.stage] * n, pa.string()),
                    "occurred_at": when.filter(mask),
                    "source": pa.array([f"import:{system}"] * n, pa.string()),
                    "record": record,
                }
            )
        )
    return pa.concat_tables(parts) if parts else None


def map_raw(
    raw: RawData,
    source: SourceObject,
    t: Table,
    *,
    system: str,
    timezone: str,
    users: pa.Table | None = None,
    rates: Rates | None = None,
    related: Related | None = None,
) -> Mapped:
    """Apply `source` to one raw batch; see the module docstring for each step.

    `system` names the mapping (`hubspot.contacts`) in event ids and sources; `timezone` is the
    zone of naive timestamps when the mapping names none; `users` (user_id, email, name) is
    needed only to resolve owners given by name or email; `rates` only to convert currencies;
    `related` only to fill columns from related records (`related:`).
    """
    rows_before = raw.rows_in
    raw = _blanks(raw, source)
    raw, deleted = _drop_deleted(raw, source, t)
    after_deletes = raw.rows_in
    raw = _keep_rows(raw, source)
    if source.history is not None:
        raw = fold_history(raw, source.history)
    ignored = after_deletes - raw.rows_in
    raw = _split_lists(raw, source)
    raw = _combine(raw, source)
    raw = _first_of(raw, source)
    raw = _constants(raw, source)
    raw = _closed_flags(raw, source)
    raw = _fill_related(raw, source, t, related or {})
    raw = _localize_all(raw, source, t, source.timezone or timezone)
    raw = _resolve_owner(raw, source, users)
    raw = _convert_currency(raw, source, rates)
    events = _lifecycle(raw, source, t, system)
    return Mapped(raw, deleted, rows_before - after_deletes, events, ignored)
