"""Which label names the alerts of a stack can carry, and where each comes from.

The checks warn about a spec that matches on a label no alert has (an inhibition or an escalation that
can never apply, usually a typo). An alert's labels are its rule's static labels, its expression's
series labels and the external labels; series labels are known from the scrape jobs (target, service
and probe labels), the services' declared metrics, and the label names the rule packs' own tests give
the metrics their alerts read. Not every exporter label is listed there, so an unknown label is a
warning, never an error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from generator import conventions, rules_catalog
from generator.model import Stack
from generator.render import RuleFile

_SERIES_LABEL = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*=~?\s*\"")


def _series_labels(series: Iterable[str]) -> set[str]:
    return {m.group(1) for text in series for m in _SERIES_LABEL.finditer(text)}


def known_labels(stack: Stack, rule_files: Iterable[RuleFile], packs: Iterable[str]) -> dict[str, str]:
    """Label name -> what puts it on alerts, for the stack rendered as `rule_files` with rule `packs`."""
    found: dict[str, str] = {name: "promstack" for name in conventions.ALERT_LABELS}
    found.update({name: "every scrape job" for name in conventions.TARGET_LABELS})
    found.update({name: "the external labels" for name in stack.external_labels})
    found.setdefault(conventions.LABEL_SERVICE, "the services' jobs")
    found.setdefault(conventions.LABEL_PROBE, "the probes' jobs")
    for service in stack.services:
        found.update({name: f"service {service.name}" for name in service.labels if name not in found})
        for metric in service.metrics:
            found.update({name: f"metric {metric.name}" for name in metric.labels if name not in found})
    for component in stack.components.values():
        for probe in component.probes:
            found.update({name: f"probe {probe.name}" for name in probe.labels if name not in found})
    for rule in (r for f in rule_files for r in f.rules() if r.alert):
        found.update({name: f"alert {rule.name}" for name in rule.labels if name not in found})
    catalog = rules_catalog.packs()
    for pack in packs:
        tests = catalog[pack].tests if pack in catalog else ()
        series = [str(s.get("series", "")) for t in tests for s in t.get("input_series", ())]
        found.update({name: f"the metrics of rule pack {pack}" for name in _series_labels(series) if name not in found})
    for own in stack.alerts.rules:
        tested = _series_labels(series for case in own.tests for series in case.series)
        found.update({name: f"alert {own.alert}" for name in tested if name not in found})
    found.pop("__name__", None)
    return found
