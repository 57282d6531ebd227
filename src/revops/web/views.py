"""What each page shows, computed on the warehouse thread: pure functions of the warehouse, the
operating model, who asks and the page's filters, returning the template's context.

Every figure is the metric dictionary's: a tile is `compute` over the month with no grain (what
`revops metrics show NAME --grain all --from … --to …` prints), a breakdown the same with
`--by`, the records behind a number `metrics.drill`'s rows, which are the rows the metric
aggregates. Nothing here recomputes a number another way. Records, forecasts and pay follow
the one rule in `access.records`.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pandas as pd

from revops.access.principal import PermissionDenied, Principal
from revops.access.records import (
    check_statement_read,
    owner_filter,
    record_visibility,
    statement_visibility,
    users_frame,
    visible_rows,
)
from revops.audit import audit_batch
from revops.config.models import DIMENSIONS, Metric, OperatingModel
from revops.context import RevOps
from revops.errors import RevOpsError
from revops.metrics import (
    MetricError,
    Period,
    compute,
    formula,
    settled,
    supported_dimensions,
    why_missing,
)
from revops.metrics.compiler import leaf_tables
from revops.metrics.drill import OWNER, components, drillable, rows_behind
from revops.metrics.results import custom_columns
from revops.reports.as_of import as_of_day, current_state, open_as_of, open_value
from revops.reports.formatting import format_change, format_value
from revops.reports.funnel import HEADLINE
from revops.reports.periods import data_end, maturing, report_period
from revops.warehouse import schema
from revops.web.grid import Cell, Grid, text_cell
from revops.web.svg import bars

# Which page a metric belongs on: the area of the table it is computed from.
AREA_TABLES: dict[str, tuple[str, ...]] = {
    "funnel": ("persons", "lifecycle_history", "sla_clocks"),
    "pipeline": ("opportunities", "pipeline_changes"),
    "revenue": ("mrr_monthly", "arr_movements", "unit_economics", "sales_costs"),
    "attribution": ("attribution_credits", "campaign_spend"),
    "quality": ("quality_snapshots",),
    "forecast": ("forecast_backtests", "quotas"),
}
RECORD_KINDS = {"opportunities": "deal", "persons": "person", "accounts": "account"}
# the areas with a static report, and the command that writes it (web.report_views)
REPORT_AREAS = {
    "funnel": "revops report funnel",
    "pipeline": "revops report pipeline",
    "quality": "revops quality scorecard --html FILE",
    "revenue": "revops revenue report",
    "attribution": "revops attribution report",
    "forecast": "revops forecast report --period QUARTER",
}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]{0,80}$")
ROW_LIMIT = 500


def area_of(model: OperatingModel, name: str) -> str:
    tables = [t for _, t in leaf_tables(model, name)]
    if any(t in AREA_TABLES["forecast"] for t in tables):  # quota attainment, coverage
        return "forecast"
    for area, owned in AREA_TABLES.items():
        if tables and tables[0] in owned:
            return area
    return "funnel" if any(t in AREA_TABLES["funnel"] for t in tables) else "pipeline"


def area_metrics(model: OperatingModel, area: str) -> list[Metric]:
    if area not in AREA_TABLES:
        raise RevOpsError(f"no page {area!r}")
    return [m for m in model.metrics if area_of(model, m.name) == area]


@dataclass(frozen=True)
class Filters:
    """A page's filters: the month, a dimension equal to a value, a free expression, a cut."""

    month: str
    dim: str = ""
    value: str = ""
    where: str = ""
    by: str = ""

    def expression(self) -> str | None:
        parts = []
        if self.dim and self.value:
            if not _NAME.match(self.dim):
                raise RevOpsError(f"{self.dim!r} is not a dimension name")
            parts.append(f"{self.dim} == {self.value!r}")
        if self.where.strip():
            parts.append(f"({self.where.strip()})" if parts else self.where.strip())
        return " and ".join(parts) or None

    def query(self, **change: str) -> str:
        values = {
            "month": self.month,
            "dim": self.dim,
            "value": self.value,
            "where": self.where,
            "by": self.by,
        }
        values.update(change)
        return urlencode({k: v for k, v in values.items() if v})


