"""`revops load` and `revops quarantine` as a user sees them: what the load did, why rows were
refused, which ids repeat, and the quarantine reviewed, exported, fixed and replayed."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from typer.testing import CliRunner

from revops.cli import app

runner = CliRunner()
ENV = {"COLUMNS": "200", "REVOPS_USER": "tester"}

TEXT = (
    "person_id,email,created_at,Favourite Colour\n"
    "p1,ana@acme.com,2025-01-02,red\n"
    "p2,bob@,2025-01-02,blue\n"
    "p3,cy@acme.com,2025-01-02,green\n"
    "p3,cy@acme.com,2025-01-03,green\n"
)


def _flat(text: str) -> str:
    """The output as single-spaced words, table borders (box drawing) removed."""
    return " ".join(re.sub("[\u2500-\u257f]", " ", text).split())


def test_load_summary_then_review_export_fix_and_replay(tmp_path: Path) -> None:
    wh = str(tmp_path / "w.duckdb")
    path = tmp_path / "persons.csv"
    path.write_text(TEXT)
    done = runner.invoke(app, ["load", str(path), "-t", "persons", "-w", wh], env=ENV)
    assert done.exit_code == 0, done.output
    out = _flat(done.output)
    assert "persons.csv persons 4 2 0 0 1 1" in out  # in, inserted, updated, unchanged, q, ids
    assert "quarantine reasons: email (email) × 1" in out
    assert "p3 (rows 3, 4)" in out
    assert "ignored columns: Favourite Colour" in out

    again = runner.invoke(app, ["load", str(path), "-t", "persons", "-w", wh], env=ENV)
    assert "persons.csv persons 4 0 0 2 1 1" in _flat(again.output)

    listed = runner.invoke(app, ["quarantine", "list", "-w", wh], env=ENV)
    assert listed.exit_code == 0, listed.output
    [load_id] = [w for w in listed.output.split() if w.count("-") == 1 and "T" in w]
    shown = runner.invoke(app, ["quarantine", "show", load_id, "-w", wh], env=ENV)
    assert "email: 'bob@' is not a valid email" in shown.output

    exported = tmp_path / "q.csv"
    result = runner.invoke(
        app, ["quarantine", "export", load_id, "--out", str(exported), "-w", wh], env=ENV
    )
    assert result.exit_code == 0, result.output
    assert exported.stat().st_mode & 0o777 == 0o600
    rows = list(csv.DictReader(exported.open()))
    rows[0]["email"] = "bob@acme.com"
    with exported.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    replayed = runner.invoke(
        app, ["quarantine", "replay", load_id, "--file", str(exported), "-w", wh], env=ENV
    )
    assert replayed.exit_code == 0, replayed.output
    assert "1 rows taken in; 0 still wait" in replayed.output
    listed = runner.invoke(app, ["quarantine", "list", "-w", wh], env=ENV)
    assert " 1 0 email" in _flat(listed.output)

    unknown = runner.invoke(app, ["quarantine", "show", "nope", "-w", wh], env=ENV)
    assert unknown.exit_code == 1
    assert "no load 'nope'" in unknown.output
    assert "Traceback" not in unknown.output
