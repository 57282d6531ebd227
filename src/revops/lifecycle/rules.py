"""The lifecycle rules, compiled once into integer tables, and the reason texts they produce.

Both the batch engine and the single-event path decide with these same tables, so a rule can
only ever be stated once. A rejection's reason is stored as text (people read it in reports),
and its *kind* is recovered from the text's fixed prefix — `REASON_PREFIXES` is the single
contract between the engine that writes reasons and the analytics that group them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Final, Literal

from revops.config.models import Lifecycle

ReasonKind = Literal[
    "unknown_person", "unknown_stage", "first_stage", "not_allowed", "missing_fields"
]

UNKNOWN_PERSON: Final = "unknown person"

# (kind, prefix): every reason text starts with exactly one of these prefixes.
REASON_PREFIXES: Final[tuple[tuple[ReasonKind, str], ...]] = (
    ("unknown_person", UNKNOWN_PERSON),
    ("unknown_stage", "unknown stage "),
    ("first_stage", "first stage must be one of: "),
    ("not_allowed", "transition "),
    ("missing_fields", "entering "),
)
REASON_KINDS: Final[tuple[ReasonKind, ...]] = tuple(kind for kind, _ in REASON_PREFIXES)


def reason_kind(reason: str) -> ReasonKind:
    """The rule a stored reason text names (the inverse of the reason builders below)."""
    for kind, prefix in REASON_PREFIXES:
        if reason.startswith(prefix):
            return kind
    raise ValueError(f"not a lifecycle rejection reason: {reason!r}")


def unknown_stage_reason(stage: str | None) -> str:
    return f"unknown stage {stage!r}"


def first_stage_reason(first_stages: Sequence[str]) -> str:
    return f"first stage must be one of: {', '.join(first_stages)}"


def not_allowed_reason(from_stage: str, to_stage: str, targets: Sequence[str]) -> str:
    allowed = ", ".join(targets) or "none"
    return (
        f"transition {from_stage} → {to_stage} is not allowed "
        f"(allowed from {from_stage}: {allowed})"
    )


def missing_fields_reason(stage: str, required: Sequence[str], missing: Sequence[str]) -> str:
    return f"entering {stage} requires {', '.join(required)}; missing: {', '.join(missing)}"


@dataclass(frozen=True)
class CompiledLifecycle:
    """The lifecycle as integer codes, so the per-event state machine is list indexing only.

    Stage codes `0 … n-1` are the configured stages in order and `none` (= n) is "no stage
    yet". Codes above `none` are `foreign` current stages handed in from outside that the config
    does not declare (e.g. a stage since removed from revops.yaml): like `Lifecycle.allowed`,
    such a stage has no outgoing transitions, so the person's next event is rejected with a
    reason that names it instead of being silently re-entered.

    `allowed[from][to]` has one extra, all-False last column: an event for an undeclared stage
    gets target code -1, which is therefore blocked from every state without a branch of its own.

    `forward[from][to]` is `allowed` plus every move to a later funnel stage (from no stage or
    an earlier funnel stage): what an event imported from a CRM export may do, since the CRM
    already accepted it and a stage it has no date for was skipped there (see `skipped`).
    """

    lifecycle: Lifecycle
    allowed: tuple[tuple[bool, ...], ...]
    required_fields: tuple[str, ...]
    required_mask: tuple[int, ...]
    foreign: tuple[str, ...] = ()
    forward: tuple[tuple[bool, ...], ...] = ()

    @cached_property
    def names(self) -> tuple[str, ...]:
        """Built once (the lifecycle is immutable): the intake API reads it three times per
        lead, and rebuilding it from the pydantic models each time was a tenth of admitting."""
        return self.lifecycle.stage_names

    @property
    def none(self) -> int:
        return len(self.names)

    def with_foreign(self, stages: Iterable[str | None]) -> CompiledLifecycle:
        """A copy that also codes the given undeclared current stages (see the class doc)."""
        extra = sorted({s for s in stages if s is not None and s not in self.names})
        if not extra:
            return self
        blocked = ((False,) * (self.none + 1),) * len(extra)
        return replace(
            self,
            allowed=self.allowed + blocked,
            forward=self.forward + blocked,
            foreign=tuple(extra),
        )

    def skipped(self, from_code: int, to_code: int) -> str | None:
        """The funnel stages an imported from → to move passed over, '|'-joined (None: none)."""
        if self.allowed[from_code][to_code]:
            return None
        funnel = [i for i, s in enumerate(self.lifecycle.stages) if s.kind == "funnel"]
        start = funnel.index(from_code) + 1 if from_code in funnel else 0
        between = [self.names[i] for i in funnel[start:] if i < to_code]
        return "|".join(between) or None

    def state_code(self, stage: str | None) -> int:
        """The code of a current stage; call `with_foreign` first for undeclared ones."""
        if stage is None:
            return self.none
        if stage in self.names:
            return self.names.index(stage)
        return self.none + 1 + self.foreign.index(stage)

    def state_names(self) -> list[str | None]:
        """Stage name per state code: configured names, None for `none`, then foreign names."""
        return [*self.names, None, *self.foreign]

    def blocked_reason(self, from_code: int, to_code: int) -> str:
        """Why the graph forbids from → to (the first-stage rule when there is no stage yet)."""
        from_stage = self.state_names()[from_code]
        if from_stage is None:
            return first_stage_reason(self.lifecycle.first_stages)
        targets = self.lifecycle.transitions.get(from_stage, ())
        return not_allowed_reason(from_stage, self.names[to_code], targets)

    def missing_reason(self, to_code: int, missing_mask: int) -> str:
        """Why the person may not enter `to_code`: which of the stage's fields are empty."""
        stage = self.lifecycle.stages[to_code]
        missing = [
            f for f in stage.required_fields if missing_mask >> self.required_fields.index(f) & 1
        ]
        return missing_fields_reason(stage.name, stage.required_fields, missing)


