"""Timestamps as the warehouse stores them: naive UTC.

Every table keeps instants without an offset, in UTC, so that DuckDB and PostgreSQL compare them
the same way. Code that takes an instant from outside (a CLI option, an API clock) converts it
here; a naive input is taken to be UTC already.
"""

from __future__ import annotations

from datetime import UTC, datetime


def naive_utc(at: datetime) -> datetime:
    """`at` as stored: converted to UTC and stripped of its offset (naive input is UTC)."""
    return at if at.tzinfo is None else at.astimezone(UTC).replace(tzinfo=None)


def utc_now() -> datetime:
    """Now, as stored."""
    return datetime.now(UTC).replace(tzinfo=None)
