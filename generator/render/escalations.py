"""Escalations (`notifications.escalations[]`): prometheus/rules/escalations.yml and its promtool tests.

An escalation makes a copy of every alert it matches that has fired for `after`: a rule per
escalation and alert name, named like the alert, reading the alert's own ALERTS series

    max without (alertstate) (ALERTS{alertname="TargetDown", alertstate="firing", escalation="", severity="critical"})

with `for: <after>`. The copy keeps the alert's name and every label and adds escalation=<name>, which
the escalation's route (render/alertmanager_routes.py) sends to the escalation's receivers only. So
one silence on the alert's name and labels (`promstack ack`) acknowledges the alert and its
escalation alike: an acknowledged alert neither notifies again nor escalates, and inhibitions mute
both. `escalation=""` keeps a copy's own ALERTS series (and another escalation's) out.

Rules are made only for alert names whose static labels can match (`match: {severity: critical}`
needs no rule for a warning); a label the alert takes from its series is matched at run time.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from generator import conventions
from generator.alerting.matchers import ALERTNAME, Matcher
from generator.model import Escalation, Stack
from generator.render._alerting import (
    FIXTURES,
    TEST_INTERVAL,
    Group,
    Rule,
    RuleFile,
    TestFile,
    alert_annotations,
    alert_data,
    as_sent,
    effective_for,
    expand_labels,
    label_templates_only,
    regex_example,
    test_evaluation_interval,
    test_group,
)
from generator.units import Duration

NAME = "escalations"
ORIGIN = "escalation"


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _matchers(escalation: Escalation) -> list[Matcher]:
    return [Matcher(k, "=", v) for k, v in sorted(escalation.match.items())] + [
        Matcher(k, "=~", v) for k, v in sorted(escalation.match_re.items())
    ]


def _may_match(escalation: Escalation, name: str, rules: Sequence[Rule]) -> bool:
    """Whether alerts named `name` (made by `rules`) can match: labels every one of them sets statically
    must agree; any other label is the series', known only at run time."""
    for matcher in _matchers(escalation):
        if matcher.name == ALERTNAME:
            if not matcher.accepts(name):
                return False
        elif all(matcher.name in rule.labels for rule in rules) and not any(
            matcher.accepts(as_sent(rule.labels[matcher.name])) for rule in rules
        ):
            return False
    return True


def _expr(escalation: Escalation, name: str, severity: str) -> str:
    own = [f"{ALERTNAME}={_quote(name)}", 'alertstate="firing"', f'{conventions.LABEL_ESCALATION}=""']
    own.append(f"{conventions.LABEL_SEVERITY}={_quote(severity)}")
    wanted = [
        f"{m.name}{m.op}{_quote(m.value)}"
        for m in _matchers(escalation)
        if m.name not in (ALERTNAME, conventions.LABEL_SEVERITY)
    ]
    return f"max without (alertstate) (ALERTS{{{', '.join(own + wanted)}}})"


def _same(rules: Sequence[Rule], key: str) -> str:
    """The annotation `key` when every rule of the name has the same, else ""."""
    found = {str(rule.data.get("annotations", {}).get(key, "")) for rule in rules}
    return found.pop() if len(found) == 1 else ""


def _annotations(
    stack: Stack, escalation: Escalation, name: str, rules: Sequence[Rule], served: Mapping[str, str]
) -> dict[str, str]:
    summary = _same(rules, "summary")
    after = escalation.after
    summary = (
        f"Not acknowledged after {after}: {summary}"
        if summary and label_templates_only(summary)
        else f"{name} has fired for {after} and nobody acknowledged it."
    )
    description = (
        f"{name} has fired for more than {after} and nobody acknowledged it, so it escalates to "
        f"{', '.join(escalation.receivers)} (escalation {escalation.name}). Acknowledge it with `promstack ack "
        f"SPEC {name} --label <name>=<value> --comment <text>`: that silences it and its escalation."
    )
    runbook = _same(rules, "runbook_url")  # the alert's own; "" when its rules differ: the stack's default
    given = {"summary": summary, "description": description}
    return alert_annotations(stack, name, given, _same(rules, "dashboard") or "alerts", served, runbook)


def _alerts(files: Sequence[RuleFile]) -> dict[str, list[Rule]]:
    """Every alerting rule by name, in output order, escalations' own left out; the Watchdog never escalates."""
    found: dict[str, list[Rule]] = {}
    for rule in (r for f in files for r in f.rules() if r.alert and r.origin != ORIGIN):
        if rule.name != conventions.ALERT_WATCHDOG:
            found.setdefault(rule.name, []).append(rule)
    return found


def escalation_rules(
    stack: Stack, escalation: Escalation, files: Sequence[RuleFile], served: Mapping[str, str]
) -> list[Rule]:
    every = stack.evaluation_interval
    found = []
    for name, named in _alerts(files).items():
        # one rule per severity the alert has: a copy states its severity like every alert does
        for severity in dict.fromkeys(as_sent(r.labels.get(conventions.LABEL_SEVERITY, "")) for r in named):
            rules = [r for r in named if as_sent(r.labels.get(conventions.LABEL_SEVERITY, "")) == severity]
            if not _may_match(escalation, name, rules):
                continue
            labels = {conventions.LABEL_SEVERITY: severity, conventions.LABEL_ESCALATION: escalation.name}
            data = alert_data(
                name,
                _expr(escalation, name, severity),
                effective_for(escalation.after, every),
                None,
                labels,
                _annotations(stack, escalation, name, rules, served),
            )
            found.append(Rule(data, f"escalation {escalation.name}", stack.scrape_interval, ORIGIN))
    return found


