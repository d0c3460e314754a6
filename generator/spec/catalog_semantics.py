"""Semantic checks that need the catalog: dashboard names, receiver kinds the chosen Alertmanager supports,
receiver adapters set up only where a receiver uses them, and the bounds a component's own duration keys
set (`x-min`, `x-step` in its catalog `spec.properties`)."""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Any

from generator import catalog, conventions
from generator.errors import Problem
from generator.spec.items import optional_components
from generator.spec.loader import Document
from generator.units import duration_ms


def dashboard_names() -> set[str]:
    views = {p.name.removesuffix(".dashboard.py") for p in catalog.folder("dashboards").glob("*.dashboard.py")}
    return views | set(conventions.DASHBOARD_UIDS)


def _alertmanager_version(data: dict[str, Any]) -> tuple[int, int] | None:
    components = data.get("components")
    spec = components.get("alertmanager") if isinstance(components, dict) else None
    if not isinstance(spec, dict):
        spec = {}
    tag = spec.get("version")
    if not isinstance(tag, str):
        image = spec.get("image")
        tag = catalog.image_tag(image) if isinstance(image, str) else catalog.entry("alertmanager").tag
    return catalog.tag_version(tag)


def _named(data: dict[str, Any]) -> Iterator[tuple[str, str, Any]]:
    components = data.get("components")
    for name in conventions.CORE:
        value = components.get(name) if isinstance(components, dict) else None
        yield name, f"$.components.{name}", value
    yield from optional_components(data)


def _bounds(doc: Document, data: dict[str, Any]) -> Iterator[Problem]:
    """Durations of a component's own keys within the bounds its catalog entry sets: `x-min` (at least)
    and `x-step` (a whole number of it), e.g. VictoriaMetrics' retention: whole hours, at least a day."""
    for name, path, value in _named(data):
        if name not in catalog.entries() or not isinstance(value, dict):
            continue
        for key, schema in catalog.entry(name).spec.properties.items():
            given = value.get(key)
            length = duration_ms(given) if isinstance(given, str) else None
            if length is None:
                continue
            least, step = schema.get("x-min"), schema.get("x-step")
            if least and length < (duration_ms(least) or 0):
                yield doc.problem(f"{path}.{key}", f"{key} {given} is too short for {name}: at least {least}")
            elif step and length % (duration_ms(step) or 1):
                yield doc.problem(f"{path}.{key}", f"{name} takes {key} in whole {step} steps, not {given}")


def _adapter_problems(doc: Document, data: dict[str, Any], receivers: list[Any]) -> Iterator[Problem]:
    """A receiver's adapter (catalog `spec.receiver`) is set up under `components` only where it runs."""
    components = data.get("components")
    if not isinstance(components, dict):
        return
    for kind, name in catalog.adapters().items():
        if name in components and not any(isinstance(r, dict) and kind in r for r in receivers):
            yield doc.problem(
                f"$.components.{name}",
                f"no receiver uses {kind}, so there is no {name} adapter to set up; remove it or add a "
                f"receiver with {kind}: {{...}}",
            )


def catalog_problems(doc: Document) -> Iterator[Problem]:
    data = doc.data if isinstance(doc.data, dict) else {}
    yield from _bounds(doc, data)
    dashboards = data.get("dashboards")
    excluded = dashboards.get("exclude") if isinstance(dashboards, dict) else None
    if isinstance(excluded, list):
        known = sorted(dashboard_names())
        for index, name in enumerate(excluded):
            if isinstance(name, str) and name not in known:
                guess = difflib.get_close_matches(name, known, n=1)
                hint = f"did you mean '{guess[0]}'?" if guess else f"known: {', '.join(known)}"
                yield doc.problem(f"$.dashboards.exclude[{index}]", f"unknown dashboard '{name}'; {hint}")
    notifications = data.get("notifications")
    receivers = notifications.get("receivers") if isinstance(notifications, dict) else None
    yield from _adapter_problems(doc, data, receivers if isinstance(receivers, list) else [])
    if not isinstance(receivers, list):
        return
    version = _alertmanager_version(data)
    for index, receiver in enumerate(receivers):
        if (
            isinstance(receiver, dict)
            and "msteams" in receiver
            and version is not None
            and version < conventions.MSTEAMS_MIN_ALERTMANAGER
        ):
            yield doc.problem(
                f"$.notifications.receivers[{index}].msteams",
                f"msteams needs Alertmanager 0.28 or newer, but this stack runs {version[0]}.{version[1]}; "
                "use the pinned version or another receiver kind",
            )
