"""Sales pipeline: point-in-time snapshots from stage history, analytics, hygiene, forecasts."""

from revops.pipeline.snapshot import SNAPSHOT_COLUMNS, pipeline_as_of, stage_intervals

__all__ = ["SNAPSHOT_COLUMNS", "pipeline_as_of", "stage_intervals"]
