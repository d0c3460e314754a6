"""`${...}` placeholders of the rule packs and their tests: a small arithmetic over exact decimals, the
rule's variables, and helpers that format values as Prometheus' templates do (rules_catalog says where
they appear). A placeholder is parsed once per text and its value remembered per values of the
variables it names: a pack's tests are expanded once per service, with the same few placeholders.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import math
import operator
import re
from collections.abc import Callable, Mapping
from decimal import ROUND_CEILING, Decimal, localcontext
from typing import Any

Value = Decimal | str
_PLACEHOLDER = re.compile(r"\$\{([^{}]*)\}")


def plain(number: Decimal) -> str:
    """An exact decimal without exponent or trailing zeros: Decimal('14.40') -> '14.4'."""
    text = format(number.normalize(), "f")
    return "0" if text in ("-0", "") else text


def _g4(value: float) -> str:
    return f"{value:.4g}"


def humanize(value: Value) -> str:
    """Prometheus' `humanize` template function."""
    v = float(value)
    if abs(v) >= 1:
        prefix = ""
        for p in ("k", "M", "G", "T", "P", "E", "Z", "Y"):
            if abs(v) < 1000:
                break
            prefix, v = p, v / 1000
        return _g4(v) + prefix
    prefix = ""
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if v == 0 or abs(v) >= 1:
            break
        prefix, v = p, v * 1000
    return _g4(v) + prefix


def humanize_percentage(value: Value) -> str:
    return _g4(float(value) * 100) + "%"


def humanize_duration(value: Value) -> str:
    """Prometheus' `humanizeDuration` template function."""
    v = float(value)
    if v == 0:
        return "0s"
    if abs(v) >= 1:
        sign = "-" if v < 0 else ""
        v = abs(v)
        whole = int(v)
        seconds, minutes, hours, days = whole % 60, whole // 60 % 60, whole // 3600 % 24, whole // 86400
        if days:
            return f"{sign}{days}d {hours}h {minutes}m {seconds}s"
        if hours:
            return f"{sign}{hours}h {minutes}m {seconds}s"
        if minutes:
            return f"{sign}{minutes}m {seconds}s"
        return f"{sign}{_g4(v)}s"
    prefix = ""
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(v) >= 1:
            break
        prefix, v = p, v * 1000
    return f"{_g4(v)}{prefix}s"


def between(low: Value, high: Value) -> Decimal:
    """A short number strictly between low and high: test values that Prometheus and Python format
    alike ("30%", not "52.625%")."""
    lo, hi = _number(low), _number(high)
    if lo >= hi:
        raise ValueError(f"between({plain(lo)}, {plain(hi)}): the range is empty")
    middle = (lo * hi).sqrt() if lo > 0 else hi / 2
    for digits in range(1, 12):
        with localcontext() as ctx:
            ctx.prec = digits
            ctx.rounding = ROUND_CEILING
            candidate = +middle
        if lo < candidate < hi:
            return candidate
    return middle


def _number(value: Value) -> Decimal:
    if isinstance(value, str):
        raise ValueError(f"{value!r} is not a number")
    return value


_FUNCTIONS: dict[str, Callable[..., Value]] = {
    "humanize": humanize,
    "humanizePercentage": humanize_percentage,
    "humanizeDuration": humanize_duration,
    "between": between,
    "ceil": lambda v: Decimal(math.ceil(_number(v))),
    "floor": lambda v: Decimal(math.floor(_number(v))),
    "min": lambda *v: min(map(_number, v)),
    "max": lambda *v: max(map(_number, v)),
}
_OPERATORS: dict[type, Callable[[Decimal, Decimal], Decimal]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}


