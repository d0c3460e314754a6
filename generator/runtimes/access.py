"""Stage `deploy`: how to reach a stack `up` brought up: the URLs of its UIs, its Grafana dashboards,
and where Grafana's admin password is (never the password itself)."""

from __future__ import annotations

import json
from pathlib import Path

from generator import catalog, conventions
from generator.model import Stack
from generator.render import args
from generator.write import Secrets


def urls(stack: Stack, skipped: dict[str, str]) -> list[tuple[str, str]]:
    """The UIs, every copy of a replicated one (`Prometheus 2`, ...) where it has its own URL."""
    titles = {"grafana": "Grafana", "prometheus": "Prometheus", "alertmanager": "Alertmanager"}
    titles |= {name: store.datasource for name, store in catalog.stores().items()}  # VictoriaMetrics' own UI
    found: list[tuple[str, str]] = []
    for name, title in titles.items():
        component = stack.component(name)
        if component is None or name in skipped:
            continue
        for instance in component.instances:
            if instance.index == 1 or instance.url != component.url:
                found.append((title if instance.index == 1 else f"{title} {instance.index}", instance.url))
    return found


def grafana_login(stack: Stack, secrets: Secrets) -> str | None:
    """Where Grafana's admin password is: the generated file (path only) or the spec's reference."""
    grafana = stack.component("grafana")  # a skipped Grafana is not in the stack any more
    if grafana is None:
        return None
    ref = args.login_password(grafana)
    kept = secrets.kept(ref)
    where = f"in {kept} (generated once, owner-only)" if kept else f"from {ref.describe()}"
    return f"user {str(grafana.options['admin_user'])!r}, password {where}"


def dashboards(stack: Stack, tree: Path, skipped: dict[str, str]) -> list[tuple[str, str]]:
    grafana = stack.component("grafana")
    if grafana is None or "grafana" in skipped:
        return []
    found = []
    for path in sorted((tree / conventions.GRAFANA_DASHBOARDS_DIR).rglob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if data.get("uid"):
            found.append((str(data.get("title", data["uid"])), f"{grafana.url.rstrip('/')}/d/{data['uid']}"))
    return found
