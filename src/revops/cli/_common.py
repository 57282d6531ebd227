"""What every command shares: the console, error handling, options and progress bars."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any, TypeVar, cast

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from revops.cli._state import state as state
from revops.cli.output import Format as Format
from revops.cli.output import FormatOpt as FormatOpt
from revops.cli.output import Kind as Kind
from revops.cli.output import Output, current_output, output
from revops.context import RevOps
from revops.errors import RevOpsError

console = Console()

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
        # soft_wrap: the error stays one line at any terminal width, so it can be grepped and
        # logged whole (the console's width is fixed by whichever command first imported it).
        console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


@contextmanager
def open_revops(config: Path | None, warehouse: str | None) -> Iterator[RevOps]:
    with user_errors():
        ro = RevOps.open(config, warehouse)
        if (out := current_output()) is not None:
            out.currency = ro.model.company.currency
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


class _Amount(DownloadColumn):
    """Bytes read for a file's task; a task that counts something else names its `unit`."""

    def render(self, task: Task) -> Text:
        unit = task.fields.get("unit")
        if unit is None:
            return super().render(task)
        return Text(f"{task.completed:.0f}/{task.total or 0:.0f} {unit}", "progress.download")


def load_progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        _Amount(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def bytes_callback(progress: Progress, task: Any) -> Callable[[int, int], None]:
    def update(done: int, total: int) -> None:
        progress.update(task, completed=done, total=total)

    return update


def reading(fmt: Format) -> AbstractContextManager[Output]:
    """The output of a read command in the format asked for (`revops.cli.output`): enter it
    before opening the warehouse, so every message but the data goes to stderr in csv/json."""
    return output(fmt, console)


F = TypeVar("F", bound=Callable[..., Any])


def formatted(command: F) -> F:
    """Run a read command inside `reading(fmt)`, `fmt` being its `--format` option (every
    read command declares `fmt: FormatOpt = Format.table`)."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        with reading(kwargs.get("fmt", Format.table)):
            return command(*args, **kwargs)

    return cast(F, run)


@contextmanager
def working(what: str) -> Iterator[Callable[[str], None]]:
    """A spinner with the elapsed time while a long step runs, and a callback the engine calls
    with each phase it enters; nothing at all when the output is not a terminal. The engines
    never print: they take the callback."""
    if not console.is_terminal:
        yield lambda _phase: None
        return
    bar = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    with bar:
        task = bar.add_task(what, total=None)
        yield lambda phase: bar.update(task, description=f"{what}: {phase}")


def print_frame(
    df: Any,
    title: str,
    *,
    name: str | None = None,
    kinds: Mapping[str, Kind] | None = None,
    keep: Sequence[str] = (),
    hidden: Sequence[str] = (),
    transpose: bool = False,
) -> None:
    """One table of the running command, in its format (a table at once outside `reading`)."""
    out = current_output() or Output(console=console)
    out.table(df, title, name=name, kinds=kinds, keep=keep, hidden=hidden, transpose=transpose)


def with_user_names(df: Any, wh: Any, **columns: str) -> Any:
    """`df` with each user id column's name beside it (`owner_id="owner"`): tables show
    people, csv and json keep both."""
    from revops.people import user_names

    return with_names(df, user_names(wh), **columns)


def with_names(df: Any, names: Mapping[str, str], **columns: str) -> Any:
    """`with_user_names` with the names already read (id → name)."""
    out = df.copy()
    for id_col, name_col in columns.items():
        if id_col not in out.columns:
            continue
        at = list(out.columns).index(id_col) + 1
        values = [None if v is None or v != v else names.get(v, v) for v in out[id_col]]
        if name_col in out.columns:
            out[name_col] = values
        else:
            out.insert(at, name_col, values)
    return out


def parse_day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise RevOpsError(f"{option} {text!r} is not a date; use YYYY-MM-DD") from None
