"""Shared shapes of the alerting renderers (rules, slo, rule_tests) and of the rule lint.

Rule files are built here as data with their provenance (which pack line or spec line made each
rule, which scrape interval its metrics have), so the lint checks exactly what is rendered and can
name where a problem comes from.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from generator import conventions, runbooks
from generator.model import Stack
from generator.promql import ParseError, Selector, parse
from generator.units import Duration

TEST_INTERVAL = conventions.TEST_INTERVAL  # one input sample per minute in every generated test
FIXTURES = "fixtures"  # rule files under prometheus/tests/ that only tests read


@dataclass(frozen=True)
class Rule:
    data: Mapping[str, Any]  # the rule exactly as rendered
    source: str  # rules/<pack>.rules.yml:<line>, <spec>:<line>, or "SLO <service>/<slo>"
    interval: Duration  # scrape interval of the series it reads
    origin: str  # pack name, "service", "slo" or "custom"

    @property
    def name(self) -> str:
        return str(self.data.get("alert") or self.data.get("record"))

    @property
    def alert(self) -> bool:
        return "alert" in self.data

    @property
    def labels(self) -> Mapping[str, str]:
        labels: Mapping[str, str] = self.data.get("labels", {})
        return labels


@dataclass(frozen=True)
class Group:
    name: str
    rules: tuple[Rule, ...]
    interval: Duration | None = None

    def data(self) -> dict[str, Any]:
        group: dict[str, Any] = {"name": self.name}
        if self.interval:
            group["interval"] = self.interval
        group["rules"] = [dict(rule.data) for rule in self.rules]
        return group


@dataclass(frozen=True)
class RuleFile:
    name: str  # file stem under prometheus/rules/
    groups: tuple[Group, ...]

    @property
    def path(self) -> str:
        return f"{conventions.PROMETHEUS_RULES_DIR}/{self.name}.yml"

    def data(self) -> dict[str, Any]:
        return {"groups": [group.data() for group in self.groups if group.rules]}

    def rules(self) -> list[Rule]:
        return [rule for group in self.groups for rule in group.rules]


@dataclass(frozen=True)
class TestFile:
    name: str  # file stem under prometheus/tests/
    rule_files: tuple[str, ...]  # relative to prometheus/tests/
    groups: tuple[Mapping[str, Any], ...]
    fixtures: Mapping[str, Any] = field(default_factory=dict)  # extra rule files under tests/fixtures/
    every: Duration | None = None  # its own evaluation interval (an alert kind's), else the stack's

    @property
    def path(self) -> str:
        return f"{conventions.PROMETHEUS_TESTS_DIR}/{self.name}.yml"

    def data(self, stack: Stack) -> dict[str, Any]:
        return {
            "rule_files": list(self.rule_files),
            "evaluation_interval": self.every or test_evaluation_interval(stack),
            "tests": [dict(group) for group in self.groups],
        }

    def coverage(self) -> dict[str, set[bool]]:
        """alertname -> {True if some case expects it firing, False if some case expects silence}."""
        found: dict[str, set[bool]] = {}
        for group in self.groups:
            for case in group.get("alert_rule_test", ()):
                found.setdefault(case["alertname"], set()).add(bool(case.get("exp_alerts")))
        return found


def test_evaluation_interval(stack: Stack) -> Duration:
    """Tests sample once a minute; evaluating more often only costs time. promtool evaluates every
    group at this one interval (it ignores a group's own `interval`, like TargetDown's), so a stack
    that evaluates more slowly is tested at its own pace."""
    return stack.evaluation_interval if stack.evaluation_interval.ms > TEST_INTERVAL.ms else TEST_INTERVAL


def test_timing(stack: Stack, for_: Duration | None, pace: Duration | None = None) -> dict[str, Decimal]:
    """The test-time placeholders of a pack alert whose effective `for` is `for_` (rules_catalog):

    - `for_m`: whole minutes from the first sample at which the alert's condition holds until the
      alert surely fires in promtool: the wait for the next evaluation, then `for` rounded up to whole
      evaluations (an alert fires at the first evaluation at least `for` after it became pending);
    - `eval_m`: whole minutes from a sample until an evaluation has surely seen it (0 when the tests
      evaluate once a minute), for checks right after a recovery;
    - `sync_m`: every how many minutes an evaluation falls on a sample (1 when the tests evaluate once
      a minute). An expression that reads time() (certificate expiry, push age) gives the value its
      test states only there: such a check is made at a multiple of `sync_m`.

    promtool starts evaluating at 0 and samples every TEST_INTERVAL, so an evaluation follows a sample
    within the evaluation interval less their greatest common divisor. `pace`: the test file's own
    evaluation interval, where it has one (the SLO tests'), instead of the stack's.
    """
    every = (pace or test_evaluation_interval(stack)).ms
    sample = TEST_INTERVAL.ms
    hold = for_.ms if for_ else 0
    until_eval = every - math.gcd(every, sample)
    evaluations = -(-hold // every) if every else 0
    minutes = Decimal(sample)
    return {
        "for_m": Decimal(math.ceil(Decimal(until_eval + evaluations * every) / minutes)),
        "eval_m": Decimal(math.ceil(Decimal(until_eval) / minutes)),
        "sync_m": Decimal(math.lcm(every, sample)) / minutes,
    }


def dashboard_url(stack: Stack, ref: str, served: Mapping[str, str]) -> str | None:
    """The link of an alert's `dashboard` annotation, from a DASHBOARD_UIDS key, a uid or a full URL;
    None without Grafana. `served`: the dashboards the stack renders (uid -> title, `Target.dashboards`).

    A promstack dashboard that this stack does not render (excluded, dashboards disabled) is replaced
    by the overview: whoever follows the link from a notification still lands on the stack's state
    (every component of the spec has its row there, the hosts' with the alerts' thresholds) rather
    than on Grafana's "dashboard not found". Without the overview either, there is no link. Any other
    uid is kept as written, so that `dashboards/lint` reports a mistyped one.
    """
    if ref.startswith(("http://", "https://")):
        return ref
    grafana = stack.components.get("grafana")
    if grafana is None:
        return None
    uid = conventions.DASHBOARD_UIDS.get(ref, ref)
    if uid not in served and uid in conventions.DASHBOARD_UIDS.values():
        uid = conventions.DASHBOARD_UIDS["overview"]
        if uid not in served:
            return None
    return f"{grafana.url.rstrip('/')}/d/{uid}"


def alert_annotations(
    stack: Stack, alert: str, given: Mapping[str, str], dashboard: str, served: Mapping[str, str], runbook: str = ""
) -> dict[str, str]:
    """The annotations every alert carries: summary, description, runbook_url (where a runbook is served:
    generator/runbooks.py) and dashboard."""
    result = {k: v for k, v in given.items() if v}
    result.setdefault("description", result.get("summary", ""))
    found = runbook or result.get("runbook_url") or runbooks.url(stack, alert, served)
    if found:
        result["runbook_url"] = found
    link = dashboard_url(stack, dashboard, served)
    if link:
        result["dashboard"] = link
    order = ("summary", "description", "runbook_url", "dashboard")
    return {k: result[k] for k in (*order, *sorted(set(result) - set(order))) if k in result}


def alert_data(
    name: str,
    expr: str,
    for_: Duration | None,
    keep_firing_for: Duration | None,
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
) -> dict[str, Any]:
    data: dict[str, Any] = {"alert": name, "expr": expr}
    if for_ and for_ != "0s":
        data["for"] = for_
    if keep_firing_for:
        data["keep_firing_for"] = keep_firing_for
    data["labels"] = dict(labels)
    data["annotations"] = dict(annotations)
    return data


def effective_for(for_: Duration | None, every: Duration) -> Duration | None:
    """`for_` as the rule will behave when its group is evaluated every `every`.

    An alert fires at the first evaluation at least `for` after the one that made it pending, so
    a `for` between 0 and one evaluation interval waits exactly one interval: `for: 2s` at 5s acts
    like `for: 5s`. Rendering the interval says what happens, and keeps an override such as
    `TargetDown: {for: 2s}` valid whatever the group's pace (rules/lint refuses a `for` shorter than
    the interval in rules written by hand)."""
    if for_ and 0 < for_.ms < every.ms:
        return every
    return for_


def group_interval(stack: Stack, wanted: Duration | None) -> Duration | None:
    """A group's own evaluation interval, only when it is faster than the stack's."""
    return wanted if wanted is not None and wanted.ms < stack.evaluation_interval.ms else None


def test_group(stack: Stack, name: str, series: list[dict[str, str]], cases: list[dict[str, Any]]) -> dict[str, Any]:
    """A promtool test group with the stack's external labels, as Prometheus would template them."""
    group: dict[str, Any] = {"name": name, "interval": TEST_INTERVAL}
    if stack.external_labels:
        group["external_labels"] = dict(stack.external_labels)
    prometheus = stack.components.get("prometheus")
    if prometheus and prometheus.url:
        group["external_url"] = prometheus.url
    group["input_series"] = series
    group["alert_rule_test"] = cases
    return group


