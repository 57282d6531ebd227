"""Rule-based lead scores: fit from firmographics, engagement from decayed touches.

One implementation serves the nightly batch (`score_rules`, a whole persons table at once) and
single-person questions (`score_one`, which builds a one-row table and runs the same vectorized
code, so the two can never disagree). The intake API scores in plain Python for speed
(`revops.api.scores`), and a test keeps it equal to this code on generated leads. Every group's sum
is capped so one loud signal cannot carry a lead over the MQL line on its own, and the points
of every rule that fired are kept so a rep can see why a lead scored what it did.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from revops.config.scoring import FitRule, ScoringConfig, frame_column

FloatArray = npt.NDArray[np.float64]
TimeArray = npt.NDArray[np.datetime64]
_DAY = np.timedelta64(86_400_000_000, "us")


@dataclass(frozen=True)
class FiredRule:
    """A rule that gave points: fit rules by name, engagement rules by touch type."""

    category: str  # "fit" or "engagement"
    group: str
    rule: str
    points: float  # before the group cap


@dataclass(frozen=True)
class ScoreBreakdown:
    """One person's scores, capped points per group, and every rule that fired."""

    person_id: str
    fit: float
    engagement: float
    combined: float
    is_mql_ready: bool
    groups: Mapping[str, float]
    rules: tuple[FiredRule, ...]


@dataclass(frozen=True)
class _Scored:
    frame: pd.DataFrame  # person_id, fit, engagement, combined, points_<group>, is_mql_ready
    rules: list[tuple[FiredRule, FloatArray]]  # uncapped points per rule, per person


def to_naive_us(values: Any) -> TimeArray:
    """Timestamps as naive UTC microseconds, whatever zone or unit the source had."""
    ts = pd.to_datetime(pd.Series(values), utc=True).dt.tz_localize(None)
    return np.asarray(ts.to_numpy("datetime64[us]"))


def _rule_mask(rule: FitRule, column: pd.Series) -> npt.NDArray[np.bool_]:
    if rule.min is not None or rule.max is not None:
        num = pd.to_numeric(column, errors="coerce").to_numpy(float)
        ok = ~np.isnan(num)
        if rule.min is not None:
            ok &= num >= rule.min
        if rule.max is not None:
            ok &= num < rule.max
        return np.asarray(ok & ~np.isnan(num))
    text = column.astype("string").str.lower()
    if rule.values is not None:
        hit = text.isin([v.lower() for v in rule.values])
    else:
        # Whole words only: "cto" must not fire inside "director".
        words = "|".join(re.escape(c.lower()) for c in rule.contains or ())
        pattern = rf"\b(?:{words})\b"
        hit = text.str.contains(pattern, regex=True)
    return np.asarray(hit.fillna(False).to_numpy(bool))


def score_frame(
    persons: pd.DataFrame, touches: pd.DataFrame, cfg: ScoringConfig, as_of: TimeArray
) -> _Scored:
    """Score each person at its own `as_of` (one per row), ignoring touches after it.

    Per-row cut times let the predictive model compute rule scores as of each lead's time cut
    with this same code; `score_rules` passes one instant for all.
    """
    n = len(persons)
    ids = persons["person_id"].astype(str).to_numpy()
    out: dict[str, Any] = {"person_id": ids}
    fired: list[tuple[FiredRule, FloatArray]] = []
    fit = np.zeros(n)
    for group in cfg.fit:
        total = np.zeros(n)
        for rule in group.rules:
            name = frame_column(rule.field)
            col = persons[name] if name in persons else pd.Series([None] * n)
            pts = np.where(_rule_mask(rule, col.reset_index(drop=True)), rule.points, 0.0)
            fired.append((FiredRule("fit", group.name, rule.name, rule.points), pts))
            total += pts
        capped = np.minimum(total, group.cap)
        out[f"points_{group.name}"] = capped
        fit += capped

    engagement = np.zeros(n)
    pos = {pid: i for i, pid in enumerate(ids)}
    idx = touches["person_id"].astype(str).map(pos).to_numpy(dtype=float, na_value=np.nan)
    known = ~np.isnan(idx)
    t_idx = idx[known].astype(np.int64)
    t_type = touches["touch_type"].astype(str).to_numpy()[known]
    t_at = to_naive_us(touches["occurred_at"])[known] if len(touches) else np.array([], "M8[us]")
    age = (as_of[t_idx] - t_at) / _DAY if len(t_idx) else np.zeros(0)
    valid = age >= 0  # a touch after the cut does not exist yet
    decay = np.where(valid, 0.5 ** (np.maximum(age, 0) / cfg.engagement.half_life_days), 0.0)
    for egroup in cfg.engagement.groups:
        total = np.zeros(n)
        for touch_type, points in egroup.points.items():
            w = np.where(t_type == touch_type, decay * points, 0.0)
            pts = np.bincount(t_idx, weights=w, minlength=n).astype(np.float64)
            fired.append((FiredRule("engagement", egroup.name, touch_type, points), pts))
            total += pts
        capped = np.minimum(total, egroup.cap)
        out[f"points_{egroup.name}"] = capped
        engagement += capped

    fast = np.zeros(n, dtype=bool)
    if cfg.fast_track and len(t_idx):
        recent = valid & (age <= cfg.fast_track_days) & np.isin(t_type, list(cfg.fast_track))
        fast = np.bincount(t_idx, weights=recent.astype(float), minlength=n) > 0
    out["fit"] = fit
    out["engagement"] = engagement
    out["combined"] = fit + engagement
    enough = (out["combined"] >= cfg.mql_threshold) | fast
    out["is_mql_ready"] = enough & (fit >= cfg.min_fit)
    order = ["person_id", "fit", "engagement", "combined"]
    frame = pd.DataFrame(out)
    rest = [c for c in frame.columns if c not in order and c != "is_mql_ready"]
    return _Scored(frame[[*order, *rest, "is_mql_ready"]], fired)


def score_rules(
    persons: pa.Table, touches: pa.Table, cfg: ScoringConfig, as_of: datetime
) -> pa.Table:
    """Fit, engagement, combined, capped points per group and MQL-readiness, one row a person."""
    p = persons.to_pandas()
    t = touches.to_pandas()
    cut = np.full(len(p), to_naive_us([as_of])[0])
    return pa.Table.from_pandas(score_frame(p, t, cfg, cut).frame, preserve_index=False)


def score_one(
    person: Mapping[str, Any],
    touches: Sequence[Mapping[str, Any]],
    cfg: ScoringConfig,
    as_of: datetime,
) -> ScoreBreakdown:
    """Score one person with the batch code, and say which rules fired."""
    p = pd.DataFrame([dict(person)])
    t = pd.DataFrame(
        [dict(x, person_id=person["person_id"]) for x in touches],
        columns=["person_id", "touch_type", "occurred_at"],
    )
    scored = score_frame(p, t, cfg, np.array([to_naive_us([as_of])[0]]))
    row = scored.frame.iloc[0]
    groups = {
        str(c).removeprefix("points_"): float(row[str(c)])
        for c in scored.frame.columns
        if str(c).startswith("points_")
    }
    fired = tuple(
        FiredRule(r.category, r.group, r.rule, float(pts[0])) for r, pts in scored.rules if pts[0]
    )
    return ScoreBreakdown(
        str(row["person_id"]),
        float(row["fit"]),
        float(row["engagement"]),
        float(row["combined"]),
        bool(row["is_mql_ready"]),
        groups,
        fired,
    )
