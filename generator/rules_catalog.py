"""The rule-pack catalog: `rules/<pack>.rules.yml` and their promtool tests `rules/<pack>.test.yml`.

A pack file is a Prometheus rule file plus promstack keys that are stripped when rendered:
  - per rule `threshold: <number>`: the default of `${threshold}`, which `expr`, annotations and the
    tests use; `alerts.overrides.<Alert>.threshold` replaces it.
  - per rule `bounds: {above: 0, below: 100}` (exclusive; `min`/`max` inclusive): the thresholds an
    override may set, checked when the spec is validated.
  - per rule `requires: [duration]` (service pack only): render the rule only for services that
    declare that http metric.
  - per rule `runtimes: [local]`: render the rule only on these runtimes (what the component measures
    elsewhere is not what the alert is about; the pack says why in a comment).
  - per rule `failed_scrapes: {metric: up, jobs: <regex>}` instead of `expr`: fires after two consecutive
    failed scrapes (0) of the jobs `jobs` matches (all by default): render/scrape_failures.py.
  - per pack (top level) `dashboard: <key of conventions.DASHBOARD_UIDS>` (default: the pack name).
  - per pack (top level) `runbooks: {<Alert>: {meaning, checks: [...], causes: [...]}}` (Markdown): the
    runbook of every alert of the pack (and of alerts generated for it elsewhere: the service pack holds
    the SLO burn-rate alert's), served by generator/runbooks.py.
`${...}` placeholders hold a small arithmetic expression (numbers are exact decimals) over the
rule's tunables and, in tests, helpers that format values the way Prometheus templates do.

A test file is a promtool test file whose groups each name their subject, `alert: <Alert>`: the
group is rendered with that alert's resolved tunables (`threshold`) and its test times, derived from
its effective `for` and the pace promtool evaluates at (render/_alerting.py `test_timing`): `for_m`,
the minutes from the first sample where the condition holds until the alert surely fires; `eval_m`,
the minutes until an evaluation surely sees a sample (for checks after a recovery); `sync_m`, the
minutes between evaluations that fall on a sample (for checks of time()-based values). A test
written with them stays true after any override of `for`, threshold, severity or labels: its input
series keep the condition true until past `for_m` (an event that a look-back window forgets must
recur), and the group is dropped when the alert is disabled.
`exp_labels` list only what the expression yields; the rule's static labels (severity, overrides)
are added when rendered, as are the runbook_url and dashboard annotations.

`tunables` and `alert_threshold` apply the spec's `alerts.overrides` to a pack alert: the one answer the
rule renderers and the dashboards (whose threshold lines follow the alerts) both read.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal, localcontext
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from generator import catalog
from generator.model import Stack
from generator.units import Duration

ALWAYS = ("stack",)  # packs rendered whatever `alerts.packs` says
SERVICE_PACK = "service"  # instantiated once per service that declares http metrics
_PLACEHOLDER = re.compile(r"\$\{([^{}]*)\}")
_EXTENSION_KEYS = ("threshold", "bounds", "requires", "runtimes", "failed_scrapes", "__line__")
_BOUNDS: dict[str, Callable[[Decimal, Decimal], bool]] = {
    "above": operator.gt,
    "below": operator.lt,
    "min": operator.ge,
    "max": operator.le,
}

Value = Decimal | str


@dataclass(frozen=True)
class FailedScrapes:  # `failed_scrapes:` of a pack alert
    metric: str  # up, probe_success
    jobs: str  # a regex of job names; "" for every job


@dataclass(frozen=True)
class PackRule:
    pack: str
    group: str
    name: str  # alert or record name
    alert: bool
    expr: str  # with ${placeholders}
    source: str  # rules/<pack>.rules.yml:<line>
    for_: Duration | None = None
    keep_firing_for: Duration | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    threshold: Decimal | None = None
    bounds: Mapping[str, Decimal] = field(default_factory=dict)
    requires: tuple[str, ...] = ()
    runtimes: tuple[str, ...] = ()  # empty: every runtime
    failed_scrapes: FailedScrapes | None = None  # its expr is generated (render/scrape_failures.py)

    @property
    def severity(self) -> str:
        return self.labels.get("severity", "")

    def allows(self, value: Decimal) -> bool:
        """Whether `value` is a threshold this rule accepts."""
        return all(_BOUNDS[kind](value, bound) for kind, bound in self.bounds.items())

    def describe_bounds(self) -> str:
        words = {"above": "above", "below": "below", "min": "at least", "max": "at most"}
        return " and ".join(f"{words[k]} {plain(v)}" for k, v in self.bounds.items())


@dataclass(frozen=True)
class PackGroup:
    name: str
    rules: tuple[PackRule, ...]
    interval: Duration | None = None


@dataclass(frozen=True)
class Pack:
    name: str
    groups: tuple[PackGroup, ...]
    dashboard: str
    tests: tuple[Mapping[str, Any], ...]  # raw test groups, each with its `alert` subject
    source: str
    # alert -> {meaning, checks, causes} (Markdown): the pack's `runbooks:` (generator/runbooks.py serves them)
    runbooks: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def rules(self) -> list[PackRule]:
        return [rule for group in self.groups for rule in group.rules]


class _LineLoader(yaml.SafeLoader):
    """Remembers the line of every mapping, so messages can point into the pack file."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        mapping = super().construct_mapping(node, deep=deep)
        mapping["__line__"] = node.start_mark.line + 1
        return mapping


def _load(path: Path) -> Any:
    return yaml.load(path.read_text(), Loader=_LineLoader)


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k != "__line__"}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _duration(value: Any, where: str) -> Duration | None:
    """A pack's duration, parsed once as the pack is loaded: a bad one fails loading, saying where."""
    try:
        return Duration(str(value)) if value is not None else None
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


