"""The dashboards and their datasources as ConfigMaps for the cluster's Grafana (for render/kubernetes.py).

kube-prometheus-stack's Grafana loads every ConfigMap labelled `grafana_dashboard: "1"` (one dashboard
each, its JSON exactly as the grafana renderer made it) and `grafana_datasource: "1"` (a provisioning
file) through its sidecars; `grafana_folder` names the folder where its sidecar reads that annotation.
The datasources are the ones the dashboards name (uids promstack-prometheus, promstack-alertmanager),
pointing at the stack's Services, named after the stack; not the default datasource, which stays the
cluster's own. One promstack stack per Grafana: dashboards and datasources have fixed uids.
"""

from __future__ import annotations

from typing import Any

from generator import conventions, dashboards
from generator.kubernetes import names
from generator.model import Stack
from generator.render import Target, Tree, dump_yaml, grafana, served
from generator.render.grafana import datasources

GRAFANA = "grafana"
DATASOURCES_FILE = "promstack-datasources.yaml"


def dashboard_name(uid: str) -> str:
    return names.dns(f"dashboard-{uid}")


def grafana_resources(stack: Stack, target: Target) -> dict[str, list[dict[str, Any]]]:
    """{file stem: ConfigMaps}: the datasources, then one per dashboard."""
    if stack.component(GRAFANA) is None:
        return {}
    provisioning = datasources(stack, target, Tree())
    # a Grafana the cluster shares: never its default datasource, never a name its own datasources have
    # (kube-prometheus-stack's are "Prometheus" and "Alertmanager"; provisioning matches by name), and
    # no `prune`, which acts on what other provisioning files made too
    provisioning.pop("prune", None)
    for source in provisioning["datasources"]:
        source["isDefault"] = False
        source["name"] = f"{source['name']} ({stack.name})"
    found: dict[str, list[dict[str, Any]]] = {
        "grafana-datasources": [
            names.resource(
                "v1",
                "ConfigMap",
                "grafana-datasources",
                stack,
                GRAFANA,
                labels={names.GRAFANA_DATASOURCE_LABEL: "1"},
                annotations={names.SOURCE: f"{conventions.GRAFANA_DATASOURCES_DIR}/{grafana.NAME}.yaml"},
                data={DATASOURCES_FILE: dump_yaml(provisioning, stack)},
            )
        ]
    }
    for board in dashboards.build(stack, served(stack, target)):
        folder = conventions.dashboard_folder_dir(board.folder)
        found[f"dashboard-{names.dns(board.uid)}"] = [
            names.resource(
                "v1",
                "ConfigMap",
                dashboard_name(board.uid),
                stack,
                GRAFANA,
                labels={names.GRAFANA_DASHBOARD_LABEL: "1"},
                annotations={
                    names.GRAFANA_FOLDER_ANNOTATION: board.folder,
                    names.SOURCE: f"{conventions.GRAFANA_DASHBOARDS_DIR}/{folder}/{board.uid}.json",
                },
                data={f"{board.uid}.json": board.text()},
            )
        ]
    assert conventions.DATASOURCE_PROMETHEUS_UID in {s["uid"] for s in provisioning["datasources"]}
    return found
