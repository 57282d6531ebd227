"""`revops forecast`: roll-ups, adjustments, manual probabilities, snapshots, methods, backtests."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from revops.access import require
from revops.audit import record
from revops.cli._common import (
    ConfigOpt,
    Format,
    FormatOpt,
    WarehouseOpt,
    console,
    formatted,
    open_revops,
    parse_day,
    print_frame,
    working,
)
from revops.cli.revenue import RELIABILITY_KINDS
from revops.errors import RevOpsError

if TYPE_CHECKING:
    from revops.context import RevOps
    from revops.pipeline.forecast import History
    from revops.pipeline.forecast.recommend import Call
    from revops.warehouse import Warehouse

forecast_app = typer.Typer(help="Sales forecasting and backtesting.", no_args_is_help=True)

PeriodOpt = Annotated[
    str, typer.Option("--period", help="Fiscal quarter (2026Q4) or range (2026-08-01..2026-10-31).")
]
AsOfOpt = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="As of the end of this day (YYYY-MM-DD); default the warehouse's latest data date.",
    ),
]
TypeOpt = Annotated[
    str | None,
    typer.Option("--type", help="new_business, expansion, renewal or all (default: every one)."),
]


def _day(text: str | None, option: str, wh: Warehouse) -> date:
    """The date given, or the warehouse's latest data date (said on the console)."""
    given = parse_day(text, option)
    if given is not None:
        return given
    from revops.pipeline.forecast.data import latest_data_date

    day = latest_data_date(wh)
    console.print(f"[dim]{option} {day}: the warehouse's latest data date[/]")
    return day


def _history(ro: RevOps) -> History:
    """The command's forecast history, its win models fitted in worker processes: a standalone
    command has the machine's cores to itself (the demo and the web fit in their own process)."""
    from revops.models.workers import usable
    from revops.pipeline.forecast import History

    return History(ro.warehouse, ro.model, workers=usable())


def _print_call(call: Call | None, note: str, money: str) -> None:
    """The recommended call, its band and why, or why there is none."""
    if call is None:
        console.print(f"[yellow]no recommended call:[/] {note}")
        return
    console.print(
        f"[bold]recommended call {money} {call.forecast:,.0f}[/] ({call.method}; likely "
        f"{call.low:,.0f} – {call.high:,.0f}): {call.reason}"
    )
    if call.caveat:
        console.print(f"[yellow]caveat:[/] {call.caveat}")


