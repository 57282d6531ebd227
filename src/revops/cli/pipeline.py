"""`revops pipeline`: the sales pipeline as of any date, its analytics and its hygiene; and
`revops report pipeline`. Read-only, except `run`, which rebuilds pipeline_changes."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from revops.cli._common import (
    ConfigOpt,
    Format,
    FormatOpt,
    WarehouseOpt,
    console,
    open_revops,
    parse_day,
    print_frame,
    reading,
    with_user_names,
)
from revops.cli.reports import report_app

if TYPE_CHECKING:
    import pandas as pd

    from revops.context import RevOps
    from revops.pipeline.engine import PipelineEngine, SnapshotBy

pipeline_app = typer.Typer(
    help="Sales pipeline: point-in-time snapshots, conversion, velocity, coverage, hygiene.",
    no_args_is_help=True,
)

AsOfOpt = Annotated[
    str | None,
    typer.Option("--as-of", help="End of this day (YYYY-MM-DD); default: the newest stage change."),
]
SinceOpt = Annotated[
    str | None,
    typer.Option(
        "--since", help="Deals closed from this day count in win rates (default: a year)."
    ),
]


def _engine(ro: RevOps) -> PipelineEngine:
    from revops.pipeline.engine import PipelineEngine

    return PipelineEngine(ro.warehouse, ro.model.pipeline)


def _as_of(engine: PipelineEngine, text: str | None) -> date:
    return parse_day(text, "--as-of") or engine.latest_day()


def _pretty(df: pd.DataFrame) -> pd.DataFrame:
    """Without the helper columns (rank, in_total) the engine keeps for its own use."""
    return df.drop(columns=[c for c in ("rank", "in_total") if c in df.columns])


_SHORT = {
    "open_deals": "open",
    "open_value": "value",
    "flagged_deals": "flagged",
    "clean_share": "clean share",
    "value_at_risk": "at risk",
    "close_date_past": "past close",
    "no_activity": "idle",
    "missing_amount": "no amount",
    "missing_next_step": "no next step",
    "stuck_in_stage": "stuck",
    "pushed_close_date": "pushed",
}


_COUNTED = ("open", "flagged", "past close", "idle", "no amount", "no next step", "stuck", "pushed")


@pipeline_app.command("run")
def run(config: ConfigOpt = None, warehouse: WarehouseOpt = None) -> None:
    """Rebuild pipeline_changes (skips, regressions, pushes) for the metric dictionary."""
    from revops.access import require

    with open_revops(config, warehouse) as ro:
        require(ro.warehouse, "pipeline.write")
        rows = _engine(ro).build_changes()
    console.print(f"pipeline_changes: {rows:,} rows rebuilt from stage history")


@pipeline_app.command("snapshot")
def snapshot(
    as_of: AsOfOpt = None,
    by: Annotated[
        str,
        typer.Option(
            "--by", help="stage, owner, segment, region, opportunity_type or forecast_category."
        ),
    ] = "stage",
    deals: Annotated[bool, typer.Option("--deals", help="List the open deals too.")] = False,
    fmt: FormatOpt = Format.table,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """The open pipeline as it stood at the end of a day, rebuilt from stage history."""
    from revops.errors import RevOpsError

    choices = ("stage", "owner", "segment", "region", "opportunity_type", "forecast_category")
    with reading(fmt), open_revops(config, warehouse) as ro:
        if by not in choices:
            raise RevOpsError(f"--by {by!r}: choose from {', '.join(choices)}")
        engine = _engine(ro)
        day = _as_of(engine, as_of)
        key: SnapshotBy = by  # type: ignore[assignment]
        frame = engine.snapshot(day, key)
        if by == "owner":
            frame = with_user_names(
                frame.rename(columns={"owner": "owner_id"}), ro.warehouse, owner_id="owner"
            )
        print_frame(_pretty(frame), f"Open pipeline as of {day} by {by}", name="pipeline")
        if deals:
            cols = ["opportunity_id", "owner_id", "stage", "amount", "close_date"]
            cols += ["forecast_category"]
            listing = with_user_names(engine.deals(day)[cols], ro.warehouse, owner_id="owner")
            print_frame(listing, f"Open deals as of {day}", name="deals")


@pipeline_app.command("metrics")
def metrics(
    as_of: AsOfOpt = None,
    since: SinceOpt = None,
    by: Annotated[
        str | None,
        typer.Option("--by", help="owner, segment, region or opportunity_type."),
    ] = None,
    fmt: FormatOpt = Format.table,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Conversion, time in stage, cycle, win rates, velocity, coverage, skips and regressions."""
    with reading(fmt) as out, open_revops(config, warehouse) as ro:
        engine = _engine(ro)
        day = _as_of(engine, as_of)
        m = engine.metrics(day, since=parse_day(since, "--since"), by=(by,) if by else ())

        def named(frame: pd.DataFrame) -> pd.DataFrame:
            if by != "owner" or "owner" not in frame.columns:
                return frame
            ids = frame.rename(columns={"owner": "owner_id"})
            return with_user_names(ids, ro.warehouse, owner_id="owner")

        frames = {
            "win_rates": m.win_rates,
            "velocity": m.velocity,
            "conversion": m.conversion,
            "time_in_stage": m.time_in_stage,
            "skips": m.skips,
            "coverage": m.coverage,
            "coverage_total": m.coverage_total,
        }
        frames = {k: named(v) for k, v in frames.items()}
        when = f"as of {m.as_of}"
        titles = {
            "win_rates": f"Win rates, deal size and cycle (closed {m.since}–{m.as_of})",
            "velocity": f"Sales velocity per day {when}",
            "conversion": f"Stage-to-stage conversion {when}",
            "time_in_stage": f"Time in stage (days) {when}",
            "skips": f"Stage skips and regressions {when}",
            "coverage": f"Pipeline coverage {when}",
            "coverage_total": "Pipeline coverage, company",
        }
        for key, frame in frames.items():
            if key.startswith("coverage") and not len(m.coverage):
                continue
            first = [str(c) for c in frame.columns[:1] if c != "quota"]
            keep = (*first, "owner", "stage", "coverage", "open_pipeline", "win_rate")
            print_frame(_pretty(frame), titles[key], name=key, transpose=True, keep=keep)
        if not len(m.coverage):
            out.note(f"coverage: no quota in the quotas table covers {m.as_of}")


