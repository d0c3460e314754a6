"""Alert kinds: an `alerts.rules[]` entry with `kind:` and its parameters instead of `expr`.

Each kind compiles, in build, to the PromQL of an ordinary custom rule (plus recording rules where the
kind needs a baseline) AND to the promtool test cases that prove it: one that fires on a synthetic
breach and at least one that stays silent on normal traffic. The synthetic values sit close to the
bound on either side, so a hand edit of the rendered threshold (or, for the windowed kinds, of the
window) makes a generated test fail: the tests are not tautologies.

The metric a kind reads is declared (`services[].metrics[]`, or the demo's own) or exposed by a
component of the catalog (types from their names: `_total` counters, `_bucket` histograms, gauges
else). A service's metric is read from that service's job only, and its alerts keep the service's
labels (job, service, the service's own labels such as team) so they route and inhibit with it.

The timing arithmetic: tests sample every `step` (at most 1m, at least 4 samples per window) and
evaluate every `every` (promtool's evaluation interval, see render/_alerting.py). A breach whose
condition holds from time Tc fires, at the latest, at the first evaluation at or after Tc, plus
`for` rounded up to whole evaluations; the fire case is checked one evaluation later still.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from generator.units import Duration, format_duration

KINDS = ("threshold", "ratio", "latency", "change", "absent", "forecast", "anomaly")
# what a kind's `window` is when the spec gives none, and its `for`
WINDOWS = {"threshold": "5m", "ratio": "10m", "latency": "5m", "change": "1h", "forecast": "1h", "anomaly": "10m"}
FOR = {
    "threshold": "5m",
    "ratio": "5m",
    "latency": "10m",
    "change": "30m",
    "absent": "10m",
    "forecast": "30m",
    "anomaly": "10m",
}
# the parameters each kind takes, beyond alert, kind, metric, match, by, for and the annotations
PARAMETERS = {
    "threshold": ("above", "below", "aggregate", "window"),
    "ratio": ("part", "above", "below", "window", "min_events"),
    "latency": ("quantile", "above", "window"),
    "change": ("against", "below", "above", "window", "floor"),
    "absent": (),
    "forecast": ("above", "below", "horizon", "window"),
    "anomaly": ("z", "seasonal", "baseline", "window", "min_change"),
}
# metric types each kind reads
TYPES = {
    "threshold": ("gauge", "counter"),
    "ratio": ("counter",),
    "latency": ("histogram", "summary"),
    "change": ("counter", "gauge"),
    "absent": ("counter", "gauge", "histogram", "summary"),
    "forecast": ("gauge",),
    "anomaly": ("counter", "gauge"),
}
DEFAULT_MIN_EVENTS = 10
DEFAULT_Z = Decimal(3)
DEFAULT_MIN_CHANGE = Decimal(10)  # percent of the baseline an anomaly must also move by
SEASONS = {"day": 86400_000, "week": 7 * 86400_000}
STALE_MS = 5 * 60_000  # Prometheus' look-back: a series that stops is still read this long
_STEP_MAX = 5 * 60_000  # long windows are tested at a coarser pace: cheaper, and just as exact


@dataclass(frozen=True)
class Metric:
    """A metric a kind may read: its type, its declared labels and, for a service's, its target labels."""

    name: str
    type: str  # counter | gauge | histogram | summary
    job: str  # the job whose targets expose it
    labels: tuple[str, ...] = ()  # declared labels (empty: not declared, anything goes)
    target_labels: Mapping[str, str] = field(default_factory=dict)  # service, team, ... (job excluded)


@dataclass(frozen=True)
class Case:
    series: Mapping[str, str]
    fires: bool
    eval_time: str
    labels: Mapping[str, str]  # the alert's labels from the expression (static ones are added when rendered)
    interval: str  # the test's sampling step
    name: str


@dataclass(frozen=True)
class Compiled:
    expr: str
    for_: str
    summary: str
    description: str
    every: str = ""  # the evaluation interval of its tests (set by compile_rule)
    recording: tuple[tuple[str, str], ...] = ()  # (record, expr) of the baselines
    cases: tuple[Case, ...] = ()


def decimal(value: object) -> Decimal:
    return Decimal(str(value))


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def matchers(values: Mapping[str, str]) -> str:
    return ",".join(f'{k}="{quote(v)}"' for k, v in values.items())


def quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


