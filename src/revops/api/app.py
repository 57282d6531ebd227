"""The intake API application: `create_app(ro)` wires the service, routers and security.

Every API route authenticates with an API key (the web workspace's pages, `revops.web`, with a
person's session) except `GET /health` (a liveness probe, answering
only whether the process serves) and the OpenAPI description and docs (`/openapi.json`,
`/docs`), which describe the API but expose no data. `revops serve` runs this app with uvicorn.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.telemetry import TelemetryConfig
from pydantic import BaseModel
from starlette.types import Receive, Scope, Send

from revops.access import Principal, revoke_key
from revops.api import comp, leads, reps, sla
from revops.api.applier import NICE
from revops.api.auth import requires
from revops.api.models import Health
from revops.api.service import Clock, IntakeService, Mode, Unavailable
from revops.context import RevOps
from revops.errors import RevOpsError

DESCRIPTION = """Real-time lead intake for revops.

`POST /leads` validates a lead, finds an existing person with the same email, matches an
account, routes it through the operating model's rules, scores it and starts its SLA clock,
and answers with the owner and the reason once the lead is durable in the server's write-ahead
journal; the warehouse receives it moments later in one transaction with its audit-log entry,
and every read waits for that. Authenticate with an API key (`revops keys create NAME --role
ROLE`) sent as `Authorization: Bearer <key>` or `X-API-Key: <key>`; the key's role decides what
it may do.
"""


# FastAPI asks OpenTelemetry for its tracer, meter and logger providers on every request, a
# twentieth of the answering thread's CPU per lead; revops configures none, so unless the
# environment does (OTEL_* variables, as `opentelemetry-instrument` sets), it is off.
_NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


def _otel_configured() -> bool:
    return any(name.startswith("OTEL_") for name in os.environ)


class IntakeApp(FastAPI):
    """The FastAPI app, with `POST /leads` taken ahead of its middleware stack
    (`leads.serve_direct`) while nothing needs that stack on the way: no telemetry, no user
    middleware, no body limit, no root path."""

    direct = True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.direct
            and not self.user_middleware
            and self.max_body_size is None
            and not self.root_path
            and leads.takes_directly(scope)
        ):
            await leads.serve_direct(self, scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    async def full_call(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The request through the whole stack (a lead `serve_direct` handed over)."""
        await super().__call__(scope, receive, send)


class Revoked(BaseModel):
    key_id: str
    revoked: bool


def create_app(
    ro: RevOps,
    *,
    clock: Clock | None = None,
    journal: Path | None = None,
    applier: Mode | None = None,
    applier_nice: int = NICE,
) -> FastAPI:
    """The app over `ro`'s warehouse; `clock` fixes "now" (tests and replays); `journal` is the
    write-ahead journal folder (default: next to a DuckDB file, see `journal.default_path`);
    `applier` where the warehouse is held (`IntakeService`; `revops serve` uses a child
    process), `applier_nice` how far that process's CPU priority is lowered."""
    service = IntakeService(ro, clock, journal, mode=applier, applier_nice=applier_nice)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    telemetry = _otel_configured()
    app = IntakeApp(
        title="revops intake API",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        telemetry=None if telemetry else _NO_TELEMETRY,
    )
    app.direct = not telemetry  # traced requests take the whole stack, telemetry included
    app.state.service = service
    app.include_router(leads.router)
    app.include_router(sla.router)
    app.include_router(comp.router)
    app.include_router(reps.router)
    from revops.web import install  # the web workspace's pages, on the same app and service

    install(app)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        """FastAPI's 422 without the rejected input: its default echoes the input, which may
        be a lone surrogate (valid JSON `"\\ud800"`, no UTF-8 encoding) or NaN / 1e400 (no
        JSON encoding), and either made the error answer itself a 500."""
        errors = [{k: v for k, v in e.items() if k not in ("input", "ctx")} for e in exc.errors()]
        body = {"detail": jsonable_encoder(errors)}
        text = json.dumps(body, ensure_ascii=True, allow_nan=False, default=str)
        return Response(text, status_code=422, media_type="application/json")

    @app.exception_handler(Unavailable)
    async def unavailable(request: Request, exc: Unavailable) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "1"})

    @app.delete(
        "/keys/{key_id}",
        response_model=Revoked,
        tags=["keys"],
        responses={404: {"description": "No such key."}},
    )
    async def revoke(
        key_id: Annotated[str, PathParam(pattern=r"^[A-Za-z0-9]{1,64}$")],
        principal: Principal = Depends(requires("access.manage")),
    ) -> Revoked:
        """Revoke an API key now (audited). A running server on DuckDB holds the warehouse
        file, so this is how a key is revoked without stopping it; `revops keys revoke` does
        the same when no server runs."""
        try:
            await service.exclusive(revoke_key, service.wh, key_id, principal.actor)
        except RevOpsError as exc:
            raise HTTPException(404, str(exc)) from None
        finally:
            service.auth.forget(key_id)
        return Revoked(key_id=key_id, revoked=True)

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
            applier_pid=service.applier_pid if service.mode == "process" else None,
        )

    return app
