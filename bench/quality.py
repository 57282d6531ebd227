"""Benchmark: the data quality engine on the demo company, with a row-by-row baseline.

1. `quality check` (every rule compiled to Ibis, one aggregate scan per table, DuckDB) against
   a row-by-row Python check of the same rules (pandas rows, `re`, set lookups) — the way a
   script over a CRM export usually does it. Counts are compared rule by rule first: a baseline
   that counts something else is no baseline.
2. `quality fix` planning (normalizers run once per distinct value) against running the same
   normalizers on every row; the planned changes must be identical.
3. fix apply + undo, the UTM audit and the scorecard snapshot, timed as they run.

Usage: python bench/quality.py [--warehouse PATH] [--scale 1]; without a warehouse a demo
company is generated and loaded into a temporary directory first (`revops demo`).

`--check` (CI, a few seconds): on a tiny company, the rule counts of `quality check` must equal
the row-by-row baseline's and the planned fixes the per-row normalizers'; exit 1 otherwise.
"""

from __future__ import annotations

import argparse
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from revops.config import DEFAULT_CONFIG, load_config
from revops.config.models import OperatingModel
from revops.identity.freemail import free_mail_domains
from revops.quality import fix, scorecard, utm
from revops.quality.check import check
from revops.quality.reference import E164_PATTERN, EMAIL_PATTERN, country_codes, subdivision_codes
from revops.quality.rules import all_checks
from revops.quality.undo import undo
from revops.warehouse import Warehouse, schema


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, float) and v != v) or str(v).strip() == ""


def python_check(wh: Warehouse, model: OperatingModel) -> dict[tuple[str, str, str], int]:
    """The same rules, judged row by row in Python (the baseline)."""
    q = model.quality
    email_re, e164_re = re.compile(EMAIL_PATTERN), re.compile(E164_PATTERN)
    countries, free = country_codes(), free_mail_domains()
    states = {f.field: (f.country_field, subdivision_codes(f.countries), f.countries)
              for f in q.formats if f.format == "state"}  # fmt: skip
    picks = {(p.table, p.field): set(p.allowed) for p in q.picklists if p.allowed}
    ranges = {(r.table, r.field): (r.min, r.max) for r in q.ranges}
    counts: dict[tuple[str, str, str], int] = {}
    tables = {c.table for c in all_checks(model)}
    for name in tables:
        rules = [c for c in all_checks(model) if c.table == name]
        df = wh.execute(wh.table(name))
        for row in df.to_dict("records"):
            for c in rules:
                v = row[c.field]
                bad = False
                if c.rule == "required":
                    bad = _blank(v)
                elif c.rule.startswith("required_for_"):
                    bad = row["lifecycle_stage"] == c.rule.removeprefix("required_for_") and _blank(
                        v
                    )
                elif _blank(v):
                    bad = False
                elif c.rule == "email_syntax":
                    bad = email_re.search(v) is None
                elif c.rule == "email_case":
                    bad = v != v.strip().lower()
                elif c.rule == "free_mail":
                    bad = v.strip().lower().rsplit("@", 1)[-1] in free and "@" in v
                elif c.rule == "phone_e164":
                    bad = e164_re.search(v) is None
                elif c.rule == "country_iso":
                    bad = v not in countries
                elif c.rule == "state_iso":
                    ctry_field, codes, checked = states[c.field]
                    ctry = row[ctry_field]
                    bad = ctry in checked and f"{ctry}-{v}" not in codes
                elif c.rule == "picklist":
                    bad = v not in picks[(name, c.field)]
                elif c.rule == "range":
                    low, high = ranges[(name, c.field)]
                    bad = (low is not None and v < low) or (high is not None and v > high)
                elif c.rule == "enum":
                    bad = v not in (schema.table(name).column(c.field).enum or ())
                key = (name, c.field, c.rule)
                counts[key] = counts.get(key, 0) + int(bad)
    return counts


def per_row_plan(wh: Warehouse, model: OperatingModel) -> set[tuple[str, str, str, str]]:
    """Every normalizer run on every row, no distinct-value cache (the baseline)."""
    out: set[tuple[str, str, str, str]] = set()
    by_table: dict[str, list[fix.Step]] = {}
    for s in fix.steps(model):
        by_table.setdefault(s.table, []).append(s)
    for name, steps in by_table.items():
        key = schema.table(name).primary_key[0]
        rows = wh.execute(wh.table(name)).to_dict("records")
        for row in rows:
            original = dict(row)
            for s in steps:
                v = row[s.reads]
                if _blank(v):
                    continue
                ctx = row[s.context] if s.context else None
                new = s.fn(str(v), None if _blank(ctx) else str(ctx))
                if new is not None:
                    row[s.target] = new
            for s in steps:
                if row[s.target] != original[s.target] and not (
                    _blank(original[s.target]) and _blank(row[s.target])
                ):
                    out.add((name, str(row[key]), s.target, str(row[s.target])))
    return out


