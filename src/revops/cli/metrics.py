"""`revops metrics`: the metric dictionary, listed and computed."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Annotated, Any

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