def _rule(pack: str, group: str, data: dict[str, Any], file: str) -> PackRule:
    known = {"alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations", *_EXTENSION_KEYS}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"{file}:{data['__line__']}: unknown rule keys {sorted(unknown)}")
    threshold = data.get("threshold")
    failing = data.get("failed_scrapes")
    if ("expr" in data) == (failing is not None) or (failing is not None and "alert" not in data):
        raise ValueError(f"{file}:{data['__line__']}: an alert has either expr or failed_scrapes")
    return PackRule(
        pack=pack,
        group=group,
        name=str(data.get("alert") or data["record"]),
        alert="alert" in data,
        expr=str(data.get("expr", "")).strip(),
        source=f"{file}:{data['__line__']}",
        for_=_duration(data.get("for"), f"{file}:{data['__line__']}"),
        keep_firing_for=_duration(data.get("keep_firing_for"), f"{file}:{data['__line__']}"),
        labels={str(k): str(v) for k, v in _strip(data.get("labels", {})).items()},
        annotations={str(k): str(v).strip() for k, v in _strip(data.get("annotations", {})).items()},
        threshold=Decimal(str(threshold)) if threshold is not None else None,
        bounds={str(k): Decimal(str(v)) for k, v in _strip(data.get("bounds", {})).items() if k in _BOUNDS},
        requires=tuple(data.get("requires", ())),
        runtimes=tuple(data.get("runtimes", ())),
        failed_scrapes=FailedScrapes(str(failing["metric"]), str(failing.get("jobs", ""))) if failing else None,
    )


def _pack(path: Path) -> Pack:
    name = path.name.removesuffix(".rules.yml")
    file = f"rules/{path.name}"
    data = _load(path)
    groups = tuple(
        PackGroup(
            g["name"], tuple(_rule(name, g["name"], r, file) for r in g["rules"]), _duration(g.get("interval"), file)
        )
        for g in data["groups"]
    )
    test_path = path.with_name(f"{name}.test.yml")
    tests = _strip(_load(test_path)["tests"]) if test_path.exists() else []
    runbooks = _strip(data.get("runbooks") or {})
    return Pack(name, groups, str(data.get("dashboard", name)), tuple(tests), file, runbooks)


@cache
def packs() -> dict[str, Pack]:
    """Every pack shipped with promstack, by name."""
    return {pack.name: pack for pack in map(_pack, sorted(catalog.folder("rules").glob("*.rules.yml")))}


def pack_names(stack: Stack) -> list[str]:
    """The packs `stack` renders, in output order: the ones always rendered, those `alerts.packs` lists,
    and the service pack when a service declares http metrics."""
    listed = [p for p in stack.alerts.packs if p in packs() and p not in ALWAYS]
    service = [SERVICE_PACK] if any(s.http is not None for s in stack.services) else []
    return [*ALWAYS, *listed, *service]


def component_packs() -> list[str]:
    """Packs a spec may list in `alerts.packs`."""
    return [name for name in packs() if name not in (*ALWAYS, SERVICE_PACK)]


@cache
def alert_index() -> dict[str, PackRule]:
    """Every pack alert by name (names are unique across packs; the catalog tests say so)."""
    return {rule.name: rule for pack in packs().values() for rule in pack.rules() if rule.alert}


# ---- the spec's overrides -------------------------------------------------------------------------


def enabled(stack: Stack, alert: str) -> bool:
    """False when the spec disables `alert` (`alerts.overrides.<alert>.enabled: false`)."""
    override = stack.alerts.overrides.get(alert)
    return override is None or override.enabled


def tunables(stack: Stack, rule: PackRule) -> tuple[Decimal | None, Duration | None, str, dict[str, str]]:
    """threshold, for, severity and extra labels of a pack alert after its override."""
    override = stack.alerts.overrides.get(rule.name)
    threshold = rule.threshold
    if override and override.threshold is not None:
        threshold = Decimal(str(override.threshold))
    for_ = (override.for_ if override and override.for_ else None) or rule.for_
    severity = (override.severity if override else None) or rule.severity
    return threshold, for_, severity, dict(override.labels) if override else {}


def alert_threshold(stack: Stack, alert: str) -> Decimal | None:
    """The threshold of pack alert `alert` after the spec's overrides; None if unknown or disabled."""
    rule = alert_index().get(alert)
    if rule is None or not enabled(stack, alert):
        return None
    return tunables(stack, rule)[0]


# ---- placeholders -------------------------------------------------------------------------------


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


def evaluate(text: str, variables: Mapping[str, Value]) -> Value:
    """Evaluate one placeholder: + - * / on exact decimals, variables, and `_FUNCTIONS`."""
    tree = ast.parse(text.strip(), mode="eval")

    def ev(node: ast.AST) -> Value:
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return Decimal(ast.get_source_segment(text.strip(), node) or str(node.value))
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


def expand(text: str, variables: Mapping[str, Value]) -> str:
    """Replace every `${...}` in `text`."""

    def one(match: re.Match[str]) -> str:
        value = evaluate(match.group(1), variables)
        return plain(value) if isinstance(value, Decimal) else value

    return _PLACEHOLDER.sub(one, text)


def expand_data(data: Any, variables: Mapping[str, Value]) -> Any:
    """`expand` on every string (keys too) of a YAML-like structure."""
    if isinstance(data, str):
        return expand(data, variables)
    if isinstance(data, dict):
        return {expand_data(k, variables): expand_data(v, variables) for k, v in data.items()}
    if isinstance(data, list):
        return [expand_data(v, variables) for v in data]
    return data
