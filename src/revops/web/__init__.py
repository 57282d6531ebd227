"""The web workspace: sign-in for people, the monthly funnel council pack, and a page per view
of the reports with filters, drill-down to records and CSV export, served by the intake API's
FastAPI app (`revops serve`). No script and no CDN: charts are SVG drawn on the server, and
the one stylesheet is served from the package (`static/`)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from revops.web import auth, pages

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    """Add the workspace's routes to the API app (whose `state.service` it uses)."""
    app.include_router(auth.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(auth.SignInRequired)
    async def sign_in(request: Request, exc: auth.SignInRequired) -> Response:
        from urllib.parse import quote

        return RedirectResponse(f"/signin?next={quote(exc.target)}", status_code=303)


__all__ = ["install"]
