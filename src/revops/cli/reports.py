"""`revops report`: HTML reports."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from revops.cli._common import (
    ConfigOpt,
    WarehouseOpt,
    console,
    open_revops,
)

report_app = typer.Typer(help="HTML reports.", no_args_is_help=True)


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

    with open_revops(config, warehouse) as ro:
        path = write_funnel_report(ro, out)
    console.print(f"wrote [bold]{path}[/]")
