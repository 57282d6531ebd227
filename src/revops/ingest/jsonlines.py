"""JSON lines reading: Arrow's parser when the whole file is clean, a per-line parser otherwise.

Arrow's JSON reader is fast but all-or-nothing: one malformed line, or one column that is a
number in one row and a string in the next, fails the file. Real exports have both, so on any
failure the file is re-read line by line in Python. That is slower, but it pins every problem to
its row and quarantines only that row. Blank lines are skipped and not counted as rows.

`read_jsonl` holds the whole file (its bytes, its lines, a joined copy, Arrow's parse); a load
that can go a slice at a time (`revops.ingest.streamed`) uses `shape` and `read_sliced`
instead, which hold one slice of lines: the first pass decides what `read_jsonl` decides over
the whole file (Arrow's typed parse or the per-line path, the types Arrow infers over every
slice, every key in order of first appearance), the second parses each slice under that.
Whatever the first pass cannot decide as the whole read would, it leaves to `read_jsonl`.
"""

from __future__ import annotations

import codecs
import gzip
import io
import json
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
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
    is_gzip,
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


def _judged(line: bytes) -> dict[str, Any] | tuple[str, str]:
    """A line's object, or why it is no row: (field, reason)."""
    try:
        obj = json.loads(line.decode("utf-8"))
    except json.JSONDecodeError as exc:
        return "(json)", f"malformed JSON: {exc.msg} (column {exc.colno})"
    except RecursionError:
        return "(json)", "malformed JSON: nested too deeply"
    if not isinstance(obj, dict):
        return "(json)", f"line is a JSON {type(obj).__name__}, expected an object"
    if (bad := _lone_surrogate(obj)) is not None:
        return bad, f"{bad}: a \\u escape is a lone surrogate, not a character"
    return obj


def _from_lines(lines: list[bytes], first: int = 1, keys: tuple[str, ...] | None = None) -> RawData:
    """The per-line path: exact errors per row, every value kept as text. `first` numbers the
    first line; `keys` are the file's keys when `lines` are a slice of it (see `text_keys`)."""
    records: list[dict[str, Any]] = []
    kept: list[bytes] = []
    numbers: list[int] = []
    broken: list[BrokenRow] = []
    for number, line in enumerate(lines, start=first):
        judged = _judged(line)
        if isinstance(judged, dict):
            records.append(judged)
            kept.append(line)
            numbers.append(number)
            continue
        field, reason = judged
        raw = json.dumps({"_line": line.decode("utf-8")}, ensure_ascii=False)
        broken.append(BrokenRow(number, field, "json", reason, raw))
    if keys is None:
        keys = tuple(dict.fromkeys(k for rec in records for k in rec))
    columns = {k: pa.array([_as_text(rec.get(k)) for rec in records], pa.string()) for k in keys}
    # A placeholder column keeps the row count right even if every object is `{}`.
    columns["\0rows"] = pa.nulls(len(records), pa.string())
    data = pa.table(columns).drop_columns("\0rows")
    return RawData(
        keys,
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
    only sends an odd file down the slower per-line path. Counted as the sliced first pass
    counts it (`_deepest`), so both judge a file alike."""
    return _deepest([data], 0)[0] > _ARROW_MAX_DEPTH


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


# -- a slice at a time ---------------------------------------------------------------------------
# What `read_jsonl` decides over the whole file, `shape` decides in a first pass that holds one
# slice at a time, and `read_sliced` then reads the file again slice by slice under it.


@dataclass(frozen=True)
class Shape:
    """The whole-file read's file-wide decisions: the columns (every key, in order of first
    appearance) and, when Arrow's typed parse would succeed for the whole file, the types it
    infers over the whole file (a slice's own inference may differ: a column of integers in
    one slice and of decimals in another is double in both). Without `schema` every value is
    text, read per line."""

    columns: tuple[str, ...]
    schema: pa.Schema | None


_READ = 8 << 20


def _utf8_blocks(path: Path, encoding: str, progress: Progress | None) -> Iterator[bytes]:
    """The file as UTF-8 blocks without the BOM, decompressed and decoded as they are read;
    UnicodeDecodeError, or IngestError for a cut-short gzip file, where `read_bytes` and
    `_utf8` would fail."""
    total = path.stat().st_size
    decoder = codecs.getincrementaldecoder(encoding)()
    first = True
    try:
        with path.open("rb") as disk:
            source = gzip.GzipFile(fileobj=disk, mode="rb") if is_gzip(path) else disk
            while True:
                chunk = source.read(_READ)
                text = decoder.decode(chunk, final=not chunk)  # raises where `_utf8` would
                block = chunk if encoding == "utf-8" else text.encode("utf-8")
                if first and block:
                    block, first = block.removeprefix(b"\xef\xbb\xbf"), False
                if block:
                    yield block
                if progress is not None:
                    progress(min(disk.tell(), max(total - 1, 0)), total)
                if not chunk:
                    return
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise IngestError(f"{path}: not a complete gzip file ({exc}); was it cut short?") from exc


def _line_slices(
    path: Path, encoding: str, rows: int, progress: Progress | None = None
) -> Iterator[list[bytes]]:
    """The file's non-blank lines (split as `read_jsonl` splits them), `rows` at a time."""
    pending: list[bytes] = []
    rest = b""
    for block in _utf8_blocks(path, encoding, progress):
        parts = (rest + block).split(b"\n")
        rest = parts.pop()
        pending += [line for line in parts if line.strip()]
        while len(pending) >= rows:
            yield pending[:rows]
            del pending[:rows]
    if rest.strip():
        pending.append(rest)
    while pending:
        yield pending[:rows]
        del pending[:rows]


