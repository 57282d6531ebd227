"""`revops metrics`: the metric dictionary, listed and computed."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Annotated, Any

import typer
from rich.table import Table

from revops.cli._common import (
    ConfigOpt,
    WarehouseOpt,
    console,
    open_revops,
    parse_day,
    user_errors,
)
from revops.config import load_config
from revops.config.models import DIMENSIONS, Grain, Metric, SimpleMetric
from revops.context import default_config_path
from revops.errors import RevOpsError

metrics_app = typer.Typer(help="The metric dictionary.", no_args_is_help=True)


# -- metrics ------------------------------------------------------------------------------------
@metrics_app.command("list")
def metrics_list(config: ConfigOpt = None) -> None:
    """Every metric with its owner, formula and definition."""
    from revops.metrics import formula

    with user_errors():
        model = load_config(config or default_config_path()).model
        out = Table(title="Metric dictionary", title_justify="left", show_lines=False)
        for col in ("metric", "owner", "type", "formula", "description"):
            out.add_column(col, overflow="fold")
        for m in model.metrics:
            out.add_row(m.name, m.owner, m.type, formula(model, m.name), m.description)
        other = Table(
            title="Computed elsewhere (shown by reports and commands; no metric computes them)",
            title_justify="left",
        )
        for col in ("figure", "owner", "computed by", "formula"):
            other.add_column(col, overflow="fold")
        for f in model.computed_elsewhere:
            other.add_row(f.name, f.owner, f.computed_by, f.formula)
    console.print(out)
    if model.computed_elsewhere:
        console.print(other)


@metrics_app.command("show")
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
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Compute one metric, cut by dimensions over time."""
    import pandas as pd

    from revops.metrics import metric_sql, settled
    from revops.reports.formatting import format_value

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
        out = Table(title_justify="left")
        shown = [c for c in df.columns if c not in ("rows", "missing")]
        for col in shown:
            out.add_column(str(col), justify="right" if col == "value" else "left")
        currency = ro.model.company.currency
        for row in df.to_dict("records"):
            cells = []
            for col in shown:
                v = row[col]
                if col == "value":  # a sum over no rows is $0, as in every report
                    rows = None if pd.isna(row.get("rows")) else int(row["rows"])
                    text = format_value(settled(ro.model, name, v, rows), metric.format, currency)
                    cells.append(text + missing_note(row, metric))
                elif col == "period":
                    cells.append(str(v)[:10])
                else:
                    cells.append("(none)" if v is None else str(v))
            out.add_row(*cells)
        console.print(out)


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
