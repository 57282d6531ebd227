"""`fold_history`: a field-history export (one row per change of one field) as one row per
record and save, each holding every tracked field as it was then. Pure: a batch in, a batch out.

Salesforce writes OpportunityFieldHistory with Field (the API name: `StageName`, `CloseDate`,
`Amount`, or `created`), OldValue, NewValue and CreatedDate. The stage history the pipeline
reads has one row per save with stage, close date and amount together (OpportunityHistory's
shape), so consecutive rows can be compared: a close date that moved later is a push, a stage
that moved back a regression. See `FieldHistory` for the rules.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pyarrow as pa

from revops.config.sources import FieldHistory
from revops.ingest.coerce import clean_text, plain
from revops.ingest.dates import parse_times
from revops.ingest.raw import IntArray, RawData


@dataclass(frozen=True)
class _Change:
    position: int
    field: str | None  # the tracked field's name as `fields` spells it; None: the created row
    old: str | None
    new: str | None


def _texts(raw: RawData, column: str) -> list[str | None]:
    return clean_text(plain(raw.data.column(column)).cast(pa.string())).to_pylist()


def _saves(raw: RawData, spec: FieldHistory) -> tuple[list[list[_Change]], list[int]]:
    """The kept rows grouped by record and save (same record and time), in time order, and
    the positions of rows that are no save (unknown time or record: validation judges them)."""
    tracked = {f.casefold(): f for f in spec.fields}
    created = spec.created.casefold() if spec.created else None
    fields = _texts(raw, spec.field)
    records = _texts(raw, spec.record)
    old, new = _texts(raw, spec.old), _texts(raw, spec.new)
    parsed = parse_times(clean_text(plain(raw.data.column(spec.at)).cast(pa.string())))
    groups: dict[tuple[str, int], list[_Change]] = {}
    alone: list[int] = []
    for i, name in enumerate(fields):
        key = (name or "").casefold()
        if key not in tracked and key != created:
            continue
        change = _Change(i, tracked.get(key), old[i], new[i])
        record = records[i]
        if record is None or not parsed.ok[i]:
            alone.append(i)
            continue
        groups.setdefault((record, int(parsed.micros[i])), []).append(change)
    return [groups[k] for k in sorted(groups)], alone


def fold_history(raw: RawData, spec: FieldHistory) -> RawData:
    """`raw` folded into one row per record and save. The rows that are no row of their own
    (other fields, and a save's rows before its last) are gone: the caller counts them.

    Each row keeps the export columns of the save's last row (its Id is the row's id), loses
    `field`/`old`/`new`, and gains one column per tracked field, named as in `fields`.
    """
    needed = (spec.record, spec.field, spec.old, spec.new, spec.at)
    if raw.data.num_rows == 0 or any(c not in raw.columns for c in needed):
        return raw
    saves, alone = _saves(raw, spec)
    first_old: dict[tuple[str, str], str | None] = {}
    records = _texts(raw, spec.record)
    for save in saves:
        for c in save:
            if c.field is not None:
                first_old.setdefault((str(records[c.position]), c.field), c.old)
    rows: list[int] = []
    values: dict[str, list[str | None]] = {f: [] for f in spec.fields}
    state: dict[str, str | None] = {}
    current: str | None = None
    for save in saves:
        record = str(records[save[0].position])
        if record != current:
            current = record
            state = {f: first_old[(record, f)] for f in spec.fields if (record, f) in first_old}
        for c in save:
            if c.field is not None:
                state[c.field] = c.new
        rows.append(save[-1].position)
        for f in spec.fields:
            values[f].append(state.get(f))
    names, new = _texts(raw, spec.field), _texts(raw, spec.new)
    for i in alone:  # a row with no time or record stands alone, for validation to refuse
        rows.append(i)
        for f in spec.fields:
            values[f].append(new[i] if f.casefold() == (names[i] or "").casefold() else None)
    order = np.argsort(np.asarray(rows, dtype=np.int64), kind="stable")
    positions: IntArray = np.asarray(rows, dtype=np.int64)[order]
    consumed = {spec.field, spec.old, spec.new, *spec.fields}
    data = raw.data.take(pa.array(positions))
    data = data.drop_columns([c for c in data.column_names if c in consumed])
    for f in spec.fields:
        data = data.append_column(f, pa.array([values[f][k] for k in order], pa.string()))
    render = raw.raw_json

    def raw_json(indices: IntArray) -> list[str]:
        return render(positions[indices])

    return replace(
        raw,
        columns=tuple(data.column_names),
        data=data,
        row_numbers=raw.row_numbers[positions],
        raw_json=raw_json,
    )
