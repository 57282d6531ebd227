"""What every read command prints, in one of three formats, with one number style.

A command collects its tables in an `Output` (`with output(fmt) as out: out.table(df, ...)`)
and this module decides how they read:

* ``table`` (the default): Rich tables for a person. The number style is the same in every
  table, so a figure reads the same wherever it appears:

  - money rounded to the unit with thousands separators, a negative amount with a true minus
    sign before the symbol: ``$1,250,000``, ``−$3,200,000`` (never ``$-3.2M``);
  - ratios (rates, shares, attainment, conversion) as percentages to one decimal: ``41.7%``;
  - counts as integers: ``56`` (a fractional count rounds; never ``56.25 deals``);
  - days to one decimal with their unit (``7.5 days``); multiples (pipeline coverage) as
    ``3.2×``; any other number whole from 100 up (``19,781,380``, never ``19,781,379.528``),
    else to two decimals for the whole column;
  - a missing value as ``n/a``, never 0; dates as ``2026-10-31``, months as ``2026-10``;
  - people and accounts by name; an id column is hidden when its name column is beside it.

  Tables fit the terminal: a cell wraps rather than being cut, and when even wrapped columns
  cannot fit, the lowest-priority columns are left out, said in a note under the table.

* ``csv``: every table's rows with ids *and* names, numbers without thousands separators,
  money to the cent, ratios as fractions (0.417), a missing value as an empty cell. One table
  is a plain CSV file; several are blocks, each headed ``# name`` and followed by a blank line.

* ``json``: ``{"tables": [{"name", "title", "columns", "rows": [{...}]}], "notes": [...]}``
  with the same values as CSV and ``null`` for a missing one.

In csv and json the command's other messages go to stderr, so stdout is the data alone.
The money and percent styles are `revops.reports.formatting.format_value`'s, which the HTML
reports use too: one style for people wherever they read a figure.
"""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from revops.reports.formatting import MINUS, format_value

if TYPE_CHECKING:
    import pandas as pd

Kind = Literal[
    "text", "id", "date", "month", "money", "ratio", "count", "days", "multiple", "number"
]
MISSING = "n/a"


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


FormatOpt = Annotated[
    Format,
    typer.Option(
        "--format",
        help="table (for people), csv or json (every row, with ids and names; see "
        "`revops.cli.output`).",
        case_sensitive=False,
    ),
]

# -- the number style --------------------------------------------------------------------------
_RATIO_WORDS = (
    "rate",
    "rates",
    "share",
    "conversion",
    "ratio",
    "attainment",
    "probability",
    "mape",
    "predicted",
    "observed",
    "nrr",
    "grr",
)
_MONEY_WORDS = (
    "amount",
    "value",
    "revenue",
    "arr",
    "mrr",
    "payout",
    "bookings",
    "quota",
    "commit",
    "best_case",
    "pipeline",
    "forecast",
    "cost",
    "spend",
    "price",
    "earned",
    "commission",
    "acv",
    "at_risk",
    "at risk",
    "target",
    "low",
    "high",
    "closed_won",
    "booked",
    "remaining",
    "deal_size",
    "velocity",
    "credited",
    "expected",
    "potential",
    "capacity",
    "productivity",
    "values",
    "won_size",
    "budget",
    "part",
    "new",
    "expansion",
    "contraction",
    "churn",
    "reactivation",
)
_COUNT_WORDS = (
    "deals",
    "count",
    "leads",
    "rows",
    "flags",
    "flagged",
    "opportunities",
    "persons",
    "missing",
)
_DAY_WORDS = ("days", "cycle", "age")


