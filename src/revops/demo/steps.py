"""The steps of `revops demo` after loading: one definition for the command
(`revops.cli.demo`, which shows each step's status and prints what it returns) and for the
benchmarks (bench/_demo.py, which time each step).

Each step runs the engines on an open warehouse and writes its report into the reports folder;
none prints. `after` names the steps whose writes a step reads, so `revops.demo.schedule` can
run the others side by side on two threads:

- the lifecycle writes lifecycle_history and persons' stages, which the lead desk, quality,
  revenue, attribution and pipeline steps read; the forecast reads none of it;
- the pipeline step comes after the lead desk: both append to the audit chain (the lead desk
  through the automation events its SLA clocks fire, the pipeline through quota writes), and
  the chain's order, like its sequence numbers, must not depend on which thread is quicker;
- the dictionary comes after every engine: it reads what they write (attribution credits,
  quotas, revenue tables, backtests); before them it would show ROAS and coverage from missing
  inputs; the automation pass comes last, as of everything the demo wrote.

`reads` names the loaded tables a step reads when it reads only some of them, so the schedule
may start it while later files still load: the forecast reads the deal tables, users and
activities (loaded among the first files) and none of what the other steps write, and it is the
longest step, so it runs while the files load and its fits fill the core that loading leaves
idle. Every other step reads what the lifecycle writes, which reads the late files.

`STEPS` is in the order the steps start when several are ready: the forecast first; then the
longest chain after the lifecycle first (the lead desk, then the pipeline that follows it), then
the others, longest first, so the two threads end together before the dictionary. Run one after
another in this order they give the same warehouse.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from revops.context import RevOps
    from revops.reports.funnel import FunnelSummary

DEMO_END = date(2026, 10, 31)  # the last day of the demo company's data
# When the demo happens: its automations see the company as of that evening (not the wall
# clock, so the same seed records the same events)
DEMO_NOW = datetime(2026, 10, 31, 18, 0)
QUARTERS = ("2025-Q4", "2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4")


class Step(NamedTuple):
    """One step: its name (the benchmarks' row), what the command shows while it runs, the
    work, given the open warehouse and the reports folder, the steps it must follow and, if
    it reads only some of the loaded tables, which."""

    name: str
    status: str
    run: Callable[[RevOps, Path], Any]
    after: tuple[str, ...] = ()
    reads: frozenset[str] | None = None  # the loaded tables it reads, if not all (see module)


def install_automations(ro: RevOps) -> None:
    """Install the operating model's automations before loading, so the loads record events
    as of the demo's last evening."""
    if ro.model.automations.rules:
        from revops.automation import install

        install(ro.warehouse, ro.model, clock=lambda: DEMO_NOW)


def lifecycle(ro: RevOps, folder: Path) -> Any:
    return ro.run_lifecycle()


def lead_desk(ro: RevOps, folder: Path) -> str:
    """Replay the lead desk from the lifecycle (`routing.backfill`): each MQL routed when it
    qualified and answered when the lifecycle says; the closing note's lead figures."""
    from revops.metrics import compute
    from revops.routing.backfill import backfill_desk

    desk = backfill_desk(ro.warehouse, ro.model)
    figures = {
        name: compute(ro.warehouse, ro.model, name, grain=None)["value"].iloc[0]
        for name in ("mqls", "acceptance_rate", "speed_to_lead_minutes")
    }
    return (
        f"lead desk: {desk.routed:,} MQLs routed when they qualified; "
        f"{figures['mqls']:,.0f} MQLs, SAL acceptance rate {figures['acceptance_rate']:.1%} "
        f"({desk.accepted:,} accepted, {desk.rejected:,} rejected, {desk.running:,} unanswered), "
        f"speed to lead {figures['speed_to_lead_minutes']:,.0f} minutes"
    )


def quality(ro: RevOps, folder: Path) -> Path:
    from revops.quality import scorecard
    from revops.reports.quality import write_quality_report

    # the rules' violations are counted in the scans that measure the scorecard, not again
    counts, checked = scorecard.measure_and_check(ro.warehouse, ro.model)
    scorecard.store(ro.warehouse, counts)
    return write_quality_report(ro, folder / "quality.html", checked)


def revenue(ro: RevOps, folder: Path) -> Path:
    from revops.reports.revenue import write_revenue_report
    from revops.revenue import build_revenue

    build_revenue(ro.warehouse, ro.model)
    return write_revenue_report(ro, folder / "revenue.html")


def attribution(ro: RevOps, folder: Path) -> Path:
    from revops.reports.attribution import write_attribution_report

    return write_attribution_report(ro, folder / "attribution.html")


def pipeline(ro: RevOps, folder: Path) -> Path:
    """Stage-change facts, bottom-up quotas for the last year and the next quarter, the report."""
    from revops.access import cli_principal
    from revops.pipeline.engine import PipelineEngine
    from revops.planning.run import plan_quotas, quota_inputs, write_quotas
    from revops.reports.pipeline import write_pipeline_report

    PipelineEngine(ro.warehouse, ro.model.pipeline).build_changes()
    actor = cli_principal(ro.warehouse).actor
    # every quarter is planned as of DEMO_END: the reps, potential and capture rate read once
    inputs = quota_inputs(ro.warehouse, ro.model, DEMO_END)
    for quarter in QUARTERS:
        plan = plan_quotas(ro.warehouse, ro.model, quarter, "bottom_up", None, DEMO_END, inputs)
        write_quotas(ro.warehouse, plan, quarter, "bottom_up", actor)
    return write_pipeline_report(ro, folder / "pipeline.html")


def forecast(ro: RevOps, folder: Path) -> Path:
    """Backtest the configured quarters, then forecast the quarter after the data's end (nothing
    of it has closed yet: each method's closed part is $0). One deal history serves both: loaded
    and replayed once, each win model fitted once."""
    from revops.pipeline.forecast import History, parse, run_backtest
    from revops.reports.forecast import write_forecast_report

    history = History(ro.warehouse, ro.model)
    run_backtest(ro.warehouse, ro.model, history=history)  # forecast.backtest_quarters, as the CLI
    return write_forecast_report(
        ro, folder / "forecast.html", parse(ro.model, "2026Q4"), DEMO_END, history
    )


def metrics(ro: RevOps, folder: Path) -> tuple[FunnelSummary, Path]:
    """The metric dictionary: the funnel summary (the command's tables) and the funnel report
    drawn from that same summary."""
    from revops.reports.funnel import funnel_summary, write_funnel_report

    summary = funnel_summary(ro)
    return summary, write_funnel_report(ro, folder / "funnel.html", summary)


def automations(ro: RevOps, folder: Path) -> str | None:
    """One pass of the operating model's automations as of DEMO_NOW (time-based triggers too),
    on top of the events the demo's own writes recorded; nothing is sent (`revops automate run`
    sends). The closing note's automation line."""
    from revops.automation import queue
    from revops.automation.outbox import count_by_status

    if not ro.model.automations.rules:
        return None
    queue(ro.warehouse, ro.model, DEMO_NOW)
    wh = ro.warehouse
    events = wh.count("automation_events")
    a = wh.table("automation_actions")
    kinds = wh.to_arrow(a.group_by("kind").aggregate(n=a.count())).to_pylist()
    by_kind = ", ".join(f"{r['n']:,} {r['kind']}" for r in sorted(kinds, key=lambda r: r["kind"]))
    status = count_by_status(wh)
    return (
        f"automations: {events:,} events as of {DEMO_NOW:%Y-%m-%d %H:%M} UTC; actions "
        f"{by_kind or 'none'}; {status.get('pending', 0):,} waiting for `revops automate run`, "
        f"{status.get('blocked', 0):,} blocked by consent"
    )


_ENGINES = ("lifecycle", "forecast", "quality", "attribution", "lead_desk", "pipeline", "revenue")
# The modules the steps import that take a while to import (scikit-learn above all), imported
# while the generator builds the company and the loader has no file yet (`schedule.warm_up`):
# else a step imports them on the critical path, holding the GIL the other thread wants.
IMPORTS = (
    "sklearn.ensemble",
    "sklearn.calibration",
    "sklearn.model_selection",
    "sklearn.metrics",
    "revops.lifecycle",
    "revops.pipeline.forecast",
    "revops.reports.forecast",
    "revops.reports.quality",
    "revops.quality.scorecard",
    "revops.reports.attribution",
    "revops.routing.backfill",
    "revops.metrics",
    "revops.reports.pipeline",
    "revops.pipeline.engine",
    "revops.planning.run",
    "revops.reports.revenue",
    "revops.revenue",
    "revops.reports.funnel",
    "revops.automation.outbox",
)
# what the forecast reads of the loaded files (`revops.pipeline.forecast.data`); everything
# else it reads (overrides, adjustments, snapshots, backtests) only revops writes
FORECAST_READS = frozenset(
    ("users", "accounts", "opportunities", "opportunity_stage_history", "activities")
)
STEPS: tuple[Step, ...] = (
    Step("forecast", "forecast backtest and win model", forecast, reads=FORECAST_READS),
    Step("lifecycle", "running the lifecycle", lifecycle),
    Step(
        "lead_desk",
        "lead desk: routing each MQL when it qualified, answers from the history",
        lead_desk,
        after=("lifecycle",),
    ),
    Step("pipeline", "pipeline, quotas and hygiene", pipeline, after=("lifecycle", "lead_desk")),
    Step("quality", "data quality scorecard", quality, after=("lifecycle",)),
    Step("attribution", "multi-touch attribution", attribution, after=("lifecycle",)),
    Step("revenue", "revenue and retention", revenue, after=("lifecycle",)),
    Step("metrics", "computing the metric dictionary", metrics, after=_ENGINES),
    Step(
        "automations",
        "automations as of the demo's last evening",
        automations,
        after=(*_ENGINES, "metrics"),
    ),
)
