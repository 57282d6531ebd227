"""The `revops` command line: thin commands over the `RevOps` facade, rendered with Rich.

Errors a user can fix (a bad file, a bad config, an unknown metric) print as one red line and
exit 1; `--debug` shows the traceback instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from revops.config import load_config
from revops.config.models import DIMENSIONS, Grain
from revops.context import RevOps, default_config_path, default_warehouse_url
from revops.errors import RevOpsError

app = typer.Typer(help="revops: one operating model, one revenue warehouse.", no_args_is_help=True)
metrics_app = typer.Typer(help="The metric dictionary.", no_args_is_help=True)
lifecycle_app = typer.Typer(help="The lifecycle engine.", no_args_is_help=True)
config_app = typer.Typer(help="The operating model (revops.yaml).", no_args_is_help=True)
report_app = typer.Typer(help="HTML reports.", no_args_is_help=True)
app.add_typer(metrics_app, name="metrics")
app.add_typer(lifecycle_app, name="lifecycle")
app.add_typer(config_app, name="config")
app.add_typer(report_app, name="report")

console = Console()
_state = {"debug": False}

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="Operating model file (revops.yaml).")
]
WarehouseOpt = Annotated[
    str | None,
    typer.Option("--warehouse", "-w", help="DuckDB file or postgresql:// URL.", show_default=False),
]


@app.callback()
def main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
) -> None:
    _state["debug"] = debug


@contextmanager
def _user_errors() -> Iterator[None]:
    """Turn the errors a user can act on into one red line."""
    try:
        yield
    except typer.Exit:
        raise
    except (RevOpsError, KeyError, FileNotFoundError) as exc:
        if _state["debug"]:
            raise
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        console.print(f"[bold red]error:[/] {message}", highlight=False)
        raise typer.Exit(1) from None


@contextmanager
def _open(config: Path | None, warehouse: str | None) -> Iterator[RevOps]:
    with _user_errors():
        ro = RevOps.open(config, warehouse)
        try:
            yield ro
        finally:
            ro.close()


def _load_progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def _bytes_callback(progress: Progress, task: Any) -> Callable[[int, int], None]:
    def update(done: int, total: int) -> None:
        progress.update(task, completed=done, total=total)

    return update


# -- load ---------------------------------------------------------------------------------------
@app.command()
def load(
    file: Annotated[Path, typer.Argument(help="CSV, Parquet or JSON lines file.")],
    table: Annotated[str, typer.Option("--table", "-t", help="Canonical table to load into.")],
    preset: Annotated[
        str | None, typer.Option("--preset", "-p", help="salesforce, hubspot or marketo.")
    ] = None,
    encoding: Annotated[str, typer.Option(help="Text encoding of the file.")] = "utf-8",
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Load an export into the warehouse: validated, upserted by primary key, atomic."""
    with _open(config, warehouse) as ro, _load_progress() as progress:
        task = progress.add_task(f"loading {file.name}", total=None)
        report = ro.load(
            file, table, preset, progress=_bytes_callback(progress, task), encoding=encoding
        )
    _print_load_reports([report])
    if report.quarantined:
        console.print(
            f"[yellow]{report.quarantined:,} rows quarantined[/]: see table `quarantine` "
            f"(load_id {report.load_id})"
        )


def _print_load_reports(reports: list[Any]) -> None:
    out = Table(title="Load summary", title_justify="left")
    for col in ("file", "table", "rows in", "inserted", "updated", "quarantined"):
        out.add_column(col, justify="left" if col in ("file", "table") else "right")
    for r in reports:
        out.add_row(
            Path(r.file).name,
            r.table,
            f"{r.rows_in:,}",
            f"{r.inserted:,}",
            f"{r.updated:,}",
            f"[yellow]{r.quarantined:,}[/]" if r.quarantined else "0",
        )
    console.print(out)


