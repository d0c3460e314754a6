"""Check `rules/lint`: our rule policy on every rule promstack renders, offline.

Per rule: the expression parses; annotation and label templates only read labels the expression
keeps (a label-flow analysis of the PromQL, see generator.promql_analysis); alerts are CamelCase and
carry a known severity, summary, description, runbook_url and (when the overview dashboard is
rendered) dashboard; recording rules are named level:metric:operations; rate windows hold at least
4 scrapes; `for` is 0s or at least the evaluation interval; static labels do not shadow external
labels; no alert is defined twice. Every alert of a pack, a service or an SLO has a promtool test
that fires and one that stays silent; every alert of the spec (`alerts.rules`) has at least one.
Problems name the rule and where it came from (pack file line or spec line).
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import yaml

from generator import conventions
from generator.checks import CheckContext, CheckProblem, run_tool, tool
from generator.model import Stack
from generator.promql import ParseError, parse
from generator.promql_analysis import Labels, output_labels, rate_windows, template_external_labels, template_labels
from generator.render import Group, Rule, RuleFile, TestFile
from generator.render.rules import CUSTOM
from generator.spec.formats import duration_ms

NAME = "rules/lint"
CAMEL = re.compile(r"^[A-Z][A-Za-z0-9]*$")
RECORD = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*:[a-zA-Z_][a-zA-Z0-9_]*:[a-zA-Z0-9_]+$")
REQUIRED = ("summary", "description", "runbook_url")
SAMPLES = 4  # a rate needs two samples; four leave room for one missed scrape and jitter


def _who(rule: Rule) -> str:
    return f"{'alert' if rule.alert else 'recording rule'} {rule.name} ({rule.source})"


def _show(labels: Labels) -> str:
    if labels.scalar:
        return "a scalar, no labels"
    if labels.open:
        dropped = sorted(labels.names - {"__name__"})
        return "the input series' labels" + (f" except {', '.join(dropped)}" if dropped else "")
    return ", ".join(sorted(labels.names)) or "no labels"


def _unparsable(rule: Rule, error: ParseError, promtool: str) -> list[str]:
    """Our parser refused the rule: let promtool decide, so we never reject valid PromQL."""
    with tempfile.TemporaryDirectory(prefix="promstack-lint-") as tmp:
        path = Path(tmp) / "rule.yml"
        path.write_text(yaml.safe_dump({"groups": [{"name": "lint", "rules": [dict(rule.data)]}]}))
        result = run_tool([promtool, "check", "rules", str(path)], cwd=Path(tmp))
    if result.returncode == 0:
        return []  # valid after all: skip the label analysis rather than guess
    detail = " ".join(line.strip() for line in result.stderr.splitlines() if "parse" in line) or str(error)
    return [f"{_who(rule)}: the expression does not parse: {detail.replace(str(path), 'rule')}"]


def _templates(stack: Stack, rule: Rule, result: Labels) -> Iterator[str]:
    texts = {f"annotation {k}": v for k, v in rule.data.get("annotations", {}).items()}
    texts.update({f"label {k}": v for k, v in rule.labels.items()})
    for where, text in texts.items():
        for label in sorted(template_labels(text)):
            if not result.has(label):
                yield (
                    f"{_who(rule)}: {where} uses $labels.{label}, but the expression does not keep that "
                    f"label (its result has {_show(result)}); it would render empty"
                )
        for label in sorted(template_external_labels(text) - set(stack.external_labels)):
            yield f"{_who(rule)}: {where} uses $externalLabels.{label}, which is not an external label of the stack"


def _alert_policy(stack: Stack, rule: Rule, group: Group, served: Mapping[str, str]) -> Iterator[str]:
    if not CAMEL.match(rule.name):
        yield f"{_who(rule)}: alert names are CamelCase (e.g. OrdersStalled)"
    severity = rule.labels.get(conventions.LABEL_SEVERITY)
    if severity not in conventions.SEVERITIES:
        yield f"{_who(rule)}: severity {severity!r} is not one of {', '.join(conventions.SEVERITIES)}"
    notes = rule.data.get("annotations", {})
    # with the overview rendered every alert links to a dashboard (its own, or the overview in its place)
    wanted = (*REQUIRED, "dashboard") if conventions.DASHBOARD_UIDS["overview"] in served else REQUIRED
    for key in wanted:
        if not notes.get(key):
            yield f"{_who(rule)}: annotation {key} is missing"
    for_ = str(rule.data.get("for", "0s"))
    every = group.interval or stack.evaluation_interval
    if for_ != "0s" and (duration_ms(for_) or 0) < (duration_ms(every) or 0):
        yield (
            f"{_who(rule)}: for: {for_} is shorter than the evaluation interval {every}, so it waits one whole "
            f"interval ({every}) anyway; say 0s to fire at once or {every} to wait"
        )
    for label in sorted(set(rule.labels) & set(stack.external_labels)):
        yield (
            f"{_who(rule)}: label {label} shadows the external label {label}={stack.external_labels[label]!r}; "
            "Prometheus keeps the rule's value, which breaks routing by it"
        )


def _rule_problems(
    stack: Stack, rule: Rule, group: Group, served: Mapping[str, str], promtool: str | None
) -> Iterator[str]:
    if rule.alert:
        yield from _alert_policy(stack, rule, group, served)
    elif not RECORD.match(rule.name):
        yield f"{_who(rule)}: recording rules are named level:metric:operations (e.g. job:http_requests:rate5m)"
    try:
        node = parse(str(rule.data["expr"]))
    except ParseError as error:
        yield from _unparsable(rule, error, promtool or tool("promtool"))
        return
    if rule.alert:
        yield from _templates(stack, rule, output_labels(node))
    scrape = duration_ms(rule.interval) or 0
    for function, window in rate_windows(node):
        if (duration_ms(window) or 0) < SAMPLES * scrape:
            yield (
                f"{_who(rule)}: {function}(...[{window}]) spans fewer than {SAMPLES} scrapes of "
                f"{rule.interval}; use a window of at least {SAMPLES} scrape intervals"
            )


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
                yield _untested(rule)
            continue
        if True not in kinds:
            reported.add(rule.name)
            yield f"{_who(rule)}: no promtool test makes it fire"
        if False not in kinds and rule.name != conventions.ALERT_WATCHDOG:  # Watchdog never stays silent
            reported.add(rule.name)
            yield f"{_who(rule)}: no promtool test shows it staying silent"


def _untested(rule: Rule) -> str:
    return (
        f"{_who(rule)}: no promtool test covers this alert, and every alert needs at least one. Add a "
        "`tests:` list to the alert in the spec, with a case whose input series make it fire and one whose "
        "series keep it silent, e.g. `tests: [{series: {'<metric>{<labels>}': '<values, e.g. 0+10x30>'}, "
        "fires: true}, {series: {...}, fires: false}]`."
    )


def lint(stack: Stack, rules: list[RuleFile], tests: list[TestFile], served: Mapping[str, str]) -> list[CheckProblem]:
    """Every policy problem of the rule files `rules` rendered for `stack` (with their `tests`, and the
    dashboards `served` that alerts link to), located at the rule's source."""
    problems: list[CheckProblem] = []
    for rule_file in rules:
        for group in rule_file.groups:
            for rule in group.rules:
                found = _rule_problems(stack, rule, group, served, None)
                problems.extend(CheckProblem(NAME, "error", message, rule.source) for message in found)
    problems.extend(CheckProblem(NAME, "error", message) for message in _duplicates(rules))
    problems.extend(CheckProblem(NAME, "error", message) for message in _coverage(rules, tests))
    return problems


def run(ctx: CheckContext) -> list[CheckProblem]:
    return lint(ctx.stack, ctx.tree.rules, ctx.tree.rule_tests, ctx.tree.dashboards)
