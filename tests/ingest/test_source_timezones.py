"""Naive local timestamps → UTC: the vectorized path against per-value references.

The rule (ingest/mapping.py): a local time skipped by a DST change is shifted forward by the
gap; a repeated one is its first occurrence. Python's zoneinfo with fold=0 states exactly that
per value, and pandas (ambiguous=True: the DST reading first) agrees away from the gaps, so both
serve as independent references for the hour-bucketed lookup.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from revops.ingest.mapping import localize

ZONES = ["America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"]
EPOCH = dt.datetime(1970, 1, 1)


def reference(local: dt.datetime, zone: str) -> dt.datetime:
    aware = local.replace(tzinfo=ZoneInfo(zone), fold=0)
    return aware.astimezone(dt.UTC).replace(tzinfo=None)


def as_utc(text: list[str | None]) -> list[dt.datetime]:
    return [dt.datetime.fromisoformat(str(v).removesuffix("Z")) for v in text]


@settings(max_examples=60, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    minutes=st.lists(st.integers(0, 60 * 24 * 366 * 3), min_size=1, max_size=40),
)
def test_localize_matches_zoneinfo_per_value(zone: str, minutes: list[int]) -> None:
    start = dt.datetime(2023, 1, 1)
    local = [start + dt.timedelta(minutes=m) for m in minutes]
    text = pa.array([t.strftime("%Y-%m-%d %H:%M") for t in local], pa.string())
    got = as_utc(localize(text, zone).to_pylist())
    assert got == [reference(t, zone) for t in local]


def test_dst_edges_in_new_york_and_pandas_away_from_the_gap() -> None:
    zone = "America/New_York"
    text = pa.array(["2024-03-10 02:30", "2024-11-03 01:30", "2024-07-01 12:00"], pa.string())
    got = as_utc(localize(text, zone).to_pylist())
    # 02:30 does not exist (02:00 → 03:00 EDT): shifted forward by the gap to 03:30 EDT
    # 01:30 happens twice: the first, EDT (UTC-4)
    assert got == [
        dt.datetime(2024, 3, 10, 7, 30),
        dt.datetime(2024, 11, 3, 5, 30),
        dt.datetime(2024, 7, 1, 16, 0),
    ]
    stamps = pd.DatetimeIndex(pd.to_datetime(["2024-11-03 01:30", "2024-07-01 12:00"]))
    by_pandas = stamps.tz_localize(zone, ambiguous=np.array([True, True])).tz_convert("UTC")
    assert list(by_pandas.tz_localize(None).to_pydatetime()) == got[1:]


def test_zoned_values_and_bare_dates_are_left_alone() -> None:
    text = pa.array(["2024-03-10T02:30:00Z", "2024-03-10T02:30:00+01:00", "2024-03-10", None])
    assert localize(text, "America/New_York").to_pylist() == text.to_pylist()
