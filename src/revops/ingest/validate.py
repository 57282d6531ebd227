"""Validation: every rule of the data model checked column-wise, failures kept per row.

Each check yields a boolean mask over all rows, never a Python loop per row; text for the
quarantine is built only for the rows that failed. Per column at most one failure is reported,
in this order: required value empty, value does not parse as the type, value not in the enum /
not an email. A row's reasons list every failing column, in the file's column order.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from revops.config.sources import SourceObject
from revops.ingest.coerce import as_text, clean_text, coerce, plain, to_bools
from revops.ingest.columns import ColumnPlan
from revops.ingest.raw import CHUNK_ROWS
from revops.warehouse.schema import Column, Table

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

# Pragmatic, not RFC 5322: a dot-separated local part, `@`, and a dotted domain ending in a
# letters-only TLD. It rejects what breaks routing and matching (`bob@`, `a@b`, spaces).
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
EMAIL = rf"^{_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+[A-Za-z]{{2,}}$"

_DISPLAY_MAX = 80

# No real CRM id is longer than a few dozen characters, and index keys must stay small (a
# PostgreSQL B-tree entry cannot exceed ~2.7 kB); no real text field needs more than a MiB. A
# longer value is one bad cell: its row is quarantined, never the whole file refused.
KEY_MAX = 1_000
TEXT_MAX = 1 << 20

_TYPE_PROBLEM = {
    "int": "is not a valid integer",
    "float": "is not a valid number",
    "bool": "is not a valid boolean (use true/false, yes/no or 1/0)",
    "date": "is not a valid date (use YYYY-MM-DD or MM/DD/YYYY)",
    "timestamp": "is not a valid timestamp (use ISO 8601, YYYY-MM-DD HH:MM or MM/DD/YYYY HH:MM)",
}


@dataclass(frozen=True)
class Failure:
    """Rows where one column broke one rule; `problem` finishes "<field>: '<value>' …"."""

    field: str
    kind: str
    mask: BoolArray
    problem: str
    shown: pa.Array | None  # the value as the file gave it; None for an empty required value


@dataclass(frozen=True)
class Validated:
    """The rows that passed (canonical columns, canonical types) and why the others did not."""

    good: pa.Table
    bad_rows: IntArray  # positions in the input, ascending
    fields: list[str]  # first failing field per bad row
    reasons: list[str]  # all failures per bad row, '; '-joined
    problems: Counter[tuple[str, str]]


def _value_map(text: pa.Array, mapping: dict[str, str]) -> pa.Array:
    """Replace mapped labels (case-insensitively); unmapped values pass through unchanged."""
    keys = pa.array([k.lower() for k in mapping], pa.string())
    targets = pa.array(list(mapping.values()), pa.string())
    hit = pc.index_in(pc.utf8_lower(text), value_set=keys)
    return pc.coalesce(pc.take(targets, hit), text)


def _has_nul(arr: pa.Array) -> bool:
    """Whether the values buffer holds a NUL byte at all, by one vectorized minimum: a NUL is
    so rare that matching every value for it cost more than the rest of the check. The buffer
    may hold bytes of sliced-off or null values too; they only send the column to the exact
    per-value match."""
    data = arr.buffers()[2]
    return data is not None and data.size > 0 and int(np.frombuffer(data, np.uint8).min()) == 0


def _cell_failures(col: Column, arr: pa.Array, limit: int) -> tuple[pa.Array, list[Failure]]:
    """Text no database can store whole: a NUL character (PostgreSQL refuses it in text) or a
    value longer than `limit` characters. Those cells are nulled so nothing later trips on
    them; their rows are quarantined."""
    if not pa.types.is_string(arr.type):
        return arr, []
    failures = []
    nul = long = np.zeros(len(arr), dtype=np.bool_)
    if _has_nul(arr):
        nul = to_bools(pc.fill_null(pc.match_substring(arr, "\x00"), False))
        if nul.any():
            problem = "contains a NUL character (\\0)"
            failures.append(Failure(col.name, "nul", nul, problem, arr))
    if (pc.max(pc.binary_length(arr)).as_py() or 0) > limit:  # bytes ≥ characters: a bound
        long = to_bools(pc.fill_null(pc.greater(pc.utf8_length(arr), limit), False))
        if long.any():
            problem = f"is longer than the limit of {limit:,} characters"
            failures.append(Failure(col.name, "too_long", long, problem, arr))
    if failures:
        bad = nul | long
        arr = pc.if_else(pa.array(bad), pa.nulls(len(arr), pa.string()), arr)
    return arr, failures


def _check_column(
    col: Column, source: pa.Array, values_map: dict[str, str] | None, limit: int = TEXT_MAX
) -> tuple[pa.Array, list[Failure]]:
    """One column's canonical values and failures. The value map runs before type coercion so
    a preset can translate labels like "Yes" or "New Business" before they are judged."""
    arr = plain(source)
    if pa.types.is_string(arr.type) or values_map or pa.types.is_null(arr.type):
        arr = clean_text(arr)
    arr, failures = _cell_failures(col, arr, limit)
    if values_map:
        arr = _value_map(arr, values_map)
    present = to_bools(arr.is_valid())
    for f in failures:  # a nulled bad cell was there: not also "required value is empty"
        present |= f.mask
    coerced = coerce(arr, col.type)
    values = coerced.values
    if col.required and not present.all():
        failures.append(Failure(col.name, "required", ~present, "", None))
    if coerced.invalid.any():
        failures.append(Failure(col.name, col.type, coerced.invalid, _TYPE_PROBLEM[col.type], arr))
    if col.enum is not None:
        canonical = pa.array(col.enum, pa.string())
        idx = pc.index_in(values, value_set=canonical)
        if idx.null_count > values.null_count:  # some differ at least in case: match folded
            idx = pc.index_in(pc.utf8_lower(values), value_set=pc.utf8_lower(canonical))
        bad = to_bools(values.is_valid()) & ~to_bools(idx.is_valid())
        if bad.any():
            failures.append(
                Failure(col.name, "enum", bad, f"is not one of {', '.join(col.enum)}", arr)
            )
        values = pc.take(canonical, idx)
    if col.format == "email":
        ok = to_bools(pc.match_substring_regex(values, EMAIL))
        bad = to_bools(values.is_valid()) & ~ok
        if bad.any():
            failures.append(Failure(col.name, "email", bad, "is not a valid email", arr))
    return values, failures


def _shown(arr: pa.Array) -> pa.Array:
    text = pc.replace_substring(as_text(arr), "\x00", "\\0")
    long = pc.greater(pc.utf8_length(text), _DISPLAY_MAX)
    cut = pc.binary_join_element_wise(pc.utf8_slice_codeunits(text, 0, _DISPLAY_MAX), "…", "")
    return pc.if_else(long, cut, text)


def _reasons(failures: list[Failure], bad_rows: IntArray) -> tuple[list[str], list[str]]:
    """First failing field and joined reasons for each bad row, built column-wise."""
    take = pa.array(bad_rows, pa.int64())
    reasons, fields = [], []
    for f in failures:
        hit = pa.array(f.mask[bad_rows])
        if f.shown is None:
            text = pa.array([f"{f.field}: required value is empty"] * len(bad_rows), pa.string())
        else:
            shown = _shown(pc.take(f.shown, take))
            text = pc.binary_join_element_wise(f"{f.field}: '", shown, f"' {f.problem}", "")
        reasons.append(pc.if_else(hit, text, None))
        fields.append(pc.if_else(hit, f.field, None))
    joined = pc.binary_join_element_wise(*reasons, "; ", null_handling="skip")
    return pc.coalesce(*fields).to_pylist(), joined.to_pylist()


def validate(data: pa.Table, plan: ColumnPlan, t: Table, preset: SourceObject | None) -> Validated:
    """Check `data` (file columns) against table `t`, mapping columns through `plan`, a slice
    of CHUNK_ROWS rows at a time (see `revops.ingest.raw.CHUNK_ROWS`)."""
    if data.num_rows <= CHUNK_ROWS:
        return _validate(data, plan, t, preset)
    return combine(
        [
            _validate(data.slice(start, CHUNK_ROWS), plan, t, preset)
            for start in range(0, data.num_rows, CHUNK_ROWS)
        ]
    )


def combine(parts: list[Validated]) -> Validated:
    """The validation of consecutive slices as the validation of the rows they make up."""
    if len(parts) == 1:
        return parts[0]
    problems: Counter[tuple[str, str]] = Counter()
    for part in parts:
        problems.update(part.problems)
    sizes = [part.good.num_rows + part.bad_rows.size for part in parts]
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    return Validated(
        good=pa.concat_tables([part.good for part in parts]),
        bad_rows=np.concatenate(
            [part.bad_rows + start for part, start in zip(parts, offsets, strict=True)]
        ).astype(np.int64),
        fields=[f for part in parts for f in part.fields],
        reasons=[r for part in parts for r in part.reasons],
        problems=problems,
    )


def _validate(data: pa.Table, plan: ColumnPlan, t: Table, preset: SourceObject | None) -> Validated:
    n = data.num_rows
    columns: dict[str, pa.Array] = {}
    failures: list[Failure] = []
    keys = set(t.primary_key) | {r.column for r in t.relations}
    for canonical, source in plan.sources.items():
        col = t.column(canonical)
        value_map = preset.values.get(canonical) if preset else None
        limit = KEY_MAX if canonical in keys else TEXT_MAX
        values, found = _check_column(col, data.column(source), value_map, limit)
        columns[canonical] = values
        failures.extend(found)
    for name, source in plan.custom.items():
        declared = next(f for f in preset.custom.values() if f.name == name) if preset else None
        custom_col = Column(name, declared.type if declared else "string", "custom field")
        values, found = _check_column(custom_col, data.column(source), None)
        columns[name] = values
        failures.extend(found)
    bad = np.zeros(n, dtype=np.bool_)
    problems: Counter[tuple[str, str]] = Counter()
    for f in failures:
        bad |= f.mask
        problems[(f.field, f.kind)] += int(f.mask.sum())
    bad_rows = np.flatnonzero(bad).astype(np.int64)
    good = pa.table(columns) if columns else pa.table({})
    if bad_rows.size:
        good = good.filter(pa.array(~bad))
        fields, reasons = _reasons(failures, bad_rows)
    else:
        fields, reasons = [], []
    return Validated(good, bad_rows, fields, reasons, problems)
