"""Renderer: the exporters' own files: blackbox-exporter/blackbox.yml and mysqld-exporter's my.cnf (a secret).

The blackbox modules are the fixed set the spec's probe `module` enum names; the file is accepted by
blackbox_exporter 0.23 (Debian) and current upstream (`--config.check`).
"""

from __future__ import annotations

from typing import Any

from generator import conventions
from generator.model import Stack
from generator.render import SecretFile, Target, Tree, dump_yaml
from generator.render.args import BLACKBOX_CONFIG, MY_CNF, dollar

# a probe answers well within this or counts as failed; below the default 10s scrape timeout, so the
# exporter reports probe_success 0 instead of Prometheus timing the scrape out
PROBE_TIMEOUT = "5s"


def blackbox_modules() -> dict[str, Any]:
    # IPv4 first: container networks and most hosts here have no IPv6 route, and the default ip6
    # preference would make dual-stack names fail slowly
    ip4 = {"preferred_ip_protocol": "ip4", "ip_protocol_fallback": True}
    return {
        "http_2xx": {
            "prober": "http",
            "timeout": PROBE_TIMEOUT,
            "http": {**ip4, "method": "GET", "follow_redirects": True},
        },
        "http_post_2xx": {
            "prober": "http",
            "timeout": PROBE_TIMEOUT,
            "http": {**ip4, "method": "POST", "follow_redirects": True},
        },
        "tcp_connect": {"prober": "tcp", "timeout": PROBE_TIMEOUT, "tcp": dict(ip4)},
        "icmp": {"prober": "icmp", "timeout": PROBE_TIMEOUT, "icmp": dict(ip4)},
        # a DNS probe's target is a resolver; the root zone's NS set is something every resolver answers
        "dns": {
            "prober": "dns",
            "timeout": PROBE_TIMEOUT,
            "dns": {**ip4, "query_name": ".", "query_type": "NS", "valid_rcodes": ["NOERROR"]},
        },
    }


def my_cnf(stack: Stack) -> SecretFile:
    """mysqld_exporter credentials; read by 0.14 (Debian) and >= 0.15 (which dropped DATA_SOURCE_NAME).

    Both read it with go-ini, which cuts a bare value at `#` or `;`, trims spaces and quotes and joins
    a line ending in `\\` with the next. A value between backticks is taken as it stands, up to the last
    backtick of the line, so user and password keep every character of one line; but 0.15 and newer
    expand `$VAR` in them afterwards, with no escape (docs/compat.md §8c).
    """
    component = stack.components["mysqld-exporter"]
    host, _, port = str(component.options["address"]).rpartition(":")
    text = (
        f"[client]\nuser=`{dollar(str(component.options['user']))}`\npassword=`${{password}}`\n"
        f"host={dollar(host)}\nport={port}\n"
    )
    why = (
        "mysqld_exporter 0.15 and newer expand $VAR in my.cnf with no escape, and every version cuts its "
        "connection string at '?'"
    )
    return SecretFile(text, {"password": component.secrets["password"]}, refuse={"password": ("$?", why)})


def render(stack: Stack, target: Target) -> Tree:
    tree = Tree()
    if stack.has("blackbox-exporter"):
        tree.files[f"blackbox-exporter/{BLACKBOX_CONFIG}"] = dump_yaml({"modules": blackbox_modules()}, stack)
    if stack.has("mysqld-exporter"):
        tree.secrets[f"{conventions.SECRETS_DIR}/mysqld-exporter/{MY_CNF}"] = my_cnf(stack)
    return tree