@dataclass(frozen=True)
class Plan:
    """What every kind shares: the selector, the grouping, the test timing."""

    rule: Mapping[str, object]
    metric: Metric
    every_ms: int  # promtool's evaluation interval in this rule's tests
    window_ms: int
    for_ms: int

    @property
    def kind(self) -> str:
        return str(self.rule["kind"])

    @property
    def match(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in dict(self.rule.get("match") or {}).items()}  # type: ignore[call-overload]

    @property
    def by(self) -> tuple[str, ...]:
        own = ("job", *self.metric.target_labels)
        return (*own, *(str(b) for b in list(self.rule.get("by") or ()) if str(b) not in own))  # type: ignore[call-overload]

    @property
    def grouping(self) -> str:
        return ", ".join(self.by)

    def selector(self, extra: Mapping[str, str] | None = None, suffix: str = "") -> str:
        return f"{self.metric.name}{suffix}{{{matchers({'job': self.metric.job, **self.match, **(extra or {})})}}}"

    @property
    def window(self) -> str:
        return format_duration(self.window_ms)

    @property
    def step_ms(self) -> int:
        """The tests' sampling step: four samples per window at least, at most one per evaluation."""
        return max(1000, min(_STEP_MAX, self.window_ms // 4 // 1000 * 1000, self.every_ms))

    @property
    def step_s(self) -> Decimal:
        return Decimal(self.step_ms) / 1000

    def samples(self, ms: int) -> int:
        return -(-ms // self.step_ms)

    def fire_time(self, holds_from_ms: int) -> int:
        """The time by which an alert whose condition holds from `holds_from_ms` surely fires, plus one
        evaluation (the sample alignment of 2.x and 3.x range selectors differs by one step)."""
        every = self.every_ms
        first = -(-holds_from_ms // every) * every
        return first + -(-self.for_ms // every) * every + every

    def recovered_at(self, at_ms: int) -> int:
        """When a breach whose last sample is at `at_ms` has surely left the window (plus one evaluation)."""
        every = self.every_ms
        return -(-(at_ms + self.window_ms + self.step_ms) // every) * every + every

    def series_labels(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        labels = {"job": self.metric.job, "instance": f"{self.metric.job}:9000", **self.metric.target_labels}
        labels.update(self.match)
        for name in self.by:
            labels.setdefault(name, "example")
        labels.update(extra or {})
        return labels

    def alert_labels(self, series: Mapping[str, str]) -> dict[str, str]:
        return {name: series[name] for name in self.by if name in series}

    def case(self, name: str, series: Mapping[str, str], fires: bool, at_ms: int, labels: Mapping[str, str]) -> Case:
        return Case(dict(series), fires, format_duration(at_ms), dict(labels), format_duration(self.step_ms), name)

    def lead_ms(self) -> int:
        """Normal traffic before a breach: long enough that every window (and the `for`) saw only it."""
        return self.window_ms + self.for_ms + 2 * self.every_ms


def plan(rule: Mapping[str, object], metric: Metric, every_ms: int) -> Plan:
    kind = str(rule["kind"])
    window = str(rule.get("window") or WINDOWS.get(kind, "5m"))
    for_ = str(rule.get("for") or FOR[kind])
    window_ms, for_ms = Duration(window).ms, Duration(for_).ms
    step = max(1000, min(_STEP_MAX, window_ms // 4 // 1000 * 1000))
    return Plan(rule, metric, max(every_ms, step), window_ms, for_ms)


def compile_rule(rule: Mapping[str, object], metric: Metric, every_ms: int) -> Compiled:
    """The PromQL, annotations, baselines and tests of one kind entry (validated already); `every_ms`:
    the stack's test evaluation interval, which a kind whose window allows a coarser pace exceeds."""
    from generator.kinds import basic, trend

    compilers = {**basic.COMPILERS, **trend.COMPILERS}
    planned = plan(rule, metric, every_ms)
    return dataclasses.replace(compilers[planned.kind](planned), every=format_duration(planned.every_ms))


def bound_of(p: Plan) -> tuple[str, Decimal]:
    """('>' or '<', the bound) of a rule with `above` or `below`."""
    if "above" in p.rule:
        return ">", decimal(p.rule["above"])
    return "<", decimal(p.rule["below"])


def near(op: str, bound: Decimal, scale: Decimal = Decimal("0.2")) -> tuple[Decimal, Decimal]:
    """(normal, breach): inside and outside `bound` by a fifth of it (by 1 around 0)."""
    margin = abs(bound) * scale or Decimal(1)
    inside, outside = (bound - margin, bound + margin) if op == ">" else (bound + margin, bound - margin)
    return inside, outside
