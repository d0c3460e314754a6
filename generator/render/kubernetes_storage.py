"""Long-term storage as prometheus-operator sees it (for render/kubernetes_operator.py): the `remoteWrite`
of the Prometheus resource, to every store the stack runs in the cluster (VictoriaMetrics, a workload of
its own) and to every `storage.remote_write[]` target, with the same headers, queue and relabelling as
prometheus.yml. Credentials are keys of the stack's Secret (references, never values); the operator wants
a basic-auth username from a Secret too, so the usernames (spec values, not secrets) get a small Secret
of their own, rendered here.
"""

from __future__ import annotations

import re
from typing import Any

from generator import catalog
from generator.kubernetes import names
from generator.model import RemoteWrite, SecretRef, Stack
from generator.render import Target, storage

USERNAMES = "remote-write-usernames"  # the Secret of the remote_write usernames, after the stack's name


def usernames_secret(stack: Stack) -> str:
    return f"{names.dns(stack.name)}-{USERNAMES}"


def _camel(key: str) -> str:
    """Prometheus' snake_case keys as the operator's camelCase fields (source_labels: sourceLabels)."""
    return re.sub(r"_([a-z])", lambda m: m.group(1).upper(), key)


def _ref(stack: Stack, ref: SecretRef) -> dict[str, str]:
    return {"name": names.secret(stack), "key": names.key(ref)}


def _entry(stack: Stack, spec: RemoteWrite) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": spec.name, "url": spec.url}
    if spec.timeout is not None:
        entry["remoteTimeout"] = spec.timeout
    if spec.headers:
        entry["headers"] = dict(spec.headers)
    if spec.basic is not None:
        user = {"name": usernames_secret(stack), "key": f"{names.dns(spec.name)}-username"}
        entry["basicAuth"] = {"username": user, "password": _ref(stack, spec.basic.password)}
    if spec.bearer is not None:
        entry["authorization"] = {"type": "Bearer", "credentials": _ref(stack, spec.bearer)}
    if spec.write_relabel:
        rules = [storage.relabel(rule) for rule in spec.write_relabel]
        entry["writeRelabelConfigs"] = [{_camel(k): v for k, v in rule.items()} for rule in rules]
    if spec.queue:
        entry["queueConfig"] = {_camel(k): v for k, v in spec.queue.items()}
    return entry


def remote_write(stack: Stack, target: Target) -> list[dict[str, Any]]:
    """The Prometheus resource's `remoteWrite`: the stores the stack runs (reached at their Service, without
    the credentials a host would need: in the cluster nothing publishes them), then the spec's targets."""
    stores = [
        {"name": name, "url": f"http://{target.address(stack, name)}{store.write}"}
        for name, store in catalog.stores().items()
        if name in stack.components
    ]
    return [*stores, *(_entry(stack, spec) for spec in stack.storage.remote_write)]


def resources(stack: Stack, component: str) -> list[dict[str, Any]]:
    """The Secret of the remote_write usernames, where a target uses basic auth (else nothing)."""
    users = {f"{names.dns(w.name)}-username": w.basic.username for w in stack.storage.remote_write if w.basic}
    if not users:
        return []
    secret = names.resource("v1", "Secret", usernames_secret(stack), stack, component, type="Opaque", stringData=users)
    return [secret]


def secret_refs(stack: Stack) -> list[tuple[SecretRef, str]]:
    """The references of the stack's Secret the remote_write targets read, and what each is (README)."""
    found: list[tuple[SecretRef, str]] = []
    for spec in stack.storage.remote_write:
        if spec.basic is not None:
            found.append((spec.basic.password, f"remote_write {spec.name}, basic-auth password"))
        if spec.bearer is not None:
            found.append((spec.bearer, f"remote_write {spec.name}, bearer token"))
    return found
