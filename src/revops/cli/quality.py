"""`revops quality`: the data quality sweep — rules, dedupe, merges and matching.

The group is defined here; the rule commands live in this module, and the identity commands
(dedupe, merge, matching) register themselves on `quality_app` from their own modules.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from revops.access import require
from revops.audit import audited, rows_of
from revops.cli._common import (
    ConfigOpt,
    Format,
    FormatOpt,
    Kind,
    WarehouseOpt,
    console,
    formatted,
    open_revops,
    print_frame,
)
from revops.warehouse import Batch

quality_app = typer.Typer(help="Data quality: rules, dedupe, merges, matching.")


@quality_app.command("check")
@formatted
def quality_check(
    table: Annotated[
        list[str] | None, typer.Option("--table", "-t", help="Only these tables.")
    ] = None,
    all_rules: Annotated[bool, typer.Option("--all", help="List passing rules too.")] = False,
    fmt: FormatOpt = Format.table,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Report every rule violation by table, field and rule, with sample keys and values."""
    from revops.quality.check import check

    with open_revops(config, warehouse) as ro:
        report = check(ro.warehouse, ro.model, table or ())
    rows = report.results if all_rules else report.failing
    if not rows:
        console.print(f"[green]all {len(report.results)} rules pass[/]")
        return
    table_rows = [
        {
            "table": v.table,
            "field": v.field,
            "rule": v.rule,
            "count": v.violations,
            "share": v.share,
            "fix": "yes" if v.fixable else "no",
            "sample_keys": " ".join(v.sample_keys[:3]),
            "sample_values": " ".join(_clip(x) for x in v.sample_values[:2]),
        }
        for v in rows
    ]
    print_frame(
        table_rows,
        "Rule violations (share of the table's rows)",
        name="violations",
        kinds={"count": "count", "share": "ratio"},
        keep=("table", "field", "rule", "count", "share"),
    )
    fixable = sum(v.violations for v in report.failing if v.fixable)
    console.print(
        f"{report.total:,} violations of {len(report.failing)} rules "
        f"({len(report.results)} checked); {fixable:,} may be repaired by `revops quality fix`"
    )


