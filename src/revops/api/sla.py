"""`/sla/breaches`: running speed-to-lead clocks past their deadline."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from revops.access import Principal
from revops.api import operations
from revops.api.auth import requires
from revops.api.models import Breaches
from revops.api.service import IntakeService

router = APIRouter(prefix="/sla", tags=["sla"])

_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(2200, 1, 1, tzinfo=UTC)


@router.get(
    "/breaches",
    response_model=Breaches,
    responses={401: {"description": "Missing or bad API key."}, 403: {"description": "Denied."}},
)
async def list_breaches(
    request: Request,
    _: Annotated[Principal, Depends(requires("read"))],
    at: Annotated[
        datetime | None,
        Query(description="As of this instant (ISO 8601; UTC when no offset); default now."),
    ] = None,
) -> Breaches:
    """Open clocks whose deadline has passed, most overdue first."""
    svc: IntakeService = request.app.state.service
    when = svc.clock() if at is None else at if at.tzinfo else at.replace(tzinfo=UTC)
    try:
        inside = _EARLIEST <= when <= _LATEST
    except (OverflowError, ValueError):
        inside = False
    if not inside:
        raise HTTPException(
            422,
            [
                {
                    "loc": ["query", "at"],
                    "msg": "at must be between 1970 and 2200",
                    "type": "value_error",
                }
            ],
        )
    return await svc.read(operations.breaches, svc.wh, when)
