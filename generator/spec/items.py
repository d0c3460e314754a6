"""Reading a loaded spec for the semantic checks, which also run on documents the schema rejected: every
value may have any type, so these yield only the entries of the shape a check reads."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from generator import conventions
from generator.errors import Problem
from generator.spec.loader import Document


def mapping(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def optional_components(data: dict[str, Any]) -> Iterator[tuple[str, str, Any]]:
    """(component, spec path, its value) of every optional component the spec names: each exporter
    under `exporters:` (unknown keys too: the schema reports them) and each catalog store under
    `storage:` (beside `remote_write`)."""
    for section, names in conventions.OPTIONAL.items():
        for key, value in mapping(data, section).items():
            if key in names or section == "exporters":
                yield names.get(key, key), f"$.{section}.{key}", value


def named(items: Any) -> Iterator[tuple[int, dict[str, Any]]]:
    if isinstance(items, list):
        for index, item in enumerate(items):
            if isinstance(item, dict):
                yield index, item


def duplicates(doc: Document, base: str, items: Any, what: str) -> Iterator[Problem]:
    seen: dict[str, int] = {}
    for index, item in named(items):
        name = item.get("name") if "alert" not in item else item.get("alert")
        if not isinstance(name, str):
            continue
        if name in seen:
            yield doc.problem(
                f"{base}[{index}].{'alert' if 'alert' in item else 'name'}",
                f"duplicate {what} '{name}' (also {base}[{seen[name]}])",
            )
        else:
            seen[name] = index


def strings(items: Any) -> Iterator[tuple[int, str]]:
    """The string entries of a list (anything else was reported by the schema already)."""
    if isinstance(items, list):
        for index, item in enumerate(items):
            if isinstance(item, str):
                yield index, item