def month_of(period: Period) -> str:
    return f"{period.start:%Y-%m}"


def parse_month(ro: RevOps, month: str | None) -> Period:
    from revops.web.council import month_period

    return month_period(month) if month else report_period(ro)


def _fmt(ro: RevOps, name: str, v: float | None) -> str:
    return format_value(v, ro.model.metric(name).format, ro.model.company.currency)


def figure(ro: RevOps, name: str, period: Period, where: str | None) -> float | None:
    """Metric `name` over `period` with the filter: the dictionary's number, settled."""
    df = compute(
        ro.warehouse, ro.model, name, grain=None, start=period.start, end=period.end, where=where
    )
    if df.empty:
        return settled(ro.model, name, math.nan, 0)
    rows = df["rows"].iloc[0]
    return settled(ro.model, name, float(df["value"].iloc[0]), None if pd.isna(rows) else int(rows))


def as_of_figure(
    ro: RevOps, name: str, day: dt.date, f: Filters, scope: Scope
) -> tuple[float | None, str | None]:
    """A current-state metric over a month that has begun: what stood open on `day`, cut by
    one snapshot dimension at most (`reports.as_of.open_as_of`, which `revops metrics show`
    reads too); otherwise missing, with the reason and the command that answers it. Never
    today's open deals bucketed into a past month, which reads as $0."""
    cuts = [(f.dim, {f.value})] if f.dim and f.value else []
    if scope.own is not None:
        cuts.append(("owner", set(scope.owners)))
    by = cuts[0][0] if cuts else None
    series, why = open_as_of(ro, name, day, by, where=bool(f.where.strip()) or len(cuts) > 1)
    if series is None:
        return None, why
    return open_value(series, cuts[0][1] if cuts else None), None


def _as_of_day(ro: RevOps, name: str, period: Period) -> dt.date | None:
    """For today's open deals over a month that has begun, the day they are read on."""
    return as_of_day(ro, period.start, period.end) if current_state(ro.model, name) else None


def shown_figure(
    ro: RevOps, name: str, period: Period, f: Filters, scope: Scope
) -> tuple[float | None, str | None]:
    """The figure a page shows for `name` over the month, with why it is missing if it is:
    the dictionary's under the filters and the scope, or for today's open deals over a month
    that has begun, what stood open at its end (`as_of_figure`)."""
    day = _as_of_day(ro, name, period)
    if day is not None:
        return as_of_figure(ro, name, day, f, scope)
    where, _ = scope.where(ro, name, f)
    return figure(ro, name, period, where), None


def as_of_note(ro: RevOps, name: str, period: Period) -> str | None:
    """For today's open deals over a month that has begun: the day they are read on."""
    day = _as_of_day(ro, name, period)
    return None if day is None else f"open on {day}, from stage history"


def shown_formula(ro: RevOps, name: str, period: Period) -> str:
    """The formula behind the figure shown: the dictionary's, or for today's open deals over
    a month that has begun, the stage-history snapshot's (`open_pipeline_as_of`)."""
    day = _as_of_day(ro, name, period)
    if day is None:
        return formula(ro.model, name)
    return f"as of {day}: {ro.model.elsewhere('open_pipeline_as_of').formula}"


@dataclass(frozen=True)
class TileView:
    name: str
    title: str
    owner: str
    text: str
    previous_text: str
    change_text: str
    formula: str
    href: str
    error: str | None = None
    note: str | None = None  # a cohort still maturing (see reports.periods.maturing)


