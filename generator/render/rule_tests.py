"""Renderer: promtool unit tests -> prometheus/tests/<pack>.yml, service/<service>.yml, slo/<service>.yml,
custom.yml, kind-<alert>.yml.

Each test file names as its rule files only the rules it proves: promtool evaluates every rule of them at
every step of every test in the file, so a file of a service's tests reading every service's rules made
the tests' cost grow with the square of the number of services.

Pack tests (`rules/<pack>.test.yml`) are rendered with each subject alert's resolved tunables and
test times (rules_catalog), so an overridden threshold or `for` is tested as rendered, at the pace
promtool evaluates the stack; a disabled alert takes its tests with it. The
static labels and annotations of the rendered rule are added to each expected alert; what the tests
state is the expression's labels, when it fires and how its templated text reads.

Spec rules' own tests (`alerts.rules[].tests`) cannot state annotation text, so they run against
a copy of the custom rules without annotations (prometheus/tests/fixtures/custom.yml).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from generator import rules_catalog
from generator.model import AlertRule, Stack
from generator.promql import ParseError, Selector, parse, walk
from generator.render import Target, Tree, dump_yaml, rule_test_merge, scrape_failure_tests, served
from generator.render._alerting import FIXTURES, RuleFile, TestFile, expected_alert, test_group
from generator.render.escalations import escalation_test_files
from generator.render.rules import (
    CUSTOM,
    Resolved,
    all_rule_files,
    custom_rule_file,
    for_runtime,
    pack_files,
)
from generator.render.slo import slo_rule_files, slo_test_groups
from generator.render.slo import test_every as slo_test_every
from generator.rules_catalog import expand_data
from generator.slo_math import record_name, windows


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


def rule_file_path(test: str, rule_file: str) -> str:
    """The path of rule file `rule_file` (a name under prometheus/rules/) from test file `test` (a name under
    prometheus/tests/): promtool resolves rule_files from the test file's folder."""
    return "../" * (test.count("/") + 1) + f"rules/{rule_file}.yml"


def pack_test_files(stack: Stack, name: str, served: Mapping[str, str]) -> list[TestFile]:
    """A pack's tests, a file per rule file of the pack, reading that rule file only; tests that cannot see
    each other's series share a promtool test group (rule_test_merge)."""
    files = []
    for rule_file, resolved in pack_files(stack, name, served):
        if not rule_file.rules():
            continue
        groups = rule_test_merge.shared(_pack_groups(stack, name, resolved), [r.data for r in rule_file.rules()])
        files.append(TestFile(rule_file.name, (rule_file_path(rule_file.name, rule_file.name),), tuple(groups)))
    return files


def _pack_groups(stack: Stack, name: str, resolved: list[Resolved]) -> list[dict[str, Any]]:
    pack = rules_catalog.packs()[name]
    index = {(r.rule.name, r.instance.suffix): r for r in resolved if r.rule.alert}
    rendered = list({r.instance.suffix: r.instance for r in resolved}.values())
    groups = []
    for raw in pack.tests:
        for instance in rendered:
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
    return groups


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


def custom_test_file(stack: Stack, served: Mapping[str, str], slo: list[RuleFile] | None = None) -> TestFile | None:
    """The spec's own tests of its `expr` rules, against every custom rule without the kinds' alerts."""
    written = tuple(r for r in stack.alerts.rules if r.kind is None)
    custom = custom_rule_file(stack, served, written) if written else None
    if custom is None or not any(rule.tests for rule in written):
        return None
    everything = custom_rule_file(stack, served)
    assert everything is not None
    recorded = RuleFile(CUSTOM, (everything.groups[0], custom.groups[1]))
    groups = [group for rule in written for group in _cases(stack, rule)]
    # the SLOs' recorded ratios only where a spec rule reads them (each SLO file costs every test its rules)
    read = reads_slo(everything)
    slo = slo_rule_files(stack, served) if read and slo is None else slo or []
    slo_files = [rule_file_path(CUSTOM, f.name) for f in slo] if read else []
    rule_files = [f"{FIXTURES}/{CUSTOM}.yml", *slo_files]
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


def slo_test_files(stack: Stack, served: Mapping[str, str], slo: list[RuleFile] | None = None) -> list[TestFile]:
    """A file per service with SLOs, reading that service's SLO rules only."""
    services = {service.name: service for service in stack.services}
    files = []
    for rule_file in slo_rule_files(stack, served) if slo is None else slo:
        service = services[rule_file.name.split("/", 1)[1]]
        groups = slo_test_groups(stack, service, served)
        path = (rule_file_path(rule_file.name, rule_file.name),)
        files.append(TestFile(rule_file.name, path, tuple(groups), every=slo_test_every(stack)))
    return files


