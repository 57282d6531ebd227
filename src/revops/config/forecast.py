"""The `forecast:` section of revops.yaml: how the forecast engine rolls up, learns and is judged.

Forecast methods disagree on purpose (a rep's categories, stage probabilities, a per-deal model);
what they share is named here once so the roll-up, the weekly snapshots and the backtest that
scores every method against what actually closed all read the same rules.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

ForecastMethod = Literal["category", "stage_default", "stage_learned", "win_model"]
FORECAST_METHODS: tuple[ForecastMethod, ...] = (
    "category",
    "stage_default",
    "stage_learned",
    "win_model",
)


class Model(BaseModel):
    """Same contract as `config.models.Model`; repeated because models.py imports this module."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class WinModelConfig(Model):
    """The per-deal win-probability model: gradient boosting, calibrated, split by time."""

    calibration: Literal["isotonic", "sigmoid"] = "isotonic"
    snapshot_days: int = Field(
        14, ge=1, le=92, description="Days between the training snapshots of each open deal."
    )
    test_fraction: float = Field(
        0.3, gt=0, lt=1, description="Share of deals, by creation date, held out for evaluation."
    )
    seed: int = 7
    max_training_rows: int | None = Field(
        60_000,
        ge=100,
        description="Most rows a win model trains on: above it, a sample stratified by outcome, "
        "drawn with `seed` (null: every row). The training rows grow with the company while "
        "the model does not; the default is above the demo company's 34,583.",
    )


class ForecastConfig(Model):
    fiscal_year_named_by: Literal["start", "end"] = Field(
        "start",
        description="Whether fiscal year N starts in calendar year N (start) or ends in it (end).",
    )
    best_case_share: float = Field(
        0.5, ge=0, le=1, description="Share of best case the category method counts."
    )
    primary_method: ForecastMethod = Field(
        "stage_learned", description="The method the forecast_accuracy metric tracks."
    )
    min_deals: int = Field(
        20, ge=1, description="Fewest deals a learned stage probability may rest on."
    )
    lookback_quarters: int = Field(
        4, ge=1, le=16, description="Past quarters the learned rates are drawn from."
    )
    min_training_quarters: int = Field(
        2, ge=1, description="Completed quarters needed before a quarter is backtested."
    )
    backtest_quarters: int = Field(
        4,
        ge=0,
        description="The last N backtestable quarters every backtest replays (0: all of them); "
        "one setting, so forecast_accuracy is the same whoever ran the backtest.",
    )
    band_quantiles: tuple[float, float] = Field(
        (0.1, 0.9),
        description="Quantiles of the backtest's errors that bound the recommended call's band.",
    )
    win_model: WinModelConfig = Field(default_factory=WinModelConfig)

    @field_validator("band_quantiles")
    @classmethod
    def _band_inside_zero_one(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not 0 <= v[0] < v[1] <= 1:
            raise ValueError("band_quantiles must be two quantiles 0 ≤ low < high ≤ 1")
        return v
