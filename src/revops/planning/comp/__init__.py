"""Compensation: plans from revops.yaml processed into lockable payout snapshots."""

from revops.planning.comp.engine import PeriodInputs, credits, process_period, reconcile
from revops.planning.comp.store import Statement, adjust, lock, run_period, statement

__all__ = [
    "PeriodInputs",
    "Statement",
    "adjust",
    "credits",
    "lock",
    "process_period",
    "reconcile",
    "run_period",
    "statement",
]
