"""The workspace's pages: every one needs a session, and every table on it has a CSV export
(the same URL with `csv=<table>`).

Page contents are built by `views` on the warehouse thread (`IntakeService.read`, after every
acknowledged lead is applied; `exclusive` for a page whose reading is audited), so the pages
and the intake API share one connection safely.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from revops.access.principal import PermissionDenied, Principal
from revops.access.sessions import Session
from revops.errors import RevOpsError
from revops.metrics import MetricError
from revops.web import council, views
from revops.web.auth import form_session, page_session, service
from revops.web.grid import Grid
from revops.web.render import render

router = APIRouter(include_in_schema=False)
Page = Annotated[Session, Depends(page_session)]
Posted = Annotated[Session, Depends(form_session)]


def _csv(grids: list[Grid], key: str, name: str) -> Response:
    for g in grids:
        if g.key == key:
            filename = f"{name}-{key}.csv".replace("/", "-")
            return Response(
                g.csv(),
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": f'attachment; filename="{filename}"'},
            )
    return Response(f"no table {key!r} on this page\n", status_code=404, media_type="text/plain")


async def _page(
    request: Request,
    session: Session,
    template: str,
    build: Callable[..., dict[str, Any]],
    *args: Any,
    audited: bool = False,
    name: str = "table",
) -> Response:
    svc = service(request)
    run = svc.exclusive if audited else svc.read
    try:
        context = await run(build, svc.ro, session.principal, *args)
    except PermissionDenied as exc:
        return render(
            "error.html", request, session, status=403, title="Not yours", message=str(exc)
        )
    except LookupError as exc:
        return render(
            "error.html", request, session, status=404, title="Not found", message=str(exc)
        )
    except (MetricError, RevOpsError) as exc:
        return render(
            "error.html", request, session, status=400, title="Cannot show this", message=str(exc)
        )
    csv_key = request.query_params.get("csv")
    if csv_key:
        sections = [g for section in context.get("sections", []) for g in section.grids]
        return _csv([*context["grids"], *sections], csv_key, name)
    return render(template, request, session, **context)


def _filters(
    month: str = "", dim: str = "", value: str = "", where: str = "", by: str = ""
) -> views.Filters:
    """A page's filters from its query string, each cut to a sane length."""
    return views.Filters(month[:7], dim[:80], value[:200], where[:1000], by[:80])


Filtered = Annotated[views.Filters, Depends(_filters)]


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, session: Page) -> Response:
    return await _page(request, session, "home.html", views.home, name="home")


@router.get("/view/{area}", response_class=HTMLResponse)
async def area(request: Request, session: Page, area: str, f: Filtered) -> Response:
    return await _page(request, session, "area.html", views.area_page, area, f, name=area)


@router.get("/view/{area}/report", response_class=HTMLResponse)
async def area_report(request: Request, session: Page, area: str, period: str = "") -> Response:
    return await _page(
        request,
        session,
        "report.html",
        views.report_page,
        area,
        period[:40],
        name=f"{area}-report",
    )


@router.get("/metric/{name}", response_class=HTMLResponse)
async def metric(request: Request, session: Page, name: str, f: Filtered) -> Response:
    return await _page(request, session, "metric.html", views.metric_page, name, f, name=name)


@router.get("/metric/{name}/records", response_class=HTMLResponse)
async def records(request: Request, session: Page, name: str, f: Filtered) -> Response:
    rows = dataclasses.replace(f, by="")  # the rows behind a figure are never cut
    return await _page(
        request, session, "records.html", views.records_page, name, rows, name=f"{name}-records"
    )


@router.get("/records/{kind}/{record_id}", response_class=HTMLResponse)
async def record(request: Request, session: Page, kind: str, record_id: str) -> Response:
    return await _page(
        request, session, "record.html", views.record_page, kind, record_id[:200], name=kind
    )


@router.get("/comp", response_class=HTMLResponse)
async def comp(request: Request, session: Page, month: str = "") -> Response:
    return await _page(
        request, session, "comp.html", views.comp_page, month[:7], audited=True, name="comp"
    )


@router.get("/comp/{user_id}", response_class=HTMLResponse)
async def statement(request: Request, session: Page, user_id: str, month: str = "") -> Response:
    return await _page(
        request,
        session,
        "statement.html",
        views.statement_page,
        user_id[:200],
        month[:7],
        audited=True,
        name=f"statement-{user_id[:40]}",
    )


def _council(ro: Any, me: Principal, month: str) -> dict[str, Any]:
    return views.council_context(ro, month or None)


@router.get("/council", response_class=HTMLResponse)
async def council_page(request: Request, session: Page, month: str = "") -> Response:
    return await _page(request, session, "council.html", _council, month[:7], name="council")


async def _write(request: Request, fn: Callable[..., Any], *args: Any, month: str) -> Response:
    svc = service(request)
    try:
        await svc.exclusive(fn, svc.wh, *args)
    except PermissionDenied as exc:
        return Response(str(exc), status_code=403, media_type="text/plain")
    except RevOpsError as exc:
        return Response(str(exc), status_code=400, media_type="text/plain")
    return RedirectResponse(f"/council?month={month}#actions", status_code=303)


@router.post("/council/notes")
async def add_note(
    request: Request,
    session: Posted,
    month: Annotated[str, Form(max_length=7)],
    body: Annotated[str, Form(max_length=4000)],
) -> Response:
    return await _write(request, council.add_note, session.principal, month, body, month=month)


@router.post("/council/actions")
async def add_action(
    request: Request,
    session: Posted,
    month: Annotated[str, Form(max_length=7)],
    title: Annotated[str, Form(max_length=500)],
    owner: Annotated[str, Form(max_length=200)],
    due: Annotated[dt.date, Form()],
) -> Response:
    return await _write(
        request, council.add_action, session.principal, month, title, owner, due, month=month
    )


@router.post("/council/actions/{action_id}/close")
async def close_action(
    request: Request,
    session: Posted,
    action_id: str,
    month: Annotated[str, Form(max_length=7)],
) -> Response:
    return await _write(
        request, council.close_action, session.principal, action_id[:64], month, month=month
    )
