"""Renderer: long-term storage. The files holding what Prometheus sends to remote_write targets (basic-auth
passwords, bearer tokens: `secrets/prometheus/`, read through password_file and credentials_file), and
each long-term store's own relabelling rules (`<store>/relabel.yml`, catalog `store`). The remote_write
section itself is part of prometheus.yml (render/prometheus.py, `remote_write`).

Every Prometheus copy writes to every long-term store the stack runs (VictoriaMetrics) and to every
`storage.remote_write[]` target, with the same external labels as its alerts: `replica` included where
Prometheus runs several copies, so that a target can tell them apart (Thanos Query, Mimir's HA tracker)
or, like the stores promstack runs, drop it and keep one series (their deduplication).
"""

from __future__ import annotations

from typing import Any

from generator import catalog, conventions
from generator.model import Relabel, RemoteWrite, Stack
from generator.render import SecretFile, Target, Tree, dump_yaml

SECRETS = f"{conventions.SECRETS_DIR}/prometheus"


def password_file(target: RemoteWrite) -> str:
    """Secret (under secrets/prometheus/) with the basic-auth password of remote_write target `target`."""
    return f"remote-write-{target.name}-password"


def token_file(target: RemoteWrite) -> str:
    """Secret (under secrets/prometheus/) with the bearer token of remote_write target `target`."""
    return f"remote-write-{target.name}-token"


def relabel(rule: Relabel) -> dict[str, Any]:
    """A relabel_config as Prometheus reads it: only the fields the rule sets."""
    fields = {
        "source_labels": list(rule.source_labels) or None,
        "separator": rule.separator,
        "regex": rule.regex,
        "target_label": rule.target_label,
        "replacement": rule.replacement,
        "modulus": rule.modulus,
    }
    return {"action": rule.action, **{k: v for k, v in fields.items() if v is not None}}


def render(stack: Stack, target: Target) -> Tree:
    tree = Tree()
    for spec in stack.storage.remote_write:
        if spec.basic is not None:
            tree.secrets[f"{SECRETS}/{password_file(spec)}"] = SecretFile.single(spec.basic.password)
        if spec.bearer is not None:
            tree.secrets[f"{SECRETS}/{token_file(spec)}"] = SecretFile.single(spec.bearer)
    for name, store in catalog.stores().items():
        if name in stack.components:
            # what it receives loses the label that tells Prometheus copies apart: its deduplication then
            # keeps one sample per series and interval of the copies' identical series
            rules = [{"action": "labeldrop", "regex": conventions.LABEL_REPLICA}]
            tree.files[f"{name}/{store.relabel}"] = dump_yaml(rules, stack)
    return tree
