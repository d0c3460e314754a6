"""Renderer: promtool unit tests -> prometheus/tests/<pack>.yml, slo.yml, custom.yml.

Pack tests (`rules/<pack>.test.yml`) are rendered with each subject alert's resolved tunables and
test times (rules_catalog), so an overridden threshold or `for` is tested as rendered, at the pace
promtool evaluates the stack; a disabled alert takes its tests with it. The
static labels and annotations of the rendered rule are added to each expected alert; what the tests
state is the expression's labels, when it fires and how its templated text reads.

Spec rules' own tests (`alerts.rules[].tests`) cannot state annotation text, so they run against
a copy of the custom rules without annotations (prometheus/tests/fixtures/custom.yml).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from generator import rules_catalog
from generator.model import AlertRule, Stack
from generator.render import Target, Tree, dump_yaml, scrape_failure_tests, served
from generator.render._alerting import FIXTURES, RuleFile, TestFile, expected_alert, test_group
from generator.render.escalations import escalation_test_files
from generator.render.rules import (
    CUSTOM,
    Resolved,
    all_rule_files,
    custom_rule_file,
    for_runtime,
    instances,
    resolve_pack,
)
from generator.render.slo import slo_rule_file, slo_test_groups
from generator.rules_catalog import expand_data


def _pack_case(stack: Stack, subject: Resolved, case: dict[str, Any]) -> dict[str, Any]:
    alertname = case.get("alertname", subject.rule.name)
    if alertname != subject.rule.name:
        raise ValueError(f"a test group about {subject.rule.name} checks {alertname}; give it its own group")
    static_notes = {k: v for k, v in subject.rule.data["annotations"].items() if "{{" not in v}
    expected = []
    for alert in case.get("exp_alerts") or []:
        given = alert.get("exp_annotations", {})
        notes = {**given, **{k: v for k, v in static_notes.items() if k not in given}}
        expected.append(expected_alert(alert.get("exp_labels", {}), subject.rule.labels, notes))
    return {"eval_time": case["eval_time"], "alertname": alertname, "exp_alerts": expected}


def pack_test_file(stack: Stack, name: str, served: Mapping[str, str]) -> TestFile | None:
    pack = rules_catalog.packs()[name]
    rule_file, resolved = resolve_pack(stack, name, served)
    if not rule_file.rules():
        return None
    index = {(r.rule.name, r.instance.suffix): r for r in resolved if r.rule.alert}
    groups = []
    for raw in pack.tests:
        for instance in instances(stack, name):
            subject = index.get((raw["alert"], instance.suffix))
            if subject is None:
                continue
            try:
                data = expand_data({k: v for k, v in raw.items() if k != "alert"}, subject.variables)
            except ValueError:
                # e.g. no example labels for an unusual errors matcher: the lint reports the missing test
                continue
            label = f"{name}: {data['name']}" + (f" [{instance.suffix}]" if instance.suffix else "")
            group = test_group(
                stack,
                label,
                data["input_series"],
                [_pack_case(stack, subject, c) for c in data.get("alert_rule_test", [])],
            )
            group["interval"] = data.get("interval", group["interval"])
            if data.get("promql_expr_test"):
                group["promql_expr_test"] = data["promql_expr_test"]
            groups.append(group)
    return TestFile(name, (f"../rules/{name}.yml",), tuple(groups))


def _fixture(rule_file: RuleFile) -> dict[str, Any]:
    """A rule file without annotations: tests of spec rules cannot state their text."""
    return {
        "groups": [
            {"name": g.name, "rules": [{k: v for k, v in r.data.items() if k != "annotations"} for r in g.rules]}
            for g in rule_file.groups
            if g.rules
        ]
    }


def _cases(stack: Stack, rule: AlertRule) -> list[dict[str, Any]]:
    static = {**rule.labels, "severity": rule.severity}
    # the spec's file name only: the rendered tree must not depend on where the spec lives
    where = rule.source.rsplit("/", 1)[-1]
    groups = []
    for i, case in enumerate(rule.tests, start=1):
        expected = [expected_alert(case.labels, static, None)] if case.fires else []
        name = f"{rule.alert} case {i} ({where}): {case.name or ('fires' if case.fires else 'stays silent')}"
        series = [{"series": k, "values": v} for k, v in case.series.items()]
        check = {"eval_time": case.eval_time, "alertname": rule.alert, "exp_alerts": expected}
        group = test_group(stack, name, series, [check])
        if case.interval:
            group["interval"] = case.interval
        groups.append(group)
    return groups


def custom_test_file(stack: Stack, served: Mapping[str, str]) -> TestFile | None:
    """The spec's own tests of its `expr` rules, against every custom rule without the kinds' alerts."""
    written = tuple(r for r in stack.alerts.rules if r.kind is None)
    custom = custom_rule_file(stack, served, written) if written else None
    if custom is None or not any(rule.tests for rule in written):
        return None
    everything = custom_rule_file(stack, served)
    assert everything is not None
    recorded = RuleFile(CUSTOM, (everything.groups[0], custom.groups[1]))
    groups = [group for rule in written for group in _cases(stack, rule)]
    rule_files = [f"{FIXTURES}/{CUSTOM}.yml", *(["../rules/slo.yml"] if slo_rule_file(stack, served) else [])]
    return TestFile(CUSTOM, tuple(rule_files), tuple(groups), {f"{FIXTURES}/{CUSTOM}.yml": _fixture(recorded)})


def kind_test_files(stack: Stack, served: Mapping[str, str]) -> list[TestFile]:
    """One file per alert kind rule, against a fixture holding only that rule and its baselines: promtool
    evaluates every rule of a file for every test group, so each file's cost stays its own."""
    files = []
    for rule in stack.alerts.rules:
        if rule.kind is None:
            continue
        own = custom_rule_file(stack, served, (rule,))
        assert own is not None
        name = f"kind-{rule.alert}"
        fixture = f"{FIXTURES}/{name}.yml"
        files.append(TestFile(name, (fixture,), tuple(_cases(stack, rule)), {fixture: _fixture(own)}, rule.test_every))
    return files


def slo_test_file(stack: Stack, served: Mapping[str, str]) -> TestFile | None:
    if slo_rule_file(stack, served) is None:
        return None
    groups = slo_test_groups(stack, served)
    return TestFile("slo", ("../rules/slo.yml",), tuple(groups)) if groups else None


def all_test_files(stack: Stack, served: Mapping[str, str]) -> list[TestFile]:
    """Every test file promstack renders for `stack`; `served` as for `rules.all_rule_files`."""
    files = [pack_test_file(stack, name, served) for name in rules_catalog.pack_names(stack)]
    files += [slo_test_file(stack, served), custom_test_file(stack, served), *kind_test_files(stack, served)]
    files += scrape_failure_tests.test_files(stack, served)
    files += escalation_test_files(stack, all_rule_files(stack, served), served)
    return [f for f in files if f is not None and f.groups]


def render(stack: Stack, target: Target) -> Tree:
    tree = Tree()
    stack = for_runtime(stack, target.runtime)
    tree.rule_tests = all_test_files(stack, served(stack, target))
    for test_file in tree.rule_tests:
        tree.files[test_file.path] = dump_yaml(test_file.data(stack), stack)
        for rel, data in test_file.fixtures.items():
            tree.files[f"{test_file.path.rsplit('/', 1)[0]}/{rel}"] = dump_yaml(data, stack)
    return tree
