"""Renderer `dingtalk`: dingtalk receivers -> dingtalk/config.yml for the prometheus-webhook-dingtalk adapter.

Alertmanager has no DingTalk receiver; it sends a webhook to the adapter at /dingtalk/<receiver>/send
(alertmanager_receivers.py) and the adapter posts to the DingTalk robot. One adapter target per receiver,
named after it. The robot URL carries its access token and the signing secret is a secret too, and the adapter
reads both only inline, so the whole config.yml is a SecretFile (0600, resolved at write time). Messages use the
adapter's built-in templates (ding.link.title / ding.link.content).
"""

from __future__ import annotations

from typing import Any

from generator.model import SecretRef, Stack
from generator.render import Placeholder, Target, Tree, secret_yaml

COMPONENT = "dingtalk"
CONFIG = f"{COMPONENT}/config.yml"
TIMEOUT = "5s"  # per DingTalk call; Alertmanager retries failed notifications itself


def render(stack: Stack, target: Target) -> Tree:
    if not stack.has(COMPONENT):
        return Tree()
    values: dict[str, SecretRef] = {}
    targets: dict[str, dict[str, Any]] = {}
    for receiver in stack.notifications.receivers:
        settings = receiver.integrations.get("dingtalk")
        if settings is None:
            continue
        entry: dict[str, Any] = {}
        for field in ("url", "secret"):
            if settings.get(field) is not None:
                key = f"secret{len(values)}"
                values[key] = settings[field]
                entry[field] = Placeholder(key)
        targets[receiver.name] = entry
    return Tree(secrets={CONFIG: secret_yaml({"timeout": TIMEOUT, "targets": targets}, values, stack)})
