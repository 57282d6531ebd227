"""Rule-based and milestone attribution: how one journey's credit is split over its touches.

Each model is a pure function from one journey's touches to weights that sum to exactly 1 (the
last weight absorbs floating-point rounding). Touches are in time order; `lead` and `opp` are the
indices of the lead-creation and opportunity-creation touches (see `journeys` for how those are
found), or None when the journey has no such milestone.

Edge cases follow one rule, stated once: a share whose position does not exist in a short
journey is handed to the positions that do exist in proportion to their own shares (so a
two-touch position-based journey is 50/50, a two-touch J-shaped one 25/75); milestones that
coincide add their shares; the "rest" share of W-shaped and full path goes to the touches that
are not milestones, or, when every touch is a milestone, to the milestones equally.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from revops.config.attribution import AttributionConfig, PositionWeights

FloatArray = NDArray[np.float64]

POSITION_BASED = PositionWeights(first=0.4, middle=0.2, last=0.4)
J_SHAPED = PositionWeights(first=0.2, middle=0.2, last=0.6)
INVERSE_J = PositionWeights(first=0.6, middle=0.2, last=0.2)


@dataclass(frozen=True)
class Touches:
    """One journey's touches in time order, with what the rules need to know about them."""

    channels: Sequence[str]
    days_before: FloatArray  # days from each touch to the conversion (>= 0)
    lead: int | None = None  # index of the lead-creation touch
    opp: int | None = None  # index of the opportunity-creation touch

    def __len__(self) -> int:
        return len(self.channels)


def _exact(w: FloatArray) -> FloatArray:
    """Normalize to sum 1 and push the rounding residue onto the largest weight."""
    w = w / w.sum()
    w[int(np.argmax(w))] += 1.0 - w.sum()
    return w


def first_touch(t: Touches) -> FloatArray:
    w = np.zeros(len(t))
    w[0] = 1.0
    return w


def last_touch(t: Touches) -> FloatArray:
    w = np.zeros(len(t))
    w[-1] = 1.0
    return w


def last_non_direct(t: Touches, direct: Sequence[str]) -> FloatArray:
    """All credit to the last touch not through a direct channel (the last touch if all are)."""
    w = np.zeros(len(t))
    idx = [i for i, ch in enumerate(t.channels) if ch not in direct]
    w[idx[-1] if idx else len(t) - 1] = 1.0
    return w


def linear(t: Touches) -> FloatArray:
    return _exact(np.ones(len(t)))


def positional(t: Touches, p: PositionWeights) -> FloatArray:
    """First / middle / last shares (position-based, J-shaped, inverse-J and custom)."""
    n = len(t)
    if n == 1:
        return np.ones(1)
    w = np.zeros(n)
    if n == 2:
        w[0], w[1] = p.first, p.last
        if w.sum() == 0:  # all weight on the (absent) middle: split evenly
            w[:] = 1.0
        return _exact(w)
    w[0], w[-1] = p.first, p.last
    w[1:-1] = p.middle / (n - 2)
    return _exact(w)


def time_decay(t: Touches, half_life_days: float) -> FloatArray:
    """Weight 2^(-days before conversion / half-life): a touch a half-life older counts half."""
    return _exact(np.exp2(-np.asarray(t.days_before, dtype=np.float64) / half_life_days))


def milestones(t: Touches, shares: Sequence[tuple[int | None, float]], rest: float) -> FloatArray:
    """Give each milestone index its share and spread `rest` over the non-milestone touches."""
    n = len(t)
    w = np.zeros(n)
    marked = sorted({i for i, _ in shares if i is not None})
    for i, share in shares:
        if i is not None:
            w[i] += share
    others = [i for i in range(n) if i not in marked]
    if rest > 0:
        target = others or marked
        w[target] += rest / len(target)
    return _exact(w)


def u_shaped(t: Touches) -> FloatArray:
    """50% to the first touch, 50% to the lead-creation touch (the first touch when unknown)."""
    lead = 0 if t.lead is None else t.lead
    return milestones(t, [(0, 0.5), (lead, 0.5)], 0.0)


def w_shaped(t: Touches) -> FloatArray:
    """30% each to first, lead-creation and opportunity-creation touches, 10% over the rest.

    Without a known opportunity-creation touch (an MQL or SQL conversion) that share goes to
    the last touch, the one nearest the conversion.
    """
    lead = 0 if t.lead is None else t.lead
    opp = len(t) - 1 if t.opp is None else t.opp
    return milestones(t, [(0, 0.3), (lead, 0.3), (opp, 0.3)], 0.1)


def full_path(t: Touches) -> FloatArray:
    """22.5% each to first, lead-creation, opportunity-creation and closed-won touches, 10% over
    the rest. The closed-won touch is the last touch of the journey (at or before close)."""
    lead = 0 if t.lead is None else t.lead
    opp = len(t) - 1 if t.opp is None else t.opp
    return milestones(t, [(0, 0.225), (lead, 0.225), (opp, 0.225), (len(t) - 1, 0.225)], 0.1)


def weights(model: str, t: Touches, cfg: AttributionConfig) -> FloatArray:
    """The weights of rule-based `model` for one journey; they sum to exactly 1."""
    if len(t) == 0:
        raise ValueError("a journey needs at least one touch")
    match model:
        case "first_touch":
            return first_touch(t)
        case "last_touch":
            return last_touch(t)
        case "last_non_direct":
            return last_non_direct(t, cfg.direct_channels)
        case "linear":
            return linear(t)
        case "position_based":
            return positional(t, POSITION_BASED)
        case "j_shaped":
            return positional(t, J_SHAPED)
        case "inverse_j":
            return positional(t, INVERSE_J)
        case "custom":
            return positional(t, cfg.custom_weights)
        case "time_decay":
            return time_decay(t, cfg.time_decay_half_life_days)
        case "u_shaped":
            return u_shaped(t)
        case "w_shaped":
            return w_shaped(t)
        case "full_path":
            return full_path(t)
    raise ValueError(f"{model!r} is not a rule-based attribution model")