# -- tables / config ------------------------------------------------------------------------------
@app.command()
def tables(
    markdown: Annotated[bool, typer.Option(help="Print the data model as Markdown.")] = False,
) -> None:
    """The canonical data model: tables, keys and relations."""
    from revops.warehouse.schema import TABLES, render_markdown

    if markdown:
        print(render_markdown())
        return
    out = Table(title="Canonical tables", title_justify="left")
    for col in ("table", "primary key", "columns", "relations", "description"):
        out.add_column(col)
    for t in TABLES:
        out.add_row(
            t.name,
            ", ".join(t.primary_key),
            str(len(t.columns)),
            ", ".join(f"{r.column}→{r.table}" for r in t.relations),
            t.description,
        )
    console.print(out)


@config_app.command("validate")
def config_validate(path: Annotated[Path | None, typer.Argument()] = None) -> None:
    """Validate an operating-model file and summarize it."""
    with _user_errors():
        loaded = load_config(path or default_config_path())
    m = loaded.model
    console.print(
        f"[green]valid[/]: {loaded.path} (version {loaded.digest}): "
        f"{len(m.lifecycle.stages)} lifecycle stages, {len(m.metrics)} metrics"
    )


# -- lifecycle ------------------------------------------------------------------------------------
@lifecycle_app.command("run")
def lifecycle_run(config: ConfigOpt = None, warehouse: WarehouseOpt = None) -> None:
    """Apply lifecycle events: record valid transitions, reject the rest with a reason."""
    with _open(config, warehouse) as ro:
        report = ro.run_lifecycle()
    _print_lifecycle(report)


@lifecycle_app.command("report")
def lifecycle_report(config: ConfigOpt = None, warehouse: WarehouseOpt = None) -> None:
    """Stage-to-stage conversion, time in stage and rejections, from the lifecycle history."""
    with _open(config, warehouse) as ro:
        frames = ro.lifecycle_analytics()
    titles = {
        "funnel": "Funnel conversion (persons reaching a stage who later reach the next)",
        "time_in_stage": "Time in stage (days; finished stints)",
        "rejections": "Rejected lifecycle events",
    }
    for key, df in frames.items():
        _print_frame(df, titles[key])


def _print_frame(df: Any, title: str) -> None:
    out = Table(title=title, title_justify="left")
    for col in df.columns:
        out.add_column(str(col), justify="left" if df[col].dtype == object else "right")
    for row in df.itertuples(index=False):
        out.add_row(*(_cell(v) for v in row))
    console.print(out)


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return "–" if value != value else f"{value:,.3f}".rstrip("0").rstrip(".")
    return f"{value:,}" if isinstance(value, int) else str(value)


def _print_lifecycle(report: Any) -> None:
    console.print(
        f"lifecycle: {report.events:,} events → {report.accepted:,} transitions, "
        f"[yellow]{report.rejected:,} rejected[/], {report.repeats:,} repeats ignored"
    )
    if report.rejected_by_reason:
        out = Table(title="Rejections by reason", title_justify="left")
        out.add_column("reason")
        out.add_column("count", justify="right")
        ranked = sorted(report.rejected_by_reason.items(), key=lambda kv: -kv[1])
        for reason, count in ranked[:10]:
            out.add_row(reason, f"{count:,}")
        if len(ranked) > 10:
            rest = sum(count for _, count in ranked[10:])
            out.add_row(f"… {len(ranked) - 10} other reasons", f"{rest:,}")
        console.print(out)


# -- metrics ------------------------------------------------------------------------------------
@metrics_app.command("list")
def metrics_list(config: ConfigOpt = None) -> None:
    """Every metric with its owner, formula and definition."""
    from revops.metrics import formula

    with _user_errors():
        model = load_config(config or default_config_path()).model
        out = Table(title="Metric dictionary", title_justify="left", show_lines=False)
        for col in ("metric", "owner", "type", "formula", "description"):
            out.add_column(col, overflow="fold")
        for m in model.metrics:
            out.add_row(m.name, m.owner, m.type, formula(model, m.name), m.description)
    console.print(out)


