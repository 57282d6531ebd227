"""The filter and expression language of the metric dictionary.

Filters (`to_stage == 'MQL'`), measure expressions (`days_between(created_date, close_date)`)
and derived metrics (`won_deals / closed_deals`) are written by analysts in revops.yaml and
compiled to Ibis, so they run inside the database on every backend. They are parsed with
Python's `ast` in eval mode and checked against a small whitelist: anything that is not a name,
a literal, a comparison, boolean logic, arithmetic or one of four functions is rejected, so a
config file can never reach Python attributes, builtins or arbitrary SQL.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from typing import Any

import ibis
import ibis.expr.types as ir

from revops.metrics.errors import MetricError

FUNCTIONS = {"is_null": 1, "days_between": 2, "lower": 1, "coalesce": 2}
_BOOL_NAMES = {"true": True, "false": False}
_SECONDS_PER_DAY = 86400

_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: lambda a, b: a == b,
    ast.NotEq: lambda a, b: a != b,
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b,
}
_ARITH: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    # Division by zero is NULL on every backend (DuckDB would say inf, PostgreSQL would raise).
    ast.Div: lambda a, b: a / b.nullif(0),
}


class ExpressionError(MetricError):
    """An expression in the metric dictionary is malformed or refers to something unknown."""


def _fail(metric: str, text: str, why: str) -> ExpressionError:
    return ExpressionError(f"metric {metric!r}: expression {text!r}: {why}")


def parse(text: str, *, metric: str = "?", paths: bool = False) -> ast.expr:
    """Parse and whitelist-check an expression; the returned tree only holds allowed nodes.

    With `paths`, a dotted name (`account.industry`) is one column name, a path through the data
    model's relations; it is looked up as that string, never as a Python attribute.
    """
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise _fail(metric, text, f"not a valid expression ({exc.msg})") from None
    _check(tree.body, metric, text, paths)
    return tree.body


def dotted(node: ast.expr) -> str | None:
    """`a.b.c` for an attribute chain over a plain name, else None."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name) or not parts:
        return None
    return ".".join([node.id, *reversed(parts)])


def _is_literal(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, int | float | str | bool)


def _check(node: ast.expr, metric: str, text: str, paths: bool = False) -> None:
    """Reject every node outside the language, naming the construct that was used."""
    children: list[ast.expr]
    if isinstance(node, ast.Name) or (paths and dotted(node) is not None):
        return
    if isinstance(node, ast.Constant):
        if not _is_literal(node):
            raise _fail(metric, text, f"literal {node.value!r} is not allowed")
        return
    if isinstance(node, ast.BoolOp):
        children = list(node.values)
    elif isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, ast.Not | ast.USub | ast.UAdd):
            raise _fail(metric, text, "only 'not' and unary minus are allowed")
        children = [node.operand]
    elif isinstance(node, ast.BinOp):
        if type(node.op) not in _ARITH:
            raise _fail(metric, text, "only + - * / are allowed")
        children = [node.left, node.right]
    elif isinstance(node, ast.Compare):
        children = [node.left]
        for op, right in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, ast.In | ast.NotIn):
                if not isinstance(right, ast.List | ast.Tuple) or not all(
                    _is_literal(e) for e in right.elts
                ):
                    raise _fail(metric, text, "'in' needs a list of literals, e.g. ['a', 'b']")
            elif type(op) in _COMPARE:
                children.append(right)
            else:
                raise _fail(metric, text, "only == != < <= > >= in and not in compare")
    elif isinstance(node, ast.Attribute) or (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    ):
        raise _fail(metric, text, "attribute access (x.y) is not allowed")
    elif isinstance(node, ast.Call):
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if name not in FUNCTIONS:
            allowed = ", ".join(FUNCTIONS)
            raise _fail(metric, text, f"only the functions {allowed} may be called")
        if node.keywords or len(node.args) != FUNCTIONS[name]:
            raise _fail(metric, text, f"{name}() takes {FUNCTIONS[name]} positional argument(s)")
        children = list(node.args)
    else:
        raise _fail(metric, text, f"{type(node).__name__} syntax is not allowed")
    for child in children:
        _check(child, metric, text, paths)


def names(text: str, *, metric: str = "?", paths: bool = False) -> list[str]:
    """The column or metric names an expression refers to, in order of first use."""
    tree = parse(text, metric=metric, paths=paths)
    functions = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    out: list[str] = []
    inner = {
        id(sub)
        for n in ast.walk(tree)
        if paths and isinstance(n, ast.Attribute)
        for sub in ast.walk(n.value)
    }
    for node in ast.walk(tree):
        path = (
            dotted(node) if paths and isinstance(node, ast.expr) and id(node) not in inner else None
        )
        if path is not None and path not in out:
            out.append(path)
        elif (
            isinstance(node, ast.Name)
            and id(node) not in functions
            and id(node) not in inner
            and node.id not in _BOOL_NAMES
            and node.id not in out
        ):
            out.append(node.id)
    return out


