"""Renderer: alert and recording rules -> prometheus/rules/<pack>.yml, service/<service>.yml (RED),
slo/<service>.yml, custom.yml.

Packs come from the catalog (`rules/*.rules.yml`) with `alerts.overrides` applied on the data
(threshold, for, severity, extra labels: `rules_catalog.tunables`; enabled); a `for` shorter than its
group's evaluation interval is rendered as that interval, which is how it behaves. The service pack
is instantiated once per service with http metrics, each in a file of its own: promtool evaluates
every rule of a test's rule files at every step of each of its tests, so a service's tests that read
only that service's rules cost the same however many services the stack has. SLO rules are built by
`slo`, a file per service too. Custom rules come from the spec as written. `notification_delay` adds
up the timers between a failing target and its page, as rendered.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from generator import dashboards, rules_catalog
from generator.alerting import routing
from generator.alerting.delay import CONFIRMING, JITTER, Delay, confirm_window
from generator.model import AlertRule, Override, RecordingRule, Service, Stack
from generator.render import Target, Tree, alertmanager_routes, dump_yaml, prometheus, scrape_failures, served
from generator.render._alerting import (
    Group,
    Rule,
    RuleFile,
    alert_annotations,
    alert_data,
    effective_for,
    group_interval,
    job_interval,
    literal_labels,
    matcher_examples,
    test_timing,
)
from generator.render._memo import per_stack
from generator.render.escalations import escalation_rule_file
from generator.render.slo import slo_rule_files
from generator.rules_catalog import Pack, PackGroup, PackRule, Value, enabled, expand, tunables
from generator.units import Duration

CUSTOM = "custom"


@dataclass(frozen=True)
class Instance:
    """One rendering of a pack: the component packs have one, the service pack one per service."""

    suffix: str  # "" or the service name
    variables: dict[str, Value]
    labels: dict[str, str]  # static labels added to every alert of this instance
    interval: Duration  # scrape interval of the series the rules read


@dataclass(frozen=True)
class Resolved:
    rule: Rule
    variables: dict[str, Value]  # placeholders of this rule incl. its tunables, for its tests
    instance: Instance


def service_variables(service: Service) -> dict[str, Value]:
    assert service.http is not None
    variables: dict[str, Value] = {
        "service": service.name,
        "requests": service.http.requests,
        "errors": service.http.errors,
        "quantile": service.http.quantile,
    }
    if service.http.duration:
        variables["duration"] = service.http.duration
    examples = matcher_examples(service.http.errors)
    if examples:  # test series labels of a failed and of a successful request
        variables["error_labels"], variables["ok_labels"] = examples
    return variables


def instances(stack: Stack, pack: str) -> list[Instance]:
    if pack != rules_catalog.SERVICE_PACK:
        return [Instance("", {}, {}, job_interval(stack, pack))]
    return [
        Instance(s.name, service_variables(s), {**literal_labels(s.labels), "service": s.name}, s.interval)
        for s in stack.services
        if s.http is not None
    ]


def _resolve(
    stack: Stack, pack: Pack, group: PackGroup, rule: PackRule, instance: Instance, served: Mapping[str, str]
) -> Resolved | None:
    if not enabled(stack, rule.name):
        return None
    if any(need not in instance.variables for need in rule.requires):
        return None
    threshold, for_, severity, extra = tunables(stack, rule)
    for_ = effective_for(for_, group_interval(stack, group.interval) or stack.evaluation_interval)
    variables = dict(instance.variables)
    if threshold is not None:
        variables["threshold"] = threshold
    # the tests' times follow the effective `for`, so they stay true after an override
    variables.update(test_timing(stack, for_))
    expr = (
        scrape_failures.expression(stack, rule.failed_scrapes) if rule.failed_scrapes else expand(rule.expr, variables)
    )
    if not rule.alert:
        data: dict[str, Any] = {"record": rule.name, "expr": expr}
        if rule.labels:
            data["labels"] = dict(rule.labels)
        return Resolved(Rule(data, rule.source, instance.interval, pack.name), variables, instance)
    labels = {**rule.labels, **instance.labels, **extra, "severity": severity}
    given = {k: expand(v, variables) for k, v in rule.annotations.items()}
    data = alert_data(
        rule.name,
        expr,
        for_,
        rule.keep_firing_for,
        labels,
        alert_annotations(stack, rule.name, given, pack.dashboard, served),
    )
    return Resolved(Rule(data, rule.source, instance.interval, pack.name), variables, instance)


def resolve_pack(
    stack: Stack, name: str, served: Mapping[str, str], only: Instance | None = None
) -> tuple[RuleFile, list[Resolved]]:
    """A pack rendered for `stack`: its rule file and every resolved rule (for the tests). `served`: the
    dashboards the stack renders, which alerts link to (`Target.dashboards`). `only`: that instance
    only, in a file of its own (`<pack>/<instance>`)."""
    pack = rules_catalog.packs()[name]
    groups: list[Group] = []
    resolved: list[Resolved] = []
    for instance in [only] if only else instances(stack, name):
        for group in pack.groups:
            found = [r for r in (_resolve(stack, pack, group, rule, instance, served) for rule in group.rules) if r]
            resolved.extend(found)
            groups.append(
                Group(
                    expand(group.name, instance.variables),
                    tuple(r.rule for r in found),
                    group_interval(stack, group.interval),
                )
            )
    return RuleFile(f"{name}/{only.suffix}" if only else name, tuple(groups)), resolved


@per_stack
def pack_files(stack: Stack, name: str, served: Mapping[str, str]) -> list[tuple[RuleFile, list[Resolved]]]:
    """The rule files of a pack with their resolved rules: one, or for a pack instantiated per service
    one per service (see the module docstring)."""
    if name != rules_catalog.SERVICE_PACK:
        return [resolve_pack(stack, name, served)]
    return [resolve_pack(stack, name, served, instance) for instance in instances(stack, name)]


def custom_rule_file(
    stack: Stack, served: Mapping[str, str], rules: tuple[AlertRule, ...] | None = None
) -> RuleFile | None:
    """The spec's own alerting and recording rules, as written; an alert kind's baselines are recorded in
    the same group right before it (evaluated in order, so it reads them fresh). `rules`: only these
    alerts, and no recording rules but their own (a generated test's fixture)."""
    alerts = stack.alerts
    chosen = alerts.rules if rules is None else rules
    if not chosen and (rules is not None or not alerts.recording):
        return None
    recording = tuple(_recording(stack, r) for r in alerts.recording) if rules is None else ()
    found: list[Rule] = []
    for r in chosen:
        found.extend(_recording(stack, baseline) for baseline in r.recording)
        data = alert_data(
            r.alert,
            r.expr,
            r.for_,
            r.keep_firing_for,
            {**r.labels, "severity": r.severity},
            alert_annotations(
                stack,
                r.alert,
                {"summary": r.summary, "description": r.description},
                r.dashboard or "alerts",
                served,
                r.runbook,
            ),
        )
        found.append(Rule(data, r.source, stack.scrape_interval, CUSTOM))
    return RuleFile(CUSTOM, (Group("custom-recording", recording), Group("custom", tuple(found))))


def _recording(stack: Stack, r: RecordingRule) -> Rule:
    data = {"record": r.record, "expr": r.expr, **({"labels": dict(r.labels)} if r.labels else {})}
    return Rule(data, r.source, stack.scrape_interval, CUSTOM)


@per_stack
def all_rule_files(stack: Stack, served: Mapping[str, str]) -> list[RuleFile]:
    """Every rule file promstack renders for `stack`, in output order."""
    files = [rule_file for name in rules_catalog.pack_names(stack) for rule_file, _ in pack_files(stack, name, served)]
    files.extend(slo_rule_files(stack, served))
    files.extend(f for f in (custom_rule_file(stack, served),) if f is not None)
    files = [f for f in files if f.rules()]
    escalated = escalation_rule_file(stack, files, served)
    return [*files, escalated] if escalated else files


# ---- time to notify ------------------------------------------------------------------------------


def notification_delay(stack: Stack, alert: str, job: str | None = None) -> Delay:
    """The worst-case `Delay` of pack alert `alert` on failed scrapes, for scrape job `job` (default: the
    slowest job of the stack), from the timers rendered for `stack` (generator/alerting/delay.py)."""
    pack = rules_catalog.alert_index()[alert].pack
    rule_file, _ = resolve_pack(stack, pack, dashboards.rendered(stack))  # the timers do not depend on links
    group, rule = next((g, r) for g in rule_file.groups for r in g.rules if r.name == alert)
    every = (group.interval or stack.evaluation_interval).seconds
    hold = Duration(rule.data.get("for", "0s")).seconds
    timings = [t for name, t in prometheus.job_timings(stack).items() if job is None or name == job]
    if not timings:
        raise ValueError(f"the stack has no scrape job {job!r}")
    interval, timeout = max(timings, key=lambda t: confirm_window(*t).ms)
    labels = {**rule.labels, "alertname": alert, **({"job": job} if job else {})}
    config = {"route": alertmanager_routes.route_tree(stack)}
    found = routing.deliveries(config, labels)
    evaluations = Decimal(math.ceil(hold / every)) if every else Decimal(0)
    return Delay(
        scrape=interval.seconds,
        confirm=interval.seconds * (CONFIRMING - 1),
        timeout=timeout.seconds,
        jitter=JITTER.seconds,
        evaluation=every,
        hold=evaluations * every if every else hold,
        group_wait=max(d.group_wait.seconds for d in found),
        group_interval=max(d.group_interval.seconds for d in found),
    )


@per_stack
def for_runtime(stack: Stack, runtime: str) -> Stack:
    """`stack` with the pack rules that do not apply on `runtime` (a pack's `runtimes:`) disabled, as an
    override would: the rules and their tests both leave."""
    off = {
        rule.name: Override(False)
        for pack in rules_catalog.packs().values()
        for rule in pack.rules()
        if rule.runtimes and runtime not in rule.runtimes
    }
    if not off:
        return stack
    overrides = {**stack.alerts.overrides, **off}
    return dataclasses.replace(stack, alerts=dataclasses.replace(stack.alerts, overrides=overrides))


def render(stack: Stack, target: Target) -> Tree:
    tree = Tree()
    stack = for_runtime(stack, target.runtime)
    tree.rules = all_rule_files(stack, served(stack, target))
    for rule_file in tree.rules:
        tree.files[rule_file.path] = dump_yaml(rule_file.data(), stack)
    return tree
