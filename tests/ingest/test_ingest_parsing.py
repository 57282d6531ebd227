"""The parsers on their own (no warehouse): the fast and slow date paths must agree."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from revops.ingest.coerce import clean_text, coerce
from revops.ingest.dates import micros_to_timestamps, parse_times
from revops.warehouse.schema import ColumnType

ACCEPTED = [
    "2024-01-05",
    "2024-01-05T10",
    "2024-01-05 10",
    "2024-01-05T10Z",
    "2024-01-05T10:00",
    "2024-01-05T10:00:00.5",
    "2024-01-05T10:00:00.123456",
    "2024-01-05T10:00:00+02",
    "2024-01-05T10:00:00+0230",
    "2024-01-05T10:00:00-02:30",
    "2024-01-05 10:00:00Z",
]


def _parse(values: list[str | None]) -> list[dt.datetime | None]:
    parsed = parse_times(pa.array(values, pa.string()))
    out: list[dt.datetime | None] = micros_to_timestamps(parsed.micros, parsed.ok).to_pylist()
    return out


@pytest.mark.parametrize("text", ACCEPTED)
def test_fast_and_slow_paths_agree(text: str) -> None:
    fast = _parse([text])[0]  # a clean column: Arrow's ISO cast
    slow = _parse([text, "not a date"])[0]  # one bad neighbour forces the regex path
    assert fast is not None
    assert fast == slow


@settings(max_examples=200)
@given(st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2100, 1, 1)))
def test_every_written_spelling_round_trips(moment: dt.datetime) -> None:
    minute = moment.replace(second=0, microsecond=0)
    hour12 = minute.hour % 12 or 12
    ampm = "AM" if minute.hour < 12 else "PM"
    spellings = {
        moment.isoformat(): moment,
        moment.isoformat(sep=" ") + "Z": moment,
        minute.strftime("%Y-%m-%d %H:%M"): minute,
        f"{minute.month}/{minute.day}/{minute.year} {hour12}:{minute.minute:02d} {ampm}": minute,
        minute.strftime("%m/%d/%Y %H:%M"): minute,
    }
    texts = list(spellings)
    assert _parse([*texts, "x"])[:-1] == list(spellings.values())


def test_nulls_and_blanks_are_missing_not_invalid() -> None:
    text = clean_text(pa.array(["", "  ", None, " 5 "]))
    assert text.to_pylist() == [None, None, None, "5"]
    result = coerce(text, "int")
    assert result.values.to_pylist() == [None, None, None, 5]
    assert result.invalid.tolist() == [False, False, False, False]


def test_typed_columns_skip_text_parsing() -> None:
    floats = coerce(pa.array([1.0, 2.5, None, float("nan")]), "int")
    assert floats.values.to_pylist() == [1, None, None, None]
    assert floats.invalid.tolist() == [False, True, False, True]
    ints = coerce(pa.array([0, 1, 2]), "bool")
    assert ints.values.to_pylist() == [False, True, None]
    assert ints.invalid.tolist() == [False, False, True]


@pytest.mark.parametrize(
    ("text", "type_"),
    [
        ("-5", "int"),
        ("0005", "int"),
        ("999999999999999999", "int"),
        ("1000000000000000000", "int"),
        ("-9223372036854775808", "int"),
        ("+5", "float"),
        ("1.", "float"),
        (".5", "float"),
        ("1e5", "float"),
        ("nan", "float"),
        ("inf", "float"),
        ("-0", "float"),
    ],
)
def test_fast_and_slow_number_paths_agree(text: str, type_: ColumnType) -> None:
    fast = coerce(pa.array([text]), type_)
    slow = coerce(pa.array([text, "zzz"]), type_)
    assert fast.values.to_pylist() == slow.values.to_pylist()[:1]
    assert fast.invalid.tolist() == slow.invalid.tolist()[:1]


_CELLS = st.one_of(
    st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31)).map(
        lambda d: d.strftime("%Y-%m-%d %H:%M:%S")
    ),
    st.builds(
        "{:04d}-{:02d}-{:02d} {:02d}:{:02d}:{:02d}".format,
        st.integers(0, 9999),
        st.integers(0, 13),
        st.integers(0, 32),
        st.integers(0, 25),
        st.integers(0, 61),
        st.integers(0, 61),
    ),
    st.builds(  # the date-only and minute-precision shapes, read by position too
        "{:04d}-{:02d}-{:02d}{}".format,
        st.integers(0, 9999),
        st.integers(0, 13),
        st.integers(0, 32),
        st.sampled_from(["", "T23:59", " 24:00", "T00:60", " 07:05"]),
    ),
    st.sampled_from(["2025-2-3 10:00:00", "2025-02-03 10:00", "1/5/2024 3:07 PM", "x", ""]),
    st.none(),
)


@settings(max_examples=300)
@given(st.lists(_CELLS, min_size=1, max_size=20))
def test_the_canonical_fast_path_changes_no_outcome(values: list[str | None]) -> None:
    """A column one bad cell keeps from Arrow's ISO cast is parsed by strptime where values
    round-trip, by the regexes elsewhere: every value as the regexes alone would read it."""
    from revops.ingest.dates import _ISO, _US, _assemble

    text = pa.array(values, pa.string())
    got = parse_times(text)
    iso = _assemble(pc.extract_regex(text, _ISO), us_style=False)
    us = _assemble(pc.extract_regex(text, _US), us_style=True)
    expected_ok = iso.ok | us.ok
    expected = [
        int(i) if o else int(u) if uo else None
        for i, o, u, uo in zip(iso.micros, iso.ok, us.micros, us.ok, strict=True)
    ]
    assert (got.ok == expected_ok).all(), values
    assert [int(m) if o else None for m, o in zip(got.micros, got.ok, strict=True)] == expected