def _days_between(a: ir.Value, b: ir.Value) -> ir.Value:
    """b − a in days: whole days for two dates, fractional days once a timestamp is involved."""
    if a.type().is_date() and b.type().is_date():
        return b.delta(a, unit="day")
    a_ts, b_ts = a.cast("timestamp"), b.cast("timestamp")
    seconds = b_ts.epoch_seconds() - a_ts.epoch_seconds()
    return seconds.cast("float64") / _SECONDS_PER_DAY


class _Compiler:
    """Walks a checked tree, turning names into Ibis values via `lookup`."""

    def __init__(self, text: str, metric: str, lookup: Callable[[str], ir.Value]) -> None:
        self.text = text
        self.metric = metric
        self.lookup = lookup

    def value(self, node: ast.expr) -> Any:
        path = dotted(node)
        if path is not None:
            return self.lookup(path)
        if isinstance(node, ast.Name):
            if node.id in _BOOL_NAMES:
                return ibis.literal(_BOOL_NAMES[node.id])
            return self.lookup(node.id)
        if isinstance(node, ast.Constant):
            return ibis.literal(node.value)
        if isinstance(node, ast.BoolOp):
            parts = [self.boolean(v) for v in node.values]
            out = parts[0]
            for p in parts[1:]:
                out = (out & p) if isinstance(node.op, ast.And) else (out | p)
            return out
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.Not):
                return ~self.boolean(node.operand)
            operand = self.value(node.operand)
            return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.BinOp):
            return _ARITH[type(node.op)](self.value(node.left), self.value(node.right))
        if isinstance(node, ast.Compare):
            return self.compare(node)
        assert isinstance(node, ast.Call)
        assert isinstance(node.func, ast.Name)
        args = [self.value(a) for a in node.args]
        return self.call(node.func.id, args)

    def boolean(self, node: ast.expr) -> Any:
        out = self.value(node)
        if not out.type().is_boolean():
            raise _fail(self.metric, self.text, f"{ast.unparse(node)!r} is not true/false")
        return out

    def compare(self, node: ast.Compare) -> Any:
        left = self.value(node.left)
        result = None
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, ast.In | ast.NotIn):
                assert isinstance(right_node, ast.List | ast.Tuple)
                options = [e.value for e in right_node.elts if isinstance(e, ast.Constant)]
                part = left.isin(options) if isinstance(op, ast.In) else left.notin(options)
                right = None
            else:
                right = self.value(right_node)
                part = _COMPARE[type(op)](left, right)
            result = part if result is None else result & part
            left = right
        return result

    def call(self, name: str, args: list[Any]) -> Any:
        if name == "is_null":
            return args[0].isnull()
        if name == "days_between":
            return _days_between(args[0], args[1])
        if name == "lower":
            if not args[0].type().is_string():
                raise _fail(self.metric, self.text, "lower() needs a text value")
            return args[0].lower()
        return ibis.coalesce(args[0], args[1])


def compile_row(text: str, table: ir.Table, *, metric: str) -> ir.Value:
    """Compile a row expression (a filter or a measure) against the columns of `table`."""
    tree = parse(text, metric=metric)
    columns = list(table.columns)

    def lookup(name: str) -> ir.Value:
        if name not in columns:
            raise _fail(
                metric,
                text,
                f"unknown column {name!r}; available columns: {', '.join(columns)}",
            )
        return table[name]

    return _Compiler(text, metric, lookup).value(tree)


def compile_filter(text: str, table: ir.Table, *, metric: str) -> ir.BooleanValue:
    """Compile a filter: a row expression that must be true/false (a bare bool column works)."""
    tree = parse(text, metric=metric)
    compiled = compile_row(text, table, metric=metric)
    if not compiled.type().is_boolean():
        raise _fail(metric, text, f"{ast.unparse(tree)!r} is not true/false, so not a filter")
    return compiled


def compile_metric_expr(text: str, values: Mapping[str, ir.Value], *, metric: str) -> ir.Value:
    """Compile a derived metric's expression over already computed metric values."""
    tree = parse(text, metric=metric)

    def lookup(name: str) -> ir.Value:
        if name not in values:
            known = ", ".join(values)
            raise _fail(metric, text, f"unknown metric {name!r}; available: {known}")
        return values[name]

    return _Compiler(text, metric, lookup).value(tree)


def compile_predicate(
    text: str, columns: Mapping[str, ir.Value], *, metric: str = "?"
) -> ir.BooleanValue:
    """Compile a query-time filter (`--where`) over named values, dotted paths allowed: the
    same grammar as the dictionary's filters, compiled to Ibis, never pasted into SQL."""
    tree = parse(text, metric=metric, paths=True)

    def lookup(name: str) -> ir.Value:
        if name not in columns:
            raise _fail(metric, text, f"unknown column {name!r}; available: {', '.join(columns)}")
        return columns[name]

    compiled = _Compiler(text, metric, lookup).value(tree)
    if not compiled.type().is_boolean():
        raise _fail(metric, text, f"{ast.unparse(tree)!r} is not true/false, so not a filter")
    return compiled
