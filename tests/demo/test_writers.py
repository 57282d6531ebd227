"""The demo's export writers format times as each vendor's export does: the fast cast-and-slice
formatting (`writers.format_timestamps`, `format_dates`) gives, value for value, the text that
Arrow's `strftime` gives for each system's documented format."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from revops.demo.writers import HUBSPOT_TIMEZONE, format_dates, format_timestamps

# Salesforce's API (CreatedDate), HubSpot's export (in the portal's time zone, to the minute),
# Marketo's activity export, and the canonical ISO form
STRFTIME = {
    "salesforce": "%Y-%m-%dT%H:%M:%S.000Z",
    "hubspot": "%Y-%m-%d %H:%M",
    "marketo": "%Y-%m-%dT%H:%M:%SZ",
    "canonical": "%Y-%m-%dT%H:%M:%S",
}
moments = st.lists(
    st.none() | st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2099, 12, 31)),
    max_size=40,
)


def _strftime(values: pd.Series, style: str) -> list[str | None]:
    if style == "hubspot":
        values = values.dt.tz_localize("UTC").dt.tz_convert(HUBSPOT_TIMEZONE).dt.tz_localize(None)
    arr = pa.array(values.to_numpy(dtype="datetime64[s]"), type=pa.timestamp("s"))
    return pc.strftime(arr, format=STRFTIME[style]).to_pylist()


def test_each_system_writes_its_own_format() -> None:
    """Worked by hand: 2026-03-08 09:30:05 UTC, the day US daylight time starts (HubSpot's
    portal in America/New_York writes 05:30, not 04:30), and a missing time."""
    values = pd.Series(pd.to_datetime(["2026-03-08 09:30:05", None]))
    assert HUBSPOT_TIMEZONE == "America/New_York"
    got = {style: format_timestamps(values, style).to_pylist() for style in STRFTIME}
    assert got == {
        "salesforce": ["2026-03-08T09:30:05.000Z", None],
        "hubspot": ["2026-03-08 05:30", None],
        "marketo": ["2026-03-08T09:30:05Z", None],
        "canonical": ["2026-03-08T09:30:05", None],
    }
    assert format_dates(pd.Series(pd.to_datetime(["2026-10-31", None]))).to_pylist() == [
        "2026-10-31",
        None,
    ]


@settings(max_examples=60, deadline=None)
@given(moments, st.sampled_from(sorted(STRFTIME)))
def test_times_match_strftime(values: list[datetime | None], style: str) -> None:
    series = pd.Series(pd.to_datetime(pd.Series(values, dtype=object)), dtype="datetime64[ns]")
    assert format_timestamps(series, style).to_pylist() == _strftime(series, style)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.none() | st.dates(min_value=date(1970, 1, 1), max_value=date(2099, 12, 31))))
def test_dates_match_strftime(values: list[date | None]) -> None:
    series = pd.Series(pd.to_datetime(pd.Series(values, dtype=object)), dtype="datetime64[ns]")
    arr = pa.array(series.to_numpy(dtype="datetime64[s]").astype("datetime64[D]"), type=pa.date32())
    assert format_dates(series).to_pylist() == pc.strftime(arr, format="%Y-%m-%d").to_pylist()