@dataclass(frozen=True)
class Scope:
    """Whose figures a page shows: everyone's, or (for a rep) `owner in [...]`, their own and
    their team's (the record rule of `access.records`). A metric no owner cuts stays
    company-wide and says so."""

    own: str | None = None
    why: str = ""
    owners: frozenset[str] = frozenset()

    def where(self, ro: RevOps, name: str, f: Filters) -> tuple[str | None, str | None]:
        """(the filter `name` is computed under, a note when a rep sees a company figure)."""
        where = f.expression()
        if self.own is None:
            return where, None
        if "owner" not in supported_dimensions(ro.model, name):
            return where, "company-wide: not per owner"
        return (f"{self.own} and ({where})" if where else self.own), None


def scope_of(ro: RevOps, me: Principal) -> Scope:
    """Whose figures `me` sees, with a sentence that names them (people, not ids)."""
    vis = record_visibility(me, users_frame(ro.warehouse))
    own = owner_filter(vis)
    if own is None:
        return Scope()
    users = _names(ro).users
    names = sorted(users.get(u, u) for u in vis.reps)
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return Scope(own, f"Your figures: what {shown} own{'s' if len(names) == 1 else ''}.", vis.reps)


def tiles(
    ro: RevOps, names: list[str], period: Period, f: Filters, scope: Scope | None = None
) -> tuple[list[TileView], Grid]:
    scope = scope or Scope()
    out: list[TileView] = []
    grid = Grid(
        "figures",
        f"Figures, {period.label}",
        ["metric", "owner", "month", "value", "previous", "change", "formula"],
    )
    currency = ro.model.company.currency
    end = data_end(ro)
    for name in names:
        m = ro.model.metric(name)
        href = f"/metric/{name}?{f.query()}"
        where, company = scope.where(ro, name, f)
        try:
            (now, reason), (before, _) = (
                shown_figure(ro, name, p, f, scope) for p in (period, period.previous())
            )
        except (MetricError, RevOpsError) as exc:
            out.append(TileView(name, m.title, m.owner, "n/a", "n/a", "", "", href, str(exc)))
            continue
        change = format_change(now, before, m.format, currency)
        if now is None and where is None and reason is None:
            reason = why_missing(ro.warehouse, ro.model, name, period)
        t = TileView(
            name,
            m.title,
            m.owner,
            _fmt(ro, name, now),
            _fmt(ro, name, before),
            change,
            shown_formula(ro, name, period),
            href,
            error=reason,
            note=(as_of_note(ro, name, period) if now is not None else None)
            or maturing(ro, name, period, end)
            or company,
        )
        out.append(t)
        grid.rows.append(
            [
                Cell(name, m.title, href),
                text_cell(m.owner),
                text_cell(month_of(period)),
                Cell(now, t.text, numeric=True),
                Cell(before, t.previous_text, numeric=True),
                text_cell(change),
                text_cell(t.formula),
            ]
        )
    return out, grid


def home(ro: RevOps, me: Principal) -> dict[str, Any]:
    period = report_period(ro)
    f = Filters(month_of(period))
    scope = scope_of(ro, me)
    shown, grid = tiles(ro, [n for n in HEADLINE if _has(ro.model, n)], period, f, scope)
    return {
        "period": period,
        "tiles": shown,
        "grids": [grid],
        "filters": f,
        "note": scope.why,
        "reports": scope.own is None,  # a rep is refused the reports (everyone's deals)
    }


def _has(model: OperatingModel, name: str) -> bool:
    return any(m.name == name for m in model.metrics)


def dimension_choices(ro: RevOps, names: list[str]) -> list[str]:
    """The dictionary's dimensions and the custom fields of the tables these metrics read."""
    out = list(DIMENSIONS)
    tables = {t for n in names for _, t in leaf_tables(ro.model, n)}
    for table, extra in custom_columns(ro.warehouse):
        if table in tables:
            out += [c for c, _ in extra if c not in out]
    return out


