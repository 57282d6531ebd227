"""The intake API application: `create_app(ro)` wires the service, routers and security.

Every route authenticates with an API key except `GET /health` (a liveness probe, answering
only whether the process serves) and the OpenAPI description and docs (`/openapi.json`,
`/docs`), which describe the API but expose no data. `revops serve` runs this app with uvicorn.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from revops.api import leads, sla
from revops.api.models import Health
from revops.api.service import Clock, IntakeService, Unavailable
from revops.context import RevOps

DESCRIPTION = """Real-time lead intake for revops.

`POST /leads` validates a lead, finds an existing person with the same email, matches an
account, routes it through the operating model's rules, scores it and starts its SLA clock,
and answers with the owner and the reason once the lead is durable in the server's write-ahead
journal; the warehouse receives it moments later in one transaction with its audit-log entry,
and every read waits for that. Authenticate with an API key (`revops keys create NAME --role
ROLE`) sent as `Authorization: Bearer <key>` or `X-API-Key: <key>`; the key's role decides what
it may do.
"""


def create_app(ro: RevOps, *, clock: Clock | None = None, journal: Path | None = None) -> FastAPI:
    """The app over `ro`'s warehouse; `clock` fixes "now" (tests and replays); `journal` is the
    write-ahead journal folder (default: next to a DuckDB file, see `journal.default_path`)."""
    service = IntakeService(ro, clock, journal)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    app = FastAPI(
        title="revops intake API",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.service = service
    app.include_router(leads.router)
    app.include_router(sla.router)

    @app.exception_handler(Unavailable)
    async def unavailable(request: Request, exc: Unavailable) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "1"})

    @app.get("/health", response_model=Health, tags=["health"])
    async def health() -> Health:
        """Liveness probe, unauthenticated: the process serves; writes waiting, journal and
        apply figures, the warehouse's lag behind the journal (counts and timings, no data)."""
        return Health(
            status="ok",
            pending_writes=service.pending,
            commits=service.stats.as_dict(),
            journal_lag_groups=service.lag,
            last_apply_error=service.last_apply_error,
        )

    return app
