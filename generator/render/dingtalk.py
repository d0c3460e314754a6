"""Renderer `dingtalk`: dingtalk receivers -> dingtalk/adapter.py, dingtalk/config.json and their secret files.

Alertmanager has no DingTalk receiver; it sends a webhook to promstack's adapter (generator/dingtalk_adapter.py,
standard library only) at /dingtalk/<receiver>/send (alertmanager_receivers.py), which signs and posts to the
DingTalk robot. The robot URL carries its access token and the signing secret is a secret too: each goes into
a 0600 file of its own, `secrets/dingtalk/<receiver>.url` and `.secret`, which the adapter reads; config.json
only names those files (plus what the messages show: the stack, its environment, Alertmanager's URL for the
silence links), so it is an ordinary file.
"""

from __future__ import annotations

import json
from importlib import resources

from generator import conventions
from generator.model import Stack
from generator.render import SecretFile, Target, Tree, args

COMPONENT = "dingtalk"
SCRIPT = f"{COMPONENT}/{args.DINGTALK_SCRIPT}"
CONFIG = f"{COMPONENT}/{args.DINGTALK_CONFIG}"
TIMEOUT_SECONDS = 5  # per call to the robot
ATTEMPTS = 3  # calls per notification, 1s then 2s apart; then Alertmanager retries on its own schedule


def source() -> str:
    """The adapter's source, shipped inside the package as generator/dingtalk_adapter.py."""
    return resources.files("generator").joinpath("dingtalk_adapter.py").read_text(encoding="utf-8")


def render(stack: Stack, target: Target) -> Tree:
    if not stack.has(COMPONENT):
        return Tree()
    tree = Tree(files={SCRIPT: source()})
    receivers: dict[str, dict[str, str | None]] = {}
    for receiver in stack.notifications.receivers:
        settings = receiver.integrations.get("dingtalk")
        if settings is None:
            continue
        paths: dict[str, str | None] = {"url_file": None, "secret_file": None}
        for field in ("url", "secret"):
            if settings.get(field) is not None:
                name = f"{receiver.name}.{field}"
                tree.secrets[f"{conventions.SECRETS_DIR}/{COMPONENT}/{name}"] = SecretFile.single(settings[field])
                paths[f"{field}_file"] = target.secret_path(COMPONENT, name)
        receivers[receiver.name] = paths
    config = {
        "stack": stack.name,
        "environment": stack.environment,
        "alertmanager_url": stack.components["alertmanager"].url.rstrip("/"),
        "timeout": TIMEOUT_SECONDS,
        "attempts": ATTEMPTS,
        "receivers": receivers,
    }
    tree.files[CONFIG] = json.dumps(config, indent=2, sort_keys=True) + "\n"
    return tree