def area_page(ro: RevOps, me: Principal, area: str, f: Filters) -> dict[str, Any]:
    """The area's metrics for the month under the filters."""

    period = parse_month(ro, f.month)
    f = Filters(month_of(period), f.dim, f.value, f.where, f.by)
    names = [m.name for m in area_metrics(ro.model, area)]
    scope = scope_of(ro, me)
    shown, grid = tiles(ro, names, period, f, scope)
    grids = [grid]
    if area == "forecast":
        grids.append(forecast_grid(ro, me, period))
    return {
        "area": area,
        "period": period,
        "tiles": shown,
        "grids": grids,
        "filters": f,
        "dimensions": dimension_choices(ro, names),
        "note": scope.why,
        "report_command": REPORT_AREAS.get(area, "") if scope.own is None else "",
    }


def report_page(ro: RevOps, me: Principal, area: str, period: str = "") -> dict[str, Any]:
    """What the area's static report shows (`web.report_views`), on its own page: the reports
    compute the whole dictionary by month, rebuild the pipeline week by week and fit models,
    seconds of work an area page's filters should not wait for. `period` is the forecast
    report's quarter."""
    from revops.web.report_views import report_sections

    if area not in REPORT_AREAS:
        raise RevOpsError(f"no report page for {area!r}")
    vis = record_visibility(me, users_frame(ro.warehouse))
    if not vis.everyone:  # the report lists every rep's deals and coverage
        raise PermissionDenied(
            f"the {area} report shows every rep's deals; {vis.why} (the area pages show yours)"
        )
    return {
        "area": area,
        "sections": report_sections(ro, area, period),
        "grids": [],
        "command": REPORT_AREAS[area],
        "period": period,
    }


