"""The `revenue:` section of revops.yaml: unit-economics inputs and the customer-health model.

Customer health is configuration, not code: each component names a signal the engine measures,
a weight, and ordered rules that turn the signal into points with a reason a CSM can read. The
first rule whose `below` exceeds the value fires; the last rule must be a catch-all (no `below`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Model(BaseModel):
    """Same base as config.models (which imports this module, so it cannot be imported here)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


Signal = Literal["usage_trend", "tickets", "engagement", "late_payments", "champion_change"]
SIGNALS: dict[str, str] = {
    "usage_trend": "relative change of active users, last 3 months vs the 3 before",
    "tickets": "support tickets opened in the lookback (high and urgent count double)",
    "engagement": "sales and CS activities logged on the account in the lookback",
    "late_payments": "invoices that became 15 days overdue in the lookback (paid late or unpaid)",
    "champion_change": "1 if the champion changed in the lookback, else 0",
}


class HealthRule(Model):
    """Points for a signal value: fires when value < `below` (or always, without `below`)."""

    below: float | None = None
    score: float = Field(ge=0, le=100)
    reason: str


class HealthComponent(Model):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    signal: Signal
    weight: float = Field(gt=0)
    rules: tuple[HealthRule, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _catch_all_last(self) -> HealthComponent:
        if self.rules[-1].below is not None:
            raise ValueError(f"health component {self.name!r}: the last rule needs no 'below'")
        if any(r.below is None for r in self.rules[:-1]):
            raise ValueError(f"health component {self.name!r}: only the last rule may omit 'below'")
        bounds = [r.below for r in self.rules[:-1] if r.below is not None]
        if bounds != sorted(bounds):
            raise ValueError(f"health component {self.name!r}: 'below' must increase")
        return self

    def rule_for(self, value: float) -> HealthRule:
        for rule in self.rules:
            if rule.below is None or value < rule.below:
                return rule
        return self.rules[-1]


def _rules(*rows: tuple[float | None, float, str]) -> tuple[HealthRule, ...]:
    return tuple(HealthRule(below=b, score=s, reason=r) for b, s, r in rows)


DEFAULT_COMPONENTS: tuple[HealthComponent, ...] = (
    HealthComponent(
        name="usage",
        signal="usage_trend",
        weight=0.35,
        rules=_rules(
            (-0.25, 0, "active users down over 25% in 3 months"),
            (-0.08, 50, "active users down 8-25%"),
            (None, 100, "usage steady or growing"),
        ),
    ),
    HealthComponent(
        name="support",
        signal="tickets",
        weight=0.2,
        rules=_rules(
            (3, 100, "few support tickets"),
            (6, 50, "rising support load"),
            (None, 0, "heavy support load"),
        ),
    ),
    HealthComponent(
        name="engagement",
        signal="engagement",
        weight=0.1,
        rules=_rules((1, 30, "no touch from the team in the lookback"), (None, 100, "engaged")),
    ),
    HealthComponent(
        name="payments",
        signal="late_payments",
        weight=0.15,
        rules=_rules(
            (1, 100, "pays on time"), (2, 40, "a late payment"), (None, 0, "late payments")
        ),
    ),
    HealthComponent(
        name="champion",
        signal="champion_change",
        weight=0.2,
        rules=_rules((1, 100, "champion in place"), (None, 0, "champion changed")),
    ),
)


class Health(Model):
    lookback_months: int = Field(3, gt=0, description="Months of tickets, touches and payments.")
    at_risk_below: float = Field(50, ge=0, le=100)
    components: tuple[HealthComponent, ...] = DEFAULT_COMPONENTS

    @model_validator(mode="after")
    def _unique(self) -> Health:
        names = [c.name for c in self.components]
        if len(set(names)) != len(names):
            raise ValueError("health component names must be unique")
        return self


class UnitEconomics(Model):
    gross_margin: float = Field(
        0.78, gt=0, le=1, description="Gross margin of subscription revenue."
    )
    cac_window_months: int = Field(
        3, gt=0, description="Trailing months of the dictionary's CAC used for CAC payback."
    )
    churn_window_months: int = Field(12, gt=0, description="Trailing months of logo churn for LTV.")
    ltv_horizon_months: int = Field(
        60, gt=0, le=240, description="Months of gross profit LTV counts (it is bounded)."
    )
    ltv_discount_rate: float = Field(
        0.10, ge=0, lt=1, description="Annual rate LTV discounts future months at."
    )


class RevenueConfig(Model):
    """Inputs of the revenue engine (issue 7): unit economics, health and risk thresholds."""

    unit_economics: UnitEconomics = UnitEconomics()
    health: Health = Health()
    churn_horizon_months: int = Field(3, gt=0, description="Churn the risk model predicts ahead.")
    at_risk_probability: float = Field(0.35, gt=0, lt=1)
    seed: int = Field(
        7, description="Seed of the churn and expansion models: same data, same at-risk list."
    )
    use_withheld: tuple[Literal["churn", "expansion"], ...] = Field(
        (),
        description="Models used even when they do not beat the health score out of time; "
        "otherwise such a model is withheld and the health score's calibrated probability is "
        "used instead, and said.",
    )