def escalation_rule_file(stack: Stack, files: Sequence[RuleFile], served: Mapping[str, str]) -> RuleFile | None:
    groups = [
        Group(f"escalation-{e.name}", tuple(escalation_rules(stack, e, files, served)))
        for e in stack.notifications.escalations
    ]
    return RuleFile(NAME, tuple(groups)) if any(g.rules for g in groups) else None


# ---- tests --------------------------------------------------------------------------------------


def example_labels(escalation: Escalation, rule: Rule) -> dict[str, str] | None:
    """Labels of an alert the escalation matches: a target's, the rule's static ones, then the match's."""
    labels = {"job": "job-1", "instance": "target-1:9100", conventions.LABEL_HOST: "target-1"}
    labels.update({k: as_sent(v) for k, v in rule.labels.items()})
    for matcher in _matchers(escalation):
        if matcher.name == ALERTNAME or matcher.matches(labels):
            continue
        value = matcher.value if matcher.op == "=" else regex_example(matcher.value)
        if value is None:
            return None
        labels[matcher.name] = value
    return labels


def escalated_example(
    stack: Stack, escalation: Escalation, files: Sequence[RuleFile], served: Mapping[str, str]
) -> dict[str, str] | None:
    """The labels of an escalated copy this escalation makes (its first alert's), None when it makes none
    or no example value matches its regexes."""
    rules = escalation_rules(stack, escalation, files, served)
    if not rules:
        return None
    labels = example_labels(escalation, _original(files, rules[0]))
    if labels is None:
        return None
    return {**labels, ALERTNAME: rules[0].name, **rules[0].labels}


def _original(files: Sequence[RuleFile], rule: Rule) -> Rule:
    """An alert rule that `rule` (an escalation's) escalates: one of its name and severity."""
    severity = rule.labels[conventions.LABEL_SEVERITY]
    named = _alerts(files)[rule.name]
    return next(r for r in named if as_sent(r.labels.get(conventions.LABEL_SEVERITY, "")) == severity)


def _series(labels: Mapping[str, str], steps: int) -> dict[str, str]:
    inner = ",".join(f"{k}={_quote(v)}" for k, v in labels.items())
    return {"series": f"ALERTS{{{inner}}}", "values": f"1x{steps}"}


def _tests(stack: Stack, escalation: Escalation, rules: Sequence[Rule], original: Rule) -> list[dict[str, Any]]:
    rule = rules[0]
    name = rule.name
    labels = example_labels(escalation, original)
    if labels is None:
        return []
    every = test_evaluation_interval(stack).ms
    # pending at the first evaluation that sees the firing alert (at 0), firing `for` later
    hold = Duration(rule.data.get("for", "0s")).ms
    fire = math.ceil(hold / every) * every
    steps = (fire + 5 * every) // TEST_INTERVAL.ms + 1
    firing = {ALERTNAME: name, "alertstate": "firing", **labels}
    series = [
        _series(firing, steps),
        # a pending alert does not escalate, nor does an escalation's own copy escalate again
        _series({**firing, "alertstate": "pending", "instance": "pending-1:9100"}, steps),
        _series({**firing, conventions.LABEL_ESCALATION: escalation.name}, steps),
    ]
    other = next((m for m in _matchers(escalation) if m.name != ALERTNAME), None)
    if other is not None and not other.accepts("not-" + labels[other.name]):
        series.append(_series({**firing, "instance": "other-1:9100", other.name: "not-" + labels[other.name]}, steps))
    sent = {**labels, **rule.labels}
    expected = {
        "exp_labels": sent,
        "exp_annotations": {
            k: expand_labels(v, {ALERTNAME: name, **sent}) for k, v in rule.data["annotations"].items()
        },
    }
    cases = [{"eval_time": Duration.of_ms(fire), "alertname": name, "exp_alerts": [expected]}]
    if fire:
        cases.insert(0, {"eval_time": Duration.of_ms(fire - every), "alertname": name, "exp_alerts": []})
    title = f"escalation {escalation.name}: {name} escalates after {rule.data.get('for', '0s')}, not before"
    return [test_group(stack, title, series, cases)]


def escalation_test_files(stack: Stack, files: Sequence[RuleFile], served: Mapping[str, str]) -> list[TestFile]:
    """One file per escalation, against a fixture holding only its rules (another escalation of the same
    alert would fire in the same test)."""
    found = []
    for escalation in stack.notifications.escalations:
        rules = escalation_rules(stack, escalation, files, served)
        if not rules:
            continue
        fixture = f"{FIXTURES}/escalation-{escalation.name}.yml"
        groups = _tests(stack, escalation, rules, _original(files, rules[0]))
        data = {"groups": [{"name": f"escalation-{escalation.name}", "rules": [dict(r.data) for r in rules]}]}
        found.append(TestFile(f"escalation-{escalation.name}", (fixture,), tuple(groups), {fixture: data}))
    return found
