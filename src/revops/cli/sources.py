"""`revops sources`: the effective source mappings (shipped files + revops.yaml's `sources:`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from revops.cli._common import (
    ConfigOpt,
    Format,
    FormatOpt,
    console,
    formatted,
    print_frame,
    user_errors,
)
from revops.config.models import OperatingModel

sources_app = typer.Typer(
    help="Source mappings: how each export's columns and values land.", no_args_is_help=True
)


def _model(config: Path | None) -> OperatingModel:
    from revops.config import load_config
    from revops.context import default_config_path

    with user_errors():
        return load_config(config or default_config_path()).model


@sources_app.command("list")
@formatted
def sources_list(fmt: FormatOpt = Format.table, config: ConfigOpt = None) -> None:
    """Every source object and the table it loads into."""
    model = _model(config)
    rows = [
        {
            "source": f"{system}.{name}",
            "table": obj.table,
            "columns": len(obj.columns),
            "custom_fields": len(obj.custom),
            "deleted_flag": obj.deleted.column if obj.deleted else None,
        }
        for system, objects in sorted(model.sources.items())
        for name, obj in objects.items()
    ]
    print_frame(
        rows,
        "Source mappings",
        name="sources",
        kinds={"columns": "count", "custom_fields": "count"},
    )


@sources_app.command("show")
def sources_show(
    source: Annotated[str, typer.Argument(help="system.Object, e.g. salesforce.Lead.")],
    config: ConfigOpt = None,
) -> None:
    """The effective mapping of one source object, as YAML (time zone resolved)."""
    import yaml

    from revops.config.sources import find_object

    model = _model(config)
    with user_errors():
        if "." not in source:
            raise typer.BadParameter(f"say system.Object, e.g. {source}.Lead")
        try:
            name, obj = find_object(model.sources, source, None)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    data = obj.model_dump(mode="json", exclude_defaults=True)
    data["timezone"] = obj.timezone or f"{model.company.timezone} (company.timezone)"
    console.print(f"[bold]{name}[/] → {obj.table}")
    print(yaml.safe_dump(data, sort_keys=False, allow_unicode=True).rstrip())
