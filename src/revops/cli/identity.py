"""`revops quality merge | unmerge | match | evaluate`: identity resolution from the shell."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from revops.access import require
from revops.audit import audited, rows_of
from revops.cli._common import (
    ConfigOpt,
    Format,
    FormatOpt,
    WarehouseOpt,
    console,
    formatted,
    open_revops,
    print_frame,
    working,
)
from revops.cli.quality import quality_app
from revops.errors import RevOpsError
from revops.warehouse import Batch


def _plans_frames(plans: Sequence[Any]) -> tuple[Any, Any]:
    """The merges planned as two tables: each field a merge changes on its survivor (before
    and after, as text: the fields' types differ), and the child rows it re-parents."""
    import pandas as pd

    def text(v: Any) -> str | None:
        return None if v is None or v == "" else str(v)

    changes = pd.DataFrame(
        [
            {
                "survivor_id": p.survivor_id,
                "merged_ids": ", ".join(p.merged_ids),
                "field": name,
                "survivor_now": text(before),
                "after_merge": text(after),
            }
            for p in plans
            for name, before, after in p.changes()
        ],
        columns=["survivor_id", "merged_ids", "field", "survivor_now", "after_merge"],
    )
    children = pd.DataFrame(
        [
            {"survivor_id": p.survivor_id, "child_table": table, "rows": n}
            for p in plans
            for table, n in sorted(p.child_counts().items())
        ],
        columns=["survivor_id", "child_table", "rows"],
    )
    return changes, children


SHOWN_PLANS = 50  # merges a person reads in a table; csv and json list every one


def _print_plans(plans: Sequence[Any], table: str) -> None:
    from revops.cli.output import current_output

    out = current_output()
    cut = (out is None or out.for_people) and len(plans) > SHOWN_PLANS
    changes, children = _plans_frames(plans[:SHOWN_PLANS] if cut else plans)
    kinds: dict[str, Any] = dict.fromkeys(changes.columns, "text")
    print_frame(
        changes,
        f"{table}: fields each merge changes on its survivor",
        name="changes",
        kinds=kinds,
        keep=("survivor_id", "field", "after_merge"),
    )
    print_frame(
        children,
        f"{table}: child rows re-parented to the survivor",
        name="children",
        kinds={"survivor_id": "id", "child_table": "text", "rows": "count"},
    )
    if cut:
        console.print(f"first {SHOWN_PLANS} of {len(plans):,} merges shown; --format csv lists all")


@quality_app.command("merge")
@formatted
def merge_cmd(
    survivor_id: Annotated[str | None, typer.Argument(help="Record that survives.")] = None,
    merged_ids: Annotated[list[str] | None, typer.Argument(help="Records merged into it.")] = None,
    table: Annotated[str, typer.Option("--table", "-t", help="persons or accounts.")] = "persons",
    auto: Annotated[
        bool, typer.Option("--auto", help="Merge every auto-merge cluster found by dedupe.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change; write nothing.")
    ] = False,
    actor: Annotated[str | None, typer.Option(help="Who the merge is logged as.")] = None,
    fmt: FormatOpt = Format.table,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Merge duplicates with survivorship; children follow the survivor; logged for unmerge.
    --dry-run shows the plan (in --format table, csv or json) and writes nothing."""
    from revops.identity.merge import MERGEABLE, apply_merges, auto_groups, plan_merges

    with open_revops(config, warehouse) as ro:
        who = None if dry_run else require(ro.warehouse, "identity.merge")
        if table not in MERGEABLE:
            raise RevOpsError(f"--table must be one of {', '.join(MERGEABLE)}")
        name: Literal["persons", "accounts"] = "persons" if table == "persons" else "accounts"
        if auto:
            from revops.identity.dedupe import find_duplicates

            groups = auto_groups(
                ro.warehouse, name, find_duplicates(ro.warehouse, ro.model, name).clusters
            )
        elif survivor_id and merged_ids:
            groups = [(survivor_id, list(merged_ids))]
        else:
            raise RevOpsError("give SURVIVOR_ID and MERGED_ID…, or --auto")
        plans = plan_merges(ro.warehouse, ro.model.merge, name, groups)
        if dry_run or not auto:
            _print_plans(plans, name)
        if dry_run:
            console.print(f"[yellow]dry run:[/] {len(plans):,} merge(s) planned, nothing written")
            return
        assert who is not None

        def merges_of(batches: Sequence[Batch]) -> tuple[str, dict[str, Any]]:
            found = sorted({str(r["merge_id"]) for r in rows_of(batches, "merge_log")})
            details = {"table": name, "merges": len(found), "merge_ids": found[:200]}
            return f"{len(found)} {name} merge(s)", details

        with audited(ro.warehouse, who.actor, "identity.merged", merges_of):
            ids = apply_merges(ro.warehouse, plans, actor=actor or ro.model.merge.actor)
    merged = sum(len(p.merged_ids) for p in plans)
    console.print(f"[green]✓[/] {merged:,} {name} merged in {len(ids):,} merge(s)")
    for merge_id in ids[:20]:
        console.print(f"  {merge_id}  (undo: revops quality unmerge {merge_id})")


@quality_app.command("unmerge")
def unmerge_cmd(
    merge_id: Annotated[str, typer.Argument(help="Merge id from `merge` or merge_log.")],
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Undo a merge: restore the records exactly and point their children back."""
    from revops.identity.mergelog import unmerge

    with open_revops(config, warehouse) as ro:
        who = require(ro.warehouse, "identity.merge")

        def restored(batches: Sequence[Batch]) -> tuple[str, dict[str, Any]]:
            ids = [str(r["merged_id"]) for r in rows_of(batches, "merge_log")]
            return merge_id, {"restored": ids}

        with audited(ro.warehouse, who.actor, "identity.unmerged", restored):
            result = unmerge(ro.warehouse, merge_id)
    moved = ", ".join(f"{n:,} {t}" for t, n in sorted(result.children.items())) or "no children"
    console.print(
        f"[green]✓[/] restored {', '.join(result.restored_ids)} beside {result.survivor_id}; "
        f"moved back: {moved}"
    )


@quality_app.command("match")
@formatted
def match_cmd(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show matches; write nothing.")
    ] = False,
    top: Annotated[int, typer.Option("--top", "-n", help="Matches to show.")] = 20,
    fmt: FormatOpt = Format.table,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Match persons without an account to one, by email domain, company name and country."""
    from revops.identity.matching import run_matching

    with open_revops(config, warehouse) as ro:
        if not dry_run:
            require(ro.warehouse, "identity.merge")
        with working("matching persons to accounts"):
            run = run_matching(ro.warehouse, ro.model.matching, dry_run=dry_run)
    frame = run.matches.to_pandas()
    if not frame.empty:
        kinds = frame["reason"].str.replace(r"^domain .*", "domain", regex=True)
        kinds = kinds.str.replace(r"^fuzzy company [0-9.]+", "fuzzy company", regex=True)
        summary = kinds.value_counts().rename_axis("evidence").reset_index(name="persons")
        print_frame(summary, "Matches by evidence", name="evidence", kinds={"persons": "count"})
        shown = frame.sort_values("confidence", ascending=False).head(top)
        print_frame(
            shown[["person_id", "account_id", "confidence", "reason", "candidates"]],
            "Top matches",
            name="matches",
            kinds={"confidence": "ratio", "candidates": "count"},
            keep=("person_id", "account_id", "confidence"),
        )
    verb = "would be written" if dry_run else "written to persons.account_id"
    console.print(
        f"{len(frame):,} persons matched; {run.applied:,} confident matches {verb}"
        + ("" if dry_run else "; all matches in account_matches")
    )


@quality_app.command("evaluate")
@formatted
def evaluate_cmd(
    truth: Annotated[Path, typer.Option("--truth", help="Folder with the demo's truth/*.csv.")],
    fmt: FormatOpt = Format.table,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Precision, recall and F1 of dedupe and matching against the demo's planted truth."""
    import pandas as pd

    from revops.identity.evaluate import evaluate

    with (
        open_revops(config, warehouse) as ro,
        working("resolving identities against the planted truth"),
    ):
        done = evaluate(ro.warehouse, ro.model, truth)
    frame = pd.DataFrame(
        [
            {
                "task": s.name,
                "precision": s.precision,
                "recall": s.recall,
                "f1": s.f1,
                "correct": s.true_positives,
                "predicted": s.predicted,
                "planted": s.actual,
            }
            for s in done.scores
        ]
    )
    print_frame(
        frame,
        "Identity resolution vs planted truth",
        name="evaluation",
        kinds={
            "precision": "ratio",
            "recall": "ratio",
            "f1": "ratio",
            "correct": "count",
            "predicted": "count",
            "planted": "count",
        },
    )
    from revops.cli.revenue import RELIABILITY_KINDS

    for rep in done.calibration:  # the match probability on every labelled candidate pair
        console.print(rep.summary())
        stem = rep.model.replace(" ", "_")
        print_frame(
            rep.table,
            f"{rep.model}: reliability (before)",
            name=f"{stem}_reliability",
            kinds=RELIABILITY_KINDS,
        )
        if rep.recalibrated:
            print_frame(
                rep.table_after,
                f"{rep.model}: reliability (after)",
                name=f"{stem}_reliability_after",
                kinds=RELIABILITY_KINDS,
            )
