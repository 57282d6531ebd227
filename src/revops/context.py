"""The `RevOps` facade: one operating model plus one warehouse, shared by every front end.

The CLI, the API and notebooks all go through this object, so a command is a few lines that
call it and the engines never need to know who asked. Heavy engines are imported inside the
methods that use them, which keeps `revops --help` fast.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from revops.config import DEFAULT_CONFIG, LoadedConfig, load_config
from revops.config.models import Grain, OperatingModel
from revops.warehouse import Warehouse
from revops.warehouse.warehouse import DEFAULT_URL

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from revops.ingest import LoadReport
    from revops.lifecycle import LifecycleReport
    from revops.warehouse import Batch

ProgressFn = Callable[[int, int], None]


def default_config_path() -> Path:
    """./revops.yaml when the working directory has one, else the shipped example model."""
    env = os.environ.get("REVOPS_CONFIG")
    if env:
        return Path(env)
    local = Path("revops.yaml")
    return local if local.exists() else DEFAULT_CONFIG


def default_warehouse_url() -> str:
    return os.environ.get("REVOPS_WAREHOUSE", DEFAULT_URL)


@dataclass
class RevOps:
    """An operating model bound to a warehouse."""

    config: LoadedConfig
    warehouse: Warehouse

    @classmethod
    def open(cls, config: str | Path | None = None, warehouse: str | None = None) -> RevOps:
        """Bind a model to a warehouse. The model is `config` or $REVOPS_CONFIG when given;
        otherwise the warehouse's active config version (`revops apply`), and without one
        ./revops.yaml or the shipped example."""
        explicit = config or os.environ.get("REVOPS_CONFIG")
        loaded = load_config(explicit) if explicit else None
        wh = Warehouse.connect(warehouse or default_warehouse_url())
        if loaded is None:
            from revops.governance.versions import active_config

            try:
                loaded = active_config(wh) or load_config(default_config_path())
            except BaseException:
                wh.close()
                raise
        return cls.bind(loaded, wh)

    @classmethod
    def bind(cls, loaded: LoadedConfig, wh: Warehouse) -> RevOps:
        """A loaded model on an open warehouse, with the model's write hooks installed."""
        if loaded.model.automations.rules:  # events commit with the writes that cause them
            from revops.automation.outbox import install

            install(wh, loaded.model)
        return cls(loaded, wh)

    @property
    def model(self) -> OperatingModel:
        return self.config.model

    def close(self) -> None:
        self.warehouse.close()

    # -- engines ------------------------------------------------------------------------------
    def load(
        self,
        path: Path,
        table: str,
        preset: str | None = None,
        *,
        progress: ProgressFn | None = None,
        encoding: str = "utf-8",
        replay: Callable[[str, pa.Table], Sequence[Batch]] | None = None,
    ) -> LoadReport:
        from revops.ingest import load_file

        return load_file(
            self.warehouse,
            path,
            table,
            preset,
            progress=progress,
            encoding=encoding,
            model=self.model,
            replay=replay,
        )

    def run_lifecycle(self) -> LifecycleReport:
        from revops.lifecycle import run_lifecycle

        return run_lifecycle(self.warehouse, self.model.lifecycle)

    def lifecycle_analytics(self) -> dict[str, pd.DataFrame]:
        """Funnel conversion, time in stage and rejections, computed from the stored history."""
        from revops.lifecycle import funnel_frame, rejection_summary, time_in_stage_frame

        wh, lifecycle = self.warehouse, self.model.lifecycle
        run = self.warehouse.execute
        return {
            "funnel": funnel_frame(wh, lifecycle),
            "time_in_stage": time_in_stage_frame(wh, lifecycle),
            "rejections": run(rejection_summary(self.warehouse.table("lifecycle_rejections"))),
        }

    def metric(
        self,
        name: str,
        *,
        by: Sequence[str] = (),
        grain: Grain | None = "month",
        start: date | None = None,
        end: date | None = None,
        where: str | None = None,
    ) -> pd.DataFrame:
        from revops.metrics import compute

        return compute(
            self.warehouse, self.model, name, by=by, grain=grain, start=start, end=end, where=where
        )

    def all_metrics(
        self,
        *,
        grain: Grain | None = "month",
        start: date | None = None,
        end: date | None = None,
        only: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        from revops.metrics import compute_all

        return compute_all(self.warehouse, self.model, grain=grain, start=start, end=end, only=only)

    def formula(self, name: str) -> str:
        from revops.metrics import formula

        return formula(self.model, name)
