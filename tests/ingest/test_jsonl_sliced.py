"""A JSON-lines export loaded a slice at a time (`jsonlines.shape`, `jsonlines.read_sliced`)
stores, quarantines, logs and reports exactly what the whole-file read does: the same
file-wide choice between Arrow's typed parse and the per-line text path, the same columns
when keys appear late, the same row numbers around malformed and blank lines."""

from __future__ import annotations

import gzip
import json
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import pyarrow as pa
import pyarrow.json as pajson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_ingest_sliced import MODEL, counts, stored, tiny_slices, whole_file

import revops.ingest.load as load_module
from revops.ingest import jsonlines
from revops.ingest.errors import IngestError
from revops.ingest.load import load_file
from revops.ingest.report import LoadReport
from revops.warehouse import Warehouse


@contextmanager
def tiny_json_slices(rows: int) -> Iterator[list[int]]:
    """Slices of `rows` lines, read a few bytes at a time (lines and characters split); yields
    a list that counts the sliced loads that ran to the end (not left to the whole read)."""
    done: list[int] = []
    with tiny_slices(rows), mock.patch.object(jsonlines, "_READ", 5):
        real = load_module._load_sliced

        def counted(*args: Any, **kwargs: Any) -> LoadReport:
            report = real(*args, **kwargs)
            done.append(1)
            return report

        with mock.patch.object(load_module, "_load_sliced", counted):
            yield done


# -- Arrow's whole-file inference, one slice at a time -------------------------------------------
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["x", "2026-01-05", "2026-01-05T10:00:00", "2026-01-05T10:00:00Z"]),
    st.sampled_from(["2026-01-05 10:00:00.5", "10:00", ""]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["a", "b", "c"]), inner, max_size=3),
    ),
    max_leaves=6,
)
NUMBERS = st.one_of(
    st.integers(-5, 5), st.floats(-10, 10, allow_nan=False), st.integers(2**63, 2**64)
)
TEXTS = st.sampled_from(["x", "2026-01-05", "2026-01-05T10:00:00Z", "2026-01-05 10:00:00.5"])
# a column's values mostly of one JSON kind, so Arrow's whole-file parse often succeeds
FAMILIES = [
    NUMBERS,
    TEXTS,
    st.booleans(),
    st.lists(st.one_of(st.none(), NUMBERS), max_size=3),
    st.dictionaries(st.sampled_from(["a", "b"]), st.one_of(st.none(), NUMBERS, TEXTS)),
    VALUES,
]