@pipeline_app.command("hygiene")
def hygiene(
    as_of: AsOfOpt = None,
    rep: Annotated[
        str | None, typer.Option("--rep", help="Only this owner: user id, email or name.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="Flagged deals to list.")] = 30,
    fmt: FormatOpt = Format.table,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Per-rep hygiene scorecard and the flagged deals, each with the rule and its evidence."""
    from revops.errors import RevOpsError

    with reading(fmt), open_revops(config, warehouse) as ro:
        engine = _engine(ro)
        if rep is not None:
            from revops.people import resolve_user

            rep = resolve_user(ro.warehouse, rep)
        result = engine.hygiene(_as_of(engine, as_of), rep=rep)
        if rep is not None and result.scorecard.empty:
            raise RevOpsError(f"--rep {rep!r} owns no open deal on {result.as_of}")
        card = result.scorecard.rename(columns=_SHORT)
        print_frame(
            _pretty(card),
            f"Pipeline hygiene as of {result.as_of}",
            name="scorecard",
            hidden=("owner_id",),
            kinds={c: "count" for c in _COUNTED if c in card.columns},
            transpose=True,
        )
        cols = ["opportunity_id", "owner_id", "rep", "stage", "amount", "rule", "evidence"]
        flags = result.flags.sort_values("amount", ascending=False, na_position="first")
        print_frame(
            _pretty(flags[[c for c in cols if c in flags.columns]].head(limit)),
            f"Flagged deals ({len(flags):,} flags on {flags['opportunity_id'].nunique():,} deals)",
            name="flags",
            hidden=("owner_id",),
            keep=("opportunity_id", "rep"),
        )


@report_app.command("pipeline")
def report_pipeline(
    out: Annotated[Path, typer.Option(help="Where to write the HTML.")] = Path(
        "out/reports/pipeline.html"
    ),
    as_of: AsOfOpt = None,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Write the pipeline report (offline HTML with charts)."""
    from revops.reports.pipeline import write_pipeline_report

    with open_revops(config, warehouse) as ro:
        path = write_pipeline_report(ro, out, as_of=parse_day(as_of, "--as-of"))
    console.print(f"wrote [bold]{path}[/]")
