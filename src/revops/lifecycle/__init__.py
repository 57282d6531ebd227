"""The lifecycle engine: stage changes validated against revops.yaml into a history.

`apply_events` is the pure batch core, `apply_event` the single-event path for real-time
intake (same rules, same code), `run_lifecycle` the warehouse edge, and `analytics` derives
time in stage and conversion from the history it writes.
"""

from revops.lifecycle.analytics import (
    funnel_conversion,
    funnel_frame,
    rejection_summary,
    stage_conversion,
    time_in_stage,
    time_in_stage_frame,
    time_in_stage_summary,
)
from revops.lifecycle.engine import (
    EventOutcome,
    LifecycleEvent,
    LifecycleResult,
    apply_event,
    apply_events,
    required_columns,
)
from revops.lifecycle.rules import REASON_KINDS, ReasonKind, reason_kind
from revops.lifecycle.run import LifecycleReport, run_lifecycle, summarize

__all__ = [
    "REASON_KINDS",
    "EventOutcome",
    "LifecycleEvent",
    "LifecycleReport",
    "LifecycleResult",
    "ReasonKind",
    "apply_event",
    "apply_events",
    "funnel_conversion",
    "funnel_frame",
    "reason_kind",
    "rejection_summary",
    "required_columns",
    "run_lifecycle",
    "stage_conversion",
    "summarize",
    "time_in_stage",
    "time_in_stage_frame",
    "time_in_stage_summary",
]
