"""Rule scores for one intake lead in plain Python: the batch rules, without the batch cost.

`scoring.rules.score_frame` is vectorized: for a whole table it is the right tool, but for the
handful of leads of one intake group its pandas overhead (a frame, a regex pass and a cast per
rule) costs about half a millisecond per lead, and that time sits on the answer path before the
journal fsync. An intake lead is simple: its fields are known values, and its only touch is the
form it came from, at age zero (decay 1). So the same rules are evaluated here directly, with
the same semantics (numeric bounds `min <= x < max` on a number, case-insensitive exact values,
whole-word `contains`, group caps, MQL = combined >= threshold or a fast-track form, and
fit >= min_fit; account fields read from the person mapping under `account.x`), and
tests/api/test_scores.py checks them against `score_frame` on generated leads.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from revops.config.scoring import FitRule, ScoringConfig, frame_column


@dataclass(frozen=True, slots=True)
class Scored:
    fit: float
    engagement: float
    combined: float
    is_mql_ready: bool


@lru_cache(maxsize=256)
def _pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    # Whole words only, as in the batch code: "cto" must not fire inside "director".
    return re.compile(rf"\b(?:{'|'.join(re.escape(w.lower()) for w in words)})\b")


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None if value is None else float(value)
    if isinstance(value, int | float):
        return None if isinstance(value, float) and math.isnan(value) else float(value)
    try:
        number = float(str(value))
    except ValueError:
        return None
    return None if math.isnan(number) else number


def fires(rule: FitRule, value: Any) -> bool:
    """Whether one fit rule holds for one field value (None never matches)."""
    return _Rule.of(rule).fires(value)


@dataclass(frozen=True, slots=True)
class _Rule:
    """A fit rule ready to test: its column, lowered values or compiled words, its points."""

    column: str
    points: float
    low: float | None
    high: float | None
    values: frozenset[str] | None
    words: re.Pattern[str] | None

    @classmethod
    def of(cls, rule: FitRule) -> _Rule:
        numeric = rule.min is not None or rule.max is not None
        return cls(
            frame_column(rule.field),
            rule.points,
            rule.min,
            rule.max,
            None if numeric or rule.values is None else frozenset(v.lower() for v in rule.values),
            None if numeric or rule.values is not None else _pattern(tuple(rule.contains or ())),
        )

    def fires(self, value: Any) -> bool:
        if self.words is None and self.values is None:
            number = _number(value)
            if number is None:
                return False
            return (self.low is None or number >= self.low) and (
                self.high is None or number < self.high
            )
        if value is None:
            return False
        text = str(value).lower()
        if self.values is not None:
            return text in self.values
        assert self.words is not None
        return self.words.search(text) is not None


_COMPILED: dict[int, tuple[ScoringConfig, list[tuple[list[_Rule], float]]]] = {}


def _fit_groups(cfg: ScoringConfig) -> list[tuple[list[_Rule], float]]:
    """The fit groups' rules made ready once per configuration (keyed by identity; it is
    immutable): lowering a rule's values on every lead was a third of scoring it."""
    hit = _COMPILED.get(id(cfg))
    if hit is None or hit[0] is not cfg:
        hit = (cfg, [([_Rule.of(r) for r in g.rules], g.cap) for g in cfg.fit])
        if len(_COMPILED) >= 16:
            _COMPILED.clear()
        _COMPILED[id(cfg)] = hit
    return hit[1]


def score_lead(person: Mapping[str, Any], form: str | None, cfg: ScoringConfig) -> Scored:
    """Fit from the person's fields; engagement from its one form touch at age zero."""
    fit = 0.0
    for rules, cap in _fit_groups(cfg):
        total = 0.0
        for rule in rules:
            total += rule.points if rule.fires(person.get(rule.column)) else 0.0
        fit += min(total, cap)
    engagement = 0.0
    for egroup in cfg.engagement.groups:
        total = 0.0
        for touch_type, points in egroup.points.items():
            total += points if form == touch_type else 0.0
        engagement += min(total, egroup.cap)
    combined = fit + engagement
    fast = form is not None and form in cfg.fast_track
    ready = (combined >= cfg.mql_threshold or fast) and fit >= cfg.min_fit
    return Scored(fit, engagement, combined, bool(ready))