def reads_slo(rule_file: RuleFile) -> bool:
    """Whether a rule of `rule_file` reads a ratio the SLO rules record (or might: one we cannot parse)."""
    recorded = {record_name(window) for window in windows()}
    for rule in rule_file.rules():
        try:
            tree = parse(str(rule.data["expr"]))
        except ParseError:
            return True
        selectors = [node for node in walk(tree) if isinstance(node, Selector)]
        names = {node.name for node in selectors}
        names |= {value for node in selectors for label, _, value in node.matchers if label == "__name__"}
        if names & recorded or any(name is None for name in names):
            return True
    return False


# services whose tests share a file, and a test group where theirs have the same shape: promtool spends
# a fixed ~15 ms on each group (a fresh database), more than evaluating a service's rules in it
BATCH = 20


def batched(files: list[TestFile], size: int | None = None) -> list[TestFile]:
    """Per-service test files, `size` services to a file named after its first one, which reads their rule
    files only. The i-th groups of the services are one group where they have the same shape (interval,
    checks at the same times of the same alerts): the services' series side by side, every service's
    expected alerts in each check. A service's rules select its own series (`job`), so they cannot see
    another's; services whose tests feed the same job (SLOs measured by one probe) go to different files.
    A failure names the group and, in promtool's expected-versus-got, the service."""
    merged = []
    for chunk in _chunks(files, size or BATCH):
        groups: list[Mapping[str, Any]] = []
        for position in range(max(len(f.groups) for f in chunk)):
            found = [f.groups[position] for f in chunk if position < len(f.groups)]
            shapes = {_shape(group) for group in found}
            groups.extend([_merge(found)] if len(found) > 1 and len(shapes) == 1 else found)
        rule_files = tuple(path for f in chunk for path in f.rule_files)
        merged.append(TestFile(chunk[0].name, rule_files, tuple(groups), every=chunk[0].every))
    return merged


def _chunks(files: list[TestFile], size: int) -> list[list[TestFile]]:
    """`files` in order, at most `size` to a chunk, where no two feed series of the same job: their rules
    would read each other's series. Without such a clash, consecutive runs of `size`."""
    chunks: list[tuple[list[TestFile], set[str]]] = []
    open_chunks: list[tuple[list[TestFile], set[str]]] = []  # not yet full
    for test_file in files:
        jobs = _jobs(test_file)
        home = next((c for c in open_chunks if not c[1] & jobs), None)
        if home is None:
            home = ([], set())
            chunks.append(home)
            open_chunks.append(home)
        home[0].append(test_file)
        home[1].update(jobs)
        if len(home[0]) == size:
            open_chunks.remove(home)
    return [chunk for chunk, _ in chunks]


_JOB = re.compile(r'\bjob="((?:[^"\\]|\\.)*)"')


def _jobs(test_file: TestFile) -> set[str]:
    """The jobs of a test file's input series (a series without one stands for itself)."""
    found = set()
    for group in test_file.groups:
        for series in group.get("input_series", ()):
            text = str(series["series"])
            match = _JOB.search(text)
            found.add(match[1] if match else text)
    return found


def _shape(group: Mapping[str, Any]) -> Any:
    if "promql_expr_test" in group:
        return id(group)  # never merged
    checks = tuple((case["eval_time"], case["alertname"]) for case in group.get("alert_rule_test", ()))
    rest = tuple((k, repr(v)) for k, v in group.items() if k not in ("name", "input_series", "alert_rule_test"))
    return (checks, rest)


def _merge(groups: list[Mapping[str, Any]]) -> dict[str, Any]:
    first = dict(groups[0])
    first["name"] = f"{groups[0]['name']} (and alike for {len(groups) - 1} more services)"
    first["input_series"] = [series for group in groups for series in group["input_series"]]
    first["alert_rule_test"] = [
        {**case, "exp_alerts": [a for group in groups for a in group["alert_rule_test"][i]["exp_alerts"]]}
        for i, case in enumerate(groups[0]["alert_rule_test"])
    ]
    return first


def all_test_files(stack: Stack, served: Mapping[str, str]) -> list[TestFile]:
    """Every test file promstack renders for `stack`; `served` as for `rules.all_rule_files`."""
    files = []
    for name in rules_catalog.pack_names(stack):
        found = pack_test_files(stack, name, served)
        files += batched(found) if name == rules_catalog.SERVICE_PACK else found
    slo = slo_rule_files(stack, served)  # made once: the SLO tests and the custom rules' tests read them
    files += batched(slo_test_files(stack, served, slo))
    files += [f for f in (custom_test_file(stack, served, slo),) if f is not None]
    files += kind_test_files(stack, served)
    files += scrape_failure_tests.test_files(stack, served)
    files += escalation_test_files(stack, all_rule_files(stack, served), served)
    return [f for f in files if f.groups]


def render(stack: Stack, target: Target) -> Tree:
    tree = Tree()
    stack = for_runtime(stack, target.runtime)
    tree.rule_tests = all_test_files(stack, served(stack, target))
    for test_file in tree.rule_tests:
        tree.files[test_file.path] = dump_yaml(test_file.data(stack), stack)
        for rel, data in test_file.fixtures.items():
            tree.files[f"{test_file.path.rsplit('/', 1)[0]}/{rel}"] = dump_yaml(data, stack)
    return tree