@metrics_app.command("show")
def metrics_show(
    name: Annotated[str, typer.Argument(help="Metric name (see `revops metrics list`).")],
    by: Annotated[
        list[str] | None, typer.Option("--by", help=f"Dimension: {', '.join(DIMENSIONS)}.")
    ] = None,
    grain: Annotated[str, typer.Option(help="day, week, month, quarter, year or all.")] = "month",
    start: Annotated[
        str | None, typer.Option("--from", help="First day (YYYY-MM-DD), inclusive.")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="Last day (YYYY-MM-DD), exclusive.")
    ] = None,
    sql: Annotated[bool, typer.Option("--sql", help="Print the compiled SQL too.")] = False,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Compute one metric, cut by dimensions over time."""
    from revops.metrics import metric_sql
    from revops.reports.formatting import format_value

    with _open(config, warehouse) as ro:
        if grain not in ("day", "week", "month", "quarter", "year", "all"):
            raise RevOpsError(f"unknown grain {grain!r}: use day, week, month, quarter, year, all")
        g: Grain | None = None if grain == "all" else grain  # type: ignore[assignment]
        first, last = _day(start, "--from"), _day(end, "--to")
        dims = by or []
        df = ro.metric(name, by=dims, grain=g, start=first, end=last)
        metric = ro.model.metric(name)
        console.print(f"[bold]{metric.title}[/] ({metric.owner}): {metric.description}")
        console.print(f"formula: [cyan]{ro.formula(name)}[/]", highlight=False)
        if sql:
            console.print(
                metric_sql(ro.warehouse, ro.model, name, by=dims, grain=g, start=first, end=last),
                highlight=False,
            )
        out = Table(title_justify="left")
        for col in df.columns:
            out.add_column(str(col), justify="right" if col == "value" else "left")
        currency = ro.model.company.currency
        for row in df.itertuples(index=False):
            cells = []
            for col, v in zip(df.columns, row, strict=True):
                if col == "value":
                    cells.append(format_value(v, metric.format, currency))
                elif col == "period":
                    cells.append(str(v)[:10])
                else:
                    cells.append("(none)" if v is None else str(v))
            out.add_row(*cells)
        console.print(out)


def _day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise RevOpsError(f"{option} {text!r} is not a date; use YYYY-MM-DD") from None


# -- reports --------------------------------------------------------------------------------------
@report_app.command("funnel")
def report_funnel(
    out: Annotated[Path, typer.Option(help="Where to write the HTML.")] = Path(
        "out/reports/funnel.html"
    ),
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Write the funnel report (offline HTML with charts)."""
    from revops.reports.funnel import write_funnel_report

    with _open(config, warehouse) as ro:
        path = write_funnel_report(ro, out)
    console.print(f"wrote [bold]{path}[/]")


# -- demo ---------------------------------------------------------------------------------------
@app.command()
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
    with _user_errors():
        _reset_warehouse(url)
        with console.status(f"generating the demo company (scale {scale:g}, seed {seed})"):
            files = generate(out / "demo", scale=scale, seed=seed)
        console.print(f"[green]✓[/] generated {len(files)} export files in {out / 'demo'}")
    with _open(config, url) as ro:
        reports = []
        with _load_progress() as progress:
            for f in files:
                task = progress.add_task(f"{f.path.name} → {f.table}", total=None)
                reports.append(
                    ro.load(f.path, f.table, f.preset, progress=_bytes_callback(progress, task))
                )
        _print_load_reports(reports)
        with console.status("running the lifecycle"):
            lifecycle_report = ro.run_lifecycle()
        _print_lifecycle(lifecycle_report)
        with console.status("computing the metric dictionary"):
            summary = funnel_summary(ro)
            report_path = write_funnel_report(ro, out / "reports" / "funnel.html")
    _print_funnel(summary)
    console.print(f"report: [bold]{report_path}[/]   warehouse: [bold]{url}[/]")
    console.print(f"done in {time.perf_counter() - started:.1f} s")


def _reset_warehouse(url: str) -> None:
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


def _print_funnel(summary: Any) -> None:
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


if __name__ == "__main__":  # pragma: no cover
    app()
