"""Stage `build`, the Kubernetes part: the stack's namespace and the Service each service names there."""

from __future__ import annotations

import re
from typing import Any

from generator.model import Kubernetes, KubernetesService


def kubernetes(data: dict[str, Any], env: str | None = None) -> Kubernetes:
    """`kubernetes:`; the namespace defaults to the stack's name made a Kubernetes name ('_' becomes '-'),
    and for an environment of the spec (`--env staging`) to `<name>-<environment>`, as it deploys elsewhere:
    two environments never share a namespace by default."""
    spec = data.get("kubernetes") or {}
    name = f"{data['name']}-{env}" if env else str(data["name"])
    default = re.sub(r"[^a-z0-9-]", "-", name).strip("-")[:63].strip("-") or "promstack"
    return Kubernetes(namespace=str(spec.get("namespace", default)))


def service(spec: dict[str, Any] | None, stack_namespace: str) -> KubernetesService | None:
    """`services[].kubernetes`, its namespace the stack's unless it names one."""
    if not spec:
        return None
    port = spec["port"]
    return KubernetesService(
        service=str(spec["service"]),
        namespace=str(spec.get("namespace", stack_namespace)),
        port=port if isinstance(port, int) else str(port),
    )