@quality_app.command("fix")
@formatted
def quality_fix(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would change.")] = False,
    fmt: FormatOpt = Format.table,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Apply the safe normalizations and record each change so the run can be undone."""
    from revops.quality import fix

    with open_revops(config, warehouse) as ro:
        if dry_run:
            result = fix.plan(ro.warehouse, ro.model)
        else:
            who = require(ro.warehouse, "quality.fix")

            def fixed(batches: Sequence[Batch]) -> tuple[str, dict[str, Any]]:
                changes = rows_of(batches, "quality_changes")
                run = str(changes[0]["fix_run_id"]) if changes else ""
                return run, {"values": len(changes)}

            with audited(ro.warehouse, who.actor, "quality.fixed", fixed):
                result = fix.apply(ro.warehouse, ro.model)
    if not result.changes:
        console.print("[green]nothing to fix[/]: every value is already normalized")
        return
    print_frame(result.summary(), "Changes" + (" (dry run: nothing written)" if dry_run else ""))
    if dry_run:
        sample = [(c.table, c.record_id, c.field, c.before, c.after) for c in result.changes[:10]]
        _print_rows(sample, ("table", "key", "field", "before", "after"), "First changes")
    else:
        console.print(
            f"fixed {len(result.changes):,} values in run [bold]{result.run_id}[/]; "
            f"undo with: revops quality undo {result.run_id}"
        )


@quality_app.command("undo")
def quality_undo(
    run_id: Annotated[str, typer.Argument(help="The run id `quality fix` printed.")],
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Restore the values a fix run replaced and mark its changes undone."""
    from revops.quality.undo import undo

    with open_revops(config, warehouse) as ro:
        who = require(ro.warehouse, "quality.fix")

        def undone(batches: Sequence[Batch]) -> tuple[str, dict[str, Any]]:
            return run_id, {"restored": len(rows_of(batches, "quality_changes"))}

        with audited(ro.warehouse, who.actor, "quality.undone", undone):
            result = undo(ro.warehouse, run_id)
    console.print(f"restored {result.restored:,} values of run [bold]{run_id}[/]")
    if result.conflicts:
        console.print(f"[yellow]{result.conflicts:,} values changed since the fix and were kept[/]")


@quality_app.command("utm")
@formatted
def quality_utm(
    top: Annotated[int, typer.Option(help="Rows per table.")] = 15,
    fmt: FormatOpt = Format.table,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Audit UTM tags and campaign channels against the taxonomy; reconcile spend and campaigns."""
    from revops.quality.utm import audit

    with open_revops(config, warehouse) as ro:
        result = audit(ro.warehouse, ro.model.quality.utm)
    issues = result.by_campaign[["missing", "case", "unknown"]].sum(axis=1) > 0
    month_issues = result.by_month[["missing", "case", "unknown"]].sum(axis=1) > 0
    sections = [
        (result.values.head(top), "Off-taxonomy values (touchpoints)"),
        (result.by_campaign[issues].head(top), "Campaigns with tagging issues"),
        (result.by_month[month_issues], "Months with tagging issues"),
        (result.campaign_channels, "Campaigns whose channel is off-taxonomy"),
        (result.campaigns_without_spend, "Campaigns without spend"),
        (result.spend_without_campaign, "Spend without a campaign"),
    ]
    for frame, title in sections:
        if frame.empty:
            console.print(f"{title}: [green]none[/]")
        else:
            print_frame(frame, title, name=title.split(" (")[0].lower().replace(" ", "_"))


@quality_app.command("scorecard")
@formatted
def quality_scorecard(
    html: Annotated[Path | None, typer.Option(help="Also write the HTML report here.")] = None,
    save: Annotated[
        bool, typer.Option("--save/--no-save", help="Store today's snapshot for the trend.")
    ] = True,
    fmt: FormatOpt = Format.table,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Completeness, validity, uniqueness and match rate per table and field, with the trend."""
    from revops.quality import scorecard

    with open_revops(config, warehouse) as ro:
        if save:
            require(ro.warehouse, "quality.fix")
        wh, model = ro.warehouse, ro.model
        now = scorecard.take_snapshot(wh, model) if save else scorecard.measure(wh, model)
        history = scorecard.trend(wh, model)
        if html is not None:
            from revops.reports.quality import write_quality_report

            path = write_quality_report(ro, html)
    keep = ("table", "field", "complete", "valid")
    print_frame(
        _percent_frame(now), "Data quality scorecard", name="scorecard", kinds=_RATES, keep=keep
    )
    if not history.empty:
        print_frame(
            _percent_frame(history),
            "Trend (all scored fields)",
            name="trend",
            kinds=_RATES,
            keep=("date", "complete", "valid"),
        )
    if html is not None:
        console.print(f"wrote [bold]{path}[/]")


_SHORT = {
    "snapshot_date": "date",
    "table_name": "table",
    "field_name": "field",
    "rows": "rows",
    "completeness": "complete",
    "validity": "valid",
    "uniqueness": "unique",
    "match_rate": "match",
}


def _percent_frame(df: Any) -> Any:
    """Short headers, so the table fits an 80-column terminal (rates read as % in tables)."""
    return df[[c for c in _SHORT if c in df.columns]].rename(columns=_SHORT)


_RATES: dict[str, Kind] = {
    "complete": "ratio",
    "valid": "ratio",
    "unique": "ratio",
    "match": "ratio",
    "rows": "count",
    "date": "date",
}


def _clip(text: str, most: int = 22) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"


def _print_rows(rows: list[tuple[Any, ...]], header: tuple[str, ...], title: str) -> None:
    import pandas as pd

    print_frame(pd.DataFrame(rows, columns=list(header)), title)
