"""The `revops` command line: thin commands over the `RevOps` facade, rendered with Rich.

Each command group lives in its own module; this one assembles them. Errors a user can fix (a
bad file, a bad config, an unknown metric) print as one red line and exit 1; `--debug` shows
the traceback instead.
"""

from __future__ import annotations

from typing import Annotated

import typer

import revops.cli.dedupe  # registers `quality dedupe`
import revops.cli.identity  # noqa: F401
from revops.cli._common import state
from revops.cli.access import register as register_access
from revops.cli.attribution import attribution_app
from revops.cli.automation import register as register_automation
from revops.cli.data import config_app, load, tables
from revops.cli.demo import demo
from revops.cli.forecast import forecast_app
from revops.cli.governance import register as register_governance
from revops.cli.lifecycle import lifecycle_app
from revops.cli.metrics import metrics_app
from revops.cli.pipeline import pipeline_app  # also registers `report pipeline`
from revops.cli.planning import comp_app, quota_app, territory_app
from revops.cli.privacy import register as register_privacy
from revops.cli.quality import quality_app
from revops.cli.quarantine import quarantine_app
from revops.cli.reports import report_app
from revops.cli.revenue import revenue_app
from revops.cli.routing import routing_app
from revops.cli.scoring import score_app
from revops.cli.serve import serve
from revops.cli.sources import sources_app
from revops.cli.sync import register as register_sync
from revops.cli.users import register as register_users

app = typer.Typer(help="revops: one operating model, one revenue warehouse.", no_args_is_help=True)


@app.callback()
def main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
) -> None:
    state["debug"] = debug


app.command()(demo)
app.command()(load)
app.command()(tables)
app.add_typer(metrics_app, name="metrics")
app.add_typer(lifecycle_app, name="lifecycle")
app.add_typer(config_app, name="config")
app.add_typer(sources_app, name="sources")
app.add_typer(report_app, name="report")
app.add_typer(quality_app, name="quality")
app.add_typer(quarantine_app, name="quarantine")
app.add_typer(revenue_app, name="revenue")
app.add_typer(attribution_app, name="attribution")
app.add_typer(score_app, name="score")
app.add_typer(routing_app, name="route")
app.add_typer(territory_app, name="territory")
app.add_typer(quota_app, name="quota")
app.add_typer(comp_app, name="comp")
app.add_typer(pipeline_app, name="pipeline")
app.add_typer(forecast_app, name="forecast")
app.command()(serve)
register_access(app)
register_governance(app)
register_privacy(app)
register_automation(app)
register_users(app)
register_sync(app)

__all__ = ["app"]
