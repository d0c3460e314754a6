"""A pack rule may apply on some runtimes only (`runtimes:` in its pack): NodeNetworkErrors watches the
host's interfaces, which node-exporter sees as a host process (local) but not from its own network
namespace in a container (compose)."""

from __future__ import annotations

from pathlib import Path

import yaml

from generator.render import Target, render
from generator.spec import load_stack


def _alerts(tree_files: dict[str, str], path: str) -> set[str]:
    data = yaml.safe_load(tree_files[path])
    return {r["alert"] for g in data["groups"] for r in g["rules"] if "alert" in r}


def _subjects(tree_files: dict[str, str], path: str) -> set[str]:
    data = yaml.safe_load(tree_files[path])
    return {case["alertname"] for t in data["tests"] for case in t["alert_rule_test"]}


def test_node_network_errors_only_where_node_exporter_sees_the_host(write_spec) -> None:  # type: ignore[no-untyped-def]
    spec: Path = write_spec({"exporters": {"node": {}}})
    stack = load_stack(spec)
    rules, tests = "prometheus/rules/node-exporter.yml", "prometheus/tests/node-exporter.yml"
    local = render(stack, Target(runtime="local", root="/srv/promstack")).files
    compose = render(stack, Target(runtime="compose")).files
    assert "NodeNetworkErrors" in _alerts(local, rules) and "NodeNetworkErrors" in _subjects(local, tests)
    assert "NodeNetworkErrors" not in _alerts(compose, rules)
    assert "NodeNetworkErrors" not in _subjects(compose, tests)
    assert "NodeHighCpuLoad" in _alerts(compose, rules)  # the rest of the pack stays
