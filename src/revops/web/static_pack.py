"""`revops report council`: the council pack as one self-contained HTML file.

The same template and the same figures as the /council page, with the stylesheet inlined and
without navigation or forms, so it opens offline, can be emailed, and prints as the page does.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from revops.context import RevOps
from revops.web import views
from revops.web.render import render_text

CSS = Path(__file__).parent / "static" / "web.css"


def council_html(ro: RevOps, month: str) -> str:
    context = views.council_context(ro, month)
    return render_text(
        "council.html",
        static=True,
        inline_css=CSS.read_text(encoding="utf-8"),
        company=ro.model.company.name,
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        me=None,
        csrf="",
        path="/council",
        csv_base="",
        **context,
    )


def write_council_pack(ro: RevOps, month: str, path: Path) -> Path:
    html = council_html(ro, month)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path
