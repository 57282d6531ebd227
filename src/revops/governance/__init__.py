"""Change control for the operating model: diff, impact on real data, versions and rollback.

`diff_models` says what a proposed revops.yaml changes, `impact` what it would do to the data
in the warehouse, and `versions` keeps every applied model, each with its audit-log entry.
"""

from revops.governance.diff import Change, ModelDiff, diff_models
from revops.governance.impact import Impact, impact
from revops.governance.versions import Version, active, active_config, apply, history, rollback

__all__ = [
    "Change",
    "Impact",
    "ModelDiff",
    "Version",
    "active",
    "active_config",
    "apply",
    "diff_models",
    "history",
    "impact",
    "rollback",
]
