"""`/comp/statements/{user_id}`: a pay statement, under the same record rule as the CLI.

A key named after a rep (its name is the user id or email) reads that rep's statements and
their team's; revops_admin and finance keys read all (`revops.access.records`). Each read, and
each refusal, is audited, so it runs as an exclusive step of the service.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel

from revops.access import PermissionDenied, Principal
from revops.access.records import check_statement_read
from revops.api.auth import requires
from revops.api.service import IntakeService
from revops.context import RevOps
from revops.errors import RevOpsError

router = APIRouter(prefix="/comp", tags=["comp"])


class StatementOut(BaseModel):
    user_id: str
    period: str
    status: str
    lines: list[dict[str, Any]]
    totals: dict[str, float]
    reconciles: bool


def _statement(ro: RevOps, who: Principal, period: str, user_id: str) -> StatementOut:
    from revops.planning.comp import statement

    check_statement_read(ro.warehouse, who, period, user_id)
    st = statement(ro.warehouse, ro.model, period, user_id)
    lines = st.lines.astype(object).where(st.lines.notna(), None)
    records = [{k: (str(v) if hasattr(v, "isoformat") else v) for k, v in r.items()}
               for r in lines.to_dict("records")]  # fmt: skip
    return StatementOut(
        user_id=user_id,
        period=period,
        status=st.status,
        lines=records,
        totals=st.totals,
        reconciles=st.reconciles,
    )


@router.get(
    "/statements/{user_id}",
    response_model=StatementOut,
    responses={
        401: {"description": "Missing or bad API key."},
        403: {"description": "Not this key's statement, nor its team's."},
        404: {"description": "No such period or statement."},
    },
)
async def read_statement(
    request: Request,
    user_id: str,
    who: Annotated[Principal, Depends(requires("read"))],
    period: Annotated[str, Query(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM.")],
) -> StatementOut:
    """One rep's statement lines, totals and bookings check for a month."""
    svc: IntakeService = request.app.state.service
    try:
        return await svc.exclusive(_statement, svc.ro, who, period, user_id)
    except PermissionDenied as exc:
        raise HTTPException(403, str(exc)) from None
    except RevOpsError as exc:
        raise HTTPException(404, str(exc)) from None