@forecast_app.command("rollup")
@formatted
def rollup_cmd(
    period: PeriodOpt,
    as_of: AsOfOpt = None,
    opportunity_type: TypeOpt = None,
    level: Annotated[
        str | None, typer.Option("--level", help="Only rep, manager, region or company.")
    ] = None,
    fmt: FormatOpt = Format.table,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Calls by category, rep → manager → region → company, with adjustments beside them."""
    from revops.pipeline.forecast import forecast_methods, forecast_rollup, parse
    from revops.pipeline.forecast.rollup import wide

    with open_revops(config, warehouse) as ro:
        p = parse(ro.model, period)
        day = _day(as_of, "--as-of", ro.warehouse)
        out = wide(forecast_rollup(ro.warehouse, ro.model, p, day, opportunity_type))
        show_call = level in (None, "company") and opportunity_type in (None, "all")
        res = forecast_methods(ro.warehouse, ro.model, p, day, _history(ro)) if show_call else None
        currency = ro.model.company.currency
    if level is not None:
        out = out[out["level"] == level]
    money = [c for c in out.columns if c not in ("level", "subject_id", "subject_name")]
    money = [c for c in money if c not in ("opportunity_type", "notes")]
    print_frame(
        out,
        f"Forecast {p.label} as of {day}",
        name="rollup",
        kinds={**dict.fromkeys(money, "money"), "subject_id": "text"},
        hidden=("subject_id",),
        keep=("level", "subject_name", "opportunity_type", "commit", "best_case"),
    )
    if res is not None:
        _print_call(res.call, res.call_note + " (company level, all types)", currency)


@forecast_app.command("adjust")
def adjust_cmd(
    period: PeriodOpt,
    level: Annotated[str, typer.Option("--level", help="rep, manager, region or company.")],
    subject: Annotated[
        str,
        typer.Option(
            "--subject", help="A rep or manager (id, email or name), a region code or 'all'."
        ),
    ],
    category: Annotated[str, typer.Option("--category", help="commit, best_case, pipeline, …")],
    amount: Annotated[float, typer.Option("--amount", help="The manager's number.")],
    note: Annotated[str, typer.Option("--note", help="Why (required).")],
    opportunity_type: Annotated[
        str, typer.Option("--type", help="Pipeline adjusted, or 'all'.")
    ] = "all",
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Put a manager's number beside the rep's call (the call itself is kept)."""
    from revops.pipeline.forecast import adjust, parse

    with open_revops(config, warehouse) as ro:
        actor = require(ro.warehouse, "forecast.adjust").actor
        p = parse(ro.model, period)
        if level in ("rep", "manager"):
            from revops.people import resolve_user

            subject = resolve_user(ro.warehouse, subject)
        adjust(
            ro.warehouse,
            period=p,
            level=level,
            subject_id=subject,
            category=category,
            amount=amount,
            note=note,
            actor=actor,
            opportunity_type=opportunity_type,
        )
    console.print(
        f"adjusted {p.label} {level} {subject} {opportunity_type} {category}: {amount:,.0f}"
    )


@forecast_app.command("probability")
def probability_cmd(
    opportunity_id: Annotated[str, typer.Argument(help="opportunities.opportunity_id")],
    probability: Annotated[
        float | None, typer.Argument(help="Win probability 0–100; omit with --clear.")
    ] = None,
    note: Annotated[str, typer.Option("--note", help="Why (required).")] = "",
    clear: Annotated[
        bool, typer.Option("--clear", help="Back to the stage's probability.")
    ] = False,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Set a deal's manual win probability; stage changes never overwrite it."""
    from revops.pipeline.forecast import set_probability

    with open_revops(config, warehouse) as ro:
        if (probability is None) != clear:
            raise RevOpsError("give a probability, or --clear to remove the manual one")
        actor = require(ro.warehouse, "forecast.adjust").actor
        set_probability(
            ro.warehouse,
            opportunity_id=opportunity_id,
            probability=probability,
            note=note,
            actor=actor,
        )
    shown = "cleared" if probability is None else f"{probability:g}%"
    console.print(f"{opportunity_id}: manual probability {shown}")


@forecast_app.command("snapshot")
def snapshot_cmd(
    as_of: AsOfOpt = None,
    backfill_from: Annotated[
        str | None,
        typer.Option("--backfill-from", help="Also every 7th day from this date (YYYY-MM-DD)."),
    ] = None,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Store the pipeline as of a date (idempotent per date), optionally backfilling weeks."""
    from revops.pipeline.forecast import snapshot
    from revops.pipeline.forecast.snapshots import weekly_dates

    with open_revops(config, warehouse) as ro:
        actor = require(ro.warehouse, "forecast.write").actor
        day = _day(as_of, "--as-of", ro.warehouse)
        first = parse_day(backfill_from, "--backfill-from")
        dates = sorted({day, *(weekly_dates(first, day) if first else [])})
        rows = snapshot(ro.warehouse, ro.model, dates)
        record(
            ro.warehouse,
            actor,
            "forecast.snapshot",
            f"{dates[0]}..{dates[-1]}",
            {"dates": len(dates), "rows": rows},
        )
    console.print(f"stored {rows:,} snapshot rows for {len(dates)} date(s)")


@forecast_app.command("changes")
@formatted
def changes_cmd(
    start: Annotated[str, typer.Option("--from", help="Earlier snapshot date.")],
    end: Annotated[str, typer.Option("--to", help="Later snapshot date.")],
    period: Annotated[
        str | None, typer.Option("--period", help="Only deals due in this period.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="Rows of detail to show.")] = 30,
    fmt: FormatOpt = Format.table,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Deals added, won, lost, pushed, pulled in, resized or moved between two snapshots."""
    from revops.pipeline.forecast import parse, snapshot_changes

    with open_revops(config, warehouse) as ro:
        a, b = _day(start, "--from", ro.warehouse), _day(end, "--to", ro.warehouse)
        p = parse(ro.model, period) if period else None
        changed, summary = snapshot_changes(ro.warehouse, ro.model, a, b, p)
    print_frame(summary, f"Changes {a} → {b}" + (f" in {p.label}" if p else ""), name="summary")
    shown = ["opportunity_id", "change", "opportunity_type", "stage_before", "stage_after"]
    shown += ["amount_delta", "close_date_before", "close_date_after", "left_period"]
    detail = changed[shown].head(limit)
    print_frame(
        detail,
        f"First {min(limit, len(changed))} of {len(changed)} changes",
        name="changes",
        kinds={"amount_delta": "money"},
        keep=("opportunity_id", "change", "amount_delta"),
    )


@forecast_app.command("methods")
@formatted
def methods_cmd(
    period: PeriodOpt,
    as_of: AsOfOpt = None,
    fmt: FormatOpt = Format.table,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Each method's forecast of closed-won bookings, with its parts."""
    from revops.pipeline.forecast import forecast_methods, parse

    with open_revops(config, warehouse) as ro:
        p = parse(ro.model, period)
        day = _day(as_of, "--as-of", ro.warehouse)
        res = forecast_methods(ro.warehouse, ro.model, p, day, _history(ro))
        currency = ro.model.company.currency
    money = {c: "money" for c in res.methods.columns if c not in ("method", "opportunity_type")}
    print_frame(
        res.methods,
        f"Forecast {p.label} as of {day} (trained through {res.trained_through})",
        name="methods",
        kinds=money,  # type: ignore[arg-type]
        keep=("method", "opportunity_type", "forecast"),
    )
    _print_call(res.call, res.call_note, currency)
    print_frame(
        res.creation,
        "Pipeline not yet created (from past quarters at the same point)",
        name="not_yet_created",
        kinds={"quarters": "count", "created_per_quarter": "number", "expected": "money"},
    )
    for method, reason in res.skipped.items():
        console.print(f"[yellow]{method} left out:[/] {reason}")


@forecast_app.command("backtest")
@formatted
def backtest_cmd(
    last: Annotated[
        int | None,
        typer.Option(
            "--last",
            help="Replay the last N backtestable quarters (0: all); default "
            "forecast.backtest_quarters. Only the configured window is stored.",
        ),
    ] = None,
    fmt: FormatOpt = Format.table,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Replay past quarters week by week; MAPE and bias per method per quarter (stored)."""
    from revops.pipeline.forecast import run_backtest

    with open_revops(config, warehouse) as ro:
        require(ro.warehouse, "forecast.write")
        with working("backtesting") as step:
            res = run_backtest(
                ro.warehouse, ro.model, last=last, progress=step, history=_history(ro)
            )
        configured = ro.model.forecast.backtest_quarters
    print_frame(
        res.summary,
        "Backtest: MAPE and bias (mean signed % error) over the weeks",
        name="backtest",
        kinds={"weeks": "count", "actual": "money", "mape": "ratio", "bias": "ratio"},
    )
    if not res.recommended.empty:
        picks = res.recommended.drop_duplicates(["quarter", "phase"])
        print_frame(
            picks[["quarter", "phase", "chosen"]],
            "Recommended call: the candidate chosen on earlier quarters only, per phase",
            name="recommended",
        )
    if last is not None and last != configured:
        console.print(
            f"[yellow]not stored:[/] --last {last} differs from forecast.backtest_quarters "
            f"({configured}), which forecast_accuracy and the recommended call read"
        )
    for what, reason in res.skipped.items():
        console.print(f"[yellow]{what} left out:[/] {reason}")


@forecast_app.command("win-model")
@formatted
def win_model_cmd(
    fmt: FormatOpt = Format.table, config: ConfigOpt = None, warehouse: WarehouseOpt = None
) -> None:
    """Train the per-deal win model on early deals; AUC and calibration on later ones."""
    from revops.pipeline.forecast import win_model_report
    from revops.pipeline.forecast.win_model import WITHHELD_MEANS

    with open_revops(config, warehouse) as ro, working("training the win model"):
        ev = win_model_report(ro.warehouse, ro.model, _history(ro))
    console.print(
        f"trained on {ev.model.n_rows:,} snapshot rows of {ev.model.n_deals:,} deals (periods "
        f"through {ev.model.trained_through}); tested on {ev.n_test_rows:,} rows of "
        f"{ev.n_test_deals:,} deals created from {ev.test_from}"
    )
    console.print(
        f"AUC {ev.auc:.3f} (stage probability alone {ev.stage_auc:.3f}); Brier {ev.brier:.4f} "
        f"(base rate alone {ev.base_brier:.4f})"
    )
    print_frame(
        ev.calibration,
        "Calibration by decile on later deals (10 = highest)",
        name="calibration",
        kinds={"decile": "text", "rows": "count", "wins": "count"},
    )
    rel = ev.reliability
    if rel is not None:
        console.print(rel.summary())
        print_frame(
            rel.table,
            "Reliability on the later half of the test rows (before)",
            name="reliability",
            kinds=RELIABILITY_KINDS,
        )
        if rel.recalibrated:
            print_frame(
                rel.table_after,
                "Reliability after recalibration",
                name="reliability_after",
                kinds=RELIABILITY_KINDS,
            )
    if ev.verdict is not None:
        style = "bold yellow" if ev.verdict.withheld else "green"
        console.print(f"[{style}]{ev.verdict.summary(instead=WITHHELD_MEANS)}[/]")


@forecast_app.command("report")
def report_cmd(
    period: PeriodOpt,
    as_of: AsOfOpt = None,
    out: Annotated[Path, typer.Option("--out", help="HTML file to write.")] = Path(
        "out/reports/forecast.html"
    ),
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Offline HTML: methods, roll-up, backtest (run `forecast backtest` first), win model."""
    from revops.pipeline.forecast import parse
    from revops.reports.forecast import write_forecast_report

    with open_revops(config, warehouse) as ro:
        day = _day(as_of, "--as-of", ro.warehouse)
        path = write_forecast_report(ro, out, parse(ro.model, period), day, _history(ro))
    console.print(f"report: {path}")
