"""Every benchmark's agreement check runs in CI, so a baseline that drifts from revops fails a
test instead of rotting: each `bench/*.py` (helpers are `bench/_*.py`) is run with `--check`,
its tiny mode, and must exit 0. A new bench script is picked up with no change here."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
SCRIPTS = sorted(p for p in BENCH.glob("*.py") if not p.name.startswith("_"))


def test_the_bench_folder_is_found() -> None:
    assert {"metrics.py", "dedupe.py", "automation.py"} <= {p.name for p in SCRIPTS}


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_bench_check_agrees(script: Path, tmp_path: Path) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, str(script), "--check"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"{script.name} --check failed:\n{done.stdout}\n{done.stderr}"
    assert "check passed" in done.stdout, done.stdout
