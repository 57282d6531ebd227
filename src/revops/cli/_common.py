"""What every command shares: the console, error handling, options and progress bars."""

from __future__ import annotations

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

from revops.context import RevOps
from revops.errors import RevOpsError

console = Console()
state = {"debug": False}

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="Operating model file (revops.yaml).")
]
WarehouseOpt = Annotated[
    str | None,
    typer.Option(
        "--warehouse",
        "-w",
        help="DuckDB file, postgresql:// URL, or a Spark location: spark-local:/dir, "
        "spark://host:7077?warehouse_dir=..., sc://host (docs/spark.md).",
        show_default=False,
    ),
]


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn the errors a user can act on into one red line."""
    try:
        yield
    except typer.Exit:
        raise
    except (RevOpsError, KeyError, FileNotFoundError) as exc:
        if state["debug"]:
            raise
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        console.print(f"[bold red]error:[/] {message}", highlight=False)
        raise typer.Exit(1) from None


@contextmanager
def open_revops(config: Path | None, warehouse: str | None) -> Iterator[RevOps]:
    with user_errors():
        ro = RevOps.open(config, warehouse)
        try:
            _replay_journal(ro)
            yield ro
        finally:
            ro.close()


def _replay_journal(ro: RevOps) -> None:
    """Finish what a killed process left: an erasure's storage purge, and leads an intake
    server answered but never stored; before the command does anything else."""
    from revops.api.recovery import replay_pending
    from revops.privacy.erase import resume_purge

    if warning := resume_purge(ro.warehouse):
        console.print(f"[yellow]warning:[/] {warning}")
    groups = replay_pending(ro.warehouse)
    if groups:
        console.print(
            f"[yellow]applied {groups} intake journal group(s)[/] a stopped server had "
            "acknowledged but not stored"
        )


def load_progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def bytes_callback(progress: Progress, task: Any) -> Callable[[int, int], None]:
    def update(done: int, total: int) -> None:
        progress.update(task, completed=done, total=total)

    return update


def print_frame(df: Any, title: str) -> None:
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


def parse_day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise RevOpsError(f"{option} {text!r} is not a date; use YYYY-MM-DD") from None
