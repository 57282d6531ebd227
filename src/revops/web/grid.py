"""A page's table: cells that keep their raw value (for CSV) beside their text (for people).

Every table on every page is a `Grid`, so one CSV export serves them all: the same URL with
`csv=<grid key>` answers that table's raw values, which are the dictionary's numbers unrounded,
never the text a person reads.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Cell:
    raw: Any
    text: str
    href: str | None = None
    numeric: bool = False


@dataclass
class Grid:
    """A table. `hidden` columns and rows past `limit` are left off the page, never the CSV."""

    key: str
    title: str
    header: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    note: str = ""
    hidden: frozenset[str] = frozenset()
    limit: int | None = None

    def _shown(self) -> list[int]:
        return [i for i, h in enumerate(self.header) if h not in self.hidden]

    def shown_header(self) -> list[tuple[str, bool]]:
        """(column, numeric) of the columns on the page."""
        first = self.rows[0] if self.rows else []
        return [(self.header[i], bool(first) and first[i].numeric) for i in self._shown()]

    def shown_rows(self) -> list[list[Cell]]:
        keep = self._shown()
        rows = self.rows if self.limit is None else self.rows[: self.limit]
        return [[r[i] for i in keep] for r in rows]

    def csv(self) -> str:
        """The table as CSV: raw values, a missing one as an empty field (never 0)."""
        buf = io.StringIO()
        out = csv.writer(buf, lineterminator="\n")
        out.writerow(self.header)
        for row in self.rows:
            out.writerow([_csv_value(c.raw) for c in row])
        return buf.getvalue()


def _csv_value(raw: Any) -> str:
    if raw is None or (isinstance(raw, float) and math.isnan(raw)):
        return ""
    if isinstance(raw, float):
        return repr(raw)
    text = str(raw)
    if text in ("NaT", "nan", "None", "<NA>"):
        return ""
    # a leading = + - @ makes a spreadsheet evaluate the cell: quote it as text
    return "'" + text if text[:1] in ("=", "+", "-", "@") and not _number(text) else text


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def text_cell(value: Any, href: str | None = None) -> Cell:
    shown = "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)
    if shown in ("NaT", "nan", "<NA>"):
        shown = ""
    return Cell(value, shown, href)
