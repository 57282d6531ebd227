"""The revenue engine's user-facing error (printed as one red line by the CLI)."""

from __future__ import annotations

from revops.errors import RevOpsError


class RevenueError(RevOpsError, ValueError):
    """The revenue engine cannot run on this data (no subscriptions, too little history…)."""
