"""JSON lines reading: Arrow's parser when the whole file is clean, a per-line parser otherwise.

Arrow's JSON reader is fast but all-or-nothing: one malformed line, or one column that is a
number in one row and a string in the next, fails the file. Real exports have both, so on any
failure the file is re-read line by line in Python. That is slower, but it pins every problem to
its row and quarantines only that row. Blank lines are skipped and not counted as rows.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.json as pajson

from revops.ingest.errors import IngestError
from revops.ingest.raw import (
    BrokenRow,
    IntArray,
    Progress,
    RawData,
    decode_error,
    read_bytes,
    refuse_duplicates,
)


def _utf8(path: Path, data: bytes, encoding: str) -> bytes:
    """The file as UTF-8 without a BOM (Arrow's parser reads only that)."""
    try:
        data = data.decode(encoding).encode("utf-8") if encoding != "utf-8" else data
        data.decode("utf-8")
    except UnicodeDecodeError:
        err = decode_error(path, data, encoding)
        assert err is not None
        raise err from None
    return data.removeprefix(b"\xef\xbb\xbf")


def _as_text(value: Any) -> str | None:
    """A JSON value as the text a CSV cell would hold, so both formats validate the same way."""
    if value is None or isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False)
    except RecursionError:  # cannot happen for a value json.loads returned, but never a crash
        return None


def _lone_surrogate(obj: dict[str, Any]) -> str | None:
    """The first key whose value (or the key itself) holds a lone UTF-16 surrogate escape such
    as "\\ud800": JSON allows writing one, but it is no character and no database can store it."""
    for key, value in obj.items():
        for part in (key, value if isinstance(value, str) else _as_text(value) or ""):
            try:
                part.encode("utf-8")
            except UnicodeEncodeError:
                return key
    return None


def _from_lines(lines: list[bytes]) -> RawData:
    """The per-line path: exact errors per row, every value kept as text."""
    records: list[dict[str, Any]] = []
    kept: list[bytes] = []
    numbers: list[int] = []
    broken: list[BrokenRow] = []
    for number, line in enumerate(lines, start=1):
        text, field = line.decode("utf-8"), "(json)"
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            reason = f"malformed JSON: {exc.msg} (column {exc.colno})"
        except RecursionError:
            reason = "malformed JSON: nested too deeply"
        else:
            if not isinstance(obj, dict):
                reason = f"line is a JSON {type(obj).__name__}, expected an object"
            elif (bad := _lone_surrogate(obj)) is not None:
                field = bad
                reason = f"{bad}: a \\u escape is a lone surrogate, not a character"
            else:
                records.append(obj)
                kept.append(line)
                numbers.append(number)
                continue
        raw = json.dumps({"_line": text}, ensure_ascii=False)
        broken.append(BrokenRow(number, field, "json", reason, raw))
    keys = list(dict.fromkeys(k for rec in records for k in rec))
    columns = {k: pa.array([_as_text(rec.get(k)) for rec in records], pa.string()) for k in keys}
    # A placeholder column keeps the row count right even if every object is `{}`.
    columns["\0rows"] = pa.nulls(len(records), pa.string())
    data = pa.table(columns).drop_columns("\0rows")
    return RawData(
        tuple(keys),
        data,
        np.asarray(numbers, dtype=np.int64),
        tuple(broken),
        _lines_as_json(kept),
    )


def _lines_as_json(lines: list[bytes]) -> Callable[[IntArray], list[str]]:
    """Quarantine keeps a bad row's line exactly as written: it is JSON already."""

    def render(indices: IntArray) -> list[str]:
        return [lines[i].decode("utf-8") for i in indices.tolist()]

    return render


_ARROW_MAX_DEPTH = 64


def _too_deep(data: bytes) -> bool:
    """Whether brackets nest deeper than Arrow's JSON parser may go: it recurses per level
    and crashes the process (SIGSEGV) at a depth of about 100,000, where Python's parser
    raises RecursionError, which quarantines the line. Brackets inside strings count too; that
    only sends an odd file down the slower per-line path."""
    raw = np.frombuffer(data, dtype=np.uint8)
    step = np.zeros(len(raw), dtype=np.int8)
    step[(raw == ord("[")) | (raw == ord("{"))] = 1
    step[(raw == ord("]")) | (raw == ord("}"))] = -1
    return bool(len(raw)) and int(np.cumsum(step, dtype=np.int32).max()) > _ARROW_MAX_DEPTH


def _mangled(table: pa.Table, text_fields: frozenset[str]) -> bool:
    """Arrow turns date-like strings into timestamps; for a text column that changes the value
    ('2024-01-05' would come back as '2024-01-05 00:00:00'), so such files take the exact path."""
    return any(
        pa.types.is_timestamp(field.type) for field in table.schema if field.name in text_fields
    )


def read_jsonl(
    path: Path, encoding: str, progress: Progress | None, text_fields: frozenset[str]
) -> RawData:
    """Read .jsonl / .ndjson / .json (JSON lines), optionally gzipped. `text_fields` are the
    keys that feed text columns, whose values must arrive exactly as written."""
    data = _utf8(path, read_bytes(path, progress), encoding)
    if data.lstrip().startswith(b"["):
        raise IngestError(
            f"{path}: holds a JSON array; revops reads JSON lines (one object per line)"
        )
    lines = [line for line in data.split(b"\n") if line.strip()]
    if not lines:
        raise IngestError(f"{path}: the file is empty (no JSON lines)")
    if _too_deep(data):
        raw = _from_lines(lines)
        refuse_duplicates(path, raw.columns)
        return raw
    try:
        table = pajson.read_json(
            io.BytesIO(b"\n".join(lines)),
            parse_options=pajson.ParseOptions(newlines_in_values=False),
        )
        # Arrow 26's JSON reader can build an invalid array (a list of only nulls, `[null,
        # null]`, gets offsets past its values), which fails later far from here: such a file
        # takes the exact per-line path instead
        table.validate(full=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raw = _from_lines(lines)
    else:
        if table.num_rows != len(lines) or _mangled(table, text_fields):
            raw = _from_lines(lines)
        else:
            numbers = np.arange(1, len(lines) + 1, dtype=np.int64)
            raw = RawData(tuple(table.column_names), table, numbers, (), _lines_as_json(lines))
    refuse_duplicates(path, raw.columns)
    return raw
