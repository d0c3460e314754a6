"""Assembler `kubernetes`: the whole rendering as Kubernetes resources, under kubernetes/ (`--runtime kubernetes`).

prometheus-operator resources and core objects, built from what the first phase rendered for the
kubernetes target (the same rules, alertmanager.yml, dashboards and scrape jobs as compose and local), one
YAML file per concern, numbered in the order `kubectl apply -f DIR/kubernetes` must create them:

  00-namespace.yaml            the stack's namespace
  01-rbac-<component>.yaml     ServiceAccount, ClusterRole and binding (catalog `kubernetes.rbac`)
  10-prometheus.yaml           Prometheus and its Service          (render/kubernetes_operator.py)
  10-alertmanager.yaml         its config Secret, Alertmanager, its Service
  20-<component>.yaml          a workload promstack runs            (render/kubernetes_workloads.py)
  30-scrape-<job>.yaml         ServiceMonitor, Probe, ScrapeConfig  (render/kubernetes_scrape.py)
  40-rules-<file>.yaml         a PrometheusRule per rule file
  50-grafana-*.yaml, 50-dashboard-*.yaml   ConfigMaps for the cluster's Grafana (render/kubernetes_grafana.py)
  README.md                    how to apply them, and the keys the stack's Secret must hold

It packages the rendering (Tree.packages): nothing else is written, and no secret value is in any file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from generator import catalog, conventions, yamlload
from generator.errors import PromstackError
from generator.kubernetes import names
from generator.model import SecretRef, Stack
from generator.render import Target, Tree, dump_yaml, header, kubernetes_storage
from generator.render.kubernetes_grafana import grafana_resources
from generator.render.kubernetes_operator import alertmanager_resources, prometheus, prometheus_rule
from generator.render.kubernetes_scrape import component_resources, service_resources
from generator.render.kubernetes_workloads import rbac, secret_key, workload

_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).resolve().parent.parent / "templates"),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
    autoescape=False,
)


@dataclass(frozen=True)
class SecretKey:
    """A key of the stack's Secret: what reads it, and the file `kubectl create secret --from-file` takes
    it from ("" for a variable, which `--from-env-file` takes from the .env compose reads)."""

    what: str
    file: str = ""


def runs_in_cluster(stack: Stack) -> list[str]:
    """The components promstack renders a workload for, in catalog order."""
    return [
        name
        for name, component in stack.components.items()
        if component.runs and catalog.entry(name).kubernetes.run == "workload"
    ]


def _documents(objects: list[dict[str, Any]], stack: Stack) -> str:
    return f"# {header(stack)}\n" + "".join(f"---\n{dump_yaml(obj)}" for obj in objects)


def _rule_resources(stack: Stack, first: Tree) -> dict[str, list[dict[str, Any]]]:
    """A PrometheusRule per rendered rule file (a service's own, in `rules/service/` and `rules/slo/`,
    included), holding exactly its groups (read back from its text)."""
    prefix = f"{conventions.PROMETHEUS_RULES_DIR}/"
    found = {}
    for path, text in sorted(first.files.items()):
        if path.startswith(prefix) and path.endswith(".yml"):
            stem = path.removeprefix(prefix).removesuffix(".yml")
            groups = (yamlload.safe_load(text) or {}).get("groups", [])
            found[f"40-rules-{names.dns(stem)}"] = [prometheus_rule(stack, path, groups)]
    return found


def resources(stack: Stack, target: Target, first: Tree) -> dict[str, list[dict[str, Any]]]:
    """{file stem under kubernetes/: its objects}, in the order they are applied."""
    namespace = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": names.namespace(stack), "labels": {names.LABEL_STACK: stack.name, **names.MANAGED_BY}},
    }
    files: dict[str, list[dict[str, Any]]] = {"00-namespace": [namespace]}
    workloads = runs_in_cluster(stack)
    for name in stack.components:
        kube = catalog.entry(name).kubernetes
        if kube.rbac and (name in workloads or kube.run == "operator"):
            files[f"01-rbac-{name}"] = rbac(stack, name)
    files["10-prometheus"] = prometheus(stack, target)
    files["10-alertmanager"] = alertmanager_resources(stack, target, first)
    for name in workloads:
        files[f"20-{name}"] = workload(stack, stack.components[name], target, first)
    as_service = {s.component for s in stack.services if s.component}
    for name, component in stack.components.items():
        if name not in as_service:
            found = component_resources(stack, component, target)
            if found:
                files[f"30-scrape-{name}"] = found
    for service in stack.services:
        files[f"30-scrape-{names.dns(service.name)}"] = service_resources(stack, service, target)
    files.update(_rule_resources(stack, first))
    files.update({f"50-{stem}": objects for stem, objects in grafana_resources(stack, target).items()})
    _unique(files)
    return files


def _unique(files: Mapping[str, list[dict[str, Any]]]) -> None:
    """Two objects of one kind and name would overwrite each other in the cluster: refuse (spec names
    that differ only in '_' and '-' become the same Kubernetes name)."""
    seen: dict[tuple[str, str, str], str] = {}
    for stem, objects in files.items():
        for obj in objects:
            key = (obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
            if key in seen:
                raise PromstackError(
                    f"two {key[0]} resources are both named {key[2]!r} ({seen[key]}.yaml and {stem}.yaml): rename "
                    "one of the spec names they come from (Kubernetes names turn '_' into '-')"
                )
            seen[key] = stem


def secret_keys(stack: Stack, first: Tree) -> dict[str, SecretKey]:
    """The keys the stack's Secret must hold, and where each value comes from (for README.md)."""
    keys: dict[str, SecretKey] = {}

    def add(ref: SecretRef, what: str) -> None:
        keys.setdefault(names.key(ref), SecretKey(f"{ref.describe()}: {what}", ref.file or ""))

    for receiver in stack.notifications.receivers:
        for kind, settings in receiver.integrations.items():
            for value in settings.values():
                if isinstance(value, SecretRef):  # the DingTalk adapter reads its receivers' too, one file each
                    add(value, f"receiver {receiver.name}, {kind}")
    smtp = stack.notifications.smtp
    if smtp is not None and smtp.password is not None:
        add(smtp.password, "SMTP password")
    for ref, what in kubernetes_storage.secret_refs(stack):
        add(ref, what)
    for name in runs_in_cluster(stack):
        for var, ref in sorted(first.env.get(name, {}).items()):
            add(ref, f"{name}, ${var}")
        for path, secret in sorted(first.secrets.items()):
            if not path.startswith((f"{name}/", f"{conventions.SECRETS_DIR}/{name}/")):
                continue
            key = secret_key(name, path, secret)
            if key == names.file_key(name, path):
                refs = ", ".join(sorted(names.key(ref) for ref in secret.values.values()))
                what = f"{name}'s {path.rsplit('/', 1)[-1]}, which holds {refs}"
                keys.setdefault(key, SecretKey(what, f"OUT/{path}"))
    return dict(sorted(keys.items()))


def _notes(stack: Stack, files: Mapping[str, list[dict[str, Any]]], keys: Mapping[str, SecretKey]) -> str:
    return _TEMPLATES.get_template("kubernetes-readme.md.j2").render(
        header=header(stack),
        stack=stack.name,
        namespace=names.namespace(stack),
        secret=names.secret(stack),
        keys=keys,
        folder=names.FOLDER,
        files={f"{stem}.yaml": [f"{o['kind']} {o['metadata']['name']}" for o in objs] for stem, objs in files.items()},
    )


def render_after(stack: Stack, target: Target, first: Tree) -> Tree:
    if target.runtime != names.RUNTIME:
        return Tree()
    files = resources(stack, target, first)
    tree = Tree(packages=True)
    for stem, objects in files.items():
        tree.files[f"{names.FOLDER}/{stem}.yaml"] = _documents(objects, stack)
    tree.files[names.NOTES] = _notes(stack, files, secret_keys(stack, first))
    return tree