_OPEN = "{{"
_LITERAL_OPEN = '{{ "{{" }}'  # a template action that prints "{{"


_LABEL_TEMPLATE = re.compile(r"\{\{\s*\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")


def label_templates_only(text: str) -> bool:
    """Whether the only template actions of `text` print a label as it is (`{{ $labels.job }}`)."""
    return "{{" not in _LABEL_TEMPLATE.sub("", text)


def expand_labels(text: str, labels: Mapping[str, str]) -> str:
    """`text` as Prometheus renders it for an alert with `labels`, for templates that only print labels
    (`label_templates_only`); a generated test states what its alert's annotations read."""
    if not label_templates_only(text):
        raise ValueError(f"only {{{{ $labels.<name> }}}} can be expanded here: {text!r}")
    return _LABEL_TEMPLATE.sub(lambda m: labels.get(m[1], ""), text)


def literal(value: str) -> str:
    """`value` as a static alert label that Prometheus' templating (it expands labels like annotations)
    leaves as written: a `{{` in a service's label value arrives as `{{`, never as a template."""
    return value.replace(_OPEN, _LITERAL_OPEN)


def literal_labels(labels: Mapping[str, str]) -> dict[str, str]:
    return {name: literal(value) for name, value in labels.items()}


def as_sent(value: str) -> str:
    """The label value Prometheus sends for the `literal` text `value`."""
    return value.replace(_LITERAL_OPEN, _OPEN)


