"""`revops lifecycle`: run the lifecycle engine and report on its history."""

from __future__ import annotations

from typing import Any

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

lifecycle_app = typer.Typer(help="The lifecycle engine.", no_args_is_help=True)


# -- lifecycle ------------------------------------------------------------------------------------
@lifecycle_app.command("run")
@formatted
def lifecycle_run(
    fmt: FormatOpt = Format.table, config: ConfigOpt = None, warehouse: WarehouseOpt = None
) -> None:
    """Apply lifecycle events: record valid transitions, reject the rest with a reason."""
    with open_revops(config, warehouse) as ro:
        require(ro.warehouse, "lifecycle.run")
        report = ro.run_lifecycle()
    print_lifecycle_report(report)


@lifecycle_app.command("report")
@formatted
def lifecycle_report(
    fmt: FormatOpt = Format.table, config: ConfigOpt = None, warehouse: WarehouseOpt = None
) -> None:
    """Stage-to-stage conversion, time in stage and rejections, from the lifecycle history."""
    with open_revops(config, warehouse) as ro:
        frames = ro.lifecycle_analytics()
    titles = {
        "funnel": "Funnel conversion (persons reaching a stage who later reach the next)",
        "time_in_stage": "Time in stage (days; finished stints)",
        "rejections": "Rejected lifecycle events",
    }
    for key, df in frames.items():
        print_frame(df, titles[key])


def print_lifecycle_report(report: Any) -> None:
    console.print(
        f"lifecycle: {report.events:,} events → {report.accepted:,} transitions, "
        f"[yellow]{report.rejected:,} rejected[/], {report.repeats:,} repeats ignored"
    )
    if report.rejected_by_reason:
        ranked = sorted(report.rejected_by_reason.items(), key=lambda kv: -kv[1])
        rows = [{"reason": reason, "count": count} for reason, count in ranked]
        print_frame(
            rows,
            "Rejections by reason",
            name="rejections",
            kinds={"reason": "text", "count": "count"},
        )
