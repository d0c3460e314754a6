"""Renderer: alert and recording rules -> prometheus/rules/<pack>.yml, service.yml (RED), slo.yml, custom.yml.

Packs come from the catalog (`rules/*.rules.yml`) with `alerts.overrides` applied on the data
(threshold, for, severity, extra labels: `rules_catalog.tunables`; enabled). The service pack is
instantiated once per service with http metrics. SLO rules are built by `slo`. Custom rules come from
the spec as written.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from generator import rules_catalog
from generator.model import Service, Stack
from generator.render import Target, Tree, dump_yaml
from generator.render._alerting import (
    Group,
    Rule,
    RuleFile,
    alert_annotations,
    alert_data,
    group_interval,
    job_interval,
    matcher_examples,
)
from generator.render.slo import slo_rule_file
from generator.rules_catalog import Pack, PackRule, Value, enabled, expand, tunables
from generator.spec.formats import duration_ms

CUSTOM = "custom"


@dataclass(frozen=True)
class Instance:
    """One rendering of a pack: the component packs have one, the service pack one per service."""

    suffix: str  # "" or the service name
    variables: dict[str, Value]
    labels: dict[str, str]  # static labels added to every alert of this instance
    interval: str  # scrape interval of the series the rules read


@dataclass(frozen=True)
class Resolved:
    rule: Rule
    variables: dict[str, Value]  # placeholders of this rule incl. its tunables, for its tests
    instance: Instance


def active_packs(stack: Stack) -> list[str]:
    known = rules_catalog.packs()
    listed = [p for p in stack.alerts.packs if p in known and p not in rules_catalog.ALWAYS]
    return [*rules_catalog.ALWAYS, *listed]


def service_variables(service: Service) -> dict[str, Value]:
    assert service.http is not None
    variables: dict[str, Value] = {
        "service": service.name,
        "requests": service.http.requests,
        "errors": service.http.errors,
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
        Instance(s.name, service_variables(s), {**s.labels, "service": s.name}, s.interval)
        for s in stack.services
        if s.http is not None
    ]


def _resolve(stack: Stack, pack: Pack, rule: PackRule, instance: Instance) -> Resolved | None:
    if not enabled(stack, rule.name):
        return None
    if any(need not in instance.variables for need in rule.requires):
        return None
    threshold, for_, severity, extra = tunables(stack, rule)
    variables = dict(instance.variables)
    if threshold is not None:
        variables["threshold"] = threshold
    for_seconds = (duration_ms(for_) or 0) / 1000 if for_ else 0
    variables["for_m"] = Decimal(math.ceil(for_seconds / 60))
    expr = expand(rule.expr, variables)
    if not rule.alert:
        data: dict[str, Any] = {"record": rule.name, "expr": expr}
        if rule.labels:
            data["labels"] = dict(rule.labels)
        return Resolved(Rule(data, rule.source, instance.interval, pack.name), variables, instance)
    labels = {**rule.labels, **instance.labels, **extra, "severity": severity}
    given = {k: expand(v, variables) for k, v in rule.annotations.items()}
    data = alert_data(
        rule.name, expr, for_, rule.keep_firing_for, labels, alert_annotations(stack, rule.name, given, pack.dashboard)
    )
    return Resolved(Rule(data, rule.source, instance.interval, pack.name), variables, instance)


def resolve_pack(stack: Stack, name: str) -> tuple[RuleFile, list[Resolved]]:
    """A pack rendered for `stack`: its rule file and every resolved rule (for the tests)."""
    pack = rules_catalog.packs()[name]
    groups: list[Group] = []
    resolved: list[Resolved] = []
    for instance in instances(stack, name):
        for group in pack.groups:
            found = [r for r in (_resolve(stack, pack, rule, instance) for rule in group.rules) if r]
            resolved.extend(found)
            groups.append(
                Group(
                    expand(group.name, instance.variables),
                    tuple(r.rule for r in found),
                    group_interval(stack, group.interval),
                )
            )
    return RuleFile(name, tuple(groups)), resolved


def custom_rule_file(stack: Stack) -> RuleFile | None:
    """The spec's own alerting and recording rules, as written."""
    alerts = stack.alerts
    if not alerts.rules and not alerts.recording:
        return None
    recording = tuple(
        Rule(
            {"record": r.record, "expr": r.expr, **({"labels": dict(r.labels)} if r.labels else {})},
            r.source,
            stack.scrape_interval,
            CUSTOM,
        )
        for r in alerts.recording
    )
    rules = tuple(
        Rule(
            alert_data(
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
                    r.runbook,
                ),
            ),
            r.source,
            stack.scrape_interval,
            CUSTOM,
        )
        for r in alerts.rules
    )
    return RuleFile(CUSTOM, (Group("custom-recording", recording), Group("custom", rules)))


def pack_names(stack: Stack) -> list[str]:
    names = active_packs(stack)
    if any(s.http is not None for s in stack.services):
        names.append(rules_catalog.SERVICE_PACK)
    return names


def all_rule_files(stack: Stack) -> list[RuleFile]:
    """Every rule file promstack renders for `stack`, in output order."""
    files = [resolve_pack(stack, name)[0] for name in pack_names(stack)]
    files.extend(f for f in (slo_rule_file(stack), custom_rule_file(stack)) if f is not None)
    return [f for f in files if f.rules()]


def render(stack: Stack, target: Target) -> Tree:
    tree = Tree()
    for rule_file in all_rule_files(stack):
        tree.files[rule_file.path] = dump_yaml(rule_file.data(), stack)
    return tree
