"""Semantic checks of the instrumented services (and the demo, one of them): unique names that no
component of the stack takes, unique SLO names, and SLOs the service's metrics and burn-rate alerts
can serve."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from generator import conventions
from generator.errors import Problem
from generator.spec.items import duplicates, mapping, named
from generator.spec.loader import Document
from generator.units import duration_ms


def service_problems(doc: Document) -> Iterator[Problem]:
    data = doc.data if isinstance(doc.data, dict) else {}
    services = data.get("services")
    yield from duplicates(doc, "$.services", services, "service name")
    exporters = mapping(data, "exporters")
    jobs = {conventions.EXPORTERS.get(k, k) for k in exporters} | set(conventions.CORE) | {"demo"}
    probes = _probes(exporters)
    for index, service in named(services):
        name = service.get("name")
        if isinstance(name, str) and name in jobs:
            yield doc.problem(
                f"$.services[{index}].name",
                f"service name '{name}' is taken by a component of the stack; choose another",
            )
        yield from duplicates(doc, f"$.services[{index}].slos", service.get("slos"), "SLO name")
        yield from _slo_problems(doc, f"$.services[{index}]", service, probes)
    # the demo is an instrumented service of its own: its SLOs obey the same rules
    demo = {"http": {"requests": "demo", "duration": "demo"}, "slos": mapping(data, "demo").get("slos")}
    yield from duplicates(doc, "$.demo.slos", demo["slos"], "SLO name")
    yield from _slo_problems(doc, "$.demo", demo, probes)


def _probes(exporters: dict[str, Any]) -> set[str]:
    """The names of the spec's probes (`exporters.<name>.probes[]`), which an SLO may be measured by."""
    found = (p.get("name") for e in exporters.values() if isinstance(e, dict) for _, p in named(e.get("probes")))
    return {name for name in found if isinstance(name, str)}


def _probe_problems(doc: Document, path: str, slo: dict[str, Any], probes: set[str]) -> Iterator[Problem]:
    probe = slo["probe"]
    if isinstance(probe, str) and probe not in probes:
        known = ", ".join(sorted(probes)) or "none: add exporters.blackbox.probes"
        yield doc.problem(f"{path}.probe", f"no probe is named '{probe}' (probes: {known})")
    if "threshold" in slo:
        yield doc.problem(
            f"{path}.threshold", "an SLO measured by a probe counts failed probes; a latency threshold needs requests"
        )


def _slo_problems(doc: Document, base: str, service: dict[str, Any], probes: set[str]) -> Iterator[Problem]:
    http = service["http"] if isinstance(service.get("http"), dict) else None
    for index, slo in named(service.get("slos")):
        path = f"{base}.slos[{index}]"
        if "probe" in slo:
            yield from _probe_problems(doc, path, slo, probes)
        elif http is None:
            yield doc.problem(
                path,
                "an SLO needs the service's http metrics (add http: {requests: ..., duration: ...}) "
                "or a probe that measures it (probe: <name of a blackbox probe>)",
            )
            continue
        threshold = slo.get("threshold")
        if threshold is not None and http is not None and not http.get("duration"):
            yield doc.problem(f"{path}.threshold", "a latency SLO needs http.duration (a histogram metric name)")
        objective = slo.get("objective")
        if isinstance(objective, (int, float)) and not isinstance(objective, bool) and 0 < objective < 100:
            budget = 1 - Decimal(str(objective)) / 100
            period = slo["period"] if isinstance(slo.get("period"), str) else conventions.DEFAULT_SLO_PERIOD
            fastest = Decimal("14.4") * Decimal(duration_ms(period) or 1) / Decimal(2592000000)
            if fastest * budget >= 1:
                yield doc.problem(
                    f"{path}.objective",
                    f"an objective of {objective} leaves so much error budget that the {fastest:.4g}x burn-rate "
                    f"alert can never fire; use an objective above {100 * (1 - 1 / fastest):.4g}",
                )
