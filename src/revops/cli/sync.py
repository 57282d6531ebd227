"""`revops sync plan | export | push | history`: the fields revops owns, written back to the
CRM and the MAP in each system's own import format (see revops.automation.writeback)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

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
from revops.errors import RevOpsError

if TYPE_CHECKING:
    from revops.automation.writeback import ObjectPlan

sync_app = typer.Typer(
    help="Write-back: owners, stages, scores and flags to the CRM and MAP.", no_args_is_help=True
)

SystemOpt = Annotated[
    str, typer.Option("--system", "-s", help="Source system: salesforce, hubspot or marketo.")
]
ObjectOpt = Annotated[
    str | None, typer.Option("--object", help="Only this object (Lead, contacts); default all.")
]


@contextmanager
def _known() -> Iterator[None]:
    """An unknown system or object is a one-line error, not a traceback."""
    try:
        yield
    except KeyError as exc:
        raise RevOpsError(str(exc.args[0])) from None


def _summary(plans: Sequence[ObjectPlan]) -> None:
    """The write-back per object, as a table in the command's format."""
    rows = [
        {
            "object": f"{p.system}.{p.object}",
            "records": len(p.rows),
            "changed_values": len(p.changes),
            "without_a_key": p.unkeyed,
        }
        for p in plans
    ]
    print_frame(
        rows,
        "write-back",
        name="write_back",
        kinds={"object": "text", "records": "count", "changed_values": "count",
               "without_a_key": "count"},
    )  # fmt: skip


@sync_app.command("plan")
@formatted
def sync_plan(
    system: SystemOpt,
    object_: ObjectOpt = None,
    show: Annotated[int, typer.Option(help="Rows of each file to print.")] = 5,
    fmt: FormatOpt = Format.table,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """What the next export or push would send: records whose owned fields changed since the
    last sync, per object, and the first rows of each file. Writes nothing."""
    from revops.automation.writeback import plan

    with open_revops(config, warehouse) as ro, _known():
        plans = plan(ro.warehouse, ro.model, system, object_)
    _summary(plans)
    for p in plans:  # the files' first rows are for people: csv and json carry the summary
        if p.rows and show and fmt is Format.table:
            console.print(f"[bold]{p.system}.{p.object}[/]", highlight=False)
            console.print(
                "\n".join(p.csv().splitlines()[: show + 1]), highlight=False, markup=False
            )


@sync_app.command("export")
@formatted
def sync_export(
    system: SystemOpt,
    out: Annotated[Path, typer.Option(help="Folder for the import files (mode 0600 each).")],
    object_: ObjectOpt = None,
    fmt: FormatOpt = Format.table,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Write one import file per object with changes (`<system>.<object>.csv`) and mark them
    synced: the next export holds only what changes after this one."""
    from revops.automation.writeback import plan, record
    from revops.privacy.crypto import write_owner_only

    with open_revops(config, warehouse) as ro, _known():
        actor = require(ro.warehouse, "sync.write").actor
        plans = [p for p in plan(ro.warehouse, ro.model, system, object_) if p.rows]
        out.mkdir(parents=True, exist_ok=True)
        files: dict[str, str] = {}
        for p in plans:
            target = out / f"{p.system}.{p.object}.csv"
            write_owner_only(target, p.csv().encode("utf-8"))
            files[p.object] = str(target)
        batches, _ = record(ro.warehouse, plans, datetime.now(UTC), files=files, actor=actor)
        if batches:
            ro.warehouse.write_many(batches)
    _summary(plans)
    for path in files.values():
        console.print(f"[green]✓[/] {path}", highlight=False)
    if not plans:
        console.print("nothing changed since the last sync")


@sync_app.command("push")
@formatted
def sync_push(
    system: SystemOpt,
    object_: ObjectOpt = None,
    fmt: FormatOpt = Format.table,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Queue each object's file for the endpoint `automations.sync` names for the system, in
    the outbox (same transaction as the ledger), then send it in one dispatcher pass; what
    fails is retried by `automate run` / `watch` with backoff, then dead-lettered."""
    from revops.automation.dispatcher import dispatch, holder_id, release
    from revops.automation.writeback import plan, record

    with open_revops(config, warehouse) as ro, _known():
        actor = require(ro.warehouse, "sync.write").actor
        endpoint = ro.model.automations.sync.get(system)
        if endpoint is None:
            raise RevOpsError(
                f"no endpoint for {system}: name one under automations.sync "
                f"(e.g. `sync: {{{system}: crm_sync}}`)"
            )
        plans = [p for p in plan(ro.warehouse, ro.model, system, object_) if p.rows]
        batches, runs = record(
            ro.warehouse, plans, datetime.now(UTC), endpoint=endpoint, actor=actor
        )
        if batches:
            ro.warehouse.write_many(batches)
        holder = holder_id()
        try:
            report = dispatch(ro.warehouse, ro.model, holder)
        finally:
            release(ro.warehouse, holder)
    _summary(plans)
    if not plans:
        console.print("nothing changed since the last sync")
    console.print(
        f"queued {len(runs)} files for {endpoint}; this pass: delivered {report.delivered}, "
        f"retrying {report.retrying}, dead {report.dead}"
        + ("" if report.leased else " (another dispatcher holds the lease: it will send them)")
    )


@sync_app.command("history")
@formatted
def sync_history(
    system: Annotated[str | None, typer.Option("--system", "-s", help="Only this system.")] = None,
    limit: Annotated[int, typer.Option(help="Most recent runs to show.")] = 20,
    fmt: FormatOpt = Format.table,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Past write-back runs: exported files and pushes with their delivery status."""
    from revops.automation.writeback import history

    with open_revops(config, warehouse) as ro:
        rows = history(ro.warehouse, system)[:limit]
    if not rows and fmt is Format.table:
        console.print("no write-back runs yet")
        return
    out = []
    for r in rows:
        where = r["file"] or f"{r['status']} after {r['attempts']} attempts"
        if r["last_error"] and r["status"] != "delivered":
            where += f" ({r['last_error']})"
        out.append(
            {
                "when_utc": r["created_at"],
                "object": f"{r['system']}.{r['object']}",
                "mode": r["mode"],
                "records": r["records"],
                "changes": r["changes"],
                "file_or_status": where,
            }
        )
    print_frame(
        out,
        "write-back runs",
        name="runs",
        kinds={"when_utc": "date", "object": "text", "mode": "text", "records": "count",
               "changes": "count", "file_or_status": "text"},
        keep=("when_utc", "object", "file_or_status"),
    )  # fmt: skip
