"""Every read command in three formats over the session's small demo: csv and json parse, carry
the same rows, and hold the same figures the table shows a person (revops.cli.output)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from revops.cli import app
from revops.cli.output import human, number_decimals

runner = CliRunner()

# Read commands that leave the warehouse as it was (the session demo is shared). Commands
# that also write (forecast backtest, territory design, comp run, route run, quality dedupe,
# score apply) take --format through the same renderer; test_write_commands_take_format runs
# two of them on a copy; sync history and the write-back summary on a copy in
# tests/automation/test_writeback.py.
READ_COMMANDS: list[list[str]] = [
    ["metrics", "show", "win_rate", "--by", "region", "--grain", "all"],
    ["metrics", "show", "pipeline_created", "--grain", "quarter"],
    ["pipeline", "snapshot", "--by", "owner", "--deals"],
    ["pipeline", "metrics"],
    ["pipeline", "hygiene"],
    ["forecast", "rollup", "--period", "2026Q4"],
    ["forecast", "methods", "--period", "2026Q4"],
    ["revenue", "waterfall"],
    ["revenue", "retention"],
    ["revenue", "cohorts"],
    ["quota", "attainment", "--period", "2026Q3"],
    ["quota", "capacity", "--from", "2026-11", "--months", "3"],
    ["attribution", "compare"],
    ["attribution", "performance"],
    ["quality", "scorecard", "--no-save"],
    ["quality", "utm"],
    ["quality", "check"],
    ["quality", "merge", "--auto", "--dry-run"],
    ["lifecycle", "report"],
    ["route", "reps"],
    ["route", "breaches"],
    ["automate", "list"],
    ["automate", "history"],
    ["sync", "plan", "-s", "salesforce"],
    ["tasks", "list", "--all"],
    ["audit", "log"],
    ["history"],
    ["quarantine", "list"],
    ["access", "list"],
    ["keys", "list"],
]
NO_WAREHOUSE: list[list[str]] = [["tables"], ["sources", "list"], ["metrics", "list"]]


def _run(args: list[str], *extra: str) -> Any:
    result = runner.invoke(app, [*args, *extra], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    return result


def _csv_blocks(text: str) -> dict[str, list[dict[str, str]]]:
    """csv output: one plain table, or blocks headed '# name' separated by a blank line."""
    if not text.startswith("# "):
        return {"": list(csv.DictReader(io.StringIO(text)))}
    blocks: dict[str, list[dict[str, str]]] = {}
    for block in text.strip("\n").split("\n\n"):
        head, _, body = block.partition("\n")
        blocks[head.removeprefix("# ")] = list(csv.DictReader(io.StringIO(body)))
    return blocks


def _same(csv_value: str, json_value: Any) -> bool:
    if json_value is None:
        return csv_value == ""
    if isinstance(json_value, bool | str):
        return csv_value == str(json_value)
    return float(csv_value) == pytest.approx(float(json_value), abs=1e-9)


def check_formats(args: list[str]) -> None:
    doc = json.loads(_run(args, "--format", "json").stdout)
    tables = doc["tables"]
    assert tables, f"{args}: no table"
    blocks = _csv_blocks(_run(args, "--format", "csv").stdout)
    names = [t["name"] for t in tables]
    assert list(blocks) == (names if len(tables) > 1 else [""])
    shown = " ".join(_run(args).stdout.split())  # the table a person reads, at 250 columns
    for table, rows in zip(tables, blocks.values(), strict=True):
        columns = [c["name"] for c in table["columns"]]
        assert list(rows[0]) == columns if rows else True
        assert len(rows) == len(table["rows"]), table["name"]
        for got, want in zip(rows, table["rows"], strict=True):
            for column in columns:
                assert _same(got[column], want[column]), (table["name"], column)
        kinds = {c["name"]: c["kind"] for c in table["columns"]}
        for column, kind in kinds.items():
            if kind in ("text", "id") or column in ("rows", "missing"):
                continue  # text may wrap; rows/missing only explain a metric's value
            values = [r[column] for r in table["rows"]]
            decimals = number_decimals(values) if kind == "number" else None
            for value in values[:8]:
                figure = human(value, kind, decimals=decimals)
                assert figure in shown, (args, table["name"], column, figure)
        for row in table["rows"]:  # a figure is a json number, never text with separators
            for column, value in row.items():
                if kinds[column] in ("money", "ratio", "count", "days", "multiple", "number"):
                    assert value is None or isinstance(value, int | float), (column, value)


@pytest.mark.parametrize("args", READ_COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_read_command_formats_agree(demo_run: tuple[Path, str], args: list[str]) -> None:
    out, _ = demo_run
    check_formats([*args, "-w", str(out / "revops.duckdb")])


@pytest.mark.parametrize("args", NO_WAREHOUSE, ids=lambda a: " ".join(a))
def test_commands_without_a_warehouse_take_format(args: list[str]) -> None:
    check_formats(args)


def test_names_not_ids_in_tables_and_both_in_json(demo_run: tuple[Path, str]) -> None:
    out, _ = demo_run
    args = ["pipeline", "snapshot", "--by", "owner", "-w", str(out / "revops.duckdb")]
    rows = json.loads(_run(args, "--format", "json").stdout)["tables"][0]["rows"]
    assert all(r["owner_id"] and r["owner"] and r["owner"] != r["owner_id"] for r in rows)
    text = _run(args).stdout
    assert rows[0]["owner"] in text
    assert rows[0]["owner_id"] not in text


def test_csv_and_json_keep_messages_off_stdout(demo_run: tuple[Path, str]) -> None:
    """--as-of's default is said on stderr: stdout is the data alone."""
    out, _ = demo_run
    args = ["forecast", "rollup", "--period", "2026Q4", "-w", str(out / "revops.duckdb")]
    result = _run(args, "--format", "json")
    json.loads(result.stdout)
    assert "latest data date" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["pipeline", "metrics", "--by", "owner"],
        ["forecast", "rollup", "--period", "2026Q4"],
        ["revenue", "waterfall"],
        ["pipeline", "hygiene"],
        ["audit", "log"],
    ],
    ids=lambda a: " ".join(a[:2]),
)
def test_tables_fit_80_columns_without_cutting_a_cell(
    demo_run: tuple[Path, str], args: list[str]
) -> None:
    out, _ = demo_run
    wh = str(out / "revops.duckdb")
    result = runner.invoke(app, [*args, "-w", wh], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in result.stdout
    doc = json.loads(_run([*args, "-w", wh], "--format", "json").stdout)
    for table in doc["tables"]:
        first = table["columns"][0]["name"]  # the key column is always kept
        assert first.replace("_", " ") in result.stdout or first.endswith("_id"), first


def test_write_commands_take_format(demo_run: tuple[Path, str], tmp_path: Path) -> None:
    """Commands that compute, store and show take --format too; run on a copy of the demo."""
    import shutil

    out, _ = demo_run
    for name in ("revops.duckdb", "revops.duckdb.audit-anchor"):
        if (out / name).exists():
            shutil.copy(out / name, tmp_path / name)
    wh = str(tmp_path / "revops.duckdb")
    check_formats(["comp", "run", "--period", "2026-10", "-w", wh])  # reprocessing: same lines
    payouts = json.loads(
        _run(["comp", "run", "--period", "2026-10", "-w", wh], "--format", "json").stdout
    )["tables"][0]
    row = payouts["rows"][0]
    assert row["user_id"] != row["rep"]  # the rep's id and name side by side
    assert row["total"] == pytest.approx(
        sum(v for k, v in row.items() if k not in ("user_id", "rep", "total"))
    )
    design = json.loads(_run(["territory", "design", "-w", wh], "--format", "json").stdout)
    spread, by_region = design["tables"]
    assert [r["design"] for r in spread["rows"]] == ["before", "after"]
    assert sum(r["reps"] for r in by_region["rows"]) > 0
    assert "accounts move" in _run(["territory", "design", "-w", wh], "--format", "csv").stderr