def is_missing(value: Any) -> bool:
    """None, NaN, NaT and pandas' NA: the value is unknown (shown n/a, empty or null)."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    try:
        import pandas as pd

        return bool(pd.isna(value)) if not isinstance(value, (str, bytes)) else False
    except (TypeError, ValueError):
        return False


def infer_kind(name: str, values: Iterable[Any]) -> Kind:
    """A column's kind from its name and values, for frames the engines return; a command
    names the kind itself (`kinds=`) where the name says too little."""
    n = name.lower()
    sample = [v for v in values if not is_missing(v)]
    if n == "id" or n.endswith("_id"):
        return "id"
    if any(isinstance(v, (date, datetime)) for v in sample[:5]):
        return "month" if n == "month" or n.endswith("_month") else "date"
    if not sample or not all(_is_number(v) for v in sample):
        return "text"
    if _says(n, ("coverage",)):
        return "multiple"
    if _says(n, _RATIO_WORDS):
        return "ratio"
    if _says(n, _DAY_WORDS):
        return "days"
    if _says(n, _COUNT_WORDS) or n.startswith("n_"):
        return "count"
    if _says(n, _MONEY_WORDS):
        return "money"
    if all(isinstance(v, int) or float(v).is_integer() for v in sample):
        return "count"
    return "number"


def _says(name: str, words: Sequence[str]) -> bool:
    """Whether a column name holds one of `words` as a word ("in_stage_now" is no "age")."""
    tokens = set(name.replace(" ", "_").replace("/", "_").split("_"))
    return any((w in name) if "_" in w else (w in tokens) for w in words)


def _is_number(v: Any) -> bool:
    if isinstance(v, bool):
        return False
    try:
        import numpy as np

        if isinstance(v, np.bool_):
            return False
        if isinstance(v, (np.integer, np.floating)):
            return True
    except ImportError:  # pragma: no cover - numpy comes with pandas
        pass
    return isinstance(v, (int, float))


def human(value: Any, kind: Kind, currency: str = "USD", decimals: int | None = None) -> str:
    """`value` as a person reads it in a table (the rules are in the module docstring);
    `decimals` fixes a plain number's decimals for a whole column (see `number_decimals`)."""
    if is_missing(value):
        return MISSING
    if kind in ("text", "id"):
        return str(value)
    if kind == "date":
        return _iso(value)
    if kind == "month":
        return _iso(value)[:7]
    x = float(value) + 0.0
    if kind == "money":  # rounded first: −$0.25 reads $0, never "−$0"
        return format_value(round(x) + 0.0, "currency", currency)
    if kind == "ratio":
        return format_value(x if round(x, 3) else 0.0, "percent")  # never "−0.0%"
    if kind == "count":
        return _signed(f"{abs(round(x)):,}", round(x))
    if kind == "days":  # as the dictionary's days read in every report
        return _signed(f"{abs(x):,.1f}", x) + " days"
    if kind == "multiple":
        return _signed(f"{abs(x):,.1f}×", x)
    if decimals is None:
        decimals = number_decimals([x])
    return _signed(f"{abs(x):,.{decimals}f}", x)


def number_decimals(values: Iterable[Any]) -> int:
    """Decimals for a column of plain numbers: none when every value is whole or any reaches
    100 (``19,781,380``, never ``19,781,379.528``), else two, so a column reads aligned."""
    xs = [float(v) for v in values if not is_missing(v)]
    if all(round(x, 2).is_integer() for x in xs) or any(abs(x) >= 100 for x in xs):
        return 0
    return 2


def _signed(text: str, x: float) -> str:
    """A true minus sign, and none on a value that rounds to zero ("−0" reads as a bug)."""
    return MINUS + text if x < 0 and any(c not in "0.,×" for c in text) else text


