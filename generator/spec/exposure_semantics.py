"""Semantic checks of what listens where: a component is published beyond 127.0.0.1 only behind the
authentication it enforces, and no two components of the stack take the same host port."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from generator import catalog, conventions
from generator.errors import Problem
from generator.spec.items import mapping, named
from generator.spec.loader import Document


def _components(data: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    components = mapping(data, "components")
    for key, value in components.items():
        if isinstance(value, dict):
            yield key, f"$.components.{key}", value
    exporters = mapping(data, "exporters")
    for key, value in exporters.items():
        if isinstance(value, dict):
            yield conventions.EXPORTERS.get(key, key), f"$.exporters.{key}", value


def exposure_problems(doc: Document, data: dict[str, Any]) -> Iterator[Problem]:
    """Exposure is real or refused: published beyond 127.0.0.1 only behind authentication the component
    enforces itself (its catalog entry's `auth`); a component that cannot enforce any takes neither."""
    for name, path, value in _components(data):
        if name not in catalog.entries():
            continue
        if not catalog.enforces_auth(name):
            for key in ("expose", "auth"):
                if key in value and value[key] not in (False, None):
                    yield doc.problem(
                        f"{path}.{key}",
                        f"{name} cannot enforce authentication, so promstack keeps it on 127.0.0.1 and the "
                        f"stack's own network; remove {key} (to reach it from elsewhere, put a proxy that "
                        "checks credentials in front of it)",
                    )
            continue
        if value.get("expose") is True and catalog.entry(name).auth != "login":
            auth = value.get("auth")
            if not (isinstance(auth, dict) and auth.get("basic")):
                yield doc.problem(
                    f"{path}.expose",
                    f"exposing {name} beyond 127.0.0.1 needs authentication: add "
                    "auth: {basic: {username: ..., password: {env: ...}}} (and tls: {cert: ..., key: ...})",
                )


def _listeners(data: dict[str, Any]) -> Iterator[tuple[str, str, int, bool]]:
    """(component, spec path, host port, explicitly set) of everything that will listen on a port."""
    running = [
        (name, path, value)
        for name, path, value in _components(data)
        if name in catalog.entries() and catalog.entry(name).image is not None
    ]
    for name in conventions.CORE:
        if name not in {n for n, _, _ in running}:
            running.append((name, f"$.components.{name}", {}))
    demo = mapping(data, "demo")
    if demo.get("enabled") is True:
        running.append(("demo", "$.demo", demo))
    receivers = mapping(data, "notifications").get("receivers")
    for kind, name in catalog.adapters().items():
        if any(kind in r for _, r in named(receivers)) and name not in {n for n, _, _ in running}:
            running.append((name, "$.notifications.receivers", {}))
    for name, path, value in running:
        if catalog.entry(name).spec.can_disable and value.get("enabled") is False:
            continue
        port = value.get("port")
        if isinstance(port, int) and not isinstance(port, bool):
            yield name, f"{path}.port", port, True
        else:
            yield name, path, catalog.entry(name).port, False


def port_problems(doc: Document, data: dict[str, Any]) -> Iterator[Problem]:
    # defaults first, so a clash is reported at the port someone wrote, not at a default nobody wrote
    listeners = sorted(_listeners(data), key=lambda item: item[3])
    seen: dict[int, tuple[str, bool]] = {}
    for name, path, port, explicit in listeners:
        if port in seen and explicit:
            other, other_explicit = seen[port]
            whose = other if other_explicit else f"{other} (its default port)"
            yield doc.problem(path, f"port {port} is already used by {whose}; choose another")
        seen.setdefault(port, (name, explicit))
