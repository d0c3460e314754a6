"""Stage `validate`: JSON Schema plus semantic checks; collects every problem before failing.

Each concern has its module: the schema's errors in words (`schema_errors`), then the semantic checks
of services, exposure and ports, durations, notifications, rules, alert kinds, labels, the catalog and
what the runtime can run (`kubernetes_semantics`)."""

from __future__ import annotations

from collections.abc import Iterator

from generator.errors import Problem, SpecError
from generator.spec.catalog_semantics import catalog_problems
from generator.spec.dashboard_semantics import dashboard_problems
from generator.spec.duration_semantics import duration_problems
from generator.spec.exposure_semantics import exposure_problems, port_problems
from generator.spec.items import duplicates, mapping
from generator.spec.kinds_semantics import kind_problems
from generator.spec.kubernetes_semantics import kubernetes_problems
from generator.spec.label_semantics import label_problems
from generator.spec.loader import Document, printable
from generator.spec.notification_semantics import notification_problems
from generator.spec.rules_semantics import lint_problems, rule_problems
from generator.spec.schema_errors import schema_problems
from generator.spec.service_semantics import service_problems


def _semantic_problems(doc: Document) -> Iterator[Problem]:
    data = doc.data if isinstance(doc.data, dict) else {}
    yield from service_problems(doc)
    blackbox = mapping(data, "exporters").get("blackbox")
    if isinstance(blackbox, dict):
        yield from duplicates(doc, "$.exporters.blackbox.probes", blackbox.get("probes"), "probe name")
    yield from exposure_problems(doc, data)
    yield from port_problems(doc, data)
    yield from duration_problems(doc, data)
    yield from duplicates(doc, "$.alerts.rules", mapping(data, "alerts").get("rules"), "alert name")
    notifications = data.get("notifications")
    if isinstance(notifications, dict):
        yield from notification_problems(doc, notifications)


def validate(doc: Document, runtime: str = "compose") -> None:
    """Raise SpecError with every schema and semantic problem of the document, for `runtime` (what a
    stack may run and scrape depends on where: compose, local or kubernetes)."""
    problems = list(schema_problems(doc))
    problems.extend(_semantic_problems(doc))
    problems.extend(kubernetes_problems(doc, runtime))
    problems.extend(rule_problems(doc))
    problems.extend(kind_problems(doc))
    problems.extend(label_problems(doc))
    problems.extend(catalog_problems(doc))
    problems.extend(dashboard_problems(doc))
    if problems:
        # the spec will not build, so `check` cannot lint its alerts: say here what it would have said
        problems.extend(lint_problems(doc, problems))
        raise SpecError([printable(p) for p in problems])
