"""The catalog drives every component: its schema part, command line and compose service come from
compose/<name>.yaml, and the code never asks for a component by name."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from generator import catalog, conventions, pipeline
from generator.cli import app
from generator.render import Target, args
from generator.spec import load_stack
from generator.spec.schema import schema

ROOT = Path(__file__).resolve().parent.parent


def test_no_component_is_asked_for_by_name() -> None:
    names = "|".join(re.escape(n) for n in catalog.entries())
    asked = re.compile(rf"""(name|component|\.name)\s*(==|!=)\s*["']({names})["']""")
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sorted((ROOT / "generator").rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if asked.search(line)
    ]
    assert not found, found


def test_the_schema_has_a_part_for_every_catalog_component() -> None:
    full = schema()
    for name, entry in catalog.entries().items():
        if entry.spec.section is None:
            continue
        part = full["properties"][entry.spec.section]["properties"][entry.spec.key or name]
        assert set(entry.spec.properties) <= set(part["properties"]), name
        assert part["additionalProperties"] is False
        assert ("image" in part["properties"]) == (entry.image is not None), name
    assert set(full["properties"]["exporters"]["properties"]) == set(conventions.EXPORTERS)


def test_schema_command_writes_what_validation_uses(tmp_path: Path) -> None:
    out = tmp_path / "stack.schema.json"
    result = CliRunner().invoke(app, ["schema", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text()) == schema()
    link = tmp_path / "link.json"
    link.symlink_to(tmp_path / "elsewhere.json")
    refused = CliRunner().invoke(app, ["schema", "-o", str(link)])
    assert refused.exit_code == 1 and "symlink" in refused.output
    assert not (tmp_path / "elsewhere.json").exists()


@pytest.mark.parametrize("runtime", ["compose", "local"])
def test_every_catalog_template_renders_for_the_large_example(runtime: str) -> None:
    """Each running component of the large example gets a command line and environment with no
    template left in them, and every flag is a real flag or value (nothing renders as 'None')."""
    stack = load_stack(ROOT / "stack" / "examples" / "large.yaml")
    target = Target(runtime, "/srv/promstack")
    for name, component in stack.components.items():
        if not component.runs:
            continue
        data = f"/srv/data/{name}" if runtime == "local" else None
        words = [*args.command(stack, name, target, data), *args.environment(stack, name, target, data).values()]
        assert all("{{" not in w and "{%" not in w and "None" not in w for w in words), (name, words)


def test_a_stack_with_every_exporter_passes_every_check(write_spec: Callable[..., Path]) -> None:
    """Every catalog exporter and long-term store, as its example shows, through the real tools: promtool
    (config, rules and the pack's tests), amtool, rule lint, dashboard lint and the compose check."""
    spec = write_spec(**catalog.every_optional())
    passed = pipeline.check_spec(spec).passed
    assert {"prometheus/config", "rules/test", "rules/lint", "dashboards/lint"} <= set(passed), passed


def test_panel_links_keep_the_time_range() -> None:
    """At schemaVersion 42 Grafana ignores keepTime on panel links: the range must be in the URL."""
    tree = pipeline.render_spec(ROOT / "stack" / "examples" / "large.yaml").tree
    links = [
        link
        for path, text in tree.files.items()
        if path.endswith(".json") and "dashboards" in path
        for panel in json.loads(text)["panels"]
        for link in panel.get("links", [])
    ]
    assert links
    assert all("${__url_time_range}" in link["url"] and "keepTime" not in link for link in links), links
