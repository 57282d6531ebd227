"""`revops metrics`: the metric dictionary, listed and computed."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from datetime import date, timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer

from revops.cli._common import (
    ConfigOpt,
    Format,
    FormatOpt,
    Kind,
    WarehouseOpt,
    console,
    formatted,
    open_revops,
    parse_day,
    print_frame,
    user_errors,
)
from revops.config import load_config
from revops.config.models import DIMENSIONS, Grain, Metric, SimpleMetric
from revops.context import default_config_path
from revops.errors import RevOpsError

if TYPE_CHECKING:
    from revops.context import RevOps

metrics_app = typer.Typer(help="The metric dictionary.", no_args_is_help=True)


# -- metrics ------------------------------------------------------------------------------------
@metrics_app.command("list")
@formatted
def metrics_list(fmt: FormatOpt = Format.table, config: ConfigOpt = None) -> None:
    """Every metric with its owner, formula and definition."""
    from revops.metrics import formula

    with user_errors():
        model = load_config(config or default_config_path()).model
        rows = [
            {
                "metric": m.name,
                "owner": m.owner,
                "type": m.type,
                "format": m.format,
                "formula": formula(model, m.name),
                "description": m.description,
            }
            for m in model.metrics
        ]
        other = [
            {
                "figure": f.name,
                "owner": f.owner,
                "computed_by": f.computed_by,
                "formula": f.formula,
            }
            for f in model.computed_elsewhere
        ]
    print_frame(
        rows,
        "Metric dictionary",
        name="metrics",
        hidden=("format",),
        keep=("metric", "owner", "formula"),
    )
    if other:
        print_frame(
            other,
            "Computed elsewhere (shown by reports and commands; no metric computes them)",
            name="computed_elsewhere",
            keep=("figure", "owner", "computed_by", "formula"),
        )


@metrics_app.command("show")
@formatted
def metrics_show(
    name: Annotated[str, typer.Argument(help="Metric name (see `revops metrics list`).")],
    by: Annotated[
        list[str] | None,
        typer.Option(
            "--by",
            help=f"Dimension: {', '.join(DIMENSIONS)}, any column of the metric's table "
            "(custom fields too) or a path through its relations (account.industry).",
        ),
    ] = None,
    where: Annotated[
        str | None,
        typer.Option(
            "--where",
            help="Filter rows first, in the dictionary's expression language: "
            "\"region == 'NA' and account.industry in ['saas', 'fintech']\".",
        ),
    ] = None,
    grain: Annotated[str, typer.Option(help="day, week, month, quarter, year or all.")] = "month",
    start: Annotated[
        str | None, typer.Option("--from", help="First day (YYYY-MM-DD), inclusive.")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="Last day (YYYY-MM-DD), exclusive.")
    ] = None,
    sql: Annotated[bool, typer.Option("--sql", help="Print the compiled SQL too.")] = False,
    fmt: FormatOpt = Format.table,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Compute one metric, cut by dimensions over time."""
    import pandas as pd

    from revops.metrics import metric_sql, settled
    from revops.reports.as_of import current_state

    with open_revops(config, warehouse) as ro:
        if grain not in ("day", "week", "month", "quarter", "year", "all"):
            raise RevOpsError(f"unknown grain {grain!r}: use day, week, month, quarter, year, all")
        g: Grain | None = None if grain == "all" else grain  # type: ignore[assignment]
        first, last = parse_day(start, "--from"), parse_day(end, "--to")
        dims = by or []
        df = ro.metric(name, by=dims, grain=g, start=first, end=last, where=where)
        metric = ro.model.metric(name)
        console.print(f"[bold]{metric.title}[/] ({metric.owner}): {metric.description}")
        console.print(f"formula: [cyan]{ro.formula(name)}[/]", highlight=False)
        if sql:
            console.print(
                metric_sql(
                    ro.warehouse,
                    ro.model,
                    name,
                    by=dims,
                    grain=g,
                    start=first,
                    end=last,
                    where=where,
                ),
                highlight=False,
            )
        if where:
            console.print(f"where: [cyan]{where}[/]", highlight=False)
        records = []
        for row in df.to_dict("records"):
            rows = None if pd.isna(row.get("rows")) else int(row["rows"])
            line = {str(k): v for k, v in row.items() if k not in ("value", "rows", "missing")}
            # a sum over no rows is $0, as in every report
            line["value"] = settled(ro.model, name, row["value"], rows)
            line["rows"] = rows
            line["missing"] = None if pd.isna(row.get("missing")) else int(row["missing"])
            line["note"] = missing_note(row, metric).strip(" ()") or None
            records.append(line)
        if current_state(ro.model, name):
            records = _read_as_of(ro, name, records, dims, g, first, last, where)
        if all(r["note"] is None for r in records):
            for r in records:
                del r["note"]
        print_frame(
            records,
            metric.title,
            name=name,
            kinds={
                "value": metric_kind(metric),
                "period": "date",
                "rows": "count",
                "missing": "count",
                **dict.fromkeys(dims, "text"),
            },
            hidden=("rows", "missing"),
            keep=("period", *dims, "value"),
        )


