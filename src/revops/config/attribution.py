"""The `attribution:` section of revops.yaml: lookback windows, model parameters, defaults.

Attribution is where marketing and sales argue most, so every choice that changes a number lives
here, in the one operating model, and is stated on every report (see `revops.attribution.scope`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

ConversionType = Literal["mql", "sql", "opportunity", "closed_won"]
Level = Literal["person", "account"]
CONVERSION_TYPES: tuple[ConversionType, ...] = ("mql", "sql", "opportunity", "closed_won")
RULE_MODELS = (
    "first_touch",
    "last_touch",
    "last_non_direct",
    "linear",
    "position_based",
    "time_decay",
    "j_shaped",
    "inverse_j",
    "u_shaped",
    "w_shaped",
    "full_path",
    "custom",
)
DATA_DRIVEN_MODELS = ("markov", "shapley")
MODELS: tuple[str, ...] = RULE_MODELS + DATA_DRIVEN_MODELS


class Model(BaseModel):
    """Strict, immutable base, as `config.models.Model` (which imports this module)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class PositionWeights(Model):
    """Shares for the first touch, the last touch and everything between (sum to 1).

    With two touches the middle share is split between first and last in proportion to their
    own shares; with one touch it gets everything.
    """

    first: float = Field(ge=0, le=1)
    middle: float = Field(ge=0, le=1)
    last: float = Field(ge=0, le=1)

    @model_validator(mode="after")
    def _sums_to_one(self) -> PositionWeights:
        if abs(self.first + self.middle + self.last - 1.0) > 1e-9:
            raise ValueError("position weights first + middle + last must sum to 1")
        return self


class Lookback(Model):
    """Days before a conversion whose touches count, per conversion type."""

    mql: int = Field(90, gt=0)
    sql: int = Field(180, gt=0)
    opportunity: int = Field(365, gt=0)
    closed_won: int = Field(540, gt=0)

    def days(self, conversion: ConversionType) -> int:
        return int(getattr(self, conversion))


class AttributionConfig(Model):
    """How revops assigns credit for conversions to touches, channels and campaigns."""

    default_model: str = "w_shaped"
    default_conversion: ConversionType = "opportunity"
    level: Level = "person"
    lookback_days: Lookback = Lookback()
    opportunity_types: tuple[str, ...] = ("new_business",)
    direct_channels: tuple[str, ...] = ("direct",)
    time_decay_half_life_days: float = Field(7.0, gt=0)
    custom_weights: PositionWeights = PositionWeights(first=0.3, middle=0.4, last=0.3)
    markov_order: int = Field(1, ge=1, le=4)
    shapley_exact_max_channels: int = Field(14, ge=1, le=20)
    shapley_samples: int = Field(2000, gt=0)
    seed: int = Field(7, description="Seed of the sampled Shapley values: same data, same credits.")
    models: tuple[str, ...] = MODELS

    @model_validator(mode="after")
    def _known_models(self) -> AttributionConfig:
        for name in (self.default_model, *self.models):
            if name not in MODELS:
                raise ValueError(f"unknown attribution model {name!r}; known: {', '.join(MODELS)}")
        return self
