"""`/leads`: intake, accept, reject, manual assignment and the full decision trail of a lead."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Path, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.types import Message, Receive, Scope, Send

from revops.access import Principal
from revops.api import operations
from revops.api.auth import authenticate, requires
from revops.api.idempotency import IdempotencyConflict
from revops.api.intake import ErasedPerson, FieldRefused, clean
from revops.api.models import (
    Assigned,
    AssignIn,
    LeadDetail,
    LeadIn,
    LeadOut,
    Owner,
    RejectIn,
    Responded,
)
from revops.api.service import IntakeService

router = APIRouter(prefix="/leads", tags=["leads"])

PersonId = Annotated[  # no control characters: a NUL cuts the SQL literal it ends up in
    str,
    Path(
        min_length=1,
        max_length=128,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="persons.person_id",
    ),
]
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing, malformed, unknown or revoked API key."},
    403: {"description": "The key's role may not do this."},
}


def service(request: Request) -> IntakeService:
    svc: IntakeService = request.app.state.service
    return svc


def field_error(loc: list[str], message: str, kind: str = "value_error") -> HTTPException:
    """A 422 shaped like FastAPI's own validation errors, naming the field."""
    return HTTPException(422, [{"loc": loc, "msg": message, "type": kind}])


def known(svc: IntakeService, person_id: str) -> None:
    if person_id not in svc.state().persons:
        raise HTTPException(404, f"no person {person_id!r}")


async def create_lead(
    lead: LeadIn,
    request: Request,
    principal: Annotated[Principal, Depends(requires("leads.create"))],
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=200,
            description="Retrying with the same key and body returns the first answer.",
        ),
    ] = None,
) -> Response:
    """201 with the new person's owner (or queue), the rule and reason, scores and SLA due
    time; 200 with `duplicate_of` when the email is already known (nothing new is created)."""
    return await _intake(request, lead, principal, idempotency_key)


async def _intake(
    request: Request, lead: LeadIn, principal: Principal, idempotency_key: str | None
) -> Response:
    svc = service(request)
    try:
        lead = clean(lead, svc.model)
    except FieldRefused as exc:
        raise field_error(["body", exc.field], str(exc)) from None
    try:
        stored, replayed = await svc.create_lead(lead, principal, idempotency_key)
    except IdempotencyConflict:
        raise field_error(
            ["header", "Idempotency-Key"],
            "this Idempotency-Key was already used with a different request body",
            "idempotency_conflict",
        ) from None
    except ErasedPerson as exc:
        raise field_error(["body", "email"], str(exc), "erased_person") from None
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    if stored.raw is not None:  # encoded by the journal thread (`Stored.raw`)
        return Response(stored.raw, stored.status_code, headers, "application/json")
    return JSONResponse(stored.body, status_code=stored.status_code, headers=headers)


async def _direct(request: Request) -> Response | None:
    """The answer to a plain, well-formed `POST /leads`, or None to let FastAPI take it.

    FastAPI resolves an endpoint's parameters through its dependency machinery (the key's two
    security schemes, the header, the body, each a dependency with its own cache key and
    validation pass), which cost about as much CPU as admitting the lead itself. The request
    every client sends (`Authorization: Bearer`, `Content-Type: application/json`, a body that
    is a valid `LeadIn`, an optional well-formed Idempotency-Key) is read here directly, with
    the same JSON decoding, the same model validation and the same `authenticate`; anything
    else (another auth header, a bad body, a bad header) goes the full way, so every refusal
    is FastAPI's own, word for word. A bad body never gets here before its key is checked:
    the full way checks the key first too.
    """
    headers = request.headers
    scheme, _, token = (headers.get("authorization") or "").partition(" ")
    token = token.strip()
    key = headers.get("idempotency-key")
    if (
        scheme.lower() != "bearer"
        or not token
        or headers.get("content-type") != "application/json"
        or (key is not None and not 0 < len(key) <= 200)
    ):
        return None
    try:
        lead = LeadIn.model_validate(json.loads(await request.body()))
    except (ValueError, ValidationError):  # not JSON (JSONDecodeError), or not a lead
        return None
    principal = await authenticate(request, token, "leads.create")
    return await _intake(request, lead, principal, key)


class IntakeRoute(APIRoute):
    """`POST /leads` answered by `_direct` when it can, by FastAPI's handler otherwise; the
    route, its OpenAPI description and its refusals stay FastAPI's."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        full = super().get_route_handler()

        async def handler(request: Request) -> Response:
            if request.scope.get(DIRECT_TRIED):  # `serve_direct` asked already: it was None
                return await full(request)
            answer = await _direct(request)
            return answer if answer is not None else await full(request)

        return handler


DIRECT_TRIED = "revops.direct_tried"  # scope key: `_direct` declined this request already


def takes_directly(scope: Scope) -> bool:
    """Whether `serve_direct` may take this request ahead of the app's middleware stack."""
    return (
        scope["type"] == "http"
        and scope["method"] == "POST"
        and scope["path"] == "/leads"
        and not scope.get("root_path")
    )


