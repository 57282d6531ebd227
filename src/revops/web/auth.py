"""Sign-in, sign-out and the session every page needs.

A page without a live session redirects to /signin (a 303, with where to come back to); a POST
without the session's CSRF token is refused (403). Sign-in failures are counted per (login,
client address) by the API keys' `FailureLimiter`: past five in a minute the pair is refused
(429) without another argon2 check. The sign-in form itself carries a token too, matched
against a short-lived cookie, so another site cannot sign a browser in as someone else.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from revops.access.passwords import matches, normal_login, role_of, stored_hash
from revops.access.principal import Principal
from revops.access.sessions import (
    Session,
    csrf_ok,
    end_session,
    find_session,
    open_session,
    record_failure,
    retry_after,
)
from revops.api.service import IntakeService
from revops.web.render import render

COOKIE = "revops_session"
SIGNIN_COOKIE = "revops_signin"
router = APIRouter(include_in_schema=False)


class SignInRequired(Exception):
    """No live session: answered with a redirect to the sign-in page."""

    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.target = target


def service(request: Request) -> IntakeService:
    svc: IntakeService = request.app.state.service
    return svc


async def current(request: Request) -> Session | None:
    sid = request.cookies.get(COOKIE)
    if not sid:
        return None
    svc = service(request)
    return await svc.db(find_session, svc.wh, sid)


async def page_session(request: Request) -> Session:
    """The session of a page request, or a redirect to sign in."""
    found = await current(request)
    if found is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(target)
    return found


async def form_session(
    request: Request, csrf_token: Annotated[str | None, Form()] = None
) -> Session:
    """The session of a POST form, whose CSRF token must be the session's (403 otherwise)."""
    found = await current(request)
    if found is None:
        raise HTTPException(401, "sign in first")
    if not csrf_ok(found, csrf_token):
        raise HTTPException(403, "missing or wrong CSRF token; reload the page")
    return found


def safe_next(target: str | None) -> str:
    """Only a path on this site (not //host, not a scheme) is a place to return to."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _cookie_flags(request: Request) -> dict[str, object]:
    return {"httponly": True, "samesite": "lax", "secure": request.url.scheme == "https"}


@router.get("/signin", response_class=HTMLResponse)
async def signin_page(request: Request, next: str = "/", error: str = "") -> Response:
    token = secrets.token_urlsafe(24)
    page = render(
        "signin.html", request, None, next=safe_next(next), token=token, error=error[:200]
    )
    page.set_cookie(SIGNIN_COOKIE, token, max_age=900, path="/signin", **_cookie_flags(request))  # type: ignore[arg-type]
    return page


@router.post("/signin")
async def signin(
    request: Request,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1024)],
    token: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """Check the password; on success open a session and go where the person was going."""
    cookie = request.cookies.get(SIGNIN_COOKIE, "")
    if not token or not cookie or not secrets.compare_digest(token, cookie):
        raise HTTPException(403, "the sign-in form expired; reload it")
    login = normal_login(email)
    client = request.client.host if request.client is not None else ""
    svc = service(request)
    wait = await svc.db(retry_after, svc.wh, login, client)
    if wait is not None:
        raise HTTPException(
            429,
            "too many failed sign-ins; try again later",
            headers={"Retry-After": str(max(1, round(wait)))},
        )
    # the hash is read on the warehouse thread, argon2 runs on another: intake writes go on
    stored = await svc.db(stored_hash, svc.wh, login)
    ok = await asyncio.to_thread(matches, stored, password)
    principal = Principal(login, await svc.db(role_of, svc.wh, login)) if ok else None
    if principal is None:
        await svc.exclusive(record_failure, svc.wh, login, client)
        back = f"/signin?error={quote('wrong email or password')}&next={quote(safe_next(next))}"
        return RedirectResponse(back, status_code=303)
    sid, _ = await svc.exclusive(open_session, svc.wh, principal)
    out = RedirectResponse(safe_next(next), status_code=303)
    out.set_cookie(COOKIE, sid, path="/", **_cookie_flags(request))  # type: ignore[arg-type]
    out.delete_cookie(SIGNIN_COOKIE, path="/signin")
    return out


@router.post("/signout")
async def signout(request: Request, session: Annotated[Session, Depends(form_session)]) -> Response:
    svc = service(request)
    await svc.exclusive(end_session, svc.wh, request.cookies.get(COOKIE, ""))
    out = RedirectResponse("/signin", status_code=303)
    out.delete_cookie(COOKIE, path="/")
    return out
