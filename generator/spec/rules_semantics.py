"""Semantic checks of `alerts:` that need the rule-pack catalog, located in the spec.

Overrides must name an alert promstack renders (did-you-mean otherwise) and stay within what that
alert can take; custom rules must not reuse a pack's alert names and must parse as PromQL (checked
offline with our parser: `promtool` still has the last word in `promstack check`); every scrape
interval must leave the packs' rate windows at least 4 samples. `lint_problems`: the rule policy of the
`rules/lint` check on the spec's own alerts, for a spec that has other problems (one run says them all).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import Any

from generator import conventions, rule_policy, rules_catalog, slo_math
from generator.errors import Problem
from generator.promql import ParseError, Selector, parse
from generator.promql_analysis import rate_windows
from generator.spec.loader import Document
from generator.units import duration_ms, format_duration

# windows of the rules rendered per service (service pack and SLO tiers): the shortest one
SERVICE_WINDOW = "5m"
SLO_ONLY = ("enabled", "labels")  # what an override of the SLO alert may set
_SERIES_VALUE = re.compile(
    r"^(?:_|stale|[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?(?:[-+](?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?)?)"
    r"(?:x\d+)?$",
    re.IGNORECASE,
)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _hint(name: str, known: list[str]) -> str:
    guess = difflib.get_close_matches(name, known, n=1)
    return f"did you mean '{guess[0]}'?" if guess else "see the rule packs in rules/*.rules.yml"


def active_packs(data: dict[str, Any]) -> list[str]:
    """The component packs a spec renders (mirrors build: `default` = core + exporters)."""
    packs = _dict(data.get("alerts")).get("packs", "default")
    if packs == "none":
        return []
    if packs == "default":
        exporters = _dict(data.get("exporters"))
        names = [*conventions.CORE, *(conventions.EXPORTERS.get(k, k) for k in exporters)]
    else:
        names = [p for p in _list(packs) if isinstance(p, str)]
    return [n for n in names if n in rules_catalog.packs()]


def rule_problems(doc: Document) -> Iterator[Problem]:
    data = _dict(doc.data)
    alerts = _dict(data.get("alerts"))
    yield from _pack_problems(doc, alerts)
    yield from _override_problems(doc, data, alerts)
    yield from _custom_problems(doc, alerts)
    yield from _interval_problems(doc, data)


def lint_problems(doc: Document, found: list[Problem]) -> Iterator[Problem]:
    """What the `rules/lint` check would say of each spec alert (`alerts.rules`) whose own entry has no
    problem in `found`: for a spec that does not build, so that these come in the same run as its other
    problems. Only the policy a rule's own entry decides (names, severity, the labels its templates read,
    a test); what needs the built stack (external labels, intervals) the check says once the spec builds."""
    wrong = {problem.path for problem in found}
    for i, rule in enumerate(_list(_dict(_dict(doc.data).get("alerts")).get("rules"))):
        base = f"$.alerts.rules[{i}]"
        if not isinstance(rule, dict) or any(p == base or p.startswith((f"{base}.", f"{base}[")) for p in wrong):
            continue
        notes = {key: rule[key] for key in ("summary", "description") if key in rule}
        labels = {**_dict(rule.get("labels")), conventions.LABEL_SEVERITY: rule.get("severity")}
        data = {"alert": rule.get("alert"), "expr": rule.get("expr"), "labels": labels, "annotations": notes}
        messages = [*rule_policy.naming(data)]
        if "kind" not in rule:  # an alert kind's PromQL, annotations and tests are compiled in build
            try:
                node = parse(str(rule.get("expr")))
            except ParseError:
                continue  # said already, as not valid PromQL
            messages += rule_policy.templates(data, node, None)
            if not rule.get("tests"):
                messages.append(rule_policy.untested())
        for message in messages:
            yield doc.problem(base, f"[{rule_policy.CHECK}] alert {rule.get('alert')}: {message}")


def _pack_problems(doc: Document, alerts: dict[str, Any]) -> Iterator[Problem]:
    known = [*rules_catalog.component_packs(), *rules_catalog.ALWAYS]
    for i, name in enumerate(_list(alerts.get("packs"))):
        if isinstance(name, str) and name not in rules_catalog.packs():
            yield doc.problem(f"$.alerts.packs[{i}]", f"unknown rule pack '{name}'; {_hint(name, known)}")


def _override_problems(doc: Document, data: dict[str, Any], alerts: dict[str, Any]) -> Iterator[Problem]:
    index = rules_catalog.alert_index()
    known = sorted([*index, conventions.SLO_ALERT])
    custom = {
        r.get("alert") for r in _list(alerts.get("rules")) if isinstance(r, dict) and isinstance(r.get("alert"), str)
    }
    active = {*rules_catalog.ALWAYS, *active_packs(data), rules_catalog.SERVICE_PACK}
    for name, override in _dict(alerts.get("overrides")).items():
        path = f"$.alerts.overrides.{name}"
        override = _dict(override)
        if name in custom:
            yield doc.problem(path, f"'{name}' is your own rule in alerts.rules; change it there", key=True)
            continue
        if name == conventions.SLO_ALERT:
            for key in sorted(set(override) - set(SLO_ONLY)):
                yield doc.problem(
                    f"{path}.{key}",
                    f"{name} takes its thresholds, `for` and severity from the SLO "
                    f"tiers; an override can only set {' and '.join(SLO_ONLY)}",
                )
            continue
        rule = index.get(name)
        if rule is None:
            yield doc.problem(path, f"unknown alert '{name}' in alerts.overrides; {_hint(name, known)}", key=True)
            continue
        if rule.pack not in active:
            yield doc.problem(
                path,
                f"alert '{name}' belongs to the rule pack '{rule.pack}', which this stack does "
                "not render (enable its exporter or list the pack in alerts.packs)",
                key=True,
            )
        yield from _threshold_problems(doc, path, rule, override.get("threshold"))
        if "severity" in _dict(override.get("labels")):
            yield doc.problem(f"{path}.labels.severity", "set the severity with `severity:`, not as a label")


def _threshold_problems(doc: Document, path: str, rule: rules_catalog.PackRule, value: Any) -> Iterator[Problem]:
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    if rule.threshold is None:
        yield doc.problem(f"{path}.threshold", f"{rule.name} has no threshold to override")
        return
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return
    if not number.is_finite():  # .nan and .inf are reported by the schema check
        return
    if not rule.allows(number):
        yield doc.problem(f"{path}.threshold", f"the threshold of {rule.name} must be {rule.describe_bounds()}")


def _custom_problems(doc: Document, alerts: dict[str, Any]) -> Iterator[Problem]:
    index = rules_catalog.alert_index()
    for i, rule in enumerate(_list(alerts.get("rules"))):
        rule = _dict(rule)
        base = f"$.alerts.rules[{i}]"
        name = rule.get("alert")
        if isinstance(name, str) and (name in index or name == conventions.SLO_ALERT):
            owner = f"the {index[name].pack} rule pack" if name in index else "the SLO rules"
            yield doc.problem(
                f"{base}.alert",
                f"'{name}' is an alert of {owner}; choose another name "
                f"(or change the pack's with alerts.overrides.{name})",
            )
        yield from _expr_problems(doc, f"{base}.expr", rule.get("expr"))
        if "severity" in _dict(rule.get("labels")):
            yield doc.problem(f"{base}.labels.severity", "set the severity with `severity:`, not as a label")
        for j, test in enumerate(_list(rule.get("tests"))):
            for selector, values in _dict(_dict(test).get("series")).items():
                if isinstance(selector, str):
                    yield from _series_problems(doc, f"{base}.tests[{j}].series", selector, values)
    slo_records = {slo_math.record_name(window) for window in slo_math.windows()}
    for i, rule in enumerate(_list(alerts.get("recording"))):
        rule = _dict(rule)
        yield from _expr_problems(doc, f"$.alerts.recording[{i}].expr", rule.get("expr"))
        if isinstance(rule.get("record"), str) and rule["record"] in slo_records:
            yield doc.problem(
                f"$.alerts.recording[{i}].record",
                f"'{rule['record']}' is recorded by promstack's SLO rules; choose another name",
            )


def _expr_problems(doc: Document, path: str, expr: Any) -> Iterator[Problem]:
    if not isinstance(expr, str) or not expr.strip():
        return
    try:
        parse(expr)
    except ParseError as exc:
        yield doc.problem(path, f"not valid PromQL: {exc}")


def _series_problems(doc: Document, path: str, selector: str, values: Any) -> Iterator[Problem]:
    try:
        node = parse(selector)
    except ParseError as exc:
        yield doc.problem(path, f"'{selector}' is not a series selector: {exc}")
        return
    if not isinstance(node, Selector) or node.range or any(op != "=" for _, op, _ in node.matchers):
        yield doc.problem(path, f"'{selector}' must name one series: metric{{label=\"value\", ...}}")
    if isinstance(values, str) and not all(_SERIES_VALUE.match(v) for v in values.split()):
        yield doc.problem(
            path, f"values '{values}' of '{selector}' are not in promtool's notation (e.g. '0+10x30 300x10 _ stale')"
        )


def _interval(data: dict[str, Any], spec: dict[str, Any], key_path: str) -> tuple[str, str] | None:
    """(interval, where it was set) of a job, falling back to scrape_interval and its default."""
    if isinstance(spec.get("interval"), str):
        return spec["interval"], f"{key_path}.interval"
    if isinstance(data.get("scrape_interval"), str):
        return data["scrape_interval"], "$.scrape_interval"
    return None  # the default interval suits every pack


def _interval_problems(doc: Document, data: dict[str, Any]) -> Iterator[Problem]:
    reverse = {v: k for k, v in conventions.EXPORTERS.items()}
    for pack in active_packs(data):
        key = reverse.get(pack)
        spec, path = (
            (_dict(_dict(data.get("exporters")).get(key)), f"$.exporters.{key}")
            if key
            else (_dict(_dict(data.get("components")).get(pack)), f"$.components.{pack}")
        )
        found = _interval(data, spec, path)
        windows = [w for rule in rules_catalog.packs()[pack].rules() for _, w in _windows(rule.expr)]
        if found and windows:
            yield from _too_long(doc, found, min(windows, key=lambda w: duration_ms(w) or 0), f"the {pack} rule pack")
    for i, service in enumerate(_list(data.get("services"))):
        service = _dict(service)
        found = _interval(data, service, f"$.services[{i}]")
        if found and service.get("http"):
            yield from _too_long(doc, found, SERVICE_WINDOW, f"the RED and SLO rules of service {service.get('name')}")


def _windows(expr: str) -> list[tuple[str, str]]:
    try:
        return list(rate_windows(parse(rules_catalog.expand(expr, _Anything()))))
    except (ParseError, ValueError):
        return []


class _Anything(dict[str, rules_catalog.Value]):
    """Placeholder values good enough to parse a pack expression: every variable is 1."""

    def __contains__(self, key: object) -> bool:
        return True

    def __missing__(self, key: str) -> rules_catalog.Value:
        return Decimal(1)


def _too_long(doc: Document, found: tuple[str, str], window: str, what: str) -> Iterator[Problem]:
    interval, path = found
    ms, window_ms = duration_ms(interval), duration_ms(window)
    if ms and window_ms and ms * 4 > window_ms:
        yield doc.problem(
            path,
            f"a scrape interval of {interval} leaves fewer than 4 samples in the {window} rate "
            f"windows of {what}; use {format_duration(window_ms // 4)} or less",
        )
