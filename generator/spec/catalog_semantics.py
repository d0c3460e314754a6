"""Semantic checks that need the catalog: dashboard names, receiver kinds the chosen Alertmanager supports,
receiver adapters set up only where a receiver uses them."""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Any

from generator import catalog, conventions
from generator.errors import Problem
from generator.spec.loader import Document


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
