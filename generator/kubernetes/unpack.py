"""The configs inside a Kubernetes rendering, laid out as the output contract (prometheus/rules/*.yml,
alertmanager/alertmanager.yml and its templates, grafana/...), so the checks that prove a compose or local
tree (promtool, amtool, the lints) prove what the resources hold, read back from their YAML.

Each PrometheusRule and Grafana ConfigMap names the file it holds (annotation `promstack.dev/source`);
the Alertmanager config Secret holds alertmanager.yaml and the templates. The rule tests are not
resources (nothing in a cluster runs them): they come from the rendering's provenance, as rendered for
the kubernetes target, and read the rule files unpacked beside them.
"""

from __future__ import annotations

from typing import Any

from generator import conventions, yamlload
from generator.kubernetes import names
from generator.model import Stack
from generator.render import Tree, dump_yaml

SOURCE = names.SOURCE


def objects(tree: Tree) -> list[tuple[str, dict[str, Any]]]:
    """(file, object) of every resource of a Kubernetes rendering, in file order."""
    found: list[tuple[str, dict[str, Any]]] = []
    for path, text in sorted(tree.files.items()):
        if path.startswith(f"{names.FOLDER}/") and path.endswith(".yaml"):
            found.extend((path, obj) for obj in yamlload.safe_load_all(text) if obj)
    return found


def _template_path(key: str) -> str:
    return f"{conventions.ALERTMANAGER_TEMPLATES_DIR}/{key.removeprefix('templates-')}"


def unpack(stack: Stack, tree: Tree) -> Tree:
    """`tree` (a Kubernetes rendering) with the configs its resources hold as files beside them."""
    out = Tree(
        files=dict(tree.files),
        rules=list(tree.rules),
        rule_tests=list(tree.rule_tests),
        dashboards=dict(tree.dashboards),
    )
    for _, obj in objects(tree):
        source = (obj["metadata"].get("annotations") or {}).get(SOURCE)
        if obj["kind"] == "PrometheusRule" and source:
            out.files[source] = dump_yaml({"groups": obj["spec"]["groups"]}, stack)
        elif obj["kind"] == "ConfigMap" and source:
            (text,) = obj["data"].values()
            out.files[source] = text
        elif obj["kind"] == "Secret" and names.ALERTMANAGER_CONFIG_KEY in obj.get("stringData", {}):
            for key, text in obj["stringData"].items():
                path = conventions.ALERTMANAGER_CONFIG if key == names.ALERTMANAGER_CONFIG_KEY else _template_path(key)
                out.files[path] = text
    for test_file in tree.rule_tests:
        out.files[test_file.path] = dump_yaml(test_file.data(stack), stack)
        for rel, data in test_file.fixtures.items():
            out.files[f"{test_file.path.rsplit('/', 1)[0]}/{rel}"] = dump_yaml(data, stack)
    return out
