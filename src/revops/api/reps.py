"""`/reps`: pause, unpause, out of office and capacity of reps while the server routes.

The same audited operations as `revops route pause|unpause|ooo|capacity` (`routing.reps`),
written to rep_operations with their audit entry, then applied to the hot routing state so the
next lead already sees them. No operating-model version is involved.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from pydantic import BaseModel, Field

from revops.access import Principal
from revops.api.auth import requires
from revops.api.models import Strict
from revops.api.service import IntakeService
from revops.errors import RevOpsError
from revops.routing.reps import Operation, apply_operations, operation, record

router = APIRouter(prefix="/reps", tags=["reps"])
UserId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")]
Reason = Annotated[str | None, Field(None, max_length=500)]


class ReasonIn(Strict):
    reason: Reason = None


class OutOfOfficeIn(Strict):
    starts_at: datetime
    ends_at: datetime
    reason: Reason = None


class CapacityIn(Strict):
    daily_cap: int | None = Field(None, ge=0, le=100_000)
    weekly_cap: int | None = Field(None, ge=0, le=100_000)
    reason: Reason = None


class Rep(BaseModel):
    user_id: str
    name: str | None
    paused: bool
    out_of_office: list[tuple[datetime, datetime]]
    daily_cap: int | None = Field(description="Set by a capacity operation; null: the pool's.")
    weekly_cap: int | None


def _rep(svc: IntakeService, user_id: str) -> Rep:
    hot = svc.state()
    state = hot.routing
    user = hot.users.get(user_id)
    daily, weekly = state.caps.get(user_id, (None, None))
    return Rep(
        user_id=user_id,
        name=user.name if user else None,
        paused=user_id in state.paused,
        out_of_office=list(state.out_of_office.get(user_id, ())),
        daily_cap=daily,
        weekly_cap=weekly,
    )


@router.get("", response_model=list[Rep])
async def list_reps(
    request: Request, _: Annotated[Principal, Depends(requires("read"))]
) -> list[Rep]:
    """Every member of a routing pool, as routing sees them now."""
    svc: IntakeService = request.app.state.service
    members = dict.fromkeys(m.user_id for p in svc.model.routing.pools for m in p.members)
    return [_rep(svc, u) for u in members]


async def _apply(
    request: Request, user_id: str, op: Operation, who: Principal, **fields: Any
) -> Rep:
    svc: IntakeService = request.app.state.service
    if user_id not in svc.state().users:
        raise HTTPException(404, f"no user {user_id!r}")
    try:
        row = operation(user_id, op, who.actor, svc.clock(), **fields)
        await svc.exclusive(record, svc.wh, row, who.actor)
    except RevOpsError as exc:
        raise HTTPException(
            422, [{"loc": ["body"], "msg": str(exc), "type": "value_error"}]
        ) from None
    hot = svc.state()
    hot.routing = apply_operations(hot.routing, [row])
    return _rep(svc, user_id)


@router.post("/{user_id}/pause", response_model=Rep)
async def pause(
    user_id: UserId,
    body: ReasonIn,
    request: Request,
    who: Annotated[Principal, Depends(requires("reps.manage"))],
) -> Rep:
    """Stop routing new leads to the rep (audited)."""
    return await _apply(request, user_id, "pause", who, reason=body.reason)


@router.post("/{user_id}/unpause", response_model=Rep)
async def unpause(
    user_id: UserId,
    body: ReasonIn,
    request: Request,
    who: Annotated[Principal, Depends(requires("reps.manage"))],
) -> Rep:
    """Route new leads to the rep again (audited)."""
    return await _apply(request, user_id, "unpause", who, reason=body.reason)


@router.post("/{user_id}/ooo", response_model=Rep)
async def out_of_office(
    user_id: UserId,
    body: OutOfOfficeIn,
    request: Request,
    who: Annotated[Principal, Depends(requires("reps.manage"))],
) -> Rep:
    """Record an out-of-office range (UTC when no offset is given; audited)."""
    starts = body.starts_at if body.starts_at.tzinfo else body.starts_at.replace(tzinfo=UTC)
    ends = body.ends_at if body.ends_at.tzinfo else body.ends_at.replace(tzinfo=UTC)
    return await _apply(
        request, user_id, "ooo", who, starts_at=starts, ends_at=ends, reason=body.reason
    )


@router.post("/{user_id}/capacity", response_model=Rep)
async def capacity(
    user_id: UserId,
    body: CapacityIn,
    request: Request,
    who: Annotated[Principal, Depends(requires("reps.manage"))],
) -> Rep:
    """Set the rep's daily and weekly caps, replacing the pools' (audited)."""
    return await _apply(
        request,
        user_id,
        "capacity",
        who,
        daily_cap=body.daily_cap,
        weekly_cap=body.weekly_cap,
        reason=body.reason,
    )
