"""The `pipeline:` section of revops.yaml: the sales stages every pipeline engine reads.

Stages are declared once, in order, each with its kind (open, won, lost) and its default
probability, so point-in-time snapshots, conversion, hygiene, forecasting and compensation agree
on what "open" and "won" mean. Order matters: moving to an earlier stage is a regression and
jumping over one is a skip.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

StageKind = Literal["open", "won", "lost"]


class Model(BaseModel):
    """Same contract as `config.models.Model`; repeated because models.py imports this module."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class SalesStage(Model):
    name: str
    kind: StageKind = "open"
    probability: float = Field(ge=0, le=100, description="Default win probability, 0–100.")


DEFAULT_STAGES = (
    SalesStage(name="Prospecting", probability=10),
    SalesStage(name="Discovery", probability=20),
    SalesStage(name="Solution", probability=40),
    SalesStage(name="Proposal", probability=60),
    SalesStage(name="Negotiation", probability=80),
    SalesStage(name="Closed Won", kind="won", probability=100),
    SalesStage(name="Closed Lost", kind="lost", probability=0),
)


class Rule(Model):
    enabled: bool = True


class CloseDatePastRule(Rule):
    """An open deal whose expected close date is more than `grace_days` behind the as-of date."""

    grace_days: int = Field(0, ge=0)


class NoActivityRule(Rule):
    """No call, email, meeting or task on the deal for more than `days` (since creation if none)."""

    days: int = Field(14, gt=0)


class StuckInStageRule(Rule):
    """Longer in the current stage than `multiple` × the stage's usual time.

    The usual time is the `percentile` of completed stays in that stage known on the as-of date;
    stages with fewer than `min_samples` completed stays have no usual time yet and never fire.
    """

    percentile: float = Field(90, gt=0, lt=100)
    multiple: float = Field(1.0, gt=0)
    min_samples: int = Field(20, ge=1)


class PushedRule(Rule):
    """The expected close date was moved later at least `min_pushes` times."""

    min_pushes: int = Field(2, ge=1)


class HygieneConfig(Model):
    """The pipeline hygiene rules: each one a flag on open deals, evaluated as of a date."""

    close_date_past: CloseDatePastRule = Field(default_factory=CloseDatePastRule)
    no_activity: NoActivityRule = Field(default_factory=NoActivityRule)
    missing_amount: Rule = Field(default_factory=Rule)
    missing_next_step: Rule = Field(default_factory=Rule)
    stuck_in_stage: StuckInStageRule = Field(default_factory=StuckInStageRule)
    pushed_close_date: PushedRule = Field(default_factory=PushedRule)

    @property
    def enabled(self) -> tuple[str, ...]:
        """Names of the enabled rules, in declaration order (the order reports show them in)."""
        return tuple(name for name in type(self).model_fields if getattr(self, name).enabled)


class PipelineConfig(Model):
    stages: tuple[SalesStage, ...] = DEFAULT_STAGES
    hygiene: HygieneConfig = Field(default_factory=HygieneConfig)

    @model_validator(mode="after")
    def _stages(self) -> PipelineConfig:
        names = [s.name for s in self.stages]
        if len(set(names)) != len(names):
            raise ValueError("pipeline stage names must be unique")
        kinds = {s.kind for s in self.stages}
        if not {"open", "won", "lost"} <= kinds:
            raise ValueError("pipeline stages need at least one open, one won and one lost stage")
        return self

    @property
    def open_stages(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.stages if s.kind == "open")

    @property
    def won_stages(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.stages if s.kind == "won")

    @property
    def lost_stages(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.stages if s.kind == "lost")

    def order(self, stage: str) -> int:
        """Position of an open stage in the sales process (closed stages come after all)."""
        for i, s in enumerate(self.stages):
            if s.name == stage:
                return i
        raise KeyError(f"unknown sales stage {stage!r}")
