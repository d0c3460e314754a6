"""The spec's JSON Schema: `base.schema.json` plus one part per catalog component.

The `components:` and `exporters:` sections are made from the catalog (`spec:` in
`compose/<name>.yaml`), so adding an exporter adds its spec keys without touching this package.
`promstack schema -o FILE` writes the whole schema for editors (`# yaml-language-server: $schema=FILE`);
`scripts/install.sh` writes it to `generator/spec/stack.schema.json`, where the examples point.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

from generator import catalog

BASE_PATH = Path(__file__).with_name("base.schema.json")


def _component(entry: catalog.Entry, defs: dict[str, Any]) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    if entry.image is not None:  # it runs: where from, on which port, exposed or not, with what memory
        properties.update(copy.deepcopy(defs["run_properties"]["properties"]))
    if entry.spec.section == "exporters":
        properties["interval"] = {"$ref": "#/$defs/duration"}
    if entry.spec.args:
        properties["args"] = {"$ref": "#/$defs/component_args"}
    properties.update(copy.deepcopy(entry.spec.properties))
    if entry.spec.section == "components" and not entry.spec.receiver:  # an adapter has no page to link to
        properties["url"] = {"$ref": "#/$defs/component_url"}
    part: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": properties}
    if entry.spec.required:
        part["required"] = list(entry.spec.required)
    return part


@cache
def _schema_text() -> str:
    full: dict[str, Any] = json.loads(BASE_PATH.read_text())
    sections = {"components": full["properties"]["components"], "exporters": full["properties"]["exporters"]}
    for section in sections.values():
        section.pop("description", None)
    for entry in catalog.entries().values():
        section_name = entry.spec.section
        if section_name in sections:
            key = entry.spec.key or entry.name
            sections[section_name]["properties"][key] = _component(entry, full["$defs"])
    return json.dumps(full, indent=2) + "\n"


def schema() -> dict[str, Any]:
    """The whole schema, a fresh copy each time (callers may not change the cached one)."""
    loaded: dict[str, Any] = json.loads(_schema_text())
    return loaded


def text() -> str:
    return _schema_text()
