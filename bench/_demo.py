"""The steps of `revops demo` (src/revops/cli/demo.py), in its order, through the same engine
functions, for the benchmarks: bench/scale.py times each, bench/metrics.py builds its company
with them (every table the dictionary reads is then filled: revenue, quality snapshots,
attribution credits, SLA clocks, stage changes, quotas, backtests).

Each step writes its report where the demo writes one. On Spark the automations are not
installed before loading (installing opens a transaction, which Spark has not).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "examples" / "revops.yaml"
DEMO_END = date(2026, 10, 31)  # as src/revops/cli/demo.py
DEMO_NOW = datetime(2026, 10, 31, 18, 0)
QUARTERS = ("2025-Q4", "2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4")


@dataclass
class Run:
    """What the steps share: the folder, the warehouse and what earlier steps produced."""

    out: Path
    warehouse: str
    scale: float
    files: list[Any] = field(default_factory=list)
    ro: Any = None


def step_generate(run: Run) -> None:
    from revops.demo import generate

    run.files = generate(run.out / "demo", scale=run.scale, seed=7)


def step_load(run: Run) -> None:
    from revops.context import RevOps

    run.ro = RevOps.open(CONFIG, run.warehouse)
    if run.ro.model.automations.rules and run.ro.warehouse.backend != "spark":
        from revops.automation import install

        install(run.ro.warehouse, run.ro.model, clock=lambda: DEMO_NOW)
    for f in run.files:
        run.ro.load(f.path, f.table, f.preset)


def step_lifecycle(run: Run) -> None:
    run.ro.run_lifecycle()


def step_lead_desk(run: Run) -> None:
    from revops.routing.backfill import backfill_desk

    backfill_desk(run.ro.warehouse, run.ro.model)


def step_quality(run: Run) -> None:
    from revops.quality import scorecard
    from revops.reports.quality import write_quality_report

    scorecard.take_snapshot(run.ro.warehouse, run.ro.model)
    write_quality_report(run.ro, run.out / "reports" / "quality.html")


def step_revenue(run: Run) -> None:
    from revops.reports.revenue import write_revenue_report
    from revops.revenue import build_revenue

    build_revenue(run.ro.warehouse, run.ro.model)
    write_revenue_report(run.ro, run.out / "reports" / "revenue.html")


def step_attribution(run: Run) -> None:
    from revops.reports.attribution import write_attribution_report

    write_attribution_report(run.ro, run.out / "reports" / "attribution.html")


def step_pipeline(run: Run) -> None:
    from revops.access import cli_principal
    from revops.pipeline.engine import PipelineEngine
    from revops.planning.run import plan_quotas, write_quotas
    from revops.reports.pipeline import write_pipeline_report

    wh, model = run.ro.warehouse, run.ro.model
    PipelineEngine(wh, model.pipeline).build_changes()
    actor = cli_principal(wh).actor
    for quarter in QUARTERS:
        plan = plan_quotas(wh, model, quarter, "bottom_up", None, DEMO_END)
        write_quotas(wh, plan, quarter, "bottom_up", actor)
    write_pipeline_report(run.ro, run.out / "reports" / "pipeline.html")


def step_forecast(run: Run) -> None:
    from revops.pipeline.forecast import History, parse, run_backtest
    from revops.reports.forecast import write_forecast_report

    history = History(run.ro.warehouse, run.ro.model)  # one deal history for both, as the demo
    run_backtest(run.ro.warehouse, run.ro.model, history=history)
    period = parse(run.ro.model, "2026Q4")
    write_forecast_report(run.ro, run.out / "reports" / "forecast.html", period, DEMO_END, history)


def step_metrics(run: Run) -> None:
    from revops.metrics import compute_all
    from revops.reports.funnel import write_funnel_report

    write_funnel_report(run.ro, run.out / "reports" / "funnel.html")
    compute_all(run.ro.warehouse, run.ro.model, grain="month")


def step_automations(run: Run) -> None:
    from revops.automation import queue

    if run.ro.model.automations.rules:
        queue(run.ro.warehouse, run.ro.model, DEMO_NOW)


STEPS: dict[str, Callable[[Run], None]] = {
    "generate": step_generate,
    "load": step_load,
    "lifecycle": step_lifecycle,
    "lead_desk": step_lead_desk,
    "quality": step_quality,
    "revenue": step_revenue,
    "attribution": step_attribution,
    "pipeline": step_pipeline,
    "forecast": step_forecast,
    "metrics": step_metrics,
    "automations": step_automations,
}


def demo_company(warehouse: str, out: Path, scale: float) -> None:
    """The demo company at `scale` in `warehouse`, as `revops demo` leaves it before computing
    the dictionary (every step up to the forecast)."""
    run = Run(out, warehouse, scale)
    try:
        for name in list(STEPS)[: list(STEPS).index("forecast") + 1]:
            STEPS[name](run)
    finally:
        if run.ro is not None:
            run.ro.close()
