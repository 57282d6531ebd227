"""The privacy commands end to end, and no PII in their output or in any log line."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import pytest
from privacy_world import EMAIL, FIRST, LAST, build
from typer.testing import CliRunner

from revops.cli import app
from revops.privacy.crypto import read_private
from revops.warehouse import Warehouse

runner = CliRunner()
PII = (EMAIL.lower(), FIRST.lower(), LAST.lower(), "7946")


def _run(args: list[str], wh: str) -> str:
    result = runner.invoke(app, [*args, "-w", wh], env={"COLUMNS": "200", "REVOPS_USER": "dpo"})
    assert result.exit_code == 0, result.output
    return result.output


def _audience(wh: str, out: Path) -> list[str]:
    args = ["audience", "export", "--purpose", "marketing", "--channel", "email"]
    _run([*args, "--out", str(out)], wh)
    with out.open() as fh:
        return [row["person_id"] for row in csv.DictReader(fh)]


def test_privacy_commands_print_no_pii(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    wh = str(tmp_path / "wh.duckdb")
    with Warehouse.connect(wh) as w:
        build(w)
    printed = [
        _run(["privacy", "consent", "record", "P2", "--purpose", "marketing", "--channel",
              "email", "--status", "opt_out", "--source", "preference_center"], wh),
        _run(["privacy", "consent", "show", "P2"], wh),
    ]  # fmt: skip
    assert "opt_out" in printed[-1]
    # P1 (GB) confirmed her marketing opt-in; P2 opted out; the funnel's others have no
    # country recorded, so explicit consent is required and they are left out
    assert _audience(wh, tmp_path / "before.csv") == ["P1"]

    printed.append(_run(["privacy", "export", EMAIL, "--out", str(tmp_path / "me.json")], wh))
    doc = json.loads(read_private(tmp_path / "me.json"))
    assert doc["person_ids"] == ["P1", "P1B"]

    printed.append(_run(["privacy", "erase", EMAIL, "--reason", "ticket 42", "--yes"], wh))
    assert "erased P1, P1B" in printed[-1]
    assert _audience(wh, tmp_path / "after.csv") == []  # erased persons never appear

    logged = caplog.text.lower()
    for text in printed:
        for value in PII:
            assert value not in text.lower(), (value, text)
            assert value not in logged, value


def test_erase_is_for_revops_admins(tmp_path: Path) -> None:
    wh = str(tmp_path / "wh.duckdb")
    with Warehouse.connect(wh) as w:
        build(w)
    _run(["privacy", "pseudonymize"], wh)  # dpo becomes the admin: the first writer
    result = runner.invoke(
        app,
        ["privacy", "erase", EMAIL, "--reason", "x", "--yes", "-w", wh],
        env={"REVOPS_USER": "intern"},
    )
    assert result.exit_code == 1
    assert "may not privacy.erase" in result.output
