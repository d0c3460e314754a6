"""Renderer `alertmanager`: stack.notifications -> alertmanager/alertmanager.yml (+ receiver secret files).

The routes, inhibitions and time intervals come from `alertmanager_routes`, the receivers and where
their secrets go (a file, or inline for an Alertmanager version without the file field) from
`alertmanager_receivers`; this module puts them together.
"""

from __future__ import annotations

from typing import Any

from generator import conventions
from generator.model import Stack
from generator.render import Target, Tree, dump_yaml, secret_yaml
from generator.render.alertmanager_receivers import COMPONENT, Exposed, Secrets, receiver_config
from generator.render.alertmanager_routes import (
    inhibit_rules,
    null_receiver,
    route_tree,
    routes_watchdog,
    time_intervals,
)
from generator.units import Duration

RESOLVE_TIMEOUT = Duration("5m")


def _global(stack: Stack, secrets: Secrets) -> dict[str, Any]:
    out: dict[str, Any] = {"resolve_timeout": RESOLVE_TIMEOUT}
    smtp = stack.notifications.smtp
    if smtp:
        out.update({"smtp_smarthost": smtp.smarthost, "smtp_from": smtp.from_, "smtp_require_tls": smtp.require_tls})
        if smtp.username:
            out["smtp_auth_username"] = smtp.username
        if smtp.password:
            out["smtp_auth_password_file"] = secrets.file("smtp", "password", smtp.password)
    return out


def config(stack: Stack, target: Target) -> tuple[dict[str, Any], Secrets]:
    """alertmanager.yml as data (inline secrets as Placeholders) and the secrets it needs."""
    secrets = Secrets(stack, target)
    receivers = [receiver_config(r, secrets, stack, target) for r in stack.notifications.receivers]
    null = null_receiver(stack)
    if not routes_watchdog(stack) and null not in {r.name for r in stack.notifications.receivers}:
        receivers.append({"name": null})
    data: dict[str, Any] = {
        "global": _global(stack, secrets),
        "templates": [target.config_path(COMPONENT, "templates/*.tmpl")],
        "route": route_tree(stack),
        "inhibit_rules": inhibit_rules(stack),
        "receivers": receivers,
    }
    intervals = time_intervals(stack)
    if intervals:
        data["time_intervals"] = intervals
    return data, secrets


def exposed(stack: Stack, target: Target) -> list[Exposed]:
    """The receiver secrets that go inline into alertmanager.yml for `target` (no file field in its version)."""
    return config(stack, target)[1].exposed


def render(stack: Stack, target: Target) -> Tree:
    data, secrets = config(stack, target)
    tree = Tree(secrets=dict(secrets.files))
    if not secrets.inline:
        tree.files[conventions.ALERTMANAGER_CONFIG] = dump_yaml(data, stack)
        return tree
    kinds = ", ".join(sorted({e.kind for e in secrets.exposed}))
    note = f"# Mode 0600: it holds receiver secrets ({kinds}) this Alertmanager version reads only inline.\n"
    tree.secrets[conventions.ALERTMANAGER_CONFIG] = secret_yaml(data, secrets.inline, stack, note)
    return tree
