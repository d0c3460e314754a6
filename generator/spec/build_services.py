"""Stage `build`, the services part: `services[]` (and the demo, scraped like one) into `Service`s, with
their SLOs (an SLO measured by a probe resolves the probe here) and declared metrics."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from generator import catalog, conventions
from generator.model import SLO, Component, DeclaredMetric, HttpMetrics, ProbeSLI, Service
from generator.spec import build_kubernetes
from generator.units import Duration


def _duration(text: str | None) -> Duration | None:
    return Duration(text) if text is not None else None


def _slo(spec: dict[str, Any], probes: Mapping[str, ProbeSLI]) -> SLO:
    threshold = spec.get("threshold")
    probe = probes[spec["probe"]] if "probe" in spec else None
    return SLO(
        name=spec["name"],
        kind="probe" if probe else "latency" if threshold else "availability",
        objective=Decimal(str(spec["objective"])),
        period=Duration(spec.get("period", conventions.DEFAULT_SLO_PERIOD)),
        threshold=_duration(threshold),
        description=spec.get("description", ""),
        probe=probe,
    )


def _probe_slis(components: Mapping[str, Component]) -> dict[str, ProbeSLI]:
    """Every probe of the stack by name, as an SLO counts its results (the job and success metric of its
    component's catalog entry: `scrape.probes`)."""
    found = {}
    for component in components.values():
        shape = catalog.entry(component.name).scrape.get("probes") or {}
        for probe in component.probes:
            job = str(shape["job"]).format(name=probe.name)
            found[probe.name] = ProbeSLI(probe.name, job, str(shape["success"]), probe.interval)
    return found


def _service(
    spec: dict[str, Any], default_interval: Duration, probes: Mapping[str, ProbeSLI], namespace: str
) -> Service:
    http = spec.get("http")
    return Service(
        name=spec["name"],
        targets=tuple(spec.get("targets", ())),
        metrics_path=spec.get("metrics_path", "/metrics"),
        scheme=spec.get("scheme", "http"),
        interval=_duration(spec.get("interval")) or default_interval,
        labels=dict(spec.get("labels", {})),
        http=HttpMetrics(
            http["requests"],
            http.get("duration"),
            http.get("errors", conventions.DEFAULT_HTTP_ERRORS),
            Decimal(str(http.get("quantile", conventions.DEFAULT_LATENCY_QUANTILE))),
        )
        if http
        else None,
        slos=tuple(_slo(s, probes) for s in spec.get("slos", ())),
        metrics=_declared(spec.get("metrics", ())),
        kubernetes=build_kubernetes.service(spec.get("kubernetes"), namespace),
    )


def _declared(metrics: Any) -> tuple[DeclaredMetric, ...]:
    return tuple(
        DeclaredMetric(m["name"], m["type"], m.get("help", ""), m.get("unit", ""), tuple(m.get("labels", ())))
        for m in metrics
    )


def services(
    data: dict[str, Any], interval: Duration, components: Mapping[str, Component], namespace: str
) -> tuple[Service, ...]:
    """`namespace`: the stack's Kubernetes namespace, where a service's Service is unless it names another."""
    probes = _probe_slis(components)
    services = [_service(s, interval, probes, namespace) for s in data.get("services", ())]
    demo = data.get("demo") or {}
    if demo.get("enabled"):
        # the demo is scraped like a team service, so its RED panels, SLO rules and alerts are real
        services.append(
            Service(
                name="demo",
                targets=(),
                metrics_path="/metrics",
                scheme="http",
                interval=interval,
                labels={"team": "demo"},
                component="demo",
                http=HttpMetrics(
                    "demo_http_requests_total",
                    "demo_http_request_duration_seconds",
                    conventions.DEFAULT_HTTP_ERRORS,
                    conventions.DEFAULT_LATENCY_QUANTILE,
                ),
                slos=tuple(_slo(s, probes) for s in demo.get("slos", DEMO_SLOS)),
                metrics=_declared(conventions.DEMO_METRICS),
            )
        )
    return tuple(services)


DEMO_SLOS = ({"name": "availability", "objective": 99}, {"name": "latency", "objective": 95, "threshold": "500ms"})
