"""The attribution scope: which model, which conversions, which lookback — said on every output.

An attributed number without its scope is how marketing and sales end up arguing about two
different questions; every CLI table and report prints `Scope.text` beside the number.
"""

from __future__ import annotations

from dataclasses import dataclass

from revops.config.attribution import AttributionConfig, ConversionType


@dataclass(frozen=True)
class Scope:
    models: tuple[str, ...]
    conversion: ConversionType
    lookback_days: int
    level: str
    opportunity_types: tuple[str, ...]
    markov_order: int

    @classmethod
    def of(
        cls, cfg: AttributionConfig, conversion: ConversionType, models: tuple[str, ...]
    ) -> Scope:
        return cls(
            models,
            conversion,
            cfg.lookback_days.days(conversion),
            cfg.level,
            cfg.opportunity_types,
            cfg.markov_order,
        )

    @property
    def text(self) -> str:
        model = ", ".join(self.models)
        if "markov" in self.models:
            model += f" (Markov order {self.markov_order})"
        types = ""
        if self.conversion in ("opportunity", "closed_won"):
            types = f" of {', '.join(self.opportunity_types)} opportunities"
        return (
            f"Attribution scope: model {model}; conversions: {self.conversion}{types}; "
            f"lookback {self.lookback_days} days before each conversion; {self.level} level."
        )
