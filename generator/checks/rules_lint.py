"""Check `rules/lint`: our rule policy on every rule promstack renders, offline.

Per rule: the expression parses; annotation and label templates only read labels the expression
keeps (a label-flow analysis of the PromQL, see generator.promql_analysis); alerts are CamelCase and
carry a known severity, summary, description, runbook_url (where runbooks are served) and (when the
overview dashboard is rendered) dashboard; recording rules are named level:metric:operations; rate
windows hold at least 4 scrapes; `for` is 0s or at least the evaluation interval; static labels do not shadow external
labels; no alert is defined twice. Every alert of a pack, a service or an SLO has a promtool test
that fires and one that stays silent; every alert of the spec (`alerts.rules`) has at least one.
Problems name the rule and where it came from (pack file line or spec line).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import yaml

from generator import conventions, rule_policy
from generator.checks import CheckContext, CheckProblem, run_tool, tool
from generator.model import Stack
from generator.promql import ParseError, parse
from generator.render import Group, Rule, RuleFile, TestFile
from generator.render.rules import CUSTOM
from generator.units import Duration

NAME = rule_policy.CHECK
REQUIRED = ("summary", "description")


def _who(rule: Rule) -> str:
    return f"{'alert' if rule.alert else 'recording rule'} {rule.name} ({rule.source})"


def _unparsable(rule: Rule, error: ParseError, promtool: str) -> list[str]:
    """Our parser refused the rule: let promtool decide, so we never reject valid PromQL."""
    with tempfile.TemporaryDirectory(prefix="promstack-lint-") as tmp:
        path = Path(tmp) / "rule.yml"
        path.write_text(yaml.safe_dump({"groups": [{"name": "lint", "rules": [dict(rule.data)]}]}))
        result = run_tool([promtool, "check", "rules", str(path)], cwd=Path(tmp))
    if result.returncode == 0:
        return []  # valid after all: skip the label analysis rather than guess
    detail = " ".join(line.strip() for line in result.stderr.splitlines() if "parse" in line) or str(error)
    return [f"the expression does not parse: {detail.replace(str(path), 'rule')}"]


def _alert_policy(stack: Stack, rule: Rule, group: Group, served: Mapping[str, str]) -> Iterator[str]:
    notes = rule.data.get("annotations", {})
    # with the overview rendered every alert links to a dashboard (its own, or the overview in its place);
    # with the Runbooks dashboard or a runbook base URL, to its runbook
    wanted = (*REQUIRED, "dashboard") if conventions.DASHBOARD_UIDS["overview"] in served else REQUIRED
    if conventions.DASHBOARD_UIDS["runbooks"] in served or stack.alerts.runbook_base_url:
        wanted = (*wanted, "runbook_url")
    for key in wanted:
        if not notes.get(key):
            yield f"annotation {key} is missing"
    for_ = Duration(rule.data.get("for", "0s"))
    every = group.interval or stack.evaluation_interval
    if for_ != "0s" and for_.ms < every.ms:
        yield (
            f"for: {for_} is shorter than the evaluation interval {every}, so it waits one whole "
            f"interval ({every}) anyway; say 0s to fire at once or {every} to wait"
        )
    for label in sorted(set(rule.labels) & set(stack.external_labels)):
        yield (
            f"label {label} shadows the external label {label}={stack.external_labels[label]!r}; "
            "Prometheus keeps the rule's value, which breaks routing by it"
        )


def _rule_problems(
    stack: Stack, rule: Rule, group: Group, served: Mapping[str, str], promtool: str | None
) -> Iterator[str]:
    yield from rule_policy.naming(rule.data)
    if rule.alert:
        yield from _alert_policy(stack, rule, group, served)
    try:
        node = parse(str(rule.data["expr"]))
    except ParseError as error:
        yield from _unparsable(rule, error, promtool or tool("promtool"))
        return
    yield from rule_policy.templates(rule.data, node, stack.external_labels)
    yield from rule_policy.windows(node, rule.interval)


def _duplicates(files: list[RuleFile]) -> Iterator[str]:
    seen: dict[tuple[str, frozenset[tuple[str, str]]], Rule] = {}
    for rule in (r for f in files for r in f.rules()):
        key = (rule.name, frozenset(rule.labels.items()))
        if key in seen:
            first = seen[key]
            yield f"{_who(rule)}: defined twice with the same labels (also at {first.source})"
        else:
            seen[key] = rule


def _coverage(files: list[RuleFile], tests: list[TestFile]) -> Iterator[str]:
    found: dict[str, set[bool]] = {}
    for test_file in tests:
        for name, kinds in test_file.coverage().items():
            found.setdefault(name, set()).update(kinds)
    reported: set[str] = set()
    for rule in (r for f in files for r in f.rules() if r.alert):
        if rule.name in reported:
            continue
        kinds = found.get(rule.name, set())
        if rule.origin == CUSTOM:  # the spec's own alerts need one test; packs and SLOs come with both kinds
            if not kinds:
                yield f"{_who(rule)}: {rule_policy.untested()}"
            continue
        if True not in kinds:
            reported.add(rule.name)
            yield f"{_who(rule)}: no promtool test makes it fire"
        if False not in kinds and rule.name != conventions.ALERT_WATCHDOG:  # Watchdog never stays silent
            reported.add(rule.name)
            yield f"{_who(rule)}: no promtool test shows it staying silent"


def lint(stack: Stack, rules: list[RuleFile], tests: list[TestFile], served: Mapping[str, str]) -> list[CheckProblem]:
    """Every policy problem of the rule files `rules` rendered for `stack` (with their `tests`, and
    the dashboards `served` that alerts link to), located at the rule's source."""
    promtool: str | None = None
    problems: list[CheckProblem] = []
    for rule_file in rules:
        for group in rule_file.groups:
            for rule in group.rules:
                for message in _rule_problems(stack, rule, group, served, promtool):
                    problems.append(CheckProblem(NAME, "error", f"{_who(rule)}: {message}", rule.source))
    problems.extend(CheckProblem(NAME, "error", message) for message in _duplicates(rules))
    problems.extend(CheckProblem(NAME, "error", message) for message in _coverage(rules, tests))
    return problems


def run(ctx: CheckContext) -> list[CheckProblem]:
    return lint(ctx.stack, ctx.tree.rules, ctx.tree.rule_tests, ctx.tree.dashboards)