def run_check() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _company import tiny_company

    model = load_config(DEFAULT_CONFIG).model
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "w.duckdb"
        tiny_company(db)
        wh = Warehouse.connect(db)
        got = {(v.table, v.field, v.rule): v.violations for v in check(wh, model).results}
        baseline = python_check(wh, model)
        mine = {(c.table, c.record_id, c.field, c.after) for c in fix.plan(wh, model).changes}
        naive = per_row_plan(wh, model)
        wh.close()
    failures = []
    if got != baseline:
        diff = {k: (got.get(k), baseline.get(k)) for k in got.keys() | baseline.keys()
                if got.get(k) != baseline.get(k)}  # fmt: skip
        failures.append(f"check counts differ from the row-by-row baseline: {diff}")
    if mine != naive:
        failures.append(f"fix plans differ: {len(mine ^ naive)} changes")
    if failures:
        sys.exit("check failed: " + "; ".join(failures))
    total = sum(got.values())
    print(f"check passed: {len(got)} rules ({total:,} violations) and {len(mine):,} fixes agree")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--warehouse", type=Path)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--check", action="store_true", help="Tiny agreement check (CI).")
    args = parser.parse_args()
    if args.check:
        run_check()
        return
    model = load_config(DEFAULT_CONFIG).model
    tmp = tempfile.TemporaryDirectory()
    path = args.warehouse
    if path is None:
        path = Path(tmp.name) / "w.duckdb"
        cli = str(Path(sys.executable).with_name("revops"))
        demo = [cli, "demo", "--out", tmp.name, "--warehouse", str(path)]
        subprocess.run([*demo, "--scale", str(args.scale)], check=True, capture_output=True)
    wh = Warehouse.connect(path)
    sizes = {t: wh.count(t) for t in ("persons", "accounts", "touchpoints", "opportunities")}
    print("rows:", ", ".join(f"{t} {n:,}" for t, n in sizes.items()))

    t_sql, report = timed(lambda: check(wh, model))
    t_py, baseline = timed(lambda: python_check(wh, model))
    got = {(v.table, v.field, v.rule): v.violations for v in report.results}
    assert got == baseline, {
        k: (got.get(k), baseline.get(k)) for k in got if got[k] != baseline.get(k)
    }
    print(f"check     revops (Ibis/DuckDB) {t_sql:6.2f} s   row-by-row Python {t_py:6.2f} s  "
          f"({t_py / t_sql:.0f}x)   {len(report.results)} rules, "
          f"{report.total:,} violations")  # fmt: skip

    t_plan, planned = timed(lambda: fix.plan(wh, model))
    t_rows, naive = timed(lambda: per_row_plan(wh, model))
    mine = {(c.table, c.record_id, c.field, c.after) for c in planned.changes}
    assert mine == naive, (len(mine), len(naive))
    print(f"fix plan  distinct values      {t_plan:6.2f} s   every row         {t_rows:6.2f} s  "
          f"({t_rows / t_plan:.1f}x)   {len(mine):,} changes")  # fmt: skip

    t_apply, result = timed(lambda: fix.apply(wh, model))
    t_undo, undone = timed(lambda: undo(wh, result.run_id) if result.run_id else None)
    restored = undone.restored if undone else 0
    print(f"fix apply {t_apply:6.2f} s ({len(result.changes) / max(t_apply, 1e-9):,.0f} changes/s)"
          f"   undo {t_undo:6.2f} s ({restored:,} restored)")  # fmt: skip
    t_utm, _ = timed(lambda: utm.audit(wh, model.quality.utm))
    t_card, card = timed(lambda: scorecard.take_snapshot(wh, model))
    cells = int(card["rows"].sum())
    print(f"utm audit {t_utm:6.2f} s ({sizes['touchpoints'] / t_utm:,.0f} touchpoints/s)   "
          f"scorecard {t_card:6.2f} s ({cells / t_card:,.0f} cells/s)")  # fmt: skip
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process (all stages, baselines included): {peak:,.0f} MB")
    wh.close()
    tmp.cleanup()


if __name__ == "__main__":
    pd.set_option("display.width", 200)
    main()
