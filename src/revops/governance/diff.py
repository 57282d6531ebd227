"""What a proposed operating model changes, area by area: a pure function of two models.

Reviewers read a change by what it means, not by YAML lines: "stage MQL now requires email",
"win_rate: won / created → won / (won + lost)", "rule named_accounts: when changed". So the
areas a RevOps team reasons about get their own wording (lifecycle stages, transitions and
required fields; metric formulas as `revops.metrics.formula` prints them; scoring; routing
rules; SLA targets) and everything else falls to one structural diff over the validated
models. Lists of named things (stages, rules, pools, targets) are matched by name rather than
position, so inserting a rule reads as one added rule plus an order change, not as every later
rule "changed". Defaults are filled in by validation first, so spelling out a default is no
change and dropping a key that had a non-default value is one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from revops.config.models import Lifecycle, Metric, OperatingModel
from revops.metrics import formula
from revops.metrics.graph import references

ChangeKind = Literal["added", "removed", "changed"]
AREAS = ("lifecycle", "metrics", "scoring", "routing", "sla")

# Fields that name an item inside a list, tried in this order.
_KEYS = ("name", "priority", "user_id", "field")


@dataclass(frozen=True)
class Change:
    """One change: in `area`, to `subject` (a stage, metric, rule, or a config path)."""

    area: str
    subject: str
    kind: ChangeKind
    field: str = ""
    old: str = ""
    new: str = ""

    def text(self) -> str:
        """The change as one line, e.g. `metric win_rate: formula a / b → a / c`."""
        what = f"{self.subject}: {self.field}" if self.field else self.subject
        if self.kind == "added":
            return f"{what} added" + (f" ({self.new})" if self.new else "")
        if self.kind == "removed":
            return f"{what} removed" + (f" (was {self.old})" if self.old else "")
        return f"{what}: {self.old} → {self.new}"


@dataclass(frozen=True)
class ModelDiff:
    """Every change between two operating models, plus the metrics whose values can move."""

    changes: tuple[Change, ...]
    changed_metrics: tuple[str, ...]
    added_metrics: tuple[str, ...]
    removed_metrics: tuple[str, ...]
    lifecycle_changed: bool
    routing_changed: bool
    changed_automations: tuple[str, ...] = ()  # added or changed, enabled in the new model

    @property
    def empty(self) -> bool:
        return not self.changes

    def by_area(self) -> dict[str, list[Change]]:
        out: dict[str, list[Change]] = {}
        for c in self.changes:
            out.setdefault(c.area, []).append(c)
        return out


def render(value: Any) -> str:
    """A config value as compact, stable text: scalars plain, the rest as sorted JSON."""
    if value is None:
        return "none"
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"{value:g}" if isinstance(value, float) else str(value)
    return json.dumps(value, sort_keys=True, separators=(", ", ": "), default=str)


def _key_of(items: Sequence[Any]) -> str | None:
    """The field that names every item of a list uniquely, if there is one."""
    if not items or not all(isinstance(i, dict) for i in items):
        return None
    for key in _KEYS:
        values = [i.get(key) for i in items]
        if all(isinstance(v, str) for v in values) and len(set(values)) == len(values):
            return key
    return None


def structural(old: Any, new: Any, path: str = "") -> Iterator[tuple[str, ChangeKind, Any, Any]]:
    """(path, kind, old, new) for every difference; lists of named items matched by name.

    A list is keyed when both sides name their items with the same field; its order is one
    more change (`path.order`) when the shared items were reordered.
    """
    if isinstance(old, dict) and isinstance(new, dict):
        for k in [*old, *(k for k in new if k not in old)]:
            sub = f"{path}.{k}" if path else str(k)
            if k not in new:
                yield sub, "removed", old[k], None
            elif k not in old:
                yield sub, "added", None, new[k]
            else:
                yield from structural(old[k], new[k], sub)
        return
    if isinstance(old, list) and isinstance(new, list):
        # An empty side takes the other side's key: adding the first rule is one added rule.
        key = _key_of(old) if old else _key_of(new)
        if key is not None and (not new or key == _key_of(new)):
            a = {i[key]: i for i in old}
            b = {i[key]: i for i in new}
            for name, item in a.items():
                sub = f"{path}[{name}]"
                if name not in b:
                    yield sub, "removed", item, None
                else:
                    yield from structural(item, b[name], sub)
            for name, item in b.items():
                if name not in a:
                    yield f"{path}[{name}]", "added", None, item
            shared_old = [n for n in a if n in b]
            shared_new = [n for n in b if n in a]
            if shared_old != shared_new:
                yield f"{path}.order", "changed", shared_old, shared_new
            return
    if old != new:
        yield path, "changed", old, new


def _generic(area: str, old: Any, new: Any, prefix: str) -> list[Change]:
    return [
        Change(area, f"{prefix}{p}" if p else prefix.rstrip("."), kind, "", render(o), render(n))
        for p, kind, o, n in structural(old, new)
    ]


# -- lifecycle -----------------------------------------------------------------------------------
def _lifecycle(old: Lifecycle, new: Lifecycle) -> list[Change]:
    out: list[Change] = []
    a = {s.name: s for s in old.stages}
    b = {s.name: s for s in new.stages}
    for name, stage in a.items():
        if name not in b:
            out.append(Change("lifecycle", f"stage {name}", "removed", old=stage.kind))
    for name, stage in b.items():
        if name not in a:
            need = ", ".join(stage.required_fields) or "no fields"
            out.append(Change("lifecycle", f"stage {name}", "added", new=f"{stage.kind}, {need}"))
            continue
        before = a[name]
        if before.required_fields != stage.required_fields:
            out.append(
                Change(
                    "lifecycle",
                    f"stage {name}",
                    "changed",
                    "required fields",
                    ", ".join(before.required_fields) or "none",
                    ", ".join(stage.required_fields) or "none",
                )
            )
        for attr in ("kind", "description"):
            if getattr(before, attr) != getattr(stage, attr):
                out.append(
                    Change(
                        "lifecycle",
                        f"stage {name}",
                        "changed",
                        attr,
                        render(getattr(before, attr)),
                        render(getattr(stage, attr)),
                    )
                )
    shared_old = [n for n in a if n in b]
    shared_new = [n for n in b if n in a]
    if shared_old != shared_new:
        out.append(
            Change(
                "lifecycle",
                "stage order",
                "changed",
                old=" → ".join(shared_old),
                new=" → ".join(shared_new),
            )
        )
    if old.first_stages != new.first_stages:
        out.append(
            Change(
                "lifecycle",
                "entry stages",
                "changed",
                old=", ".join(old.first_stages),
                new=", ".join(new.first_stages),
            )
        )
    edges_old = {(s, t) for s, ts in old.transitions.items() for t in ts}
    edges_new = {(s, t) for s, ts in new.transitions.items() for t in ts}
    for s, t in sorted(edges_old - edges_new):
        out.append(Change("lifecycle", f"transition {s} → {t}", "removed"))
    for s, t in sorted(edges_new - edges_old):
        out.append(Change("lifecycle", f"transition {s} → {t}", "added"))
    return out


# -- metrics -------------------------------------------------------------------------------------
def _metric_dump(m: Metric) -> dict[str, Any]:
    return m.model_dump(mode="json", exclude={"name"})


def _metrics(old: OperatingModel, new: OperatingModel) -> tuple[list[Change], list[str]]:
    """Changes to the dictionary, and the metrics whose own definition changed."""
    out: list[Change] = []
    changed: list[str] = []
    a = {m.name: m for m in old.metrics}
    b = {m.name: m for m in new.metrics}
    for name in a:
        if name not in b:
            out.append(Change("metrics", f"metric {name}", "removed", old=formula(old, name)))
    for name, metric in b.items():
        if name not in a:
            out.append(Change("metrics", f"metric {name}", "added", new=formula(new, name)))
            continue
        if _metric_dump(a[name]) == _metric_dump(metric):
            continue
        changed.append(name)
        f_old, f_new = formula(old, name), formula(new, name)
        if f_old != f_new:
            out.append(Change("metrics", f"metric {name}", "changed", "formula", f_old, f_new))
        for p, kind, o, n in structural(_metric_dump(a[name]), _metric_dump(metric)):
            if not _in_formula(p):
                out.append(Change("metrics", f"metric {name}", kind, p, render(o), render(n)))
        if f_old == f_new and not any(c.subject == f"metric {name}" for c in out):
            out.append(Change("metrics", f"metric {name}", "changed", "definition"))
    return out, changed


# What `formula` already shows; other fields (owner, description, …) are listed one by one.
_FORMULA_FIELDS = frozenset(
    {"type", "measure", "filter", "numerator", "denominator", "expr"}
    | {"entity", "base", "conversion", "window_days"}
)


def _in_formula(path: str) -> bool:
    head = path.split(".", 1)[0].split("[", 1)[0]
    return head in _FORMULA_FIELDS


def dependents(model: OperatingModel, names: Sequence[str]) -> tuple[str, ...]:
    """Metrics of `model` built (directly or not) on any of `names`, in dictionary order."""
    moved = set(names)
    grew = True
    while grew:
        grew = False
        for m in model.metrics:
            if m.name not in moved and any(r in moved for r in references(m)):
                moved.add(m.name)
                grew = True
    return tuple(m.name for m in model.metrics if m.name in moved and m.name not in names)


# -- routing and SLA -----------------------------------------------------------------------------
def _routing(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    out: list[Change] = []
    sla_old, sla_new = old.get("sla"), new.get("sla")
    rest_old = {k: v for k, v in old.items() if k != "sla"}
    rest_new = {k: v for k, v in new.items() if k != "sla"}
    for p, kind, o, n in structural(rest_old, rest_new):
        if p.startswith("rules[") and "]" in p:
            name, _, tail = p[len("rules[") :].partition("]")
            out.append(
                Change("routing", f"rule {name}", kind, tail.lstrip("."), render(o), render(n))
            )
        elif p == "rules.order":
            out.append(Change("routing", "rule order", kind, "", " → ".join(o), " → ".join(n)))
        else:
            out.append(Change("routing", p, kind, "", render(o), render(n)))
    for p, kind, o, n in structural(sla_old, sla_new):
        if p.startswith("targets[") and "]" in p:
            name, _, tail = p[len("targets[") :].partition("]")
            out.append(
                Change("sla", f"target {name}", kind, tail.lstrip("."), render(o), render(n))
            )
        else:
            out.append(Change("sla", p or "sla", kind, "", render(o), render(n)))
    return out


def diff_models(old: OperatingModel, new: OperatingModel) -> ModelDiff:
    """Every change from `old` to `new`, by area, and which metrics' values can change.

    `changed_metrics` holds metrics whose definition changed and, after them, every metric
    built on one of them (a ratio over a changed count moves too, though its own formula
    reads the same).
    """
    changes = _lifecycle(old.lifecycle, new.lifecycle)
    metric_changes, changed = _metrics(old, new)
    changes += metric_changes
    changes += _generic(
        "scoring", old.scoring.model_dump(mode="json"), new.scoring.model_dump(mode="json"), ""
    )
    d_old = old.model_dump(mode="json")
    d_new = new.model_dump(mode="json")
    changes += _routing(d_old["routing"], d_new["routing"])
    handled = {"lifecycle", "metrics", "scoring", "routing"}
    for section in [*d_old, *(k for k in d_new if k not in d_old)]:
        if section in handled:
            continue
        changes += _generic(section, d_old.get(section), d_new.get(section), f"{section}.")
    old_names = {m.name for m in old.metrics}
    new_names = [m.name for m in new.metrics]
    changed_all = (*changed, *(n for n in dependents(new, changed) if n in old_names))
    return ModelDiff(
        changes=tuple(changes),
        changed_metrics=changed_all,
        added_metrics=tuple(n for n in new_names if n not in old_names),
        removed_metrics=tuple(m.name for m in old.metrics if m.name not in set(new_names)),
        lifecycle_changed=old.lifecycle != new.lifecycle,
        routing_changed=old.routing != new.routing,
        changed_automations=_changed_automations(old, new),
    )


def _changed_automations(old: OperatingModel, new: OperatingModel) -> tuple[str, ...]:
    """Automations that would fire differently: new ones, and ones whose definition or
    delivery settings changed (only enabled ones fire at all)."""
    before = {r.name: r for r in old.automations.rules}
    delivery_changed = (old.automations.endpoints, old.automations.smtp) != (
        new.automations.endpoints,
        new.automations.smtp,
    )
    return tuple(
        r.name
        for r in new.automations.rules
        if r.enabled and (before.get(r.name) != r or delivery_changed)
    )
