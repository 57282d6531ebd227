"""`revops serve`: the real-time intake API on the configured warehouse, with uvicorn.

The server keeps its routing state in memory, so it must be the only writer while it runs (stop
it before batch commands that write, or point both at PostgreSQL and run batch routing elsewhere
only when it is stopped). It answers from one process and holds the warehouse in another, its
applier (`revops.api.applier`), which it starts, watches and restarts.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from revops.api.applier import NICE
from revops.cli._common import ConfigOpt, WarehouseOpt, console, open_revops

SWITCH_INTERVAL = 0.001  # seconds; see serve()


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    access_log: Annotated[
        bool, typer.Option("--access-log/--no-access-log", help="Log every request.")
    ] = False,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
    applier_nice: Annotated[
        int,
        typer.Option(
            min=0,
            max=19,
            help="Lower the applier's CPU priority by this nice increment (0: as the server's); "
            "it writes the warehouse in the background, the server answers.",
        ),
    ] = NICE,
) -> None:
    """Serve POST /leads, accept/reject/assign, GET /leads/{id} and /sla/breaches.

    Create a key first (`revops keys create NAME --role marketing_ops`); docs at /docs.
    """
    import uvicorn

    from revops.api import create_app

    with open_revops(config, warehouse) as ro:
        app = create_app(ro, applier="process", applier_nice=applier_nice)
        console.print(f"revops intake API on http://{host}:{port} (docs: /docs)")
        # The journal thread runs Python between its fsyncs (settling a group, encoding it);
        # by default a thread keeps the GIL for 5 ms while the event loop, which answers,
        # waits for it. A 1 ms switch interval bounds that wait per request.
        sys.setswitchinterval(SWITCH_INTERVAL)
        uvicorn.run(
            app,
            host=host,
            port=port,
            access_log=access_log,
            log_level="warning",
            loop="uvloop",
            http="httptools",
        )