async def serve_direct(app: FastAPI, scope: Scope, receive: Receive, send: Send) -> None:
    """`POST /leads` answered ahead of the app's middleware stack (`api.app.IntakeApp`).

    Starlette's and FastAPI's middleware (error, telemetry, body limit, exception and exit
    stack layers) and the router's matching cost about a sixth of the answering thread's CPU
    per lead, and that thread's CPU is what queues the answers at 500 leads/s. `_direct` reads
    the request itself already; here it is called before those layers, with the exceptions
    it may raise answered by the app's own handlers, as the exception layer would (a 401, 403
    or 429 from the key check, a 422 from `clean`, a 503). A request `_direct` declines goes
    the full way with its body replayed, and is not offered to `_direct` again.
    """
    scope["app"] = app
    request = Request(scope, receive)
    try:
        answer = await _direct(request)
    except Exception as exc:
        handler = _handler(app, exc)
        if handler is None:
            raise
        answer = await handler(request, exc)
    if answer is not None:
        await answer(scope, receive, send)
        return
    body = await request.body()
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    scope[DIRECT_TRIED] = True
    await app.full_call(scope, replay, send)  # type: ignore[attr-defined]


def _handler(app: FastAPI, exc: Exception) -> Callable[..., Any] | None:
    """The app's handler for `exc` (by its class, nearest first), as the exception layer
    chooses it; None for an error the app leaves to the server (a 500)."""
    for cls in type(exc).__mro__:
        if cls in (Exception, BaseException):
            return None
        handler = app.exception_handlers.get(cls)
        if handler is not None:
            return handler
    return None


router.add_api_route(
    "",
    create_lead,
    methods=["POST"],
    status_code=201,
    response_model=LeadOut,
    responses={
        **_ERRORS,
        200: {"model": LeadOut, "description": "The email belongs to an existing person."},
        503: {"description": "The lead was not stored; retry with the same Idempotency-Key."},
    },
    summary="Take in a lead: dedupe, match, score, route and start its SLA clock",
    route_class_override=IntakeRoute,
)


@router.get("/{person_id}", response_model=LeadDetail, responses=_ERRORS)
async def get_lead(
    person_id: PersonId,
    request: Request,
    _: Annotated[Principal, Depends(requires("read"))],
) -> LeadDetail:
    """The person, scores, every routing decision with each rule evaluated, SLA clocks,
    lifecycle history and the audit entries about the lead."""
    svc = service(request)
    try:
        return await svc.read(operations.detail, svc.wh, person_id)
    except operations.NotFound as exc:
        raise HTTPException(404, str(exc)) from None


async def _respond(
    request: Request, person_id: str, outcome: str, reason: str | None, who: Principal
) -> Responded:
    svc = service(request)
    known(svc, person_id)
    try:
        return await svc.exclusive(
            operations.respond,
            svc.wh,
            svc.model,
            person_id,
            outcome,
            reason,
            who.actor,
            svc.clock(),
        )
    except operations.Refused as exc:
        detail = {"error": "LifecycleRefused", "message": str(exc)}
        raise HTTPException(409, detail) from None
    except operations.Conflict as exc:
        raise HTTPException(409, str(exc)) from None


@router.post(
    "/{person_id}/accept",
    response_model=Responded,
    responses={
        **_ERRORS,
        404: {"description": "No such person."},
        409: {"description": "No running SLA clock, or the lifecycle refuses the stage."},
    },
)
async def accept_lead(
    person_id: PersonId,
    request: Request,
    principal: Annotated[Principal, Depends(requires("leads.respond"))],
) -> Responded:
    """The owner accepts: the SLA clock stops and the lead moves to SAL through the lifecycle."""
    return await _respond(request, person_id, "accepted", None, principal)


@router.post(
    "/{person_id}/reject",
    response_model=Responded,
    responses={
        **_ERRORS,
        404: {"description": "No such person."},
        409: {"description": "No running SLA clock, or the lifecycle refuses the stage."},
    },
)
async def reject_lead(
    person_id: PersonId,
    body: RejectIn,
    request: Request,
    principal: Annotated[Principal, Depends(requires("leads.respond"))],
) -> Responded:
    """The owner rejects with a listed reason: the clock stops and the lead re-enters the
    lifecycle at the reason's stage (routing.sla.reentry)."""
    reasons = service(request).model.routing.sla.rejection_reasons
    if body.reason not in reasons:
        raise field_error(["body", "reason"], f"reason must be one of: {', '.join(reasons)}")
    return await _respond(request, person_id, "rejected", body.reason, principal)


@router.post(
    "/{person_id}/assign",
    response_model=Assigned,
    responses={**_ERRORS, 404: {"description": "No such person."}},
)
async def assign_lead(
    person_id: PersonId,
    body: AssignIn,
    request: Request,
    principal: Annotated[Principal, Depends(requires("routing.override"))],
) -> Assigned:
    """Manual routing override (revops_admin): a new decision replacing the last one, a new
    SLA clock for the new owner, recorded in the audit log with the reason."""
    svc = service(request)
    known(svc, person_id)
    hot = svc.state()
    user = hot.users.get(body.owner_id)
    if user is None or not user.active:
        raise field_error(["body", "owner_id"], f"{body.owner_id!r} is not an active user")
    at = svc.clock()
    try:
        decision_id, previous, sla = await svc.exclusive(
            operations.assign,
            svc.wh,
            svc.model,
            hot.persons[person_id].decision_id if person_id in hot.persons else None,
            hot.routing,
            person_id,
            body.owner_id,
            body.reason,
            principal.actor,
            at,
        )
    except operations.NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    svc.record_override(person_id, body.owner_id, body.reason, decision_id, at)
    return Assigned(
        person_id=person_id,
        decision_id=decision_id,
        owner=Owner(id=body.owner_id, name=user.name),
        replaces=previous,
        sla=sla,
    )