# Every byte but the brackets, deleted by `bytes.translate` in one C pass: numpy's comparisons
# over every byte made the 1x demo's 14 MB events file's first pass 0.9 s, this 0.5-0.6 s
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))


def _deepest(lines: list[bytes], before: int) -> tuple[int, int, int]:
    """Bracket depth over `lines` started at `before` (brackets inside strings count too): the
    deepest point, the depth after them, and the most any run of lines rises by itself."""
    brackets = np.frombuffer(b"".join(lines).translate(None, _NOT_BRACKETS), dtype=np.uint8)
    steps = np.where((brackets == ord("[")) | (brackets == ord("{")), 1, -1)
    depth = np.concatenate([np.zeros(1, np.int64), np.cumsum(steps, dtype=np.int64)])
    rise = int((depth - np.minimum.accumulate(depth)).max())
    return before + int(depth.max()), before + int(depth[-1]), rise


class _Conflict(Exception):
    """Two slices' types that Arrow's whole-file inference cannot reconcile: it fails."""


class _Unknown(Exception):
    """A type `_unified` does not know Arrow's whole-file inference of."""


# What Arrow's JSON reader infers for a JSON scalar (timestamps from date-like strings).
_SCALARS = frozenset({pa.bool_(), pa.int64(), pa.float64(), pa.string(), pa.timestamp("s")})


def _unified(a: pa.DataType, b: pa.DataType) -> pa.DataType:
    """The type Arrow's JSON reader infers for a column typed `a` in some rows and `b` in
    others: nulls take the other type, integers widen to double, timestamps fall back to
    strings, objects merge their keys, lists their items; other pairs of JSON kinds fail the
    whole-file read (`_Conflict`). Checked against Arrow's own inference over the whole file
    in tests/ingest/test_jsonl_sliced.py."""
    for type_ in (a, b):
        nested = pa.types.is_struct(type_) or pa.types.is_list(type_)
        if not (nested or pa.types.is_null(type_) or type_ in _SCALARS):
            raise _Unknown(str(type_))
    if a == b or pa.types.is_null(b):
        return a
    if pa.types.is_null(a):
        return b
    pair = {a, b}
    if pair == {pa.int64(), pa.float64()}:
        return pa.float64()
    if pair == {pa.timestamp("s"), pa.string()}:
        return pa.string()
    if pa.types.is_struct(a) and pa.types.is_struct(b):
        return pa.struct(_merged(list(a), list(b)))
    if pa.types.is_list(a) and pa.types.is_list(b):
        return pa.list_(_unified(a.value_type, b.value_type))
    raise _Conflict(f"{a} and {b}")


def _merged(a: list[pa.Field], b: list[pa.Field]) -> list[pa.Field]:
    fields = {f.name: f.type for f in a}
    for f in b:
        fields[f.name] = _unified(fields[f.name], f.type) if f.name in fields else f.type
    return [pa.field(name, type_) for name, type_ in fields.items()]


# Arrow's JSON reader fails a line that spans two of its blocks (1 MiB), which depends on where
# the line starts: a 1.6 MB line passed at the start of a file and failed 0.5 MB into it. A
# slice with a line that long is left to the whole read, whose blocks fall where they fall.
_LONGEST = pajson.ReadOptions().block_size // 2


def _parsed(lines: list[bytes], schema: pa.Schema | None = None) -> pa.Table:
    options = pajson.ParseOptions(newlines_in_values=False, explicit_schema=schema)
    return pajson.read_json(io.BytesIO(b"\n".join(lines)), parse_options=options)