def expected_alert(
    labels: Mapping[str, str], static: Mapping[str, str], annotations: Mapping[str, str] | None
) -> dict[str, Any]:
    alert: dict[str, Any] = {"exp_labels": {**labels, **{k: as_sent(v) for k, v in static.items()}}}
    if annotations is not None:
        alert["exp_annotations"] = dict(annotations)
    return alert


def job_interval(stack: Stack, job: str) -> Duration:
    component = stack.components.get(job)
    return component.interval if component else stack.scrape_interval


_OK_VALUES = ("200", "ok", "success", "0", "false", "none")
_BAD_VALUES = ("500", "503", "5xx", "error", "true", "failed", "1", "fail", "failure", "timeout")


def regex_example(regex: str) -> str | None:
    """A value Prometheus' fully anchored `regex` matches (good enough for error matchers)."""
    first = re.split(r"(?<!\\)\|", re.sub(r"^\(\?[a-z]+\)", "", regex).strip("^$"))[0]
    guess = re.sub(r"\\d", "5", first)
    guess = re.sub(r"\[([^\]])[^\]]*\]", r"\1", guess)
    guess = re.sub(r"[?*+]|\{\d+(,\d*)?\}|[()]", "", guess.replace(".", "0"))
    for candidate in (guess, guess.lower(), *_BAD_VALUES, *(v.upper() for v in _BAD_VALUES), regex):
        try:
            if re.fullmatch(regex, candidate):
                return candidate
        except re.error:
            return None
    return None


@functools.lru_cache(maxsize=1024)
def matcher_examples(matchers: str) -> tuple[str, str] | None:
    """(labels of a failed request, label of a successful one) for an errors matcher like code=~"5.."
    (once per matcher: every service of a stack usually has the same)."""
    try:
        node = parse(f"x{{{matchers}}}")
    except ParseError:
        return None
    if not isinstance(node, Selector) or not node.matchers:
        return None
    bad: list[tuple[str, str]] = []
    for label, op, value in node.matchers:
        if op == "=":
            example: str | None = value
        elif op == "=~":
            example = regex_example(value)
        else:
            example = next((c for c in _BAD_VALUES if _matches(op, value, c)), None)
        if example is None:
            return None
        bad.append((label, example))
    label, op, value = node.matchers[0]
    good = next((c for c in (*_OK_VALUES, value) if not _matches(op, value, c)), None)
    if good is None:
        return None
    return ",".join(f'{k}="{v}"' for k, v in bad), f'{label}="{good}"'


def _matches(op: str, value: str, candidate: str) -> bool:
    """Whether a sample with label value `candidate` is selected by `label <op> "value"`."""
    if op in ("=", "!="):
        return (candidate == value) == (op == "=")
    try:
        return bool(re.fullmatch(value, candidate)) == (op == "=~")
    except re.error:
        return False
