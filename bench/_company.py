"""A tiny demo company in a warehouse, for the benchmarks' `--check` modes (CI).

Built the way a real company's data arrives: the demo generator's exports loaded through the
ingestion path, then the lifecycle. Scale 0.01 is about 50 accounts and 500 persons.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "examples" / "revops.yaml"


def tiny_company(db: Path, scale: float = 0.01, seed: int = 7) -> None:
    from revops.context import RevOps
    from revops.demo import generate

    files = generate(db.parent / "data", scale=scale, seed=seed)
    ro = RevOps.open(CONFIG, str(db))
    try:
        for f in files:
            ro.load(f.path, f.table, f.preset)
        ro.run_lifecycle()
    finally:
        ro.close()
