"""Multi-touch attribution and marketing performance.

Journeys (journeys.py) are built from touchpoints and conversion events inside the lookback
windows of revops.yaml; rule-based and milestone models (rules.py), the exact Markov chain
(markov.py) and Shapley values (shapley.py) turn them into credits (credit.py); run.py reads and
writes the warehouse; performance.py joins spend; scope.py says what every number answers.
"""

from revops.attribution.markov import MarkovResult, markov
from revops.attribution.paths import Paths
from revops.attribution.run import Attribution, AttributionError, attribute, compare, write_credits
from revops.attribution.scope import Scope
from revops.attribution.shapley import ShapleyResult, shapley

__all__ = [
    "Attribution",
    "AttributionError",
    "MarkovResult",
    "Paths",
    "Scope",
    "ShapleyResult",
    "attribute",
    "compare",
    "markov",
    "shapley",
    "write_credits",
]
