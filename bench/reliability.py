"""Reliability figures: what an attack run found, measured again. Every figure should be zero
(or, for kills, every kill survived).

1. Bad files: generated CSV, JSON lines and Parquet files of the kinds that broke loading
   (nested JSON, lone surrogates, invalid UTF-8, unbalanced quotes, blank lines, overflowing
   timestamps, a huge cell or id, NUL bytes, random bytes), each loaded by `revops load` in a
   subprocess: tracebacks printed, and loads where rows in != inserted + updated + unchanged +
   quarantined + repeated ids (from load_log) or where the reported rows in differ from the
   data rows written.
2. Kills: each writing command SIGKILLed inside and right after each of its write
   transactions (tests/reliability/test_kills.py): kills after which the warehouse was exactly
   before or after and the anchored audit chain verified.
3. The intake server killed with answered leads in its journal, an audit-writing CLI command,
   a restart (tests/reliability/test_server_kill.py): acknowledged leads lost.
4. Erasure: every file revops wrote scanned for the person's email, names, phone and title,
   after a normal erasure and after a kill in every phase (test_erasure_residue.py).
5. Schemathesis against the running app with an admin key: responses with status >= 500.

There is no baseline to agree with: the agreement check is that every figure is zero.
`--check` runs a tiny version (two files, one command, a normal erasure, three leads, one
example per operation and mode; about 30 s of CPU, mostly fixed start-up) and exits non-zero when a
traceback, count violation, kill, lead, residue or 5xx figure is not zero.

Usage: python bench/reliability.py [--check] [--files 60] [--examples 30]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
for sub in ("tests/reliability", "tests/privacy", "tests/api"):
    sys.path.insert(0, str(ROOT / sub))

HEADER = "person_id,email,first_name,last_name,created_at\n"


def _row(i: int) -> str:
    return f"b{i},b{i}@initech.com,Bea,Bad{i},2025-01-02 10:00:00\n"


def _write_csv_with_cell(path: Path, rows: int, line: int, first_name: str) -> None:
    """A CSV of `rows` good rows whose row `line` has `first_name` in place of "Bea"."""
    lines = [_row(j) for j in range(rows)]
    lines[line] = lines[line].replace("Bea", first_name, 1)
    path.write_text(HEADER + "".join(lines))


def bad_files(folder: Path, n: int, seed: int = 7) -> list[tuple[Path, int | None]]:
    """`n` bad files in `folder` and the data rows each holds (None: no count is defined)."""
    rng = random.Random(seed)
    kinds = [
        "nested_json",
        "surrogate_json",
        "invalid_utf8",
        "unbalanced_quote",
        "blank_lines",
        "parquet_overflow",
        "huge_cell",
        "nul_byte",
        "random_bytes",
        "missing_column",
    ]
    out: list[tuple[Path, int | None]] = []
    for i in range(n):
        kind = kinds[i % len(kinds)]
        rows = rng.randint(2, 6)
        if kind == "nested_json":
            depth = rng.choice([200, 5000, 100_000])
            nested = "[" * depth + "]" * depth
            lines = [json.dumps({"person_id": f"n{j}", "email": f"n{j}@x.io"}) for j in range(rows)]
            lines.append('{"person_id": "deep", "email": "d@x.io", "x": ' + nested + "}")
            path, count = folder / f"f{i}.jsonl", rows + 1
            path.write_text("\n".join(lines) + "\n")
        elif kind == "surrogate_json":
            lines = [
                f'{{"person_id": "s{j}", "email": "s{j}@x.io", "first_name": "A\\ud800"}}'
                for j in range(rows)
            ]
            path, count = folder / f"f{i}.jsonl", rows
            path.write_text("\n".join(lines) + "\n")
        elif kind == "invalid_utf8":
            path, count = folder / f"f{i}.csv", rows
            body = HEADER.encode() + b"".join(_row(j).encode() for j in range(rows - 1))
            path.write_bytes(body + b"x1,x@y.io,\xff\xfe,Z,2025-01-01\n")
        elif kind == "unbalanced_quote":
            path, count = folder / f"f{i}.csv", rows
            _write_csv_with_cell(path, rows, line=1, first_name='"Bea')
        elif kind == "blank_lines":
            path, count = folder / f"f{i}.csv", rows
            path.write_text(HEADER + "".join(_row(j) + "   \n\n" for j in range(rows)))
        elif kind == "parquet_overflow":
            path, count = folder / f"f{i}.parquet", rows
            stamps = pa.array([2**62 + j for j in range(rows)], pa.int64()).cast(pa.timestamp("ns"))
            pq.write_table(
                pa.table(
                    {
                        "person_id": [f"p{j}" for j in range(rows)],
                        "email": [f"p{j}@x.io" for j in range(rows)],
                        "created_at": stamps,
                    }
                ),
                path,
            )
        elif kind == "huge_cell":
            path, count = folder / f"f{i}.csv", rows
            big = "A" * rng.choice([1 << 20, 5 << 20])
            _write_csv_with_cell(path, rows, line=0, first_name=big)
        elif kind == "nul_byte":
            path, count = folder / f"f{i}.csv", rows
            _write_csv_with_cell(path, rows, line=0, first_name="B\x00ea")
        elif kind == "random_bytes":
            path, count = folder / f"f{i}.csv", None
            path.write_bytes(HEADER.encode() + rng.randbytes(rng.randint(10, 3000)))
        else:  # a required column missing
            path, count = folder / f"f{i}.csv", rows
            path.write_text("person_id,first_name\n" + "".join(f"m{j},M\n" for j in range(rows)))
        out.append((path, count))
    return out


def load_files(folder: Path, n: int) -> dict[str, int]:
    """Load each bad file with `revops load` as a subprocess; the figures of part 1."""
    revops = str(Path(sys.executable).with_name("revops"))
    figures: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    for path, count in bad_files(folder, n):
        wh = folder / f"{path.stem}.duckdb"
        run = subprocess.run(
            [revops, "load", str(path), "--table", "persons", "-w", str(wh)],
            capture_output=True,
            text=True,
            errors="replace",
            env={**os.environ, "REVOPS_USER": "bench", "COLUMNS": "200"},
            timeout=600,
            check=False,
        )
        figures["files tried"] += 1
        text = run.stdout + run.stderr
        if "Traceback" in text or run.returncode not in (0, 1):
            figures["tracebacks"] += 1
            kinds[path.suffix] += 1
        if run.returncode == 0 and wh.exists():
            import duckdb

            con = duckdb.connect(str(wh), read_only=True)
            logged = con.execute(
                "SELECT rows_in, inserted + updated + unchanged + quarantined + duplicates "
                '+ deleted FROM "load_log"'
            ).fetchall()
            con.close()
            for rows_in, accounted in logged:
                if rows_in != accounted or (count is not None and rows_in != count):
                    figures["count violations"] += 1
    return dict(figures)


def kills(commands: list[str]) -> dict[str, str]:
    import test_kills

    os.environ.update(test_kills.ENV)
    out = {}
    with tempfile.TemporaryDirectory(prefix="revops-kills-") as tmp:
        world = test_kills.make_world(Path(tmp))
        for command in commands:
            seen = test_kills.kill_command(world, command)
            ok = sum(s.endswith(("=before", "=after")) for s in seen)
            out[command] = f"{ok}/{len(seen)}"
    return out


def server(leads: int) -> dict[str, int]:
    import test_server_kill

    os.environ["REVOPS_USER"] = "bench"
    with tempfile.TemporaryDirectory(prefix="revops-server-") as tmp:
        return test_server_kill.kill_write_restart(Path(tmp), leads)


def erasure(phases: list[str]) -> int:
    import shutil

    import test_erasure_residue as t

    os.environ.update(t.ENV)
    found = 0
    with tempfile.TemporaryDirectory(prefix="revops-erasure-") as tmp:
        base = t.make_world(Path(tmp) / "base")
        normal = Path(tmp) / "normal"
        shutil.copytree(base, normal)
        assert t.erase(normal) == 0
        found += len(t.after_erasure(normal))
        for phase in phases:
            folder = Path(tmp) / phase.replace(":", "")
            shutil.copytree(base, folder)
            found += len(t.erase_killed(folder, phase))
    return found


def schemathesis_5xx(examples: int) -> tuple[int, int]:
    """(requests, responses >= 500) of generated positive and negative requests per operation."""
    import itertools
    from dataclasses import replace

    import schemathesis
    from api_support import EXAMPLE, KEY_ROWS, ROUTING, TOKENS, seed
    from fastapi.testclient import TestClient
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode

    from revops.api import create_app
    from revops.config import load_config
    from revops.context import RevOps
    from revops.warehouse import Warehouse

    wh = Warehouse.connect(":memory:")
    seed(wh)
    wh.write("api_keys", KEY_ROWS)
    loaded = load_config(EXAMPLE)
    ro = RevOps(replace(loaded, model=loaded.model.model_copy(update={"routing": ROUTING})), wh)
    headers = {"Authorization": f"Bearer {TOKENS['revops_admin']}"}
    counts = Counter[str]()
    with (
        tempfile.TemporaryDirectory() as tmp,
        # A server error comes back as a 500 to count (and show), not as the app's exception.
        TestClient(
            create_app(ro, journal=Path(tmp) / "journal"), raise_server_exceptions=False
        ) as client,
    ):
        schema = schemathesis.openapi.from_dict(client.get("/openapi.json").json())
        operations = [r.ok() for r in schema.get_all_operations()]  # type: ignore[union-attr]
        for op, mode in itertools.product(operations, GenerationMode):
            if op.method.upper() == "DELETE":  # revoking the bench's own key ends the run
                continue

            @given(case=op.as_strategy(generation_mode=mode))
            @settings(
                max_examples=examples,
                deadline=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def exercise(case: schemathesis.Case) -> None:
                kw = case.as_transport_kwargs(base_url="http://testserver")
                r = client.request(
                    kw["method"],
                    kw["url"],
                    params=kw.get("params"),
                    headers={**(kw.get("headers") or {}), **headers},
                    json=kw.get("json"),
                    content=kw.get("data"),
                )
                counts["requests"] += 1
                counts["5xx"] += r.status_code >= 500
                if r.status_code >= 500 and counts["5xx"] <= 5:
                    print(f"5xx: {r.status_code} {kw['method']} {kw['url']} {kw.get('params')}")

            with contextlib.suppress(Unsatisfiable):  # nothing to make invalid (GET /health)
                exercise()
    return counts["requests"], counts["5xx"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--check", action="store_true", help="tiny run; exit 1 unless all zero")
    ap.add_argument("--files", type=int, default=60)
    ap.add_argument("--examples", type=int, default=30)
    args = ap.parse_args()
    started = time.perf_counter()
    files = 2 if args.check else args.files
    commands = ["quality fix"] if args.check else list(__import__("test_kills").COMMANDS)
    phases = [] if args.check else ["commit:1", "after:1", "copy", "rewrite"]
    with tempfile.TemporaryDirectory(prefix="revops-badfiles-") as tmp:
        loads = load_files(Path(tmp), files)
    survived = kills(commands)
    lost = server(3 if args.check else 40)
    residues = erasure(phases)
    requests, errors = schemathesis_5xx(1 if args.check else args.examples)
    print(f"reliability ({'check' if args.check else 'full'} run, {datetime.now():%Y-%m-%d})")
    print(f"  files tried                 {loads.get('files tried', 0):6d}")
    print(f"  tracebacks                  {loads.get('tracebacks', 0):6d}")
    print(f"  count violations            {loads.get('count violations', 0):6d}")
    for command, ratio in survived.items():
        print(f"  kills survived: {command:<12}{ratio:>6}")
    twice = lost["applied_twice"]
    print(f"  acknowledged leads lost     {lost['lost']:6d}   (applied twice: {twice})")
    print(f"  audit chain after restart   {'ok' if lost['chain_ok'] else 'BROKEN':>6}")
    print(f"  erasure residues found      {residues:6d}   ({1 + len(phases)} erasures scanned)")
    print(f"  schemathesis 5xx            {errors:6d}   of {requests:,} requests")
    print(f"  ({time.perf_counter() - started:.0f} s)")
    failed_kills = any(r.split("/")[0] != r.split("/")[1] for r in survived.values())
    bad = (
        loads.get("tracebacks", 0)
        or loads.get("count violations", 0)
        or failed_kills
        or lost["lost"]
        or lost["applied_twice"]
        or not lost["chain_ok"]
        or residues
        or errors
    )
    if args.check:
        if bad:
            sys.exit("check failed: a load, kill, lead, residue or 5xx figure is not zero")
        print(
            "check passed: no traceback or count violation, every kill survived, "
            "no lead lost, no residue, no 5xx"
        )


if __name__ == "__main__":
    main()