def _bucket_start(day: date, grain: Grain, fy_start: int) -> date:
    """The first day of the bucket of `grain` holding `day` (quarters and years fiscal)."""
    if grain == "day":
        return day
    if grain == "week":
        return day - timedelta(days=day.weekday())
    index = day.year * 12 + day.month - 1
    index -= (index - (fy_start - 1)) % {"month": 1, "quarter": 3, "year": 12}[grain]
    return date(index // 12, index % 12 + 1, 1)


def _bucket_end(start: date, grain: Grain) -> date:
    """The first day after the bucket of `grain` that starts on `start`."""
    if grain in ("day", "week"):
        return start + timedelta(days=1 if grain == "day" else 7)
    index = start.year * 12 + start.month - 1 + {"month": 1, "quarter": 3, "year": 12}[grain]
    return date(index // 12, index % 12 + 1, 1)


def _read_as_of(
    ro: RevOps,
    name: str,
    records: list[dict[str, Any]],
    dims: list[str],
    grain: Grain | None,
    first: date | None,
    last: date | None,
    where: str | None,
) -> list[dict[str, Any]]:
    """`records` with today's open deals over each bucket that has begun read as they stood
    at its end, as the web pages read them (`revops.reports.as_of`): one row per snapshot
    group, every bucket from --from on listed (no deal open then is $0, never a bucket left
    out). Buckets after the data stay today's open deals by expected close date; all time
    without --from stays today's whole open pipeline. A cut the snapshot cannot make leaves
    the value missing, with the command that answers it."""
    import pandas as pd

    from revops.reports.as_of import as_of_day, open_as_of
    from revops.reports.periods import data_end

    end = data_end(ro)
    if end is None or (grain is None and first is None):
        return records
    stop = min(last or end + timedelta(days=1), end + timedelta(days=1))
    spans: list[tuple[date | None, date, date]]
    if grain is None:
        assert first is not None
        spans = [(None, first, last or end + timedelta(days=1))]
    else:
        starts = {pd.Timestamp(r["period"]).date() for r in records}
        if first is not None:
            bucket = _bucket_start(first, grain, ro.model.company.fiscal_year_start_month)
            while bucket < stop:
                starts.add(bucket)
                bucket = _bucket_end(bucket, grain)
        spans = [(s, s, _bucket_end(s, grain)) for s in sorted(starts)]
    by = dims[0] if len(dims) == 1 else None
    restated: dict[Any, list[dict[str, Any]]] = {}
    for key, begin, finish in spans:
        day = as_of_day(ro, begin, finish, end)
        if day is None:
            continue
        series, why = open_as_of(ro, name, day, by, where=bool(where) or len(dims) > 1)
        head: dict[str, Any] = {} if key is None else {"period": pd.Timestamp(key)}
        note = f"open on {day}, from stage history (revops pipeline snapshot --as-of {day})"
        if series is None:
            rows = [{**head, **dict.fromkeys(dims), "value": None, "note": why}]
        elif by is None:
            rows = [{**head, "value": float(series.sum()), "note": note}]
        else:
            rows = [{**head, by: k, "value": float(v), "note": note} for k, v in series.items()]
        restated[key] = [{**r, "rows": None, "missing": None} for r in rows]
    kept = [
        r for r in records
        if (None if grain is None else pd.Timestamp(r["period"]).date()) not in restated
    ]  # fmt: skip
    for r in kept if restated else []:  # after the data: the forecast the dictionary means
        r["note"] = r.get("note") or "open now, by expected close date"
    out = kept + [r for rows in restated.values() for r in rows]
    columns = ["period", *dims, "value", "rows", "missing", "note"]
    order = [c for c in columns if any(c in r for r in out)]
    out = [{c: r.get(c) for c in order} for r in out]
    return sorted(out, key=lambda r: pd.Timestamp(r["period"])) if grain else out


def metric_kind(metric: Metric) -> Kind:
    """The dictionary's `format` of a metric as a column kind of `revops.cli.output`: a
    number that counts rows reads as an integer."""
    if metric.format == "currency":
        return "money"
    if metric.format == "percent":
        return "ratio"
    if metric.format == "days":
        return "days"
    counted = isinstance(metric, SimpleMetric) and metric.measure.agg.startswith("count")
    return "count" if counted else "number"


def missing_note(row: Mapping[Hashable, Any], metric: Metric) -> str:
    """' (2 of 14 opportunities without amount)' when rows lacked the value, else ''."""
    import pandas as pd

    missing = row.get("missing")
    if missing is None or pd.isna(missing) or not int(missing):
        return ""
    rows = row.get("rows")
    if isinstance(metric, SimpleMetric) and rows is not None and not pd.isna(rows):
        m = metric.measure
        what = m.column or "a value"
        return f" ({missing} of {rows} {m.table} without {what})"
    return f" ({missing} input rows without a value)"
