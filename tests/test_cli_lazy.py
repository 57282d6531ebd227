"""`revops --help` imports no engine: the main app lists its commands from `COMMANDS` and loads a
command's module only when that command runs (issue 19: the help took a second, spent importing
pandas, Ibis, pyarrow, scikit-learn and DuckDB)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import typer
import typer.main
from typer.testing import CliRunner

from revops.cli import COMMANDS, app, load_command

# The libraries, the facade that imports every engine, and the Markdown parser that Typer's Rich
# help imports (0.2 s of a 0.4 s help).
HEAVY = (
    "pandas",
    "ibis",
    "pyarrow",
    "sklearn",
    "duckdb",
    "numpy",
    "revops.context",
    "markdown_it",
    "rich.markdown",
)

PROBE = """
import json, sys
sys.argv = ["revops", *json.loads(sys.argv[1])]
from revops.cli import app
try:
    app()
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)))
"""


def _imported(args: list[str]) -> list[str]:
    """The heavy modules a fresh interpreter holds after `revops ARGS`."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args)],
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = json.loads(done.stdout.splitlines()[-1])
    return [m for m in loaded if m in HEAVY or m.split(".")[0] in HEAVY]


@pytest.mark.parametrize("args", [["--help"], []])
def test_the_main_help_imports_no_engine(args: list[str]) -> None:
    assert _imported(args) == []


def test_a_command_group_loads_its_engines_when_it_runs() -> None:
    """The probe itself sees imports: a group's help builds its commands."""
    assert "revops.context" in _imported(["metrics", "--help"])


def test_the_help_lists_every_command_with_its_own_help() -> None:
    """The one-line helps in `COMMANDS` are the commands' own, so the listing cannot drift."""
    group = typer.main.get_command(app)
    ctx = typer.Context(group)
    assert group.list_commands(ctx) == list(COMMANDS)
    for name, lazy in COMMANDS.items():
        real = load_command(name)
        own = (real.short_help or real.help or "").split("\n\n")[0]
        assert " ".join(own.split()) == lazy.help, name


def test_the_listing_shows_each_help_and_commands_still_run() -> None:
    runner = CliRunner()
    listing = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert listing.exit_code == 0
    for name, lazy in COMMANDS.items():
        assert name in listing.output
        assert lazy.help[:40] in listing.output
    tables = runner.invoke(app, ["tables", "--help"])
    assert tables.exit_code == 0
    assert "canonical data model" in tables.output
    unknown = runner.invoke(app, ["tabels"])
    assert unknown.exit_code == 2
    assert "No such command" in unknown.output
