"""`revops demo`: the main job, end to end, on a generated company."""

from __future__ import annotations

import time
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from revops.cli._common import (
    ConfigOpt,
    WarehouseOpt,
    bytes_callback,
    console,
    load_progress,
    open_revops,
    user_errors,
)
from revops.cli.data import print_load_reports
from revops.cli.lifecycle import print_lifecycle_report
from revops.context import RevOps, default_warehouse_url

DEMO_END = date(2026, 10, 31)  # the last day of the demo company's data
# When the demo happens: its automations see the company as of that evening (not the wall
# clock, so the same seed records the same events)
DEMO_NOW = datetime(2026, 10, 31, 18, 0)


# -- demo ---------------------------------------------------------------------------------------
def demo(
    scale: Annotated[float, typer.Option(help="Multiply the demo company's size.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same company.")] = 7,
    out: Annotated[Path, typer.Option(help="Folder for generated files and reports.")] = Path(
        "out"
    ),
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Replace a warehouse that holds data the demo did not create."
        ),
    ] = False,
) -> None:
    """Generate the demo company, load it, run every engine and write the reports.

    The demo writes its own warehouse: it replaces one it created (or an empty one) and refuses
    any other that holds data unless `--force`."""
    from revops.demo import generate
    from revops.demo.claim import claim
    from revops.reports.funnel import funnel_summary, write_funnel_report

    started = time.perf_counter()
    url = warehouse or default_warehouse_url()
    with user_errors():
        claim(url, seed=seed, scale=scale, force=force)
        with console.status(f"generating the demo company (scale {scale:g}, seed {seed})"):
            files = generate(out / "demo", scale=scale, seed=seed)
        console.print(f"[green]✓[/] generated {len(files)} export files in {out / 'demo'}")
    with open_revops(config, url) as ro:
        if ro.model.automations.rules:
            from revops.automation import install

            install(ro.warehouse, ro.model, clock=lambda: DEMO_NOW)
        reports = []
        with load_progress() as progress:
            for f in files:
                task = progress.add_task(f"{f.path.name} → {f.table}", total=None)
                reports.append(
                    ro.load(f.path, f.table, f.preset, progress=bytes_callback(progress, task))
                )
        print_load_reports(reports)
        with console.status("running the lifecycle"):
            lifecycle_report = ro.run_lifecycle()
        print_lifecycle_report(lifecycle_report)
        desk = _lead_desk(ro)
        written = _engine_reports(ro, out / "reports")
        # Last: the funnel's dictionary reads what every engine above writes (attribution
        # credits, quotas, revenue tables, backtests); before them it would show ROAS and
        # coverage from missing inputs.
        with console.status("computing the metric dictionary"):
            summary = funnel_summary(ro)
            written.insert(0, write_funnel_report(ro, out / "reports" / "funnel.html"))
        print_funnel(summary)
        automated = _automations(ro)
    console.print(desk, highlight=False)
    if automated:
        console.print(automated, highlight=False)
    for path in written:
        console.print(f"report: [bold]{path}[/]")
    console.print(f"warehouse: [bold]{url}[/]")
    console.print(f"done in {time.perf_counter() - started:.1f} s")


def _automations(ro: RevOps) -> str | None:
    """One pass of the operating model's automations as of DEMO_NOW (time-based triggers too),
    on top of the events the demo's own writes recorded; nothing is sent (`revops automate run`
    sends). The closing note's automation line."""
    from revops.automation import queue
    from revops.automation.outbox import count_by_status

    if not ro.model.automations.rules:
        return None
    with console.status("automations as of the demo's last evening"):
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


def _lead_desk(ro: RevOps) -> str:
    """Replay the lead desk from the lifecycle (`routing.backfill`): each MQL routed when it
    qualified and answered when the lifecycle says; the closing note's lead figures."""
    from revops.metrics import compute
    from revops.routing.backfill import backfill_desk

    with console.status("lead desk: routing each MQL when it qualified, answers from the history"):
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


def _engine_reports(ro: RevOps, folder: Path) -> list[Path]:
    """Run the engines that have a report on the demo company and write each report."""
    from revops.quality import scorecard
    from revops.reports.attribution import write_attribution_report
    from revops.reports.quality import write_quality_report
    from revops.reports.revenue import write_revenue_report
    from revops.revenue import build_revenue

    with console.status("data quality scorecard"):
        scorecard.take_snapshot(ro.warehouse, ro.model)
        paths = [write_quality_report(ro, folder / "quality.html")]
    with console.status("revenue and retention"):
        build_revenue(ro.warehouse, ro.model)
        paths.append(write_revenue_report(ro, folder / "revenue.html"))
    with console.status("multi-touch attribution"):
        paths.append(write_attribution_report(ro, folder / "attribution.html"))
    with console.status("pipeline, quotas and hygiene"):
        paths.append(_pipeline_report(ro, folder / "pipeline.html"))
    with console.status("forecast backtest and win model"):
        paths.append(_forecast_report(ro, folder / "forecast.html"))
    return paths


def _pipeline_report(ro: RevOps, path: Path) -> Path:
    """Stage-change facts, bottom-up quotas for the last year and the next quarter, the report."""
    from revops.access import cli_principal
    from revops.pipeline.engine import PipelineEngine
    from revops.planning.run import plan_quotas, write_quotas
    from revops.reports.pipeline import write_pipeline_report

    PipelineEngine(ro.warehouse, ro.model.pipeline).build_changes()
    actor = cli_principal(ro.warehouse).actor
    for quarter in ("2025-Q4", "2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"):
        plan = plan_quotas(ro.warehouse, ro.model, quarter, "bottom_up", None, DEMO_END)
        write_quotas(ro.warehouse, plan, quarter, "bottom_up", actor)
    return write_pipeline_report(ro, path)


def _forecast_report(ro: RevOps, path: Path) -> Path:
    """Backtest the configured quarters, then forecast the quarter after the data's end (nothing
    of it has closed yet: each method's closed part is $0). One deal history serves both: loaded
    and replayed once, each win model fitted once."""
    from revops.pipeline.forecast import History, parse, run_backtest
    from revops.reports.forecast import write_forecast_report

    history = History(ro.warehouse, ro.model)
    run_backtest(ro.warehouse, ro.model, history=history)  # forecast.backtest_quarters, as the CLI
    return write_forecast_report(ro, path, parse(ro.model, "2026Q4"), DEMO_END, history)


def print_funnel(summary: Any) -> None:
    out = Table(title="Funnel (all time)", title_justify="left")
    out.add_column("stage")
    out.add_column("count", justify="right")
    out.add_column("of previous", justify="right")
    previous = None
    for s in summary.stages:
        step = f"{s.value / previous:.1%}" if previous and s.value is not None else ""
        out.add_row(s.label, s.text, step)
        previous = s.value
    console.print(out)
    period, previous = summary.period, summary.period.previous()
    head = Table(title=f"Headline metrics, {period.label}", title_justify="left")
    for col in ("metric", period.label, previous.label, "change", "formula"):
        head.add_column(col, justify="left" if col in ("metric", "formula") else "right")
    for m in summary.headline:
        text = f"{m.text} ({m.reason})" if m.reason else m.text
        head.add_row(m.label, text, m.previous_text, m.change_text, m.formula)
    console.print(head)
