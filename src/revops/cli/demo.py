"""`revops demo`: the main job, end to end, on a generated company."""

from __future__ import annotations

import time
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
from revops.context import default_warehouse_url


# -- demo ---------------------------------------------------------------------------------------
def demo(
    scale: Annotated[float, typer.Option(help="Multiply the demo company's size.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same company.")] = 7,
    out: Annotated[Path, typer.Option(help="Folder for generated files and reports.")] = Path(
        "out"
    ),
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Generate the demo company, load it, run the lifecycle, compute the dictionary, report."""
    from revops.demo import generate
    from revops.reports.funnel import funnel_summary, write_funnel_report

    started = time.perf_counter()
    url = warehouse or default_warehouse_url()
    with user_errors():
        reset_warehouse(url)
        with console.status(f"generating the demo company (scale {scale:g}, seed {seed})"):
            files = generate(out / "demo", scale=scale, seed=seed)
        console.print(f"[green]✓[/] generated {len(files)} export files in {out / 'demo'}")
    with open_revops(config, url) as ro:
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
        with console.status("computing the metric dictionary"):
            summary = funnel_summary(ro)
            report_path = write_funnel_report(ro, out / "reports" / "funnel.html")
    print_funnel(summary)
    console.print(f"report: [bold]{report_path}[/]   warehouse: [bold]{url}[/]")
    console.print(f"done in {time.perf_counter() - started:.1f} s")


def reset_warehouse(url: str) -> None:
    """The demo always starts from an empty warehouse so its numbers are reproducible."""
    from revops.warehouse import TABLES, Warehouse

    if url.startswith(("postgresql://", "postgres://")):
        wh = Warehouse.connect(url)
        with wh.transaction() as run:
            for t in TABLES:
                run(f'TRUNCATE TABLE "{t.name}"')
        wh.close()
        return
    path = Path(url.removeprefix("duckdb://"))
    for p in (path, path.with_suffix(path.suffix + ".wal")):
        p.unlink(missing_ok=True)


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
    head = Table(title="Headline metrics", title_justify="left")
    for col in ("metric", "value", "formula", "owner"):
        head.add_column(col, justify="right" if col == "value" else "left")
    for m in summary.headline:
        head.add_row(m.label, m.text, m.formula, m.owner)
    console.print(head)
