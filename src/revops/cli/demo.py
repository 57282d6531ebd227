"""`revops demo`: the main job, end to end, on a generated company."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

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
from revops.context import default_warehouse_url

if TYPE_CHECKING:
    from revops.demo.schedule import Schedule
    from revops.demo.steps import Step


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
    from revops.demo import steps
    from revops.demo.background import Generation
    from revops.demo.claim import claim
    from revops.demo.schedule import Schedule, warm_up

    started = time.perf_counter()
    url = warehouse or default_warehouse_url()
    with user_errors():
        claim(url, seed=seed, scale=scale, force=force)
    # the generator writes the files in a child process while this one loads each finished one;
    # the forecast starts as soon as the deal tables are loaded (`revops.demo.schedule`)
    with (
        Generation(out / "demo", scale=scale, seed=seed) as files,
        open_revops(config, url) as ro,
        Schedule(ro, out / "reports") as schedule,
    ):
        steps.install_automations(ro)
        warm_up()  # the steps' imports, while the child builds the company (no file yet)
        reports = []
        with load_progress() as progress:
            making = f"generating the demo company (scale {scale:g}, seed {seed})"
            generating = progress.add_task(making, total=files.count, unit="files")
            for f in files:
                progress.advance(generating)
                task = progress.add_task(f"{f.path.name} → {f.table}", total=None)
                reports.append(
                    ro.load(f.path, f.table, f.preset, progress=bytes_callback(progress, task))
                )
                schedule.loaded(f.table)
        console.print(f"[green]✓[/] generated {len(reports)} export files in {out / 'demo'}")
        print_load_reports(reports)
        done = run_engines(schedule)
        summary, funnel = done["metrics"]
        print_funnel(summary)
    written = [funnel] + [v for v in done.values() if isinstance(v, Path)]
    console.print(done["lead_desk"], highlight=False)
    if done["automations"]:
        console.print(done["automations"], highlight=False)
    for path in written:
        console.print(f"report: [bold]{path}[/]")
    console.print(f"warehouse: [bold]{url}[/]")
    console.print(f"done in {time.perf_counter() - started:.1f} s")


def run_engines(schedule: Schedule) -> dict[str, Any]:
    """The engine steps, two at a time where they can (`revops.demo.schedule`), with the
    running ones in the status line; the lifecycle report prints as soon as it is done."""
    running: list[Step] = []
    with console.status("") as status:

        def show() -> None:
            status.update(" · ".join(s.status for s in running))

        def started(step: Step) -> None:
            running.append(step)
            show()

        def finished(step: Step, result: Any) -> None:
            running.remove(step)
            show()
            console.print(f"[green]✓[/] {step.status}")
            if step.name == "lifecycle":
                print_lifecycle_report(result)

        return schedule.finish(started=started, finished=finished)


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
