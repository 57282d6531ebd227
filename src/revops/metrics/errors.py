"""The one exception type of the metric layer, so callers (CLI, reports) catch a single thing."""

from __future__ import annotations

from revops.errors import RevOpsError


class MetricError(RevOpsError, ValueError):
    """A metric cannot be computed as asked; the message says which metric and why."""
