"""A streamed CSV read (validated a slice at a time, text let go) reads the file exactly as a
whole read does: the same rows, numbers, broken rows, blank lines and raw text for quarantine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from revops.ingest import csvfile
from revops.ingest.raw import IntArray

TRICKY = (
    "person_id,email,first_name\n"
    "P1,a@x.com,Ann\n"
    "P2,not-an-email,Bob\n"
    "\n"
    'P3,c@x.com,"Multi\nline"\n'
    "P4,d@x.com,Dee,extra\n"
    "P5,e@x.com\n"
    "   \n"
    "P6,f@x.com,Fay\n"
    "P7,bad,Gus\n"
    'P8,h@x.com,"Hal ""quoted"""\n'
    "P9,i@x.com,Ida\n"
)


def _compare(path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int) -> int:
    """Read `path` whole and streamed; how many slices the streamed read checked."""
    whole = csvfile.read_csv(path, "utf-8", None)
    monkeypatch.setattr(csvfile, "CHUNK_ROWS", chunk)
    monkeypatch.setattr(csvfile, "_BLOCK", 64)  # a few rows per parsed batch
    seen: list[pa.Table] = []

    def refuse_bad_emails(slice_: pa.Table) -> IntArray:
        seen.append(slice_)
        emails = slice_.column("email").to_pylist() if slice_.num_rows else []
        return np.array([i for i, e in enumerate(emails) if "@" not in e], dtype=np.int64)

    streamed = csvfile.read_csv(path, "utf-8", None, refuse_bad_emails)
    assert streamed.data.num_rows == whole.data.num_rows
    assert pa.concat_tables(seen).equals(whole.data)  # every row checked once, in order
    assert streamed.row_numbers.tolist() == whole.row_numbers.tolist()
    assert streamed.broken == whole.broken
    assert (streamed.blank_lines, streamed.rows_in) == (whole.blank_lines, whole.rows_in)
    everything = np.arange(whole.data.num_rows, dtype=np.int64)
    # refused rows were rendered during the read, the others are read again from the file
    assert streamed.raw_json(everything) == whole.raw_json(everything)
    assert streamed.raw_json(everything[::-1]) == whole.raw_json(everything[::-1])
    return len(seen)


@pytest.mark.parametrize("chunk", [1, 2, 3, 1000])
def test_streamed_read_matches_the_whole_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    path = tmp_path / "people.csv"
    path.write_text(TRICKY, encoding="utf-8")
    slices = _compare(path, monkeypatch, chunk)
    assert (slices > 1) == (chunk < 9)  # nine parsed rows


def test_a_header_only_file_is_checked_once_with_no_rows(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("person_id,email\n", encoding="utf-8")
    calls: list[int] = []

    def check(slice_: pa.Table) -> IntArray:
        calls.append(slice_.num_rows)
        return np.zeros(0, dtype=np.int64)

    raw = csvfile.read_csv(path, "utf-8", None, check)
    assert calls == [0]
    assert raw.rows_in == 0


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a@x.com", "bad", "", 'q"@x.com']),
            st.text(alphabet='ab ,"\n', max_size=6),
        ),
        max_size=25,
    ),
    st.integers(1, 7),
)
def test_streamed_read_matches_the_whole_read_on_any_rows(
    tmp_path_factory: pytest.TempPathFactory, rows: list[tuple[str, str]], chunk: int
) -> None:
    path = tmp_path_factory.mktemp("streamed") / "rows.csv"
    lines = [
        f'P{i},{email},"{name.replace(chr(34), chr(34) * 2)}"'
        for i, (email, name) in enumerate(rows)
    ]
    path.write_text("person_id,email,first_name\n" + "\n".join(lines) + "\n", encoding="utf-8")
    with pytest.MonkeyPatch.context() as monkeypatch:
        _compare(path, monkeypatch, chunk)
