"""Benchmark: the CPU one evaluation of the `sla_no_followup` trigger costs the outbox hook,
on the demo company's warehouse (issue 14: the intake applier pays it on every apply).

The hook evaluates the trigger whenever a write touches `sla_clocks`, which every applied lead
does. The trigger works out a business-hours deadline for each running clock it reads, in
Python; the demo holds thousands of clocks nobody answered, most assigned long before the
lookback. revops: clocks whose deadline provably fell before the lookback are left unread in
SQL (`triggers.too_old_to_fire`). Baseline: the same code reading every running clock older than
`after_minutes` (the bound disabled). Both must find the same events.

Printed, for the example model's `mql_no_followup` rule (120 business minutes, 24 h lookback)
at several instants (now, and hours after the demo's last assignment, when events do fire):
CPU seconds and wall seconds per evaluation, mean of `--repeat`, the events found and how many
business deadlines were worked out (the bound's own bisection included).

Usage: python bench/no_followup.py [--scale 1] [--warehouse FILE] [--repeat 5] [--check]
`--check` (CI, a few seconds after building a scale-0.1 demo): exit 1 unless both paths find
the same events at every instant.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _demo import CONFIG, demo_company

from revops.automation import triggers
from revops.automation.outbox import detect
from revops.automation.sources import stored
from revops.config.models import OperatingModel
from revops.routing.sla import business_deadline
from revops.warehouse import Warehouse
from revops.warehouse.clock import utc_now

RULE = "mql_no_followup"


@contextmanager
def everything_read() -> Iterator[None]:
    """The baseline: no clock is left unread."""
    bound = triggers.too_old_to_fire
    triggers.too_old_to_fire = lambda *_: None
    try:
        yield
    finally:
        triggers.too_old_to_fire = bound


def evaluate(wh: Warehouse, model: OperatingModel, at: datetime) -> list[dict[str, Any]]:
    rule = next(r for r in model.automations.rules if r.name == RULE)
    events = detect(wh, stored(wh), [rule], at, routing=model.routing)
    return sorted(events, key=lambda e: str(e["event_id"]))


def deadlines(wh: Warehouse, model: OperatingModel, at: datetime) -> int:
    """How many business deadlines one evaluation works out (the bound's own included)."""
    with mock.patch.object(triggers, "business_deadline", wraps=business_deadline) as spy:
        evaluate(wh, model, at)
    return spy.call_count


def timed(wh: Warehouse, model: OperatingModel, at: datetime, repeat: int) -> tuple[float, float]:
    """CPU and wall seconds per evaluation, mean over `repeat` after one warm-up."""
    evaluate(wh, model, at)
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(repeat):
        evaluate(wh, model, at)
    return (time.process_time() - cpu) / repeat, (time.perf_counter() - wall) / repeat


def instants(wh: Warehouse) -> list[tuple[str, datetime]]:
    last = wh.sql("SELECT max(started_at) FROM sla_clocks")[0][0]
    out = [("now", utc_now())]
    if last is not None:
        out += [(f"last assignment +{h} h", last + timedelta(hours=h)) for h in (6, 30)]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--warehouse", help="a demo warehouse file (a copy is used)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--check", action="store_true", help="Tiny agreement check (CI).")
    args = parser.parse_args()
    model = OperatingModel.model_validate(yaml.safe_load(CONFIG.read_text()))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "demo.duckdb"
        if args.warehouse is None:
            demo_company(str(path), Path(tmp), 0.1 if args.check else args.scale)
        else:
            shutil.copyfile(args.warehouse, path)
        wh = Warehouse.connect(path)
        running = "SELECT count(*) FROM sla_clocks WHERE closed_at IS NULL AND responded_at IS NULL"
        print(f"running clocks: {wh.sql(running)[0][0]}")
        failed = False
        for name, at in instants(wh):
            found = evaluate(wh, model, at)
            with everything_read():
                expected = evaluate(wh, model, at)
            same = found == expected
            calls = deadlines(wh, model, at)
            with everything_read():
                base_calls = deadlines(wh, model, at)
            failed |= not same
            print(
                f"{name} ({at:%Y-%m-%d %H:%M}): {len(found)} events, same answer: {same};"
                f" deadlines worked out: baseline {base_calls}, revops {calls}"
            )
            if args.check:
                continue
            with everything_read():
                base_cpu, base_wall = timed(wh, model, at, args.repeat)
            cpu, wall = timed(wh, model, at, args.repeat)
            print(
                f"  baseline (every running clock): {base_cpu * 1000:8.1f} ms CPU"
                f" {base_wall * 1000:8.1f} ms wall\n"
                f"  revops (bounded read):          {cpu * 1000:8.1f} ms CPU"
                f" {wall * 1000:8.1f} ms wall   x{base_cpu / cpu:.1f} CPU"
            )
        wh.close()
    if args.check and not failed:
        print("check passed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
