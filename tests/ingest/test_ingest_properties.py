"""Property: for any mix of good and bad CSV rows, every row is accounted for exactly once and
exactly the bad ones are quarantined, under their own row numbers (DuckDB only, for speed)."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import revops.ingest.validate as v
from revops.ingest import load_file
from revops.ingest.columns import plan_columns
from revops.warehouse import Warehouse, table

HEADER = ["person_id", "email", "first_name", "employees", "created_at"]
GOOD_DATES = ["2024-01-05", "01/05/2024 3:00 PM", "2024-01-05T10:00:00Z", "2024-01-05 10:30"]
BAD_KINDS = ["email", "date", "required", "int", "short", "long"]

names = st.text(alphabet="abcXYZ é,\"'\n", max_size=12)
row_kind = st.sampled_from(["good", "good", "good", *BAD_KINDS])


@st.composite
def rows(draw: st.DrawFn) -> tuple[list[list[str]], set[int]]:
    out: list[list[str]] = []
    bad: set[int] = set()
    for number in range(1, draw(st.integers(0, 40)) + 1):
        kind = draw(row_kind)
        pid = f"p{draw(st.integers(0, 15))}"
        row = [
            pid,
            f"{pid}.{number}@example.com",
            draw(names),
            draw(st.sampled_from(["", "7", "1,200"])),
            draw(st.sampled_from(GOOD_DATES)),
        ]
        if kind == "email":
            row[1] = draw(st.sampled_from(["bob@", "no-at-sign", "a@b"]))
        elif kind == "date":
            row[4] = draw(st.sampled_from(["2024-02-30", "soon", "13/13/2024"]))
        elif kind == "required":
            row[draw(st.sampled_from([0, 1, 4]))] = ""
        elif kind == "int":
            row[3] = "many"
        elif kind == "short":
            row = row[: draw(st.integers(1, 4))]
        elif kind == "long":
            row = [*row, "extra"]
        out.append(row)
        if kind != "good":
            bad.add(number)
    return out, bad


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows())
def test_rows_in_equals_loaded_plus_quarantined(case: tuple[list[list[str]], set[int]]) -> None:
    data, bad = case
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([HEADER, *data])
    with tempfile.TemporaryDirectory() as tmp, Warehouse.connect(":memory:") as wh:
        path = Path(tmp) / "persons.csv"
        path.write_text(buf.getvalue(), encoding="utf-8")
        report = load_file(wh, path, "persons")

        assert report.rows_in == len(data)
        assert report.loaded + report.quarantined + report.duplicates == report.rows_in
        assert report.quarantined == len(bad)
        numbers = [r[0] for r in wh.sql("SELECT row_number FROM quarantine ORDER BY 1")]
        assert numbers == sorted(bad)

        # Last good row per key wins, only good rows are stored, each repeat is reported.
        latest: dict[str, str] = {}
        for number, row in enumerate(data, start=1):
            if number not in bad:
                latest[row[0]] = row[1]
        assert dict(wh.sql("SELECT person_id, email FROM persons")) == latest
        assert report.inserted == len(latest)
        assert report.duplicates == len(data) - len(bad) - len(latest)


CELLS = {
    "person_id": st.sampled_from(["p1", "p2", "", " p3 ", "x" * 1001]),
    "email": st.sampled_from(["a@example.com", "bob@", "", "A.B@Example.ORG"]),
    "first_name": names,
    "employees": st.sampled_from(["", "7", "1,200", "many", "1e3", "12.0"]),
    "created_at": st.sampled_from([*GOOD_DATES, "2024-02-30", "soon", ""]),
    "person_type": st.sampled_from(["lead", "Contact", "", "prospect"]),
}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.fixed_dictionaries(CELLS), max_size=60),
    st.integers(1, 25),
)
def test_validating_in_slices_gives_the_answer_of_one_pass(
    records: list[dict[str, str]], chunk: int
) -> None:
    """validate checks big files a slice at a time to bound memory; every rule is per cell, so
    the good rows, the refused rows with their fields and reasons, and the counts are the same
    whatever the slice size."""
    data = pa.Table.from_pylist(records, schema=pa.schema([(c, pa.string()) for c in CELLS]))
    t = table("persons")
    plan = plan_columns(Path("f.csv"), tuple(CELLS), t, None, "")
    whole = v.validate(data, plan, t, None)
    saved = v.CHUNK_ROWS
    v.CHUNK_ROWS = chunk
    try:
        sliced = v.validate(data, plan, t, None)
    finally:
        v.CHUNK_ROWS = saved
    assert sliced.good.to_pylist() == whole.good.to_pylist()
    assert sliced.good.schema == whole.good.schema
    assert sliced.bad_rows.tolist() == whole.bad_rows.tolist()
    assert (sliced.fields, sliced.reasons) == (whole.fields, whole.reasons)
    assert sliced.problems == whole.problems


cells = st.lists(st.one_of(st.none(), st.text(alphabet="ab\x00é ", max_size=8)), max_size=30)


@given(cells, st.integers(0, 10), st.integers(0, 6))
def test_nul_and_length_checks_judge_each_value_on_its_own(
    values: list[str | None], start: int, limit: int
) -> None:
    """The NUL and length screens first look at a column's whole buffer and skip the per-value
    pass when it cannot find anything; the answer must be the per-value one, also for a slice
    whose hidden neighbours hold a NUL or a long value (the buffer sees them, the values not)."""
    from revops.warehouse.schema import Column

    column = pa.array(values, pa.string()).slice(start)
    shown = column.to_pylist()
    _, failures = v._cell_failures(Column("x", "string", "x"), column, limit)
    got = {f.kind: f.mask.tolist() for f in failures}
    nul = [s is not None and "\x00" in s for s in shown]
    long = [s is not None and len(s) > limit for s in shown]
    expected = {k: m for k, m in (("nul", nul), ("too_long", long)) if any(m)}
    assert got == expected