@st.composite
def objects(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Lines whose keys `k`, `m`, `n` and `late` each draw from one family of values (or are
    null or absent); `late` only in the second half."""
    family = {key: draw(st.sampled_from(FAMILIES)) for key in ("k", "m", "n", "late")}
    count = draw(st.integers(1, 12))
    lines = []
    for i in range(count):
        keys = [k for k in family if draw(st.booleans()) and (k != "late" or 2 * i >= count)]
        lines.append({k: draw(st.one_of(st.none(), family[k])) for k in keys})
    return lines


def _file(lines: list[str], folder: Path) -> Path:
    path = folder / "x.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@settings(max_examples=200)
@given(objects(), st.integers(1, 4))
def test_slices_unify_to_the_types_arrow_infers_over_the_whole_file(
    objects: list[dict[str, Any]], rows: int
) -> None:
    lines = [json.dumps(o) for o in objects]
    with tempfile.TemporaryDirectory() as tmp:
        path = _file(lines, Path(tmp))
        sliced = jsonlines._typed_schema(path, "utf-8", rows, frozenset())
        try:
            whole = pajson.read_json(path)
            whole.validate(full=True)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            assert sliced is None or sliced is False  # per line, or left to the whole read
            return
    if sliced is not False:  # False: left to the whole read, which decides itself
        assert sliced == whole.schema


# -- whole loads ----------------------------------------------------------------------------------
PIDS = st.sampled_from(["p1", "p2", "p3", "p4"])
EMAILS = st.sampled_from(["a@x.com", "bob@", "é@x.com", "2026-01-05", 7])
EMPLOYEES = st.sampled_from([5, 5.0, "5", 5.5, True, None, "1,200", {"n": 1}, [1], "lots"])
CREATED = st.sampled_from(
    ["2026-01-01", "2026-01-05T10:00:00Z", "2026-02-30", "x", 1_700_000_000, None]
)
SOURCES = st.sampled_from(["Paid Search", "PPC", "carrier_pigeon", "日本", 3])
BROKEN = [
    "{bad",
    "[1, 2]",
    "5",
    '{"person_id": "p9", "email": "\\ud800"}',
    '{"person_id": "p8"}{"person_id": "p7"}',
    '{"deep": ' + "[" * 70 + "]" * 70 + "}",
    "   ",
    "",
    "\t",
]


@st.composite
def persons_jsonl(draw: st.DrawFn) -> str:
    """persons lines: repeated ids, values of mixed JSON types, keys that appear late, nested
    values, malformed and blank lines; the first line is always a good object."""
    lines = ['{"person_id": "p0", "email": "z@x.com", "created_at": "2026-01-01"}']
    late = draw(st.sampled_from(["country", "phone", "custom_note", "updated_at"]))
    typed_only = draw(st.booleans())  # files Arrow's parse takes whole, or not
    for i in range(draw(st.integers(0, 14))):
        if not typed_only and draw(st.integers(0, 4)) == 0:
            lines.append(draw(st.sampled_from(BROKEN)))
            continue
        obj: dict[str, Any] = {"person_id": draw(PIDS), "email": draw(EMAILS)}
        if draw(st.booleans()):
            obj["created_at"] = draw(CREATED)
        obj["employees"] = draw(EMPLOYEES)
        obj["source"] = draw(SOURCES)
        obj["company"] = draw(st.sampled_from(["Acme", "2026-01-05", "2026-01-05T10:00:00Z"]))
        if i > 3 and draw(st.booleans()):
            obj[late] = draw(st.sampled_from(["us", "Narnia", "2026-01-06T00:00:00Z", None]))
        if typed_only:
            obj = {k: v for k, v in obj.items() if isinstance(v, str)}
        lines.append(json.dumps(obj, ensure_ascii=draw(st.booleans())))
    end = draw(st.sampled_from(["\n", "", "\r\n"]))
    return "\n".join(lines) + end


def run(texts: list[str], folder: Path, mode: Callable[[], Any], gz: bool) -> tuple[Any, ...]:
    """Every file loaded into one fresh DuckDB warehouse under `mode`: what is stored, the
    reports (or the load's error)."""
    with Warehouse.connect(":memory:") as wh, mode() as calls:
        reports: list[Any] = []
        for i, text in enumerate(texts):
            path = folder / f"{i}.jsonl{'.gz' if gz else ''}"
            data = text.encode("utf-8")
            path.write_bytes(gzip.compress(data) if gz else data)
            try:
                reports.append(counts(load_file(wh, path, "persons", model=MODEL)))
            except IngestError as exc:
                reports.append(str(exc))
        return stored(wh), reports, calls


@settings(max_examples=40, deadline=None)
@given(st.lists(persons_jsonl(), min_size=1, max_size=3), st.integers(1, 4), st.booleans())
def test_a_sliced_jsonl_load_stores_and_reports_what_the_whole_file_load_does(
    texts: list[str], rows: int, gz: bool
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        whole, whole_reports, _ = run(texts, folder, whole_file, gz)
        sliced, sliced_reports, calls = run(texts, folder, lambda: tiny_json_slices(rows), gz)
    assert len(calls) == len(texts)  # every load went through the sliced path to its end
    assert sliced_reports == whole_reports
    assert sliced == whole


# -- by hand, on both backends --------------------------------------------------------------------
FIRST = "\n".join(
    [
        '{"person_id": "p1", "email": "a@x.com", "source": "PPC", "created_at": "2026-01-01"}',
        "",
        '{"person_id": "p2", "email": "bob@", "created_at": "2026-01-01"}',
        "{not json",
        '{"person_id": "p2", "email": "b@x.com", "created_at": "2026-01-01", "employees": 12}',
        "   ",
        '{"person_id": "p1", "email": "a2@x.com", "created_at": "2026-01-02", "country": "u.k."}',
        '{"person_id": "p3", "email": "c@x.com", "created_at": "2026-01-03", "employees": "1,200"}',
    ]
)


def test_a_sliced_jsonl_load_numbers_rows_and_keeps_late_keys_on_each_backend(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    """Read from a plain reading of FIRST: rows numbered among the non-blank lines (1 p1,
    2 p2 bad email, 3 malformed, 4 p2, 5 p1, 6 p3), the last row of an id wins, `country`
    appears only in row 5 and `employees` is a number in one row and text in another (so the
    whole file is read per line, as text)."""
    path = tmp_path / "first.jsonl"
    path.write_text(FIRST + "\n")
    with tiny_json_slices(2) as calls:
        report = load_file(warehouse, path, "persons", model=MODEL)
    assert len(calls) == 1
    assert (report.rows_in, report.quarantined, report.duplicates) == (6, 2, 1)
    assert report.blank_lines == 0  # as the whole-file JSON read reports them
    assert report.duplicate_ids == (("p1", (1, 5)),)
    rows = warehouse.sql("SELECT person_id, email, country, employees FROM persons ORDER BY 1")
    assert rows == [
        ("p1", "a2@x.com", "GB", None),
        ("p2", "b@x.com", None, 12),
        ("p3", "c@x.com", None, 1200),
    ]
    refused = warehouse.sql("SELECT row_number, field, raw FROM quarantine ORDER BY 1")
    assert refused == [
        (2, "email", '{"person_id": "p2", "email": "bob@", "created_at": "2026-01-01"}'),
        (3, "(json)", '{"_line": "{not json"}'),
    ]


def test_what_the_whole_jsonl_read_refuses_it_still_refuses(tmp_path: Path) -> None:
    """An empty file, a JSON array and undecodable bytes take the whole read and its error."""
    cases = {
        "empty.jsonl": b"\n  \n",
        "array.jsonl": b'  [{"person_id": "p1"}]\n',
        "latin.jsonl": b'{"person_id": "p1", "email": "\xe9@x.com", "created_at": "2026"}\n',
    }
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        assert jsonlines.shape(path, "utf-8", frozenset(), 2) is None
    with Warehouse.connect(":memory:") as wh, tiny_json_slices(1):
        with pytest.raises(IngestError, match="line 1, byte offset 30"):
            load_file(wh, tmp_path / "latin.jsonl", "persons", model=MODEL)
        with pytest.raises(IngestError, match="holds a JSON array"):
            load_file(wh, tmp_path / "array.jsonl", "persons", model=MODEL)


def test_a_typed_file_is_parsed_under_the_whole_files_types(tmp_path: Path) -> None:
    """`employees` is an integer in the first slice and a decimal in the second: Arrow's whole
    read makes both double, and so does every slice; a key only the last slice has is a column
    of every slice."""
    lines = [
        '{"person_id": "p1", "email": "a@x.com", "created_at": "2026-01-01", "employees": 3}',
        '{"person_id": "p2", "email": "b@x.com", "created_at": "2026-01-01", "employees": 4.5}',
        '{"person_id": "p3", "email": "c@x.com", "created_at": "2026-01-01", "phone": "1"}',
    ]
    path = tmp_path / "typed.jsonl"
    path.write_text("\n".join(lines))
    shape = jsonlines.shape(path, "utf-8", frozenset({"email", "phone", "person_id"}), 1)
    assert shape is not None
    assert shape.schema is not None
    assert shape.columns == ("person_id", "email", "created_at", "employees", "phone")
    assert shape.schema.field("employees").type == pa.float64()
    seen: list[pa.Table] = []
    jsonlines.read_sliced(path, "utf-8", None, shape, lambda raw: seen.append(raw.data), 1)
    assert [t.schema for t in seen] == [shape.schema] * 3


GOOD = '{"person_id": "p%d", "email": "a%d@x.com", "created_at": "2026-01-0%d", "employees": %s}'
DECIDED = {
    # a malformed line in the last slice only: the whole file is read per line, as text
    "late_malformed": [GOOD % (1, 1, 1, "1.0"), GOOD % (2, 2, 2, "2"), "{oops"],
    # a number in one slice, text in another: Arrow's whole parse fails, so per line
    "late_text": [GOOD % (1, 1, 1, "3"), GOOD % (2, 2, 2, "3"), GOOD % (3, 3, 3, '"4"')],
    # a text column all date-like: Arrow would make it a timestamp, so per line
    "dated_text": [
        '{"person_id": "p1", "email": "a@x.com", "created_at": "2026-01-01", '
        '"company": "2026-01-05T10:00:00Z"}'
    ]
    * 2,
}


@pytest.mark.parametrize("name", sorted(DECIDED))
def test_the_whole_files_choice_of_parse_holds_in_every_slice(name: str, tmp_path: Path) -> None:
    """What the whole read decides from one line anywhere, every slice is read under."""
    text = "\n".join(DECIDED[name]) + "\n"
    whole, whole_reports, _ = run([text], tmp_path, whole_file, False)
    sliced, sliced_reports, done = run([text], tmp_path, lambda: tiny_json_slices(1), False)
    assert done == [1]
    assert (sliced, sliced_reports) == (whole, whole_reports)
