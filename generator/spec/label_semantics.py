"""Labels promstack sets itself must not be set by the spec too: a service's or probe's `labels` naming
`job`, `instance`, `host` (or `service`/`probe`, which promstack writes) would replace them on every
series and break the rules, routes and dashboards that read them; a declared metric label with the
name of a target label would be renamed `exported_<name>` by Prometheus at scrape time. With several
Prometheus copies, `replica` is the external label that tells them apart: the spec's own
`external_labels` may not name it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from generator import conventions
from generator.errors import Problem
from generator.spec.loader import Document

TARGET = ("job", "instance", "host")


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def label_problems(doc: Document) -> Iterator[Problem]:
    data = _dict(doc.data)
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
        own = _dict(service.get("labels"))
        for name in own:
            if name in (*TARGET, "service"):
                yield doc.problem(f"{base}.labels.{name}", _set_by_promstack(name, "service"), key=True)
        taken = {*TARGET, "service", *own}
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
        for name in _dict(_dict(probe).get("labels")):
            if name in (*TARGET, "probe"):
                path = f"$.exporters.blackbox.probes[{i}].labels.{name}"
                yield doc.problem(path, _set_by_promstack(name, "probe"), key=True)


def _set_by_promstack(name: str, what: str) -> str:
    return f"'{name}' is set by promstack on every series of the {what}; choose another label name"
