"""Lead scoring: rule-based fit/engagement/combined scores and a calibrated predictive model.

`score_rules` / `score_one` are pure (no warehouse); `run` reads and writes the warehouse.
"""

from revops.scoring.model import ScoringError, TrainedModels
from revops.scoring.rules import FiredRule, ScoreBreakdown, score_one, score_rules

__all__ = [
    "FiredRule",
    "ScoreBreakdown",
    "ScoringError",
    "TrainedModels",
    "score_one",
    "score_rules",
]
