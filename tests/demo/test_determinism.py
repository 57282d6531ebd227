"""Same seed, same numbers: `revops demo` run twice from the same seed and operating model gives
the same warehouse, table by table and row by row, and the same reports.

Only declared run metadata may differ (when a row was written, the load's random id, the file's
folder, the audit chain hashing those times), and the reports' generation timestamp. Floats are
compared to 1e-12 relative: DuckDB sums in parallel, so the last bit of a sum of many floats can
depend on thread scheduling; anything a model, sampler or tie decides differs far more.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

# table -> columns that record the run, not the company: when, which load, which folder
RUN_METADATA = {
    "access_grants": {"granted_at"},
    "audit_log": {"at", "prev_hash", "hash"},  # the chain hashes `at`
    "dedupe_models": {"fitted_at"},  # a first load's fit: when it ran, not what it found
    "demo_origin": {"created_at"},
    "forecast_backtests": {"run_at"},
    "load_log": {"load_id", "loaded_at"},
    "quality_snapshots": {"taken_at"},
    "quarantine": {"load_id", "quarantined_at"},
    "quotas": {"set_at"},
    "routing_watermarks": {"updated_at"},
}
GENERATED = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC")


@pytest.fixture(scope="module")
def both(
    demo_run: tuple[Path, str],
    demo_runner: Callable[[Path], str],
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[tuple[Path, str], tuple[Path, str]]:
    """The session's small demo and a second run from the same seed and operating model,
    each with its printed output."""
    second = tmp_path_factory.mktemp("second")
    return demo_run, (second, demo_runner(second))


@pytest.fixture(scope="module")
def runs(both: tuple[tuple[Path, str], tuple[Path, str]]) -> tuple[Path, Path]:
    return both[0][0], both[1][0]


# the closing note's lead figures (cli/demo.py `_lead_desk`), from the metric dictionary
LEAD_DESK = re.compile(
    r"lead desk: .*? ([\d,]+) MQLs, SAL acceptance rate ([\d.]+)% .*? speed to lead "
    r"([\d,]+) minutes"
)


def _lead_figures(output: str) -> tuple[str, str, str]:
    found = LEAD_DESK.search(" ".join(output.split()))
    assert found is not None, output[-2000:]
    mqls, rate, speed = found.groups()
    return mqls, rate, speed


def test_mqls_acceptance_rate_and_speed_to_lead_are_the_same(
    both: tuple[tuple[Path, str], tuple[Path, str]],
) -> None:
    """The closing note gives the three lead figures, and the second run gives the same."""
    first, second = (_lead_figures(run[1]) for run in both)
    assert first == second
    assert int(first[0].replace(",", "")) > 0


def _tables(path: Path) -> dict[str, pd.DataFrame]:
    with duckdb.connect(str(path), read_only=True) as con:
        names = [r[0] for r in con.execute("SHOW TABLES").fetchall()]
        frames = {n: con.execute(f'SELECT * FROM "{n}"').df() for n in names}
    out = {}
    for name, frame in frames.items():
        frame = frame.drop(columns=sorted(RUN_METADATA.get(name, set())))
        if "file" in frame.columns:  # each run writes its exports to its own folder
            frame["file"] = [Path(str(f)).name for f in frame["file"]]
        key = list(frame.columns)
        out[name] = frame.sort_values(key, kind="stable", na_position="last").reset_index(drop=True)
    return out


def _differences(name: str, a: pd.DataFrame, b: pd.DataFrame) -> list[str]:
    """What differs between two runs' copies of a table, one line per column."""
    if list(a.columns) != list(b.columns) or len(a) != len(b):
        return [f"{name}: columns or row count differ ({len(a)} vs {len(b)} rows)"]
    out = []
    for col in a.columns:
        x, y = a[col], b[col]
        if pd.api.types.is_float_dtype(x) and pd.api.types.is_float_dtype(y):
            same = np.isclose(x.to_numpy(), y.to_numpy(), rtol=1e-12, atol=0.0, equal_nan=True)
        else:
            same = (x.astype(str) == y.astype(str)).to_numpy()
        if not same.all():
            out.append(f"{name}.{col} differs in {int((~same).sum())} of {len(a)} rows")
    return out


def test_every_table_is_the_same(runs: tuple[Path, Path]) -> None:
    first, second = (_tables(r / "revops.duckdb") for r in runs)
    assert set(first) == set(second)
    filled = [n for n, f in first.items() if len(f)]
    # the demo runs every engine with a report: their tables are among those compared
    assert {"mrr_monthly", "attribution_credits", "forecast_backtests", "quotas"} <= set(filled)
    differences = [d for n in sorted(first) for d in _differences(n, first[n], second[n])]
    assert differences == []


def test_every_report_is_the_same_but_its_timestamp(runs: tuple[Path, Path]) -> None:
    pages = sorted(p.name for p in (runs[0] / "reports").glob("*.html"))
    assert len(pages) == 6
    for page in pages:
        a, b = ((r / "reports" / page).read_text() for r in runs)
        assert GENERATED.search(a), page
        assert GENERATED.sub("", a) == GENERATED.sub("", b), page
