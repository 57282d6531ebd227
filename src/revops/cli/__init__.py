"""The `revops` command line: thin commands over the `RevOps` facade, rendered with Rich.

Each command group lives in its own module; this one names them and loads a module only when
its command runs. The command modules import the engines, and through them pandas, Ibis,
pyarrow, scikit-learn and DuckDB (about a second); `revops --help` needs none of it, so the
top-level listing is printed from the names and one-line helps below, and `test_cli_lazy.py`
holds them equal to the modules' own. Errors a user can fix (a bad file, a bad config, an
unknown metric) print as one red line and exit 1; `--debug` shows the traceback instead.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import typer
from typer.core import TyperCommand, TyperGroup

from revops.cli._state import state

if TYPE_CHECKING:
    # Typer's own copy of Click in recent versions; only named in annotations.
    from typer import _click as click


@dataclass(frozen=True)
class Lazy:
    """Where a top-level command lives: `attr` is a command function or a Typer group in
    `module`; `also` are modules that add commands to that group (`report pipeline` lives with
    the pipeline commands); `help` is what `revops --help` shows for it."""

    module: str
    attr: str
    help: str
    also: tuple[str, ...] = ()


# In the order `revops --help` lists them: commands, then groups.
COMMANDS: dict[str, Lazy] = {
    "demo": Lazy(
        "revops.cli.demo",
        "demo",
        "Generate the demo company, load it, run every engine and write the reports.",
    ),
    "load": Lazy(
        "revops.cli.data",
        "load",
        "Load an export into the warehouse: validated, upserted by primary key, atomic.",
    ),
    "tables": Lazy(
        "revops.cli.data", "tables", "The canonical data model: tables, keys and relations."
    ),
    "serve": Lazy(
        "revops.cli.serve",
        "serve",
        "Serve POST /leads, accept/reject/assign, GET /leads/{id} and /sla/breaches.",
    ),
    "plan": Lazy(
        "revops.cli.governance",
        "plan",
        "Compare NEW with the active model and show its impact on the data in the warehouse.",
    ),
    "apply": Lazy(
        "revops.cli.governance",
        "apply",
        "Activate NEW as the next operating-model version (revops_admin; approver and reason).",
    ),
    "history": Lazy(
        "revops.cli.governance",
        "history",
        "List operating-model versions, newest last; the newest is active.",
    ),
    "rollback": Lazy(
        "revops.cli.governance",
        "rollback",
        "Re-activate an earlier version as a new version (revops_admin; reason required).",
    ),
    "metrics": Lazy("revops.cli.metrics", "metrics_app", "The metric dictionary."),
    "lifecycle": Lazy("revops.cli.lifecycle", "lifecycle_app", "The lifecycle engine."),
    "config": Lazy("revops.cli.data", "config_app", "The operating model (revops.yaml)."),
    "sources": Lazy(
        "revops.cli.sources",
        "sources_app",
        "Source mappings: how each export's columns and values land.",
    ),
    "report": Lazy(
        "revops.cli.reports", "report_app", "HTML reports.", also=("revops.cli.pipeline",)
    ),
    "quality": Lazy(
        "revops.cli.quality",
        "quality_app",
        "Data quality: rules, dedupe, merges, matching.",
        also=("revops.cli.dedupe", "revops.cli.identity"),
    ),
    "quarantine": Lazy(
        "revops.cli.quarantine",
        "quarantine_app",
        "Rows ingestion refused: list, show, export, replay.",
    ),
    "revenue": Lazy(
        "revops.cli.revenue",
        "revenue_app",
        "Revenue and retention: MRR, waterfall, NRR/GRR, health, risk.",
    ),
    "attribution": Lazy(
        "revops.cli.attribution",
        "attribution_app",
        "Multi-touch attribution and marketing performance.",
    ),
    "score": Lazy(
        "revops.cli.scoring",
        "score_app",
        "Lead scoring: rule scores, the predictive model and its report.",
    ),
    "route": Lazy("revops.cli.routing", "routing_app", "Lead routing."),
    "territory": Lazy("revops.cli.planning", "territory_app", "Balanced territory design."),
    "quota": Lazy("revops.cli.planning", "quota_app", "Quotas, attainment and capacity planning."),
    "comp": Lazy("revops.cli.planning", "comp_app", "Compensation: payouts, adjustments, locks."),
    "pipeline": Lazy(
        "revops.cli.pipeline",
        "pipeline_app",
        "Sales pipeline: point-in-time snapshots, conversion, velocity, coverage, hygiene.",
    ),
    "forecast": Lazy("revops.cli.forecast", "forecast_app", "Sales forecasting and backtesting."),
    "keys": Lazy("revops.cli.access", "keys_app", "API keys for the intake API (revops_admin)."),
    "access": Lazy("revops.cli.access", "access_app", "Roles of CLI users (revops_admin)."),
    "audit": Lazy("revops.cli.governance", "audit_app", "The hash-chained audit log."),
    "privacy": Lazy(
        "revops.cli.privacy", "privacy_app", "Consent, data subject rights and pseudonyms."
    ),
    "audience": Lazy("revops.cli.privacy", "audience_app", "Outgoing lists, filtered by consent."),
    "automate": Lazy(
        "revops.cli.automation",
        "automate_app",
        "Automations: triggers → actions, delivered once.",
    ),
    "tasks": Lazy("revops.cli.automation", "tasks_app", "Tasks automations created for owners."),
    "users": Lazy("revops.cli.users", "users_app", "People who sign in to the web workspace."),
    "sync": Lazy(
        "revops.cli.sync",
        "sync_app",
        "Write-back: owners, stages, scores and flags to the CRM and MAP.",
    ),
}


# Help as Click prints it. Typer's Rich help imports rich.markdown and markdown-it whatever the
# mode, which doubled `revops --help` (0.19 s -> 0.40 s on 2 cores, issue 19's goal is 0.3 s).
# The main app passes the mode down to every group it builds.
HELP_MARKUP = None


def load_command(name: str) -> click.Command:
    """Import `name`'s module (and the modules that add to its group) and build its command as
    Typer would have built it on the main app."""
    lazy = COMMANDS[name]
    module = importlib.import_module(lazy.module)
    for extra in lazy.also:
        importlib.import_module(extra)
    target = getattr(module, lazy.attr)
    holder = typer.Typer(rich_markup_mode=HELP_MARKUP)
    if isinstance(target, typer.Typer):
        holder.add_typer(target, name=name)
    else:
        holder.command(name=name)(target)
    group = typer.main.get_group(holder)
    return group.commands[name]


class LazyGroup(TyperGroup):
    """The main group: commands named in `COMMANDS`, each built on first use. While the help is
    printed, a command is only its name and one-line help, so nothing is imported."""

    listing = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*super().list_commands(ctx), *(n for n in COMMANDS if n not in self.commands)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands or cmd_name not in COMMANDS:
            return super().get_command(ctx, cmd_name)
        if self.listing:
            return TyperCommand(cmd_name, help=COMMANDS[cmd_name].help)
        command = load_command(cmd_name)
        self.add_command(command, cmd_name)
        return command

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self.listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self.listing = False


app = typer.Typer(
    cls=LazyGroup,
    rich_markup_mode=HELP_MARKUP,
    help="revops: one operating model, one revenue warehouse.",
    no_args_is_help=True,
)


@app.callback()
def main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
) -> None:
    state["debug"] = debug


__all__ = ["COMMANDS", "app", "load_command"]
