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


@report_app.command("council")
def report_council(
    month: Annotated[str, typer.Option(help="Council month, YYYY-MM.")],
    out: Annotated[Path | None, typer.Option(help="Where to write the HTML.")] = None,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Write the monthly funnel council pack as one static HTML file (to email or print)."""
    from revops.web.static_pack import write_council_pack

    with open_revops(config, warehouse) as ro:
        path = write_council_pack(ro, month, out or Path(f"out/reports/council-{month}.html"))
    console.print(f"wrote [bold]{path}[/]")