@functools.lru_cache(maxsize=4096)
def _parsed(text: str) -> tuple[ast.Expression, dict[int, Decimal], tuple[str, ...]]:
    """A placeholder's syntax tree, its numbers as written (exact decimals) and the variables it names,
    once per text: a pack's tests are expanded once per service, with the same few placeholders."""
    tree = ast.parse(text, mode="eval")
    numbers = {
        id(node): Decimal(ast.get_source_segment(text, node) or str(node.value))
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float))
    }
    names = tuple(sorted({node.id for node in ast.walk(tree) if isinstance(node, ast.Name)} - set(_FUNCTIONS)))
    return tree, numbers, names


def evaluate(text: str, variables: Mapping[str, Value]) -> Value:
    """Evaluate one placeholder: + - * / on exact decimals, variables, and `_FUNCTIONS`. A placeholder is
    a pure function of the variables it names: with the same values, the value is remembered."""
    names = _parsed(text.strip())[2]
    try:
        # by spelling: Decimal("1.0") == Decimal("1"), but they may render differently
        key = (text, tuple((type(variables[name]).__name__, str(variables[name])) for name in names))
    except KeyError:
        return _evaluate(text, variables)  # an unknown variable: say which
    if key not in _VALUES:
        if len(_VALUES) > 65_536:
            _VALUES.clear()
        _VALUES[key] = _evaluate(text, variables)
    return _VALUES[key]


_VALUES: dict[tuple[str, tuple[tuple[str, str], ...]], Value] = {}


def _evaluate(text: str, variables: Mapping[str, Value]) -> Value:
    tree, numbers, _ = _parsed(text.strip())

    def ev(node: ast.AST) -> Value:
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return numbers[id(node)]
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Name):
            if node.id not in variables:
                raise ValueError(f"unknown placeholder variable {node.id!r} (known: {', '.join(sorted(variables))})")
            return variables[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            return _OPERATORS[type(node.op)](_number(ev(node.left)), _number(ev(node.right)))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -_number(ev(node.operand))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS:
            return _FUNCTIONS[node.func.id](*(ev(arg) for arg in node.args))
        raise ValueError(f"unsupported placeholder syntax in {text!r}")

    with localcontext() as ctx:
        ctx.prec = 28
        return ev(tree.body)


@functools.lru_cache(maxsize=8192)
def _pieces(text: str) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """`text` split once: its literal parts (one more than placeholders), its placeholders, and the
    variables they name (an unparsable placeholder names none: evaluating it says what is wrong)."""
    parts = _PLACEHOLDER.split(text)
    placeholders = tuple(parts[1::2])
    names: set[str] = set()
    for placeholder in placeholders:
        with contextlib.suppress(SyntaxError):
            names.update(_parsed(placeholder.strip())[2])
    return tuple(parts[0::2]), placeholders, tuple(sorted(names))


def expand(text: str, variables: Mapping[str, Value]) -> str:
    """Replace every `${...}` in `text`. The text is split once, and its expansion remembered per values
    of the variables it names, as `evaluate` does for one placeholder."""
    if "${" not in text:
        return text
    literals, placeholders, names = _pieces(text)
    try:
        key = (text, tuple((type(variables[name]).__name__, str(variables[name])) for name in names))
    except KeyError:
        key = None  # an unknown variable: `evaluate` says which
    if key is not None and key in _TEXTS:
        return _TEXTS[key]
    out = [literals[0]]
    for placeholder, literal in zip(placeholders, literals[1:], strict=True):
        value = evaluate(placeholder, variables)
        out += (plain(value) if isinstance(value, Decimal) else value, literal)
    expanded = "".join(out)
    if key is not None:
        if len(_TEXTS) > 65_536:
            _TEXTS.clear()
        _TEXTS[key] = expanded
    return expanded


_TEXTS: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}


def expand_data(data: Any, variables: Mapping[str, Value]) -> Any:
    """`expand` on every string (keys too) of a YAML-like structure."""
    if isinstance(data, str):
        return expand(data, variables)
    if isinstance(data, dict):
        return {expand_data(k, variables): expand_data(v, variables) for k, v in data.items()}
    if isinstance(data, list):
        return [expand_data(v, variables) for v in data]
    return data
