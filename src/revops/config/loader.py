"""Reading revops.yaml with errors that name the line and the key.

PyYAML's composer knows where every node starts; we keep those marks beside the plain data so a
pydantic error at `metrics.3.measure.column` can be reported as `revops.yaml:57: metrics[3]
(win_rate).measure.column: …`. A config error is a user error, so it is one readable message,
never a traceback.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from revops.config.models import OperatingModel
from revops.errors import RevOpsError

Location = tuple[str | int, ...]

# libyaml's scanner and parser compose the shipped operating model ~12x faster than PyYAML's pure
# Python ones (0.05 s vs 0.6 s), with the same nodes, tags and line marks; PyYAML without
# libyaml falls back to the pure Python loader.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class ConfigError(RevOpsError, ValueError):
    """revops.yaml is not valid; the message lists every problem with its line."""


@dataclass(frozen=True)
class LoadedConfig:
    """A validated operating model and where it came from."""

    model: OperatingModel
    path: Path
    text: str

    @property
    def digest(self) -> str:
        """A content hash: the identity of this exact version of the operating model."""
        return hashlib.sha256(self.text.encode()).hexdigest()[:16]


# A YAML alias is a reference: `b: *a` repeats node `a` without copying it, so nested aliases
# ("billion laughs") make a few hundred bytes expand into billions of nodes, and an alias inside
# its own anchor is a cycle. Plain data is built by walking every reference, so the walk counts
# the nodes it produces and refuses past this budget (the shipped operating model has a few
# thousand), and refuses a node that contains itself.
MAX_NODES = 100_000


class _Walk:
    def __init__(self) -> None:
        self.nodes = 0
        # scalars are built by the safe loader's own constructor (the tags were resolved when
        # composing), not by re-serializing and re-parsing each one, which costs ~0.1 ms a value
        self.scalars = yaml.constructor.SafeConstructor()
        self.open: set[int] = set()  # collections being expanded: one seen again is a cycle


def _to_python(
    node: yaml.Node, path: Location, lines: dict[Location, int], walk: _Walk | None = None
) -> Any:
    walk = walk or _Walk()
    walk.nodes += 1
    if walk.nodes > MAX_NODES:
        raise ConfigError(
            f"line {node.start_mark.line + 1}: aliases expand to more than {MAX_NODES:,} "
            "values; refusing (an alias bomb?)"
        )
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
        if id(node) in walk.open:
            raise ConfigError(
                f"line {node.start_mark.line + 1}: an alias refers to a node that contains it "
                "(a recursive alias); refusing"
            )
        walk.open.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [_to_python(v, (*path, i), lines, walk) for i, v in enumerate(node.value)]
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = _to_python(key_node, (*path, "<key>"), {}, walk)
                if isinstance(key, dict | list):
                    raise ConfigError(
                        f"line {key_node.start_mark.line + 1}: a key must be a plain value"
                    )
                if key in out:
                    raise ConfigError(f"line {key_node.start_mark.line + 1}: duplicate key {key!r}")
                out[key] = _to_python(value_node, (*path, key), lines, walk)
            return out
        finally:
            walk.open.discard(id(node))
    return walk.scalars.construct_object(node)


def parse_yaml(text: str, source: str) -> tuple[Any, dict[Location, int]]:
    """Parse YAML into plain data plus a map from each key path to its line number."""
    try:
        node = yaml.compose(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        raise ConfigError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if node is None:
        raise ConfigError(f"{source}: the file is empty")
    lines: dict[Location, int] = {}
    try:
        data = _to_python(node, (), lines)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    return data, lines


def _strip_union_tags(loc: Location, data: Any) -> Location:
    """Drop pydantic's discriminator steps (`metrics.3.ratio.numerator`): they are no keys."""
    out: list[str | int] = []
    node = data
    for step in loc:
        if isinstance(node, dict) and node.get("type") == step and out and isinstance(out[-1], int):
            continue
        out.append(step)
        if isinstance(node, dict):
            node = node.get(step)
        elif isinstance(node, list) and isinstance(step, int) and step < len(node):
            node = node[step]
        else:
            node = None
    return tuple(out)


def _describe(loc: Location, data: Any) -> str:
    """`metrics[3] (win_rate).measure.column`: a key path as a person reads it."""
    parts: list[str] = []
    node = data
    for step in loc:
        if isinstance(step, int):
            label = f"[{step}]"
            node = node[step] if isinstance(node, list) and step < len(node) else None
            if isinstance(node, dict) and "name" in node:
                label += f" ({node['name']})"
            parts.append(label)
        else:
            parts.append(("." if parts else "") + str(step))
            node = node.get(step) if isinstance(node, dict) else None
    return "".join(parts) or "(top level)"


def _line_of(loc: Location, lines: dict[Location, int]) -> int:
    while loc:
        if loc in lines:
            return lines[loc]
        loc = loc[:-1]
    return 1


def validate(data: Any, lines: dict[Location, int], source: str) -> OperatingModel:
    """Validate parsed YAML, turning pydantic's errors into one message naming each line."""
    try:
        return OperatingModel.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = _strip_union_tags(tuple(err["loc"]), data)
            msg = err["msg"].removeprefix("Value error, ")
            problems.append(f"{source}:{_line_of(loc, lines)}: {_describe(loc, data)}: {msg}")
        raise ConfigError("invalid operating model:\n  " + "\n  ".join(problems)) from None


# Parsing and validating the shipped operating model costs ~0.3 s, and one command reads it
# several times (the CLI, the context, reports). The model is frozen and no caller mutates it, so
# one validated instance per distinct text is shared for the life of the process. The key is the
# text itself, not the file's mtime and size: a test (or an editor) can rewrite a file with the
# same size within the clock's granularity, and reading ~50 kB is cheap next to parsing it.
# Errors are not cached: they name the source the caller passed.
_MODELS: dict[str, OperatingModel] = {}
_MAX_MODELS = 16


def model_of(text: str, source: str) -> OperatingModel:
    """The validated operating model of YAML `text` (errors name `source`), parsed once per
    process per distinct text. Callers must not mutate it: it is shared."""
    model = _MODELS.get(text)
    if model is None:
        data, lines = parse_yaml(text, source)
        model = validate(data, lines, source)
        if len(_MODELS) >= _MAX_MODELS:
            del _MODELS[next(iter(_MODELS))]  # oldest first; a process rarely holds more than 2
        _MODELS[text] = model
    return model


def load_config(path: str | Path) -> LoadedConfig:
    """Read and validate an operating-model file (validated once per distinct text)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such file (copy examples/revops.yaml to start)") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{p}: not UTF-8 text (byte {exc.start})") from None
    return LoadedConfig(model_of(text, str(p)), p, text)
