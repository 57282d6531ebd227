"""`revops quarantine`: review refused rows and load them again once fixed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from revops.access import require
from revops.cli._common import (
    ConfigOpt,
    Format,
    FormatOpt,
    WarehouseOpt,
    console,
    formatted,
    open_revops,
    print_frame,
)
from revops.cli.data import print_load_reports

quarantine_app = typer.Typer(
    help="Rows ingestion refused: list, show, export, replay.", no_args_is_help=True
)

LoadArg = Annotated[str, typer.Argument(help="The load id (see `revops quarantine list`).")]


@quarantine_app.command("list")
@formatted
def quarantine_list(
    load_id: Annotated[str | None, typer.Option("--load", help="Only this load.")] = None,
    fmt: FormatOpt = Format.table,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Loads with quarantined rows: how many, how many still wait, the commonest field."""
    from revops.ingest.quarantine import pending_loads

    with open_revops(config, warehouse) as ro:
        loads = [p for p in pending_loads(ro.warehouse) if load_id in (None, p.load_id)]
    rows = [
        {
            "load_id": p.load_id,
            "table": p.table,
            "file": Path(p.file).name,
            "rows": p.rows,
            "pending": p.pending,
            "commonest_field": p.top_field,
        }
        for p in loads
    ]
    print_frame(
        rows,
        "Quarantine",
        name="quarantine",
        kinds={"load_id": "text", "rows": "count", "pending": "count"},
        keep=("load_id", "table", "rows", "pending"),
    )


@quarantine_app.command("show")
@formatted
def quarantine_show(
    load_id: LoadArg,
    limit: Annotated[int, typer.Option(help="Rows shown.")] = 50,
    fmt: FormatOpt = Format.table,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """One load's pending rows: row number, field, every reason, the raw values."""
    from revops.ingest.quarantine import load_rows

    with open_revops(config, warehouse) as ro:
        require(ro.warehouse, "data.load")  # raw rows hold PII: loaders only
        rows = load_rows(ro.warehouse, load_id)
    shown = [
        {
            "row": r["row_number"],
            "field": r["field"],
            "reason": r["reason"],
            "raw": json.dumps(json.loads(r["raw"]), ensure_ascii=False),
        }
        for r in rows.slice(0, limit).to_pylist()
    ]
    print_frame(
        shown,
        f"Quarantine of load {load_id}",
        name="rows",
        kinds={"row": "text"},
        keep=("row", "field", "reason", "raw"),
    )
    if rows.num_rows > limit:
        console.print(f"{rows.num_rows - limit:,} more; `revops quarantine export` writes them all")


@quarantine_app.command("export")
def quarantine_export(
    load_id: LoadArg,
    out: Annotated[Path, typer.Option("--out", "-o", help="CSV file to write (mode 0600).")],
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Write a load's pending rows as an editable CSV; fix it, then `quarantine replay --file`."""
    from revops.ingest.quarantine import load_rows, to_csv
    from revops.privacy.crypto import write_private

    with open_revops(config, warehouse) as ro:
        require(ro.warehouse, "data.load")
        rows = load_rows(ro.warehouse, load_id)
        encrypted = write_private(out, to_csv(rows))
    how = "encrypted, " if encrypted else ""
    console.print(f"wrote {rows.num_rows:,} rows to {out} ({how}mode 0600)")


@quarantine_app.command("replay")
@formatted
def quarantine_replay(
    load_id: LoadArg,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="The exported CSV, fixed.")
    ] = None,
    fmt: FormatOpt = Format.table,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Load a load's pending rows again: as stored (after fixing the cause elsewhere) or from
    a fixed export. Rows that load are marked replayed; the others keep waiting."""
    from revops.ingest.quarantine import replay

    with open_revops(config, warehouse) as ro:
        require(ro.warehouse, "data.load")
        report = replay(ro.warehouse, load_id, ro.load, file)
    print_load_reports([report])
    taken = report.loaded
    console.print(f"{taken:,} rows taken in; {report.quarantined:,} still wait in load {load_id}")