def _typed_schema(
    path: Path, encoding: str, rows: int, text_fields: frozenset[str]
) -> pa.Schema | bool | None:
    """Arrow's whole-file schema when the whole-file read would keep Arrow's typed parse, by
    parsing one slice at a time; None when it would read per line; False when a slice cannot
    be judged as the whole file would be (brackets that could crash Arrow's parser in the
    slice alone, a line Arrow's blocks may split, an invalid array, a type `_unified` does
    not know): the whole read decides then."""
    fields: list[pa.Field] = []
    depth, lines_seen, rows_parsed, typed = 0, 0, 0, True
    for lines in _line_slices(path, encoding, rows):
        deepest, depth, rise = _deepest(lines, depth)
        if deepest > _ARROW_MAX_DEPTH:
            return None  # as `_too_deep`: the whole file goes per line
        if not typed:
            continue  # only the depth is left to check
        if rise > _ARROW_MAX_DEPTH or max(map(len, lines)) > _LONGEST:
            return False
        lines_seen += len(lines)
        try:
            table = _parsed(lines)
            fields = _merged(fields, list(table.schema))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, _Conflict):
            typed = False
            continue
        except _Unknown:
            return False
        try:  # Arrow's invalid arrays (see `read_jsonl`) depend on the types: the whole file's
            table.validate(full=True)  # may be valid where a slice's own is not
        except pa.ArrowInvalid:
            return False
        rows_parsed += table.num_rows
    if not typed or rows_parsed != lines_seen:
        return None
    schema = pa.schema(fields)
    if _mangled(schema.empty_table(), text_fields):
        return None
    return schema


def text_keys(path: Path, encoding: str, rows: int) -> tuple[str, ...]:
    """Every key of the file's objects that the per-line path keeps, in order of first
    appearance: its columns."""
    keys: dict[str, None] = {}
    for lines in _line_slices(path, encoding, rows):
        for line in lines:
            judged = _judged(line)
            if isinstance(judged, dict):
                keys.update(dict.fromkeys(judged))
    return tuple(keys)


def shape(path: Path, encoding: str, text_fields: frozenset[str], rows: int) -> Shape | None:
    """The file-wide decisions of `read_jsonl` for `path`, reading a slice of `rows` lines at
    a time; None when the whole-file read must run (it raises for an empty file, a JSON array,
    bytes the encoding cannot decode, a cut-short gzip file, and is left the rare file whose
    slices could crash Arrow's parser while the whole file would not)."""
    try:
        for lines in _line_slices(path, encoding, 1):
            if lines[0].lstrip().startswith(b"["):
                return None
            break
        else:
            return None
        schema = _typed_schema(path, encoding, rows, text_fields)
        if schema is False:
            return None
    except (UnicodeDecodeError, IngestError):
        return None
    if isinstance(schema, pa.Schema):
        return Shape(tuple(schema.names), schema)
    return Shape(text_keys(path, encoding, rows), None)


class Unsliceable(Exception):
    """A slice Arrow would not parse under the whole-file schema after all: the load reads
    the file whole instead, which decides for itself."""


def read_sliced(
    path: Path,
    encoding: str,
    progress: Progress | None,
    shape: Shape,
    take: Callable[[RawData], None],
    rows: int,
) -> RawData:
    """Hand `take` the file's rows a slice of up to `rows` lines at a time, parsed as
    `read_jsonl` parses the whole file (`shape`), numbered by position among the parsed rows
    (`row_numbers` of the result maps a position to its row number). The result holds no
    columns: its row count, its row numbers and the lines that are no rows."""
    numbers: list[IntArray] = []
    broken: list[BrokenRow] = []
    first, done = 1, 0
    for lines in _line_slices(path, encoding, rows, progress):
        if shape.schema is None:
            raw = _from_lines(lines, first, shape.columns)
            broken += raw.broken
            numbers.append(raw.row_numbers)
        else:
            try:
                table = _parsed(lines, shape.schema)
                table.validate(full=True)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise Unsliceable(str(exc)) from exc
            if table.num_rows != len(lines):
                raise Unsliceable(f"{table.num_rows} rows from {len(lines)} lines")
            at = np.arange(first, first + len(lines), dtype=np.int64)
            raw = RawData(shape.columns, table, at, (), _lines_as_json(lines))
            numbers.append(at)
        first += len(lines)
        done += raw.data.num_rows
        take(raw)
    if progress is not None:
        size = path.stat().st_size
        progress(size, size)
    data = pa.table({"rows": pa.nulls(done)}).select([])
    at = np.concatenate(numbers) if numbers else np.zeros(0, np.int64)
    return RawData(shape.columns, data, at, tuple(broken), _lines_as_json([]))
