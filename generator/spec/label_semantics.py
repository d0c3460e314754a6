"""Labels promstack sets itself must not be set by the spec too (README: Reserved labels).

A label the spec sets (a service's or probe's `labels`, `external_labels`, an override's or a rule's
`labels`) with the name of one promstack writes would overwrite it, or be overwritten by it, on every
series or alert: rules, routes, inhibitions and dashboards that read it would break. Where each place
puts its labels decides what it may not use: target labels (`job`, `instance`, `host`) on every series
of a scrape job, `service` and `probe` on their jobs' series, the external labels (`stack`, `env` and
the spec's own) on every alert leaving Prometheus, and the labels of `conventions.ALERT_LABELS` on
alerts. A declared metric label with the name of a target label would be renamed `exported_<name>` by
Prometheus at scrape time. With several Prometheus copies, `replica` is the external label that tells
them apart: the spec's own `external_labels` may not name it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from generator import conventions
from generator.errors import Problem
from generator.spec.loader import Document

TARGET = conventions.TARGET_LABELS


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _why(name: str, external: Mapping[str, str]) -> str | None:
    """Why promstack needs label `name` for itself, or None when the spec may use it."""
    if name in conventions.ALERT_LABELS:
        return f"promstack sets it on alerts ({conventions.ALERT_LABELS[name]})"
    if name in external:
        return f"it is an external label of the stack ({external[name]}), on every alert"
    if name in TARGET:
        return "promstack sets it on every series of every scrape job"
    if name == conventions.LABEL_SERVICE:
        return "promstack sets it on the series and alerts of each service"
    if name == conventions.LABEL_PROBE:
        return "promstack sets it on the series of each blackbox probe"
    return None


def _reserved(
    doc: Document, path: str, labels: Any, external: Mapping[str, str], allowed: set[str]
) -> Iterator[Problem]:
    for name in _dict(labels):
        why = None if name in allowed else _why(name, external)
        if why:
            yield doc.problem(f"{path}.{name}", f"'{name}' is reserved: {why}; choose another label name", key=True)


def _external(data: dict[str, Any]) -> dict[str, str]:
    """External label -> what sets it."""
    found = {conventions.LABEL_STACK: "set by `name`", conventions.LABEL_ENV: "set by `environment`"}
    found.update({k: "set by `external_labels`" for k in _dict(data.get("external_labels"))})
    return found


def label_problems(doc: Document) -> Iterator[Problem]:
    data = _dict(doc.data)
    external = _external(data)
    own = {conventions.LABEL_STACK: "set by `name`", conventions.LABEL_ENV: "set by `environment`"}
    yield from _reserved(doc, "$.external_labels", data.get("external_labels"), own, set())
    replicas = _dict(_dict(data.get("components")).get("prometheus")).get("replicas")
    if isinstance(replicas, int) and replicas > 1 and conventions.LABEL_REPLICA in _dict(data.get("external_labels")):
        yield doc.problem(
            f"$.external_labels.{conventions.LABEL_REPLICA}",
            f"with {replicas} Prometheus replicas, promstack sets '{conventions.LABEL_REPLICA}' to each copy's "
            "name (it tells them apart, and is dropped from alerts); choose another label name",
            key=True,
        )
    for i, service in enumerate(_list(data.get("services"))):
        service = _dict(service)
        base = f"$.services[{i}]"
        own_labels = _dict(service.get("labels"))
        yield from _reserved(doc, f"{base}.labels", own_labels, external, set())
        taken = {*TARGET, conventions.LABEL_SERVICE, *own_labels}
        for j, metric in enumerate(_list(service.get("metrics"))):
            for k, label in enumerate(_list(_dict(metric).get("labels"))):
                if label in taken:
                    yield doc.problem(
                        f"{base}.metrics[{j}].labels[{k}]",
                        f"'{label}' is a label of the service's targets; Prometheus would rename the metric's "
                        f"own to exported_{label}: name it otherwise",
                    )
    blackbox = _dict(_dict(data.get("exporters")).get("blackbox"))
    for i, probe in enumerate(_list(blackbox.get("probes"))):
        path = f"$.exporters.blackbox.probes[{i}].labels"
        # a probe may say which service it watches: its alerts then route and inhibit with that service's
        yield from _reserved(doc, path, _dict(probe).get("labels"), external, {conventions.LABEL_SERVICE})
    alerts = _dict(data.get("alerts"))
    for name, override in _dict(alerts.get("overrides")).items():
        yield from _reserved(doc, f"$.alerts.overrides.{name}.labels", _dict(override).get("labels"), external, set())
    # the spec's own rules may route themselves with any target label (a `vector(1)` has none of its own)
    free = {*TARGET, conventions.LABEL_SERVICE, conventions.LABEL_PROBE}
    for key in ("rules", "recording"):
        for i, rule in enumerate(_list(alerts.get(key))):
            yield from _reserved(doc, f"$.alerts.{key}[{i}].labels", _dict(rule).get("labels"), external, free)
