"""The CLI's one number style and its renderer (revops.cli.output): the formatting rules for
any value, csv and json that carry the same figures, and tables that fit 80 columns."""

from __future__ import annotations

import csv
import io
import json
import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from revops.cli.output import (
    MISSING,
    Format,
    Output,
    human,
    infer_kind,
    machine,
    number_decimals,
)

MINUS = "\u2212"
finite = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False)


def _number(text: str) -> float:
    """A table's figure back as a number: '−$3,200,000' → -3200000."""
    sign = -1 if text.startswith(MINUS) else 1
    digits = text.lstrip(MINUS).lstrip("$").rstrip("%×").replace(",", "")
    return sign * float(digits)


@given(finite)
def test_money_is_whole_units_with_separators_and_a_true_minus(x: float) -> None:
    text = human(x, "money")
    assert re.fullmatch(rf"{MINUS}?\$\d{{1,3}}(,\d{{3}})*", text), text
    assert "-" not in text
    assert "." not in text
    assert _number(text) == pytest.approx(round(abs(x)) * (-1 if text[0] == MINUS else 1), abs=1)
    if round(x) < 0:
        assert text.startswith(MINUS + "$")  # −$3,200,000, never $-3,200,000
    if abs(x) < 0.5:
        assert text == "$0"  # nothing rounds to "−$0"


@given(st.floats(min_value=-50, max_value=50, allow_nan=False))
def test_ratios_read_as_percent_to_one_decimal(x: float) -> None:
    text = human(x, "ratio")
    assert re.fullmatch(rf"{MINUS}?[\d,]+\.\d%", text), text
    assert _number(text) == pytest.approx(x * 100, abs=0.051)
    assert text != f"{MINUS}0.0%"


@given(finite)
def test_counts_are_integers(x: float) -> None:
    text = human(x, "count")
    assert re.fullmatch(rf"{MINUS}?\d{{1,3}}(,\d{{3}})*", text), text
    assert _number(text) == round(x) or _number(text) == -round(-x)


@given(st.lists(finite, min_size=1, max_size=20))
def test_plain_numbers_have_no_stray_decimals(xs: list[float]) -> None:
    decimals = number_decimals(xs)
    for x in xs:
        text = human(x, "number", decimals=decimals)
        if abs(x) >= 100:
            assert "." not in text, text  # 19,781,380 never 19,781,379.528
        assert len(text.partition(".")[2]) in (0, 2)
    assert all(len(human(x, "number", decimals=decimals).partition(".")[2]) == decimals for x in xs)


def test_the_issue_examples() -> None:
    assert human(19_781_379.528, "number") == "19,781,380"
    assert human(56.25, "count") == "56"
    assert human(-3_200_000, "money") == f"{MINUS}$3,200,000"
    assert human(1.165, "ratio") == "116.5%"
    assert human(3.24, "multiple") == "3.2×"
    assert human(76.94, "days") == "76.9 days"


@pytest.mark.parametrize(
    "kind", ["money", "ratio", "count", "days", "multiple", "number", "text", "id", "date"]
)
@pytest.mark.parametrize("missing", [None, float("nan")])
def test_missing_is_never_zero(kind: str, missing: float | None) -> None:
    assert human(missing, kind) == MISSING  # type: ignore[arg-type]
    assert machine(missing, kind) is None  # type: ignore[arg-type]


@given(finite)
def test_machine_values_are_rounded_numbers_without_separators(x: float) -> None:
    money = machine(x, "money")
    assert isinstance(money, int | float)
    assert money == pytest.approx(round(x, 2), abs=1e-6)
    ratio = machine(x, "ratio")
    assert isinstance(ratio, float)
    assert ratio == pytest.approx(round(x, 6), abs=1e-9)
    assert machine(float("inf"), "multiple") is None  # no reader agrees on infinity


def test_kinds_from_column_names() -> None:
    assert infer_kind("win_rate", [0.25]) == "ratio"
    assert infer_kind("open_value", [1.5]) == "money"
    assert infer_kind("in_stage_now", [183.0]) == "count"  # "stage" holds no "age"
    assert infer_kind("median_days", [7.5]) == "days"
    assert infer_kind("coverage", [3.2]) == "multiple"
    assert infer_kind("owner_id", ["u1"]) == "id"
    assert infer_kind("closed_missing_amount", [0.0]) == "count"
    assert infer_kind("headcount", [39.26]) == "number"


