"""The one exception ingestion raises."""

from __future__ import annotations

from revops.errors import RevOpsError


class IngestError(RevOpsError):
    """The file as a whole cannot be loaded (unreadable, wrong columns, wrong encoding …).

    The message names the file and, where known, the line, row or field, because it is shown to
    the person who exported the file. Whenever this is raised, nothing was written.
    """
