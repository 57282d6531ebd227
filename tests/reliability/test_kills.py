"""SIGKILL during every writing command: the warehouse is exactly as before or exactly as after,
and the audit chain (with its anchor) verifies.

For each command, two uninterrupted runs on copies of one warehouse give "after" (columns that
differ between the two, such as clock readings and ids made from them, are left out of that
comparison); then the command is killed inside its transaction (must leave exactly "before")
and right after its commit (must leave "after"). A later command opens the warehouse as any
would (finishing an interrupted erasure) and the chain must verify.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pytest
from killing import run_cli, snapshot, volatile

from revops.access import cli_principal
from revops.api.recovery import replay_pending
from revops.audit import verify
from revops.privacy.erase import resume_purge
from revops.warehouse import Warehouse

sys.path.insert(0, str(Path(__file__).parents[1] / "privacy"))

import privacy_world

USER = "reliability-tester"
T = datetime(2025, 1, 6, 9)
LOAD_CSV = "person_id,email,first_name,last_name,country,created_at\n" + "".join(
    f"L{i},lead{i}@initech.com,Lee,Loader{i},US,2025-01-0{1 + i % 5} 10:00:00\n" for i in range(8)
)

COMMANDS: dict[str, list[str]] = {
    "load": ["load", "{dir}/leads.csv", "--table", "persons"],
    "lifecycle run": ["lifecycle", "run"],
    "merge": ["quality", "merge", "M1", "M2"],
    "quality fix": ["quality", "fix"],
    "route run": ["route", "run", "--at", "2025-01-06T10:00"],
    "erase": ["privacy", "erase", privacy_world.EMAIL, "--reason", "ticket 7", "--yes"],
}


def build(path: Path) -> None:
    with Warehouse.connect(str(path)) as wh:
        privacy_world.build(wh)
        n = 10
        wh.write(
            "persons",
            pa.table(
                {
                    "person_id": [f"R{i}" for i in range(n)] + ["M1", "M2"],
                    "email": [f"r{i}@hooli.com" for i in range(n)]
                    + ["mia@vandelay.com", "Mia@Vandelay.com "],
                    "first_name": ["Rae"] * n + ["Mia", "Mia"],
                    "last_name": [f"Router{i}" for i in range(n)] + ["Merge", "Merge"],
                    "country": ["USA", "Deutschland"] * (n // 2) + ["US", "US"],
                    "created_at": [T] * (n + 2),
                }
            ),
        )
        wh.write(
            "lifecycle_events",
            pa.table(
                {
                    "event_id": [f"RE{i}" for i in range(n)],
                    "person_id": [f"R{i}" for i in range(n)],
                    "stage": ["MQL"] * n,
                    "occurred_at": [T] * n,
                }
            ),
        )
        cli_principal(wh)  # the first admin, so no command's first write is the bootstrap


ENV = {"REVOPS_USER": USER, "REVOPS_PRIVACY_SALT": "reliability-salt"}


def make_world(folder: Path) -> Path:
    (folder / "leads.csv").write_text(LOAD_CSV)
    build(folder / "base.duckdb")
    return folder


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    mp = pytest.MonkeyPatch()
    for k, v in ENV.items():
        mp.setenv(k, v)
    yield make_world(tmp_path_factory.mktemp("kills"))
    mp.undo()


def copy(world: Path, name: str) -> Path:
    target = world / f"{name}.duckdb"
    for suffix in ("", ".audit-anchor"):
        shutil.copy(world / f"base.duckdb{suffix}", Path(f"{target}{suffix}"))
    return target


def argv(command: str, world: Path, path: Path) -> list[str]:
    return [a.replace("{dir}", str(world)) for a in COMMANDS[command]] + ["-w", str(path)]


def reopen_and_verify(path: Path) -> None:
    """What the next command does on opening, then the chain and its anchor must verify."""
    with Warehouse.connect(str(path), create=False) as wh:
        resume_purge(wh)
        replay_pending(wh)
        check = verify(wh)
    assert check.ok, check.problems
    assert check.anchored is not None


def kill_command(world: Path, command: str) -> list[str]:
    """Kill `command` inside and right after each of its write transactions; for each kill
    "commit:N=before", "after:N=after" or "...=between" (and the chain must verify)."""
    slug = command.replace(" ", "_")
    refs = [copy(world, f"{slug}-ref{i}") for i in (1, 2)]
    counter = world / f"{slug}.transactions"
    for i, ref in enumerate(refs):
        if i:
            # Some ids and stamps have whole-second resolution (MRG-20261204214138-…): two
            # runs inside one second would look steady there and flag a later kill "between".
            time.sleep(1.1)
        assert run_cli(argv(command, world, ref), counter=counter) == 0
    drop = volatile(*refs)
    before = snapshot(world / "base.duckdb")
    after = snapshot(refs[0], drop)
    assert after != snapshot(world / "base.duckdb", drop), f"{command} changed nothing"
    seen = []
    for n in range(1, int(counter.read_text()) + 1):
        for kind in ("commit", "after"):
            killed = copy(world, f"{slug}-{kind}{n}")
            assert run_cli(argv(command, world, killed), kill_at=f"{kind}:{n}") == -9
            reopen_and_verify(killed)
            state = (
                "before"
                if snapshot(killed) == before
                else "after"
                if snapshot(killed, drop) == after
                else "between " + _differing(snapshot(killed, drop), after)
            )
            seen.append(f"{kind}:{n}={state}")
    return seen


Rows = dict[str, list[tuple[str, ...]]]


def _differing(got: Rows, want: Rows) -> str:
    """The tables whose rows differ from "after", with a row of each side: what a failure
    message needs to tell a real half-write from a clock column that looked steady."""
    parts = []
    for name in sorted(set(got) | set(want)):
        a, b = got.get(name, []), want.get(name, [])
        if a != b:
            extra, missing = sorted(set(a) - set(b))[:1], sorted(set(b) - set(a))[:1]
            parts.append(f"{name}: got {extra} want {missing}")
    return "; ".join(parts)


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_killed_command_leaves_the_warehouse_before_or_after(world: Path, command: str) -> None:
    seen = kill_command(world, command)
    assert all(s.endswith(("=before", "=after")) for s in seen), (command, seen)
    assert seen[0] == "commit:1=before"
    assert seen[-1] == f"after:{len(seen) // 2}=after"
