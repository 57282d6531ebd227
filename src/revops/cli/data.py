"""Loading exports, the data model and the operating model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from revops.access import require
from revops.cli._common import (
    ConfigOpt,
    Format,
    FormatOpt,
    Kind,
    WarehouseOpt,
    bytes_callback,
    console,
    formatted,
    load_progress,
    open_revops,
    print_frame,
    user_errors,
)
from revops.config import load_config
from revops.config.loader import LoadedConfig
from revops.context import default_config_path, default_warehouse_url

config_app = typer.Typer(help="The operating model (revops.yaml).", no_args_is_help=True)


# -- load ---------------------------------------------------------------------------------------
@formatted
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
    fmt: FormatOpt = Format.table,
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
    for line in report.summary().splitlines()[1:]:
        console.print(line, markup=False, highlight=False)
    if report.quarantined:
        console.print(
            f"[yellow]{report.quarantined:,} rows quarantined[/]: "
            f"revops quarantine list --load {report.load_id}"
        )


def print_load_reports(reports: list[Any]) -> None:
    """The load summary, one row per file, in the running command's format."""
    rows = [
        {
            "file": Path(r.file).name,
            "table": r.table,
            "rows_in": r.rows_in,
            "inserted": r.inserted,
            "updated": r.updated,
            "unchanged": r.unchanged,
            "quarantined": r.quarantined,
            "repeated_ids": r.duplicates,
        }
        for r in reports
    ]
    counts = ("rows_in", "inserted", "updated", "unchanged", "quarantined", "repeated_ids")
    kinds: dict[str, Kind] = {"file": "text", "table": "text", **dict.fromkeys(counts, "count")}
    print_frame(rows, "Load summary", name="loads", kinds=kinds, keep=("file", "table"))


# -- tables / config ------------------------------------------------------------------------------
@formatted
def tables(
    markdown: Annotated[bool, typer.Option(help="Print the data model as Markdown.")] = False,
    fmt: FormatOpt = Format.table,
) -> None:
    """The canonical data model: tables, keys and relations."""
    from revops.warehouse.schema import TABLES, render_markdown

    if markdown:
        print(render_markdown())
        return
    rows = [
        {
            "table": t.name,
            "primary_key": ", ".join(t.primary_key),
            "columns": len(t.columns),
            "relations": ", ".join(f"{r.column}→{r.table}" for r in t.relations),
            "description": t.description,
        }
        for t in TABLES
    ]
    print_frame(
        rows,
        "Canonical tables",
        name="tables",
        kinds={"columns": "count"},
        keep=("table", "primary_key", "description"),
    )


@config_app.command("validate")
def config_validate(
    path: Annotated[Path | None, typer.Argument()] = None, warehouse: WarehouseOpt = None
) -> None:
    """Validate an operating-model file and summarize it; with a warehouse holding users,
    every user id routing names must be one of them."""
    with user_errors():
        loaded = load_config(path or default_config_path())
        _check_users(loaded, warehouse)
    m = loaded.model
    console.print(
        f"[green]valid[/]: {loaded.path} (version {loaded.digest}): "
        f"{len(m.lifecycle.stages)} lifecycle stages, {len(m.metrics)} metrics"
    )


def _check_users(loaded: LoadedConfig, warehouse: str | None) -> None:
    """Unknown user ids in pools, owners and the calendar are errors once users are loaded
    (`config.users`, each with its line); without a warehouse (or users) they cannot be
    checked, and the output says so."""
    url = warehouse or default_warehouse_url()
    from revops.warehouse.spark import is_spark_url

    local = not url.startswith(("postgresql://", "postgres://")) and not is_spark_url(url)
    if local and not Path(url.removeprefix("duckdb://")).exists():
        console.print(f"[yellow]users not checked[/]: no warehouse at {url}")
        return
    from revops.config.users import check_users
    from revops.people import user_names
    from revops.warehouse import Warehouse

    with Warehouse.connect(url) as wh:
        known = user_names(wh)
    if not known:
        console.print("[yellow]users not checked[/]: the warehouse has no users yet")
        return
    check_users(loaded, known)
