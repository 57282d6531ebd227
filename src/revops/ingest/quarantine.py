"""Reviewing the quarantine and loading its rows again once they are fixed.

A refused row keeps its raw values as JSON. `export_rows` writes a load's pending rows as a CSV a
person can edit (one column per raw field, plus the row's number and reasons); `replay` loads
either that edited file or the stored raw rows as they are (after the cause was fixed elsewhere,
say a value map in the operating model) through the normal load path, and marks each original
row it took in with the replaying load's id, in the same transaction. A row that fails again
stays pending, so nothing is lost and nothing is loaded twice.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from revops.ingest.errors import IngestError
from revops.ingest.report import LoadReport
from revops.warehouse import Batch, Warehouse
from revops.warehouse.sql import literal

ROW = "_quarantine_row"  # the exported file's link back to the quarantined row
REASON = "_reason"  # shown for editing; ignored when the file is replayed
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Pending:
    """One load's quarantined rows still waiting, for `quarantine list`."""

    load_id: str
    table: str
    file: str
    rows: int
    pending: int
    top_field: str


def pending_loads(wh: Warehouse) -> list[Pending]:
    """Every load with quarantined rows, newest first."""
    rows = wh.sql(
        'SELECT load_id, target_table, "file", count(*), '
        "count(*) FILTER (WHERE replayed_by IS NULL), mode(field) "
        'FROM "quarantine" GROUP BY 1, 2, 3 ORDER BY 1 DESC'
        if wh.backend != "postgres"  # DuckDB's, which Warehouse.sql translates for Spark
        else 'SELECT load_id, target_table, "file", count(*), '
        "count(*) FILTER (WHERE replayed_by IS NULL), mode() WITHIN GROUP (ORDER BY field) "
        'FROM "quarantine" GROUP BY 1, 2, 3 ORDER BY 1 DESC'
    )
    return [Pending(str(a), str(b), str(c), int(d), int(e), str(f)) for a, b, c, d, e, f in rows]


def load_rows(wh: Warehouse, load_id: str, *, pending_only: bool = True) -> pa.Table:
    """The quarantine rows of one load, by row number; IngestError for an unknown load."""
    q = wh.table("quarantine")
    q = q.filter(q.load_id == load_id)
    if pending_only:
        q = q.filter(q.replayed_by.isnull())
    rows = wh.to_arrow(q.order_by("row_number"))
    if rows.num_rows == 0 and not wh.sql(
        f'SELECT 1 FROM "load_log" WHERE load_id = {literal(load_id)}'
    ):
        raise IngestError(f"no load {load_id!r}; `revops quarantine list` shows the loads")
    return rows


def _as_cell(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return "'" + text if text.startswith(_FORMULA) else text


def to_csv(rows: pa.Table) -> bytes:
    """The rows as an editable CSV: row number, every raw field (in first-seen order), reason.

    Cells a spreadsheet would run as a formula get a leading single quote (OWASP), which
    `replay` takes off again."""
    records = [json.loads(text) for text in rows.column("raw").to_pylist()]
    fields = list(dict.fromkeys(k for rec in records for k in rec))
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow([ROW, *fields, REASON])
    numbers = rows.column("row_number").to_pylist()
    reasons = rows.column("reason").to_pylist()
    for number, rec, reason in zip(numbers, records, reasons, strict=True):
        out.writerow([number, *(_as_cell(rec.get(f)) for f in fields), _as_cell(reason)])
    return buf.getvalue().encode("utf-8")


def _unescape(text: str) -> str:
    return text[1:] if text.startswith("'") and text[1:2] in _FORMULA and text[1:2] else text


def _replay_file(rows: pa.Table, edited: Path | None, folder: Path) -> tuple[Path, list[int]]:
    """A CSV of the rows to load again, and the original row number of each of its rows."""
    if edited is None:
        records = [json.loads(text) for text in rows.column("raw").to_pylist()]
        numbers = [int(n) for n in rows.column("row_number").to_pylist()]
    else:
        try:
            with edited.open(newline="", encoding="utf-8-sig") as fh:
                read = list(csv.DictReader(fh))
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise IngestError(f"{edited}: cannot read the edited file: {exc}") from None
        pending = set(rows.column("row_number").to_pylist())
        records, numbers = [], []
        for line, rec in enumerate(read, start=2):
            try:
                number = int(rec.pop(ROW) or "")
            except (KeyError, ValueError):
                raise IngestError(
                    f"{edited}: line {line}, field {ROW}: missing or not a number; keep the "
                    "column `revops quarantine export` wrote"
                ) from None
            if number not in pending:
                raise IngestError(
                    f"{edited}: line {line}, field {ROW}: row {number} is not pending in this load"
                )
            rec.pop(REASON, None)
            records.append({k: _unescape(v) for k, v in rec.items() if k is not None})
            numbers.append(number)
    fields = list(dict.fromkeys(k for rec in records for k in rec if not k.startswith("_")))
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(fields)
    for rec in records:
        out.writerow(["" if rec.get(f) is None else _cell_text(rec.get(f)) for f in fields])
    path = folder / "replay.csv"
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path, numbers


def _cell_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


Loader = Callable[..., LoadReport]


def replay(wh: Warehouse, load_id: str, load: Loader, edited: Path | None = None) -> LoadReport:
    """Load a quarantined load's pending rows again (`edited`: a fixed `export_rows` file).

    `load(path, table, preset, marks=...)` is the normal loader (`RevOps.load`), so mappings,
    validation and screens apply exactly as on first load; `marks` builds, from the replay's
    own quarantine, the updates that mark the original rows taken in.
    """
    rows = load_rows(wh, load_id)
    if rows.num_rows == 0:
        raise IngestError(f"load {load_id} has no pending quarantined rows")
    table = rows.column("target_table")[0].as_py()
    logged = wh.sql(f'SELECT preset FROM "load_log" WHERE load_id = {literal(load_id)}')
    preset = logged[0][0] if logged else None
    with tempfile.TemporaryDirectory(prefix="revops-replay-") as tmp:
        path, numbers = _replay_file(rows, edited, Path(tmp))
        original = np.asarray(numbers, dtype=np.int64)

        def marks(new_load: str, refused: pa.Table) -> Sequence[Batch]:
            """Rows taken in get `replayed_by`; rows refused again keep waiting under their
            original number, with the replay's reasons (nothing is filed twice)."""
            again = np.asarray(refused.column("row_number").to_numpy(), dtype=np.int64)
            took = np.setdiff1d(np.arange(1, len(original) + 1), again)
            n = int(took.size)
            done = pa.table(
                {
                    "load_id": pa.array([load_id] * n, pa.string()),
                    "row_number": pa.array(original[took - 1], pa.int64()),
                    "replayed_by": pa.array([new_load] * n, pa.string()),
                }
            )
            still = pa.table(
                {
                    "load_id": pa.array([load_id] * len(again), pa.string()),
                    "row_number": pa.array(original[again - 1], pa.int64()),
                    "field": refused.column("field"),
                    "reason": refused.column("reason"),
                }
            )
            return [Batch("quarantine", b, "upsert") for b in (done, still) if b.num_rows]

        return load(path, table, preset, replay=marks)


def replayed(wh: Warehouse, load_id: str) -> int:
    """How many of a load's quarantined rows a replay has taken in."""
    q = wh.table("quarantine")
    return int(wh.execute(q.filter((q.load_id == load_id) & q.replayed_by.notnull()).count()))


__all__ = ["Pending", "load_rows", "pending_loads", "replay", "replayed", "to_csv"]
