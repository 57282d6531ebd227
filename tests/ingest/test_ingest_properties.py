"""Property: for any mix of good and bad CSV rows, every row is accounted for exactly once and
exactly the bad ones are quarantined, under their own row numbers (DuckDB only, for speed)."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from revops.ingest import load_file
from revops.warehouse import Warehouse

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
