"""Fiscal quarters under both naming conventions, worked by hand."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from revops.errors import RevOpsError
from revops.pipeline.forecast.periods import parse_period, quarter_of, quarters_between


def test_named_by_start_and_end() -> None:
    # FY from February: FY2026 (start naming) = Feb 2026 … Jan 2027; Q4 = Nov 2026 … Jan 2027.
    q = parse_period("2026Q4", 2, "start")
    assert (q.start, q.end) == (date(2026, 11, 1), date(2027, 1, 31))
    # End naming: FY2026 ends in Jan 2026, so its Q4 is Nov 2025 … Jan 2026.
    q = parse_period("FY2026Q4", 2, "end")
    assert (q.start, q.end) == (date(2025, 11, 1), date(2026, 1, 31))
    assert parse_period("2026-q1", 1).end == date(2026, 3, 31)
    r = parse_period("2026-08-01..2026-08-31", 2)
    assert r.days == 31


def test_bad_period_is_a_clear_error() -> None:
    with pytest.raises(RevOpsError, match="2026Q5"):
        parse_period("2026Q5", 2)


@pytest.mark.parametrize(
    "text", ["0000Q1", "9999Q4", "0999-12-31..2026-01-01", "2026-01-01..9999-12-31"]
)
def test_a_period_outside_the_calendar_is_a_clear_error(text: str) -> None:
    with pytest.raises(RevOpsError, match="outside the years"):
        parse_period(text, 1)


def test_quarters_between_only_whole_quarters() -> None:
    qs = quarters_between(date(2024, 11, 1), date(2026, 10, 31), 2)
    assert len(qs) == 8  # the demo company's two years
    assert qs[0].start == date(2024, 11, 1)
    assert qs[-1].end == date(2026, 10, 31)


@given(
    st.dates(date(2000, 1, 1), date(2100, 1, 1)),
    st.integers(1, 12),
    st.sampled_from(["start", "end"]),
)
def test_every_day_lies_in_its_quarter(day: date, month: int, naming: str) -> None:
    q = quarter_of(day, month, naming)  # type: ignore[arg-type]
    assert q.contains(day)
    assert 89 <= q.days <= 92
    assert parse_period(q.label, month, naming) == q  # type: ignore[arg-type]