def forecast_grid(ro: RevOps, me: Principal, period: Period) -> Grid:
    """The forecast engine's roll-up for the fiscal quarter holding the month, as of the
    data's last day (`revops forecast rollup`): a rep sees their own and their team's rows,
    not the region and company totals, which hold everyone's deals."""
    from revops.pipeline.forecast import forecast_rollup, parse
    from revops.pipeline.forecast.data import latest_data_date
    from revops.pipeline.forecast.rollup import wide

    fy = ro.model.company.fiscal_year_start_month
    into = (period.start.month - fy) % 3
    index = period.start.year * 12 + period.start.month - 1 - into
    first = dt.date(index // 12, index % 12 + 1, 1)
    after = dt.date((index + 3) // 12, (index + 3) % 12 + 1, 1)
    span = parse(ro.model, f"{first}..{after - dt.timedelta(days=1)}")
    day = latest_data_date(ro.warehouse)
    frame = wide(forecast_rollup(ro.warehouse, ro.model, span, day))
    vis = record_visibility(me, users_frame(ro.warehouse))
    if not vis.everyone:
        mine = frame["level"].isin(["rep", "manager"]) & frame["subject_id"].isin(list(vis.reps))
        frame = frame[mine]
    title = f"Forecast roll-up, {first:%b}–{after - dt.timedelta(days=1):%b %Y}, as of {day}"
    grid = Grid("rollup", title, [str(c) for c in frame.columns])
    currency = ro.model.company.currency
    for row in frame.to_dict("records"):
        cells = []
        for v in row.values():
            if isinstance(v, float):
                text = "" if math.isnan(v) else format_value(v, "currency", currency)
                cells.append(Cell(v, text, numeric=True))
            else:
                cells.append(text_cell(v))
        grid.rows.append(cells)
    grid.hidden = frozenset({"subject_id"})
    return grid


def breakdown(
    ro: RevOps, name: str, period: Period, f: Filters, by: str, where: str | None
) -> tuple[Grid, Any]:
    """`name` by `by` over the month under `where` (the filters and whose figures): the
    table, its bars; each row links to its records."""
    df = compute(
        ro.warehouse,
        ro.model,
        name,
        by=[by],
        grain=None,
        start=period.start,
        end=period.end,
        where=where,
    )
    grid = Grid("breakdown", f"{ro.model.metric(name).title} by {by}", [by, "value", "rows"])
    labels, values, texts, hrefs = [], [], [], []
    for row in df.to_dict("records"):
        key = row[by]
        rows = None if pd.isna(row["rows"]) else int(row["rows"])
        v = settled(ro.model, name, float(row["value"]), rows)
        label = "(none)" if key is None else str(key)
        href = None
        if key is not None:
            q = Filters(f.month, by, str(key), f.expression() or "", "").query()
            href = (
                f"/metric/{name}/records?{q}"
                if drillable(ro.model, name)
                else (f"/metric/{name}?{q}")
            )
        text = _fmt(ro, name, v)
        grid.rows.append([text_cell(key, href), Cell(v, text, numeric=True), text_cell(rows)])
        labels.append(label)
        values.append(v)
        texts.append(text)
        hrefs.append(href)
    return grid, bars(labels, values, texts, hrefs) if labels else None


def metric_page(ro: RevOps, me: Principal, name: str, f: Filters) -> dict[str, Any]:
    m = ro.model.metric(name)
    period = parse_month(ro, f.month)
    f = Filters(month_of(period), f.dim, f.value, f.where, f.by)
    scope = scope_of(ro, me)
    where, company = scope.where(ro, name, f)
    dims = list(supported_dimensions(ro.model, name))
    by = f.by or (dims[0] if dims else "")
    now, reason = shown_figure(ro, name, period, f, scope)
    before, _ = shown_figure(ro, name, period.previous(), f, scope)
    grids: list[Grid] = []
    chart = None
    if by:
        grid, chart = breakdown(ro, name, period, f, by, where)
        grids.append(grid)
    parts = components(ro.model, name) if not drillable(ro.model, name) else []
    return {
        "metric": m,
        "area": area_of(ro.model, name),
        "period": period,
        "filters": Filters(f.month, f.dim, f.value, f.where, by),
        "where": where,
        "value_text": _fmt(ro, name, now),
        "previous_text": _fmt(ro, name, before),
        "change_text": format_change(now, before, m.format, ro.model.company.currency),
        "formula": shown_formula(ro, name, period),
        "components": [(p, ro.model.metric(p).title, formula(ro.model, p)) for p in parts],
        "drillable": drillable(ro.model, name),
        "dimensions": dimension_choices(ro, [name]),
        "by": by,
        "chart": chart,
        "grids": grids,
        "note": reason or company or scope.why,
    }


@dataclass(frozen=True)
class Names:
    """What people read instead of ids: users' and accounts' names."""

    users: dict[str, str]
    accounts: dict[str, str]


def _names(ro: RevOps) -> Names:
    wh = ro.warehouse
    users = wh.execute(wh.table("users").select("user_id", "name"))
    accounts = wh.execute(wh.table("accounts").select("account_id", "name"))
    return Names(
        {str(u): str(n) for u, n in zip(users["user_id"], users["name"], strict=True)},
        {
            str(a): str(n)
            for a, n in zip(accounts["account_id"], accounts["name"], strict=True)
            if isinstance(n, str)
        },
    )


def _link(table: str, column: str) -> str | None:
    """The record page a column's value opens: the table's own key, or a relation's target."""
    t = schema.table(table)
    if table in RECORD_KINDS and column == t.primary_key[0]:
        return table
    for rel in t.relations:
        if rel.column == column and rel.table in RECORD_KINDS:
            return rel.table
    return None


MONEY = frozenset({"amount", "deal_amount", "credited_amount", "mrr", "arr", "original_amount"})
SHOWN_COLUMNS = 10


def record_grid(key: str, title: str, table: str, frame: pd.DataFrame, names: Names) -> Grid:
    """Rows of `table` as a grid: names shown for owners and accounts (ids stay in the CSV),
    money rounded, and on the page only the first rows and the most telling columns."""
    columns = [c for c in frame.columns if c != OWNER]
    grid = Grid(key, title, columns, limit=ROW_LIMIT)
    for row in frame.to_dict("records"):
        cells = []
        for c in columns:
            v = row[c]
            if isinstance(v, pd.Timestamp):
                v = v.to_pydatetime()
            target = _link(table, c)
            href = f"/records/{target}/{v}" if target and isinstance(v, str) else None
            cells.append(_record_cell(c, v, href, names))
        grid.rows.append(cells)
    grid.hidden = _hidden(table, columns, frame)
    if len(frame) > ROW_LIMIT:
        grid.note = f"first {ROW_LIMIT} of {len(frame)} rows shown; the CSV has them all"
    return grid


def _record_cell(column: str, v: Any, href: str | None, names: Names) -> Cell:
    if isinstance(v, str) and (column.endswith("owner_id") or column == "user_id"):
        return Cell(v, names.users.get(v, text_cell(v).text), href)
    if column == "account_id" and isinstance(v, str):
        return Cell(v, names.accounts.get(v, v), href)
    if isinstance(v, bool):
        return Cell(v, "yes" if v else "no", href)
    if isinstance(v, dt.datetime) and not pd.isna(v):  # NaT is a datetime too
        midnight = v.time() == dt.time(0)
        return Cell(v, f"{v:%Y-%m-%d}" if midnight else f"{v:%Y-%m-%d %H:%M}", href)
    if isinstance(v, int | float) and not (isinstance(v, float) and math.isnan(v)):
        text = format_value(float(v), "currency" if column in MONEY else "number")
        return Cell(v, text, href, numeric=True)
    return text_cell(v, href)


def _hidden(table: str, columns: list[str], frame: pd.DataFrame) -> frozenset[str]:
    """Columns left off the page: those empty in every row, then past `SHOWN_COLUMNS` the
    least telling (the key, a name, dates and amounts first)."""
    head = frame.head(ROW_LIMIT)
    filled = [c for c in columns if head[c].notna().any()]
    t = schema.table(table)
    typed = {col.name: col.type for col in t.columns}

    def rank(c: str) -> int:
        if c in t.primary_key or c == "name":
            return 0
        if typed.get(c) in ("date", "timestamp") or c in MONEY or c in ("stage", "to_stage"):
            return 1
        return 2 if c.endswith("_id") else 3

    keep = set(sorted(filled, key=lambda c: (rank(c), columns.index(c)))[:SHOWN_COLUMNS])
    return frozenset(c for c in columns if c not in keep)


def records_page(ro: RevOps, me: Principal, name: str, f: Filters) -> dict[str, Any]:
    """The rows behind `name` for the month and filters, those the principal may read."""
    m = ro.model.metric(name)
    period = parse_month(ro, f.month)
    f = Filters(month_of(period), f.dim, f.value, f.where, f.by)
    where = f.expression()
    shown_where, _ = scope_of(ro, me).where(ro, name, f)
    table, frame = rows_behind(
        ro.warehouse, ro.model, name, start=period.start, end=period.end, where=where
    )
    vis = record_visibility(me, users_frame(ro.warehouse))
    total = len(frame)
    if OWNER in frame.columns:
        frame = visible_rows(frame, OWNER, vis)
    grid = record_grid("records", f"{table} rows behind {m.title}", table, frame, _names(ro))
    hidden = total - len(frame)
    return {
        "metric": m,
        "period": period,
        "filters": f,
        "where": where,
        "table": table,
        "formula": formula(ro.model, name),
        "value_text": _fmt(ro, name, figure(ro, name, period, shown_where)),
        "grids": [grid],
        "hidden": hidden,
        "why": vis.why,
    }


_HISTORY: dict[str, tuple[tuple[str, str, str], ...]] = {
    # record table -> (history table, its key column, title)
    "opportunities": (
        ("opportunity_stage_history", "opportunity_id", "Stage history"),
        ("pipeline_changes", "opportunity_id", "Pipeline changes"),
        ("opportunity_splits", "opportunity_id", "Splits"),
    ),
    "persons": (
        ("lifecycle_history", "person_id", "Lifecycle history"),
        ("touchpoints", "person_id", "Touchpoints"),
        ("opportunities", "person_id", "Deals"),
    ),
    "accounts": (
        ("opportunities", "account_id", "Deals"),
        ("persons", "account_id", "Persons"),
        ("arr_movements", "account_id", "ARR movements"),
    ),
}


def record_page(ro: RevOps, me: Principal, kind: str, record_id: str) -> dict[str, Any]:
    """One deal, person or account with its history; a record the principal may not read is
    answered as missing (so its existence is not told either)."""
    if kind not in RECORD_KINDS:
        raise RevOpsError(f"no record kind {kind!r}")
    wh = ro.warehouse
    t = schema.table(kind)
    pk = t.primary_key[0]
    rows = wh.execute(wh.table(kind).filter(wh.table(kind)[pk] == record_id))
    vis = record_visibility(me, users_frame(wh))
    if rows.empty or (not vis.everyone and not rows["owner_id"].isin(list(vis.reps)).any()):
        raise LookupError(f"no {RECORD_KINDS[kind]} {record_id!r} you may read")
    names = _names(ro)
    fields = Grid("record", f"{RECORD_KINDS[kind].capitalize()} {record_id}", ["field", "value"])
    for c, v in rows.iloc[0].items():
        target = _link(kind, str(c)) if str(c) != pk else None
        href = f"/records/{target}/{v}" if target and isinstance(v, str) else None
        cell = text_cell(v) if str(c) == pk else _record_cell(str(c), v, href, names)
        fields.rows.append([text_cell(c), Cell(v, cell.text, href)])
    grids = [fields]
    for i, (table, column, title) in enumerate(_HISTORY[kind]):
        h = wh.table(table)
        frame = wh.execute(h.filter(h[column] == record_id))
        if "owner_id" in frame.columns and not vis.everyone:
            frame = visible_rows(frame, "owner_id", vis)
        grid = record_grid(f"history{i}", title, table, frame, names)
        grid.hidden = grid.hidden | {column}  # the record's own id, on every row
        grids.append(grid)
    name = rows.iloc[0].get("name")
    label = f"{name} ({record_id})" if isinstance(name, str) and name else record_id
    return {"kind": RECORD_KINDS[kind], "record_id": record_id, "label": label, "grids": grids}


# -- compensation ------------------------------------------------------------------------------
def comp_page(ro: RevOps, me: Principal, month: str | None) -> dict[str, Any]:
    """The statements of the month the principal may read (a listing, audited), with totals."""
    wh = ro.warehouse
    period = parse_month(ro, month)
    users = users_frame(wh)
    vis = statement_visibility(me, users)
    table = wh.table("comp_lines")
    month_lines = table.filter(table.period_start == period.start)
    frame = wh.execute(
        month_lines.group_by("user_id")
        .aggregate(lines=month_lines.count(), amount=month_lines.amount.sum())
        .order_by("user_id")
    )
    frame = frame[frame["user_id"].map(vis.allows).astype(bool)]
    names = _names(ro)
    currency = ro.model.company.currency
    grid = Grid("statements", f"Statements, {period.label}", ["user_id", "rep", "lines", "amount"])
    q = urlencode({"month": month_of(period)})
    for row in frame.to_dict("records"):
        uid = str(row["user_id"])
        href = f"/comp/{uid}?{q}"
        grid.rows.append(
            [
                Cell(uid, uid, href),
                text_cell(names.users.get(uid, uid)),
                Cell(int(row["lines"]), f"{int(row['lines'])}", numeric=True),
                Cell(
                    float(row["amount"]),
                    format_value(float(row["amount"]), "currency", currency),
                    numeric=True,
                ),
            ]
        )
    if frame.empty:
        grid.note = (
            f"no statements for {period.label}: `revops comp run --period {month_of(period)}`"
        )
    listed = [r[0].raw for r in grid.rows]
    details = {"period": month_of(period), "reps": listed, "why": vis.why}
    wh.write_many([audit_batch(wh, me.actor, "comp.statements_listed", month_of(period), details)])
    return {"period": period, "grids": [grid], "why": vis.why, "filters": Filters(month_of(period))}


def statement_page(ro: RevOps, me: Principal, user_id: str, month: str | None) -> dict[str, Any]:
    """One rep's statement; the read (or the refusal, as PermissionDenied) is audited."""
    from revops.planning.comp import statement

    period = parse_month(ro, month)
    key = month_of(period)
    check_statement_read(ro.warehouse, me, key, user_id)
    st = statement(ro.warehouse, ro.model, key, user_id)
    names = _names(ro)
    lines = record_grid("lines", "Lines", "comp_lines", st.lines, names)
    lines.hidden = lines.hidden | {"line_id", "period_start", "user_id"}  # the page's heading
    totals = Grid("totals", "Totals", ["total", "amount"])
    currency = ro.model.company.currency
    for k, v in st.totals.items():
        totals.rows.append(
            [text_cell(k), Cell(v, format_value(v, "currency", currency), numeric=True)]
        )
    return {
        "user_id": user_id,
        "rep": names.users.get(user_id, user_id),
        "period": period,
        "period_status": st.status,
        "reconciles": st.reconciles,
        "grids": [totals, lines],
        "filters": Filters(key),
    }


# -- the council -------------------------------------------------------------------------------
def council_context(ro: RevOps, month: str | None) -> dict[str, Any]:
    """The pack for the month, its notes and its action items (those carried over included)."""
    from revops.web.council import actions, council_pack, notes
    from revops.web.svg import sparkline

    period = parse_month(ro, month)
    key = month_of(period)
    pack = council_pack(ro, period)
    grid = Grid(
        "pack",
        f"Funnel council pack, {period.label}",
        ["metric", "owner", "month", "value", "previous_month", "change", "same_month_last_year",
         "change_vs_last_year", "target", "vs_target"],
    )  # fmt: skip
    sparks = {}
    q = urlencode({"month": key})
    for r in pack.rows:
        grid.rows.append(
            [
                Cell(r.name, r.title, f"/metric/{r.name}?{q}"),
                text_cell(r.owner),
                text_cell(key),
                Cell(r.value, r.text, numeric=True),
                Cell(r.previous, r.previous_text, numeric=True),
                text_cell(r.change_text),
                Cell(r.last_year, r.last_year_text, numeric=True),
                text_cell(r.year_change_text),
                Cell(r.target, r.target_text, numeric=True),
                text_cell(r.target_gap_text),
            ]
        )
        sparks[r.name] = sparkline(r.trend)
    items = actions(ro.warehouse, key)
    act = Grid("actions", "Action items", ["opened", "title", "owner", "due", "status"])
    for a in items:
        status = (
            "closed" if a.closed_month == key else ("carried over" if a.carried(key) else "open")
        )
        act.rows.append(
            [text_cell(a.month), text_cell(a.title), text_cell(a.owner), text_cell(a.due),
             text_cell(status)]
        )  # fmt: skip
    written = notes(ro.warehouse, key)
    note_grid = Grid("notes", "Notes", ["author", "at", "note"])
    for n in written:
        note_grid.rows.append(
            [text_cell(n.author), text_cell(f"{n.created_at:%Y-%m-%d %H:%M}"), text_cell(n.body)]
        )
    return {
        "period": period,
        "month": key,
        "previous_month": month_of(period.previous()),
        "next_month": f"{period.end:%Y-%m}",
        "pack": pack,
        "sparks": sparks,
        "actions": items,
        "notes": written,
        "grids": [grid, act, note_grid],
        "filters": Filters(key),
    }