ROWS = [
    {
        "opportunity_id": "0065g00000ABCDEFGH",
        "owner_id": "0055g00N00000GVAEY",
        "owner": "Santiago Torres",
        "stage": "Negotiation",
        "amount": 76_093.5,
        "win_rate": 0.4167,
        "deals": 56.0,
        "close_date": "2026-11-30",
        "next_step": "Send the redlined order form to legal and book the signature call",
        "forecast_category": "best_case",
        "region": "EMEA",
        "segment": "enterprise",
    },
    {
        "opportunity_id": "0065g00000ZZZZZZZZ",
        "owner_id": "0055g00N00000GWAEY",
        "owner": "Maximiliano Fernández-Castellanos",
        "stage": "Discovery",
        "amount": -3_200_000.0,
        "win_rate": None,
        "deals": 3.0,
        "close_date": "2027-01-15",
        "next_step": None,
        "forecast_category": "pipeline",
        "region": "LATAM",
        "segment": "mid_market",
    },
]


def _render(width: int, keep: tuple[str, ...] = ()) -> str:
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    out = Output(console=console)
    out.table(ROWS, "Open deals", keep=keep or ("opportunity_id", "owner", "amount", "win_rate"))
    return console.export_text()


def test_an_80_column_table_cuts_no_cell_and_keeps_its_key_columns() -> None:
    text = _render(80)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in text  # nothing ellipsized
    for whole in ("0065g00000ABCDEFGH", "$76,094", f"{MINUS}$3,200,000", "41.7%"):
        assert whole in text, text  # the kept columns' figures and ids are never folded
    flat = " ".join(text.split())
    assert "Santiago Torres" in flat
    assert "Fernández-Castellanos" in flat  # a name may wrap between words, not inside one
    assert "owner id" not in text  # the id is beside its name: csv and json carry it
    assert "left out at 80 columns:" in text  # what did not fit is said, not silently cut
    left = flat.split("left out at 80 columns:")[1]
    for column in ("next step", "segment", "close date"):
        assert column in left  # the lowest-priority columns leave first


def test_a_wide_terminal_shows_every_column() -> None:
    text = _render(250)
    assert "left out" not in text
    for header in ("stage", "win rate", "deals", "close date", "forecast category"):
        assert header in text
    assert "41.7%" in text
    assert MISSING in text
    assert "56" in text
    assert "56.0" not in text


def _collect(fmt: Format) -> str:
    console = Console(width=80, file=io.StringIO())
    out = Output(fmt=fmt, console=console)
    out.table(ROWS, "Open deals", name="deals")
    out.table([{"kind": "total", "amount": 1234.567}], "Totals", name="totals")
    buffer = io.StringIO()
    out.emit(buffer)
    return buffer.getvalue()


def test_json_carries_ids_names_and_null_for_missing() -> None:
    doc = json.loads(_collect(Format.json))
    deals, totals = doc["tables"]
    assert deals["name"] == "deals"
    assert totals["name"] == "totals"
    first, second = deals["rows"]
    assert first["owner_id"] == "0055g00N00000GVAEY"
    assert first["owner"] == "Santiago Torres"
    assert first["amount"] == 76093.5
    assert first["win_rate"] == 0.4167
    assert first["deals"] == 56
    assert second["win_rate"] is None
    assert second["next_step"] is None
    assert totals["rows"] == [{"kind": "total", "amount": 1234.57}]
    kinds = {c["name"]: c["kind"] for c in deals["columns"]}
    assert kinds["amount"] == "money"
    assert kinds["win_rate"] == "ratio"


def test_csv_blocks_are_plain_csv_with_empty_missing_cells() -> None:
    text = _collect(Format.csv)
    blocks = text.split("\n\n")
    assert [b.splitlines()[0] for b in blocks] == ["# deals", "# totals"]
    rows = list(csv.DictReader(io.StringIO(blocks[0].split("\n", 1)[1])))
    assert rows[0]["amount"] == "76093.5"
    assert rows[1]["amount"] == "-3200000"
    assert rows[1]["win_rate"] == ""
    assert rows[1]["next_step"] == ""
    assert rows[0]["deals"] == "56"
    assert not any("," in v for r in rows for k, v in r.items() if k in ("amount", "deals"))
    assert not math.isnan(float(rows[0]["win_rate"]))