_COMPILED: dict[int, tuple[Lifecycle, CompiledLifecycle]] = {}
_COMPILED_KEEP = 16


def compile_lifecycle(lifecycle: Lifecycle) -> CompiledLifecycle:
    """Turn the config into code tables: `allowed[from][to]` and a field bitmask per stage.

    Compiling costs about 0.2 ms and the intake API applies the lifecycle to every journal
    group, twice, so the tables are kept per config object (frozen, so they cannot go stale);
    the identity check guards against a reused id after a config is freed.
    """
    hit = _COMPILED.get(id(lifecycle))
    if hit is not None and hit[0] is lifecycle:
        return hit[1]
    compiled = _compile(lifecycle)
    if len(_COMPILED) >= _COMPILED_KEEP:
        _COMPILED.clear()  # a handful of configs per process; no iteration across threads
    _COMPILED[id(lifecycle)] = (lifecycle, compiled)
    return compiled


def _compile(lifecycle: Lifecycle) -> CompiledLifecycle:
    names = lifecycle.stage_names
    sources: list[str | None] = [*names, None]
    rows = tuple((*(lifecycle.allowed(src, dst) for dst in names), False) for src in sources)
    fields: list[str] = []
    for stage in lifecycle.stages:
        fields += [f for f in stage.required_fields if f not in fields]
    masks = tuple(
        sum(1 << fields.index(f) for f in set(stage.required_fields)) for stage in lifecycle.stages
    )
    funnel = [s.kind == "funnel" for s in lifecycle.stages]
    forward = tuple(
        tuple(
            allowed
            or (
                dst < len(names)
                and funnel[dst]
                and (src == len(names) or (src < len(names) and funnel[src] and dst > src))
            )
            for dst, allowed in enumerate(row)
        )
        for src, row in enumerate(rows)
    )
    return CompiledLifecycle(lifecycle, rows, tuple(fields), masks, forward=forward)
