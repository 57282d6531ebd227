"""Templates: one Jinja environment, autoescaped, for pages and the static council pack."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

if TYPE_CHECKING:
    from fastapi import Request

    from revops.access.sessions import Session

AREAS = (
    ("funnel", "Funnel"),
    ("pipeline", "Pipeline"),
    ("revenue", "Revenue"),
    ("attribution", "Attribution"),
    ("quality", "Quality"),
    ("forecast", "Forecast"),
)


@cache
def env() -> Environment:
    return Environment(
        loader=PackageLoader("revops.web", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_text(template: str, **context: Any) -> str:
    return env().get_template(template).render(areas=AREAS, **context)


def render(
    template: str, request: Request, session: Session | None, status: int = 200, **context: Any
) -> HTMLResponse:
    html = render_text(
        template,
        session=session,
        me=session.principal if session else None,
        csrf=session.csrf_token if session else "",
        path=request.url.path,
        csv_base="?" + (request.url.query + "&" if request.url.query else ""),
        static=False,
        **context,
    )
    return HTMLResponse(html, status_code=status, headers=_HEADERS)


# No script runs on these pages, none is fetched, and no other site may frame them.
_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; script-src 'none'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
