"""Turning whatever a file holds into the canonical column types, one column at a time.

Every function here is vectorized: a column goes in, a typed column and a mask of the values
that did not parse come out. Nothing raises on bad data, because a bad cell is a fact about one
row (it goes to quarantine), never a reason to refuse the whole file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from revops.ingest.dates import micros_to_dates, micros_to_timestamps, parse_times
from revops.warehouse.schema import ColumnType
from revops.warehouse.warehouse import ARROW_TYPES

BoolArray = npt.NDArray[np.bool_]

# At most 18 digits, so every accepted value fits in int64 and the cast below cannot overflow.
# `1,200` (thousands separators) and `1200.0` (how spreadsheets re-save integers) are accepted.
_INT = r"^[+-]?(?:\d{1,18}|\d{1,3}(?:,\d{3}){1,5})(?:\.0*)?$"
_INT_NOISE = r",|\.0*$|^\+"
_FLOAT = r"^[+-]?(?:(?:\d+|\d{1,3}(?:,\d{3})+)(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$"
_TRUE = pa.array(["true", "1", "yes"])
_FALSE = pa.array(["false", "0", "no"])


@dataclass(frozen=True)
class Coerced:
    """A column in its canonical type; `invalid` marks non-empty inputs that did not parse
    (they are null in `values`, and the caller quarantines their rows)."""

    values: pa.Array
    invalid: BoolArray


def to_bools(arr: pa.Array | pa.ChunkedArray) -> BoolArray:
    """A boolean Arrow column as a numpy mask, null counting as False."""
    filled = arr.fill_null(False)
    return np.asarray(filled.to_numpy(zero_copy_only=False), dtype=np.bool_)


def plain(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One contiguous, non-dictionary array, so every later kernel sees the same shape."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks else pa.array([], arr.type)
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if pa.types.is_large_string(arr.type):
        arr = arr.cast(pa.string())
    return arr


def as_text(arr: pa.Array) -> pa.Array:
    """Any column as strings: scalars via Arrow's cast, nested values as compact JSON."""
    if pa.types.is_string(arr.type):
        return arr
    if pa.types.is_null(arr.type):
        return pa.nulls(len(arr), pa.string())
    if pa.types.is_boolean(arr.type):
        return pc.if_else(arr, "true", "false")
    try:
        return pc.cast(arr, pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        values = arr.to_pylist()
        return pa.array(
            [None if v is None else json.dumps(v, default=str) for v in values], pa.string()
        )


def clean_text(arr: pa.Array) -> pa.Array:
    """Trimmed strings with empty meaning missing: exports pad cells and write '' for null."""
    text = pc.utf8_trim_whitespace(as_text(arr))
    empty = pc.equal(text, "")
    return pc.if_else(empty, None, text) if pc.any(empty).as_py() else text


def _arrow_number(text: pa.Array, target: pa.DataType) -> Coerced | None:
    """Arrow's C++ number parser, when it accepts the whole column (the common case). Its
    accepted set lies within `_INT` / `_FLOAT` once non-finite and >18-digit values are sent to
    the regex path, so a value parses the same whichever path its column took."""
    try:
        values = pc.cast(text, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if len(values) == values.null_count:
        return _no_failures(values)
    if target == pa.int64():
        bounds = pc.min_max(values)
        if not -(10**18) < bounds["min"].as_py() <= bounds["max"].as_py() < 10**18:
            return None
    elif not pc.all(pc.is_finite(values)).as_py():
        return None
    return _no_failures(values)


def _parse_int(text: pa.Array) -> Coerced:
    fast = _arrow_number(text, pa.int64())
    if fast is not None:
        return fast
    ok = pc.match_substring_regex(text, _INT)
    digits = pc.replace_substring_regex(pc.if_else(ok, text, None), _INT_NOISE, "")
    return Coerced(pc.cast(digits, pa.int64()), _failed(text, ok))


def _parse_float(text: pa.Array) -> Coerced:
    fast = _arrow_number(text, pa.float64())
    if fast is not None:
        return fast
    ok = pc.match_substring_regex(text, _FLOAT)
    values = pc.cast(pc.replace_substring(pc.if_else(ok, text, None), ",", ""), pa.float64())
    ok = pc.and_(ok, pc.is_finite(values))  # '1e999' matches the pattern but is not a number
    return Coerced(pc.if_else(ok, values, None), _failed(text, ok))


def _parse_bool(text: pa.Array) -> Coerced:
    low = pc.utf8_lower(text)
    true, false = pc.is_in(low, value_set=_TRUE), pc.is_in(low, value_set=_FALSE)
    values = pc.if_else(true, True, pc.if_else(false, False, None))
    return Coerced(values, _failed(text, pc.or_(true, false)))


def _parse_time(text: pa.Array, type_: ColumnType) -> Coerced:
    parsed = parse_times(text)
    present = to_bools(text.is_valid())
    if type_ == "date":
        values = micros_to_dates(parsed.micros, parsed.ok)
    else:
        values = micros_to_timestamps(parsed.micros, parsed.ok)
    return Coerced(values, present & ~parsed.ok)


def _failed(text: pa.Array, ok: pa.Array) -> BoolArray:
    return to_bools(text.is_valid()) & ~to_bools(ok)


def _no_failures(values: pa.Array) -> Coerced:
    return Coerced(values, np.zeros(len(values), dtype=np.bool_))


def _typed(arr: pa.Array, type_: ColumnType) -> Coerced | None:
    """Columns that already carry a compatible type (Parquet, JSON numbers) skip text parsing,
    which would lose precision and time zones for nothing."""
    t = arr.type
    numeric = pa.types.is_integer(t) or pa.types.is_floating(t)
    if type_ == "int" and pa.types.is_integer(t):
        try:
            return _no_failures(pc.cast(arr, pa.int64()))
        except pa.ArrowInvalid:  # uint64 beyond int64: let the text path flag it
            return None
    if type_ == "int" and pa.types.is_floating(t):
        whole = pc.and_(pc.is_finite(arr), pc.equal(pc.floor(arr), arr))
        whole = pc.and_(whole, pc.less(pc.abs(arr), 2.0**63))
        values = pc.cast(pc.if_else(whole, arr, None), pa.int64())
        return Coerced(values, _failed(arr, whole))
    if type_ == "float" and (numeric or pa.types.is_decimal(t)):
        return _no_failures(pc.cast(arr, pa.float64()))
    if type_ == "bool" and pa.types.is_boolean(t):
        return _no_failures(arr)
    if type_ in ("timestamp", "date") and (pa.types.is_timestamp(t) or pa.types.is_date(t)):
        return _typed_time(arr, type_)
    return None


# Years 1 to 9999 in microseconds since 1970: what Python, DuckDB and PostgreSQL all represent.
_MIN_US = -62_135_596_800_000_000
_MAX_US = 253_402_300_799_999_999
_PER_US = {"s": (1_000_000, 1), "ms": (1_000, 1), "us": (1, 1), "ns": (1, 1_000)}


def _typed_time(arr: pa.Array, type_: ColumnType) -> Coerced:
    """A typed timestamp or date column in microseconds, each value out of range flagged.

    Casting with `safe=False` would wrap an overflowing value into some other date (1970, or
    year 248073); the value is scaled in integers instead and judged against years 1–9999.
    Casting a zoned timestamp to a naive one keeps the UTC instant: what the model stores."""
    if pa.types.is_date(arr.type):
        arr = pc.cast(arr, pa.timestamp("s"))
    unit = arr.type.unit
    raw = np.asarray(pc.cast(arr, pa.int64()).fill_null(0).to_numpy(zero_copy_only=False), np.int64)
    mul, div = _PER_US[unit]
    lo, hi = _MIN_US // mul * div, _MAX_US // mul * div
    fits = (raw >= lo) & (raw <= hi)
    present = to_bools(arr.is_valid())
    ok = present & fits
    micros = np.where(ok, raw, 0) * mul // div
    values = micros_to_dates(micros, ok) if type_ == "date" else micros_to_timestamps(micros, ok)
    return Coerced(values, present & ~fits)


def coerce(arr: pa.Array, type_: ColumnType) -> Coerced:
    """`arr` converted to the canonical `type_`. String input must already be `clean_text`ed
    (validation does that before value maps run); any other type is rendered as text first
    unless it is directly compatible."""
    if pa.types.is_null(arr.type):
        return _no_failures(pa.nulls(len(arr), ARROW_TYPES[type_]))
    typed = _typed(arr, type_)
    if typed is not None:
        return typed
    text = arr if pa.types.is_string(arr.type) else clean_text(arr)
    if type_ == "string":
        return _no_failures(text)
    if type_ == "int":
        return _parse_int(text)
    if type_ == "float":
        return _parse_float(text)
    if type_ == "bool":
        return _parse_bool(text)
    return _parse_time(text, type_)
