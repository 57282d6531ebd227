"""After an erasure, no file revops wrote holds the person: not the warehouse, its WAL, the
intake journal, sidecars or exports, after a normal run and after a kill in every phase.

The folder holds a DuckDB warehouse with the person in every table that can mention one
(tests/privacy/privacy_world.py), an intake journal a killed server left with a lead about
her, an encrypted subject-access export of her and, after the erasure, an audience export. Every
file under the folder is read as bytes and searched, case-insensitively, for her email, names,
phone and title.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from killing import run_cli

from revops.api.journal import Journal, journal_id
from revops.warehouse import Batch, Warehouse

sys.path.insert(0, str(Path(__file__).parents[1] / "privacy"))

import privacy_world

NEEDLES = [n.encode() for n in (privacy_world.EMAIL.lower(), *privacy_world.NEEDLES)]
PHASES = ("commit:1", "after:1", "copy", "rewrite")


def residues(folder: Path) -> list[str]:
    """'file: needle' for every needle found in any file under `folder`."""
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes().lower()
        found += [f"{path.name}: {n.decode()}" for n in NEEDLES if n in data]
    return found


def make_world(folder: Path) -> Path:
    """The folder described in the module docstring (environment set by the caller)."""
    folder.mkdir(parents=True)
    wh_path = folder / "w.duckdb"
    with Warehouse.connect(str(wh_path)) as wh:
        privacy_world.build(wh)
        wh.sql("CHECKPOINT")
        jid = journal_id(wh.url)
    # a lead about her that a killed intake server answered but never applied
    journal, _ = Journal.open(Path(f"{wh_path}.intake-journal"), jid)
    lead = {
        "person_id": "P1",  # she filled in the form again: the intake matched her by email
        "email": privacy_world.EMAIL,
        "first_name": privacy_world.FIRST,
        "last_name": privacy_world.LAST,
        "phone": privacy_world.PHONE,
        "created_at": privacy_world.T,
    }
    journal.append(1, [Batch("persons", pa.Table.from_pylist([lead]))])
    journal.close()
    export = str(folder / "subject.json.enc")
    argv = ["privacy", "export", privacy_world.EMAIL, "--out", export, "-w", str(wh_path)]
    assert run_cli(argv) == 0
    assert residues(folder), "the world must hold her, or the scan proves nothing"
    return folder


ENV = {
    "REVOPS_USER": "dpo",
    "REVOPS_PRIVACY_SALT": "reliability-salt",
    "REVOPS_ENCRYPTION_KEY": "export-key-0123456789abcdef",
}


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    mp = pytest.MonkeyPatch()
    for k, v in ENV.items():
        mp.setenv(k, v)
    yield make_world(tmp_path_factory.mktemp("erasure") / "base")
    mp.undo()


def erase(folder: Path, kill_at: str | None = None) -> int:
    wh = str(folder / "w.duckdb")
    return run_cli(
        ["privacy", "erase", privacy_world.EMAIL, "--reason", "ticket 7", "--yes", "-w", wh],
        kill_at=kill_at,
    )


def after_erasure(folder: Path) -> list[str]:
    out = folder / "audience.csv"
    wh = str(folder / "w.duckdb")
    argv = ["audience", "export", "--purpose", "marketing", "--channel", "email"]
    assert run_cli([*argv, "--out", str(out), "-w", wh]) == 0
    assert out.exists()
    return residues(folder)


def test_a_normal_erasure_leaves_no_byte_of_her(base: Path) -> None:
    folder = base.with_name("normal")
    shutil.copytree(base, folder)
    assert erase(folder) == 0
    assert after_erasure(folder) == []


def erase_killed(folder: Path, phase: str) -> list[str]:
    """Kill an erasure at `phase`, open the warehouse with the next command (erasing again if
    the kill came before the commit); what the scan then finds."""
    assert erase(folder, kill_at=phase) == -9
    wh = str(folder / "w.duckdb")
    assert run_cli(["audit", "verify", "-w", wh]) == 0  # any command finishes the purge
    if phase == "commit:1":  # killed before its commit: nothing was erased; erase again
        assert residues(folder)
        assert erase(folder) == 0
    return after_erasure(folder)


@pytest.mark.parametrize("phase", PHASES)
def test_an_erasure_killed_in_any_phase_leaves_no_byte_of_her(base: Path, phase: str) -> None:
    folder = base.with_name(phase.replace(":", ""))
    shutil.copytree(base, folder)
    assert erase_killed(folder, phase) == []
    assert not list(folder.glob("*.rewrite"))
    assert not list(folder.glob("*.erasure-pending"))