def machine(value: Any, kind: Kind) -> str | int | float | None:
    """`value` for csv and json: full precision, rounded to what the figure means (money to
    the cent, ratios to six places), None when missing."""
    if is_missing(value):
        return None
    if kind in ("text", "id"):
        return str(value)
    if kind == "date":
        return _iso(value)
    if kind == "month":
        return _iso(value)[:7]
    x = float(value) + 0.0
    if math.isinf(x):
        return None  # no csv or json reader agrees on infinity; the figure is not a number
    rounded = round(x, {"money": 2, "ratio": 6}.get(kind, 4)) + 0.0
    return int(rounded) if rounded.is_integer() and kind != "ratio" else rounded


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        if (value.hour, value.minute, value.second, value.microsecond) == (0, 0, 0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    return text[:10] if text.endswith("00:00:00") else text


# -- tables ------------------------------------------------------------------------------------
@dataclass
class Section:
    """One table a command printed: its rows and how each column reads."""

    name: str
    title: str
    columns: list[str]
    kinds: dict[str, Kind]
    rows: list[dict[str, Any]]
    keep: tuple[str, ...] = ()
    hidden: tuple[str, ...] = ()
    transpose: bool = False

    def machine_rows(self) -> list[dict[str, Any]]:
        return [{c: machine(r.get(c), self.kinds[c]) for c in self.columns} for r in self.rows]


@dataclass
class Output:
    """The tables and notes of one command, printed in the format asked for."""

    fmt: Format = Format.table
    currency: str = "USD"
    console: Console = field(default_factory=Console)
    sections: list[Section] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def for_people(self) -> bool:
        return self.fmt is Format.table

    def table(
        self,
        frame: pd.DataFrame | Sequence[Mapping[str, Any]],
        title: str,
        *,
        name: str | None = None,
        kinds: Mapping[str, Kind] | None = None,
        keep: Sequence[str] = (),
        hidden: Sequence[str] = (),
        transpose: bool = False,
    ) -> None:
        """Print (or collect) one table. `kinds` names a column's kind where its name says
        too little; `keep` are the columns never left out at a narrow width (default: the
        first); `hidden` are shown only in csv and json (ids beside their names are hidden
        in tables without being named here); `transpose` shows a one-row table to people
        as measure/value lines (csv and json keep the row)."""
        rows, columns = _records(frame)
        given = dict(kinds or {})
        resolved: dict[str, Kind] = {
            c: given.get(c) or infer_kind(c, (r.get(c) for r in rows)) for c in columns
        }
        named = {c for c in columns if resolved[c] == "id" and _name_beside(c, columns)}
        section = Section(
            name=name or _slug(title),
            title=title,
            columns=columns,
            kinds=resolved,
            rows=rows,
            keep=tuple(keep) or tuple(columns[:1]),
            hidden=tuple(hidden) + tuple(sorted(named)),
            transpose=transpose,
        )
        self.sections.append(section)
        if self.for_people:
            render_table(self.console, section, self.currency)

    def note(self, text: str) -> None:
        """A sentence beside the tables: on the console for people, in json's notes and on
        stderr for csv."""
        self.notes.append(_plain(text))
        self.console.print(text, highlight=False)

    def emit(self, stream: Any = None) -> None:
        """Write csv or json to stdout (tables were printed as they came)."""
        if self.for_people:
            return
        out = stream or sys.stdout
        if self.fmt is Format.json:
            doc = {
                "tables": [
                    {
                        "name": s.name,
                        "title": s.title,
                        "columns": [{"name": c, "kind": s.kinds[c]} for c in s.columns],
                        "rows": s.machine_rows(),
                    }
                    for s in self.sections
                ],
                "notes": self.notes,
            }
            out.write(json.dumps(doc, ensure_ascii=False, indent=1) + "\n")
            return
        many = len(self.sections) > 1
        for i, s in enumerate(self.sections):
            if many:
                out.write(("\n" if i else "") + f"# {s.name}\n")
            buf = io.StringIO()
            writer = csv.DictWriter(buf, fieldnames=s.columns, lineterminator="\n")
            writer.writeheader()
            for row in s.machine_rows():
                writer.writerow({k: "" if v is None else v for k, v in row.items()})
            out.write(buf.getvalue())


@contextmanager
def output(fmt: Format, console: Console, currency: str = "USD") -> Iterator[Output]:
    """An `Output` for one command. For csv and json the console writes to stderr meanwhile,
    so every other message stays out of the data; the data is written when the block ends
    without an error."""
    out = Output(fmt=fmt, currency=currency, console=console)
    before = console.stderr
    if not out.for_people:
        console.stderr = True
    token = _current.set(out)
    try:
        yield out
    finally:
        _current.reset(token)
        console.stderr = before
    out.emit()


_current: ContextVar[Output | None] = ContextVar("revops_output", default=None)


def current_output() -> Output | None:
    """The `Output` of the command running, if it entered `output`."""
    return _current.get()


def _records(frame: Any) -> tuple[list[dict[str, Any]], list[str]]:
    if hasattr(frame, "to_dict") and hasattr(frame, "columns"):
        columns = [str(c) for c in frame.columns]
        records = [
            {str(k): v for k, v in r.items()}
            for r in frame.reset_index(drop=True).to_dict("records")
        ]
        return records, columns
    rows = [dict(r) for r in frame]
    columns = list(dict.fromkeys(k for r in rows for k in r))
    return rows, columns


def _name_beside(id_col: str, columns: Sequence[str]) -> bool:
    """`owner_id` has its name beside it when `owner` or `owner_name` is a column too."""
    stem = id_col[:-3] if id_col.endswith("_id") else id_col
    return any(c in columns for c in (stem, f"{stem}_name", "name" if stem in ("user",) else ""))


def _slug(title: str) -> str:
    words = "".join(ch if ch.isalnum() else " " for ch in title.lower()).split()
    return "_".join(words[:6]) or "table"


def _plain(text: str) -> str:
    return Text.from_markup(text).plain


def _header(column: str) -> str:
    return column.replace("_", " ")


def render_table(console: Console, section: Section, currency: str = "USD") -> None:
    """`section` as a Rich table that fits `console.width`: cells wrap between words, never
    cut; columns leave by priority (last first, `keep` never) until the rest fit, said in a
    note under the table."""
    if section.transpose and len(section.rows) == 1:
        section = _transposed(section, currency)
    shown = [c for c in section.columns if c not in section.hidden]
    cells = {c: _column_text(section, c, currency) for c in shown}
    dropped: list[str] = []
    while True:
        widths = _widths(section, shown, cells, console.width)
        candidates = [c for c in shown if c not in section.keep]
        if widths is not None or not candidates:
            break
        shown = [c for c in shown if c != candidates[-1]]
        dropped.insert(0, candidates[-1])
    console.print(_build(section, shown, cells, widths))
    if dropped:
        console.print(
            f"[dim]left out at {console.width} columns: {', '.join(map(_header, dropped))} "
            "(a wider terminal or --format csv shows them)[/]",
            highlight=False,
        )


def _column_text(section: Section, column: str, currency: str) -> list[str]:
    values = [r.get(column) for r in section.rows]
    kind = section.kinds[column]
    decimals = number_decimals(values) if kind == "number" else None
    return [human(v, kind, currency, decimals) for v in values]


def _transposed(section: Section, currency: str) -> Section:
    row = section.rows[0]
    lines = [
        {"measure": _header(c), "value": human(row.get(c), section.kinds[c], currency)}
        for c in section.columns
        if c not in section.hidden
    ]
    kinds: dict[str, Kind] = {"measure": "text", "value": "text"}
    return Section(section.name, section.title, ["measure", "value"], kinds, lines, ("measure",))


def _wraps(section: Section, column: str) -> bool:
    """Only prose wraps (between its words); a figure, date or id is read whole."""
    return section.kinds[column] == "text" and column != "value"


def _widths(
    section: Section, shown: Sequence[str], cells: Mapping[str, list[str]], total: int
) -> dict[str, int] | None:
    """Each column's width so the table fits `total` characters with no word cut, or None
    when it cannot. Rich would squeeze the widest column mid-word, so the widths are set
    here: every column its longest word; the room left goes first to whole cells (a name on
    one line), then to whole headers."""
    if not shown:
        return {}
    room = total - (len(shown) + 1) - 2 * len(shown)  # borders, and a space each side
    levels: list[dict[str, int]] = [{}, {}, {}]  # longest word, whole cells, whole header
    for c in shown:
        words = [w for t in (_header(c), *cells[c]) for w in t.split()] or [""]
        whole = max((cell_len(t) for t in cells[c]), default=0)
        if _wraps(section, c):
            levels[0][c] = max(cell_len(w) for w in words)
        else:
            levels[0][c] = max(whole, *(cell_len(w) for w in _header(c).split()))
        levels[1][c] = max(levels[0][c], whole)
        levels[2][c] = max(levels[1][c], cell_len(_header(c)))
    if sum(levels[2].values()) <= room:
        return {}
    if sum(levels[0].values()) > room:
        return None
    widths = dict(levels[0])
    for level in levels[1:]:
        spare = room - sum(widths.values())
        want = {c: level[c] - widths[c] for c in shown}
        asked = sum(want.values())
        if asked <= spare:
            widths = dict(level)
            continue
        for c in shown:
            widths[c] += want[c] * spare // asked
        break
    return widths


def _build(
    section: Section,
    shown: Sequence[str],
    cells: Mapping[str, list[str]],
    widths: Mapping[str, int] | None = None,
) -> Table:
    table = Table(title=section.title, title_justify="left")
    whole = {c: not _wraps(section, c) for c in shown}
    for c in shown:
        numeric = section.kinds[c] not in ("text", "id", "date", "month") or c == "value"
        table.add_column(
            Text(_header(c), no_wrap=False, overflow="fold"),  # a header wraps between words
            justify="right" if numeric else "left",
            overflow="fold",
            width=(widths or {}).get(c),
        )
    for i in range(len(section.rows)):
        # data is never markup; a figure, date or id never wraps
        table.add_row(*(Text(cells[c][i], no_wrap=whole[c]) for c in shown))
    return table


__all__ = [
    "MISSING",
    "Format",
    "FormatOpt",
    "Kind",
    "Output",
    "Section",
    "current_output",
    "human",
    "infer_kind",
    "is_missing",
    "machine",
    "output",
    "render_table",
]
