"""Loading exports, the data model and the operating model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from revops.access import require
from revops.cli._common import (
    ConfigOpt,
    WarehouseOpt,
    bytes_callback,
    console,
    load_progress,
    open_revops,
    user_errors,
)
from revops.config import load_config
from revops.context import default_config_path

config_app = typer.Typer(help="The operating model (revops.yaml).", no_args_is_help=True)


# -- load ---------------------------------------------------------------------------------------
def load(
    file: Annotated[Path, typer.Argument(help="CSV, Parquet or JSON lines file.")],
    table: Annotated[str, typer.Option("--table", "-t", help="Canonical table to load into.")],
    preset: Annotated[
        str | None,
        typer.Option(
            "--preset",
            "-p",
            help="Source mapping: a system (salesforce, hubspot, marketo) or system.Object "
            "(salesforce.Lead); see `revops sources list`.",
        ),
    ] = None,
    encoding: Annotated[str, typer.Option(help="Text encoding of the file.")] = "utf-8",
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Load an export into the warehouse: validated, upserted by primary key, atomic."""
    with open_revops(config, warehouse) as ro, load_progress() as progress:
        require(ro.warehouse, "data.load")
        task = progress.add_task(f"loading {file.name}", total=None)
        report = ro.load(
            file, table, preset, progress=bytes_callback(progress, task), encoding=encoding
        )
    print_load_reports([report])
    if report.quarantined:
        console.print(
            f"[yellow]{report.quarantined:,} rows quarantined[/]: see table `quarantine` "
            f"(load_id {report.load_id})"
        )


def print_load_reports(reports: list[Any]) -> None:
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
    with user_errors():
        loaded = load_config(path or default_config_path())
    m = loaded.model
    console.print(
        f"[green]valid[/]: {loaded.path} (version {loaded.digest}): "
        f"{len(m.lifecycle.stages)} lifecycle stages, {len(m.metrics)} metrics"
    )
