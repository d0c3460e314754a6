"""Names the Kubernetes rendering and its readers agree on: the namespace, the stack's Secret and the key
each secret reference takes in it, resource labels, file names. No value of a secret ever appears here:
a reference becomes the name of a key that the user fills (README "Kubernetes")."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from generator.model import SecretRef, Stack

RUNTIME = "kubernetes"
FOLDER = "kubernetes"  # DIR/kubernetes/: what `kubectl apply -f` reads (DIR's own .promstack.json is no resource)
NOTES = f"{FOLDER}/README.md"  # how to apply it and which Secret keys the stack reads (kubectl skips .md)
# labels on every resource promstack renders, and the selector the Prometheus resource uses for them
LABEL_STACK = "promstack.dev/stack"
LABEL_COMPONENT = "promstack.dev/component"
LABEL_PART_OF = "app.kubernetes.io/part-of"
LABEL_NAME = "app.kubernetes.io/name"
MANAGED_BY = {"app.kubernetes.io/managed-by": "promstack"}
# kube-prometheus-stack's Grafana sidecars load ConfigMaps with these labels (its default values)
GRAFANA_DASHBOARD_LABEL = "grafana_dashboard"
GRAFANA_DATASOURCE_LABEL = "grafana_datasource"
GRAFANA_FOLDER_ANNOTATION = "grafana_folder"  # the sidecar's folderAnnotation, where it is set
ALERTMANAGER_CONFIG_KEY = "alertmanager.yaml"  # the key the operator reads from spec.configSecret
SOURCE = "promstack.dev/source"  # annotation: the rendered file a resource holds (kubernetes.unpack reads it)
PORT_NAME = "http"  # the name of every Service port promstack renders (ServiceMonitors select it)
_KEY = re.compile(r"[^-._a-zA-Z0-9]+")


def namespace(stack: Stack) -> str:
    return stack.kubernetes.namespace


def secret(stack: Stack) -> str:
    """The Secret the stack's secrets live in; the user creates it (the rendering only refers to it)."""
    return f"{dns(stack.name)}-secrets"


def key(ref: SecretRef) -> str:
    """The key of the stack's Secret that holds `ref`'s value: the variable's own name for `{env: NAME}`
    (so `kubectl create secret generic --from-env-file` fills them from the same .env as compose), the
    path with anything but letters, digits, '-', '_' and '.' made '-' for `{file: PATH}`."""
    if ref.env:
        return ref.env
    text = ref.file or ref.generated or ""
    return _KEY.sub("-", text).strip("-.") or "secret"


def file_key(component: str, path: str) -> str:
    """The key holding a whole secret file promstack assembles from several references (mysqld-exporter's
    my.cnf): `<component>.<file name>`."""
    return f"{component}.{path.rsplit('/', 1)[-1]}"


def config_key(rel: str) -> str:
    """A rendered file `<component>/<rel>` as the key of a ConfigMap or Secret, which cannot hold '/':
    every config file of a component sits in one folder of its pod."""
    return rel.replace("/", "-")


def labels(stack: Stack, component: str) -> dict[str, str]:
    return {LABEL_STACK: stack.name, LABEL_COMPONENT: component, LABEL_NAME: component, LABEL_PART_OF: "promstack"}


def selector(stack: Stack) -> dict[str, dict[str, str]]:
    """How the Prometheus resource picks the stack's monitors, probes, scrape configs and rules."""
    return {"matchLabels": {LABEL_STACK: stack.name}}


def in_cluster(stack: Stack) -> Stack:
    """`stack` as it runs in a cluster: every component is reached through its ClusterIP Service, so the
    settings that protect or publish a port on a host (`auth`, `port`, `expose`) do not apply; the
    kubernetes check says which of them the spec sets (an Ingress with authentication publishes a UI)."""
    return replace(stack, components={n: replace(c, auth=None, expose=False) for n, c in stack.components.items()})


def dns(name: str) -> str:
    """`name` as a Kubernetes object name (lower-case letters, digits and '-'): spec names may hold '_'."""
    return re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-") or "promstack"


OPERATOR_API = "monitoring.coreos.com/v1"
SCRAPE_CONFIG_API = "monitoring.coreos.com/v1alpha1"


def resource(
    api: str, kind: str, name: str, stack: Stack, component: str, spec: Any = None, **top: Any
) -> dict[str, Any]:
    """A namespaced object of the stack, labelled with it and `component`: `spec`, or the `top` keys
    (data, stringData, ...) where the kind has no spec."""
    metadata: dict[str, Any] = {"name": name, "namespace": namespace(stack), "labels": labels(stack, component)}
    annotations = top.pop("annotations", None)
    extra_labels = top.pop("labels", None)
    if extra_labels:
        metadata["labels"] = {**metadata["labels"], **extra_labels}
    if annotations:
        metadata["annotations"] = annotations
    data: dict[str, Any] = {"apiVersion": api, "kind": kind, "metadata": metadata}
    if spec is not None:
        data["spec"] = spec
    data.update(top)
    return data
