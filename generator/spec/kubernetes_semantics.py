"""Semantic checks that depend on where the stack runs: what only a cluster can run or scrape.

On compose and local, a service is scraped at its `targets`, so one that only names a Kubernetes Service
has nothing to scrape there; a component that runs only on Kubernetes (catalog `kubernetes.only`:
kube-state-metrics) can be scraped there only at `targets` where one already runs."""

from __future__ import annotations

from collections.abc import Iterator

from generator import catalog, conventions
from generator.errors import Problem
from generator.spec.items import mapping, named
from generator.spec.loader import Document

KUBERNETES = "kubernetes"


def kubernetes_problems(doc: Document, runtime: str) -> Iterator[Problem]:
    data = doc.data if isinstance(doc.data, dict) else {}
    for index, service in named(data.get("services")):
        if "targets" in service:
            continue
        if "kubernetes" not in service:
            yield doc.problem(
                f"$.services[{index}]",
                "a service needs targets (host:port of its instances) or kubernetes (the Service in front of its "
                "pods, for --runtime kubernetes)",
            )
        elif runtime != KUBERNETES:
            yield doc.problem(
                f"$.services[{index}].kubernetes",
                f"service '{service.get('name')}' has no targets: on the {runtime} runtime a service is scraped "
                "at host:port targets (kubernetes: only names its Service in a cluster); add targets, or "
                "generate for Kubernetes (--runtime kubernetes)",
            )
    if runtime == KUBERNETES:
        return
    for key, spec in mapping(data, "exporters").items():
        name = conventions.EXPORTERS.get(key)
        if name is None or not catalog.entry(name).kubernetes.only:
            continue
        if isinstance(spec, dict) and spec.get("targets"):
            continue
        yield doc.problem(
            f"$.exporters.{key}",
            f"{name} runs only on Kubernetes (promstack generate --runtime kubernetes); on the {runtime} "
            f"runtime give it targets: [host:port] where one already runs, and it is scraped there",
        )
