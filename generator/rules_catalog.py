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
rule's tunables and, in tests, helpers that format values the way Prometheus templates do
(generator/placeholders.py).

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

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from generator import catalog, conventions, yamlload
from generator.model import Stack
from generator.placeholders import Value as Value
from generator.placeholders import between as between
from generator.placeholders import expand as expand
from generator.placeholders import expand_data as expand_data
from generator.placeholders import humanize_percentage as humanize_percentage
from generator.placeholders import plain as plain
from generator.units import Duration

ALWAYS = ("stack",)  # packs rendered whatever `alerts.packs` says
SERVICE_PACK = conventions.PER_SERVICE_RULES[0]  # instantiated once per service that declares http metrics
_EXTENSION_KEYS = ("threshold", "bounds", "requires", "runtimes", "failed_scrapes", "__line__")
_BOUNDS: dict[str, Callable[[Decimal, Decimal], bool]] = {
    "above": operator.gt,
    "below": operator.lt,
    "min": operator.ge,
    "max": operator.le,
}


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


class _LineLoader(yamlload.SAFE_LOADER):  # type: ignore[misc]
    """Remembers the line of every mapping, so messages can point into the pack file."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
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
