"""Renderer: Grafana provisioning (datasources, dashboard provider), the dashboards, the admin password.

Files: grafana/provisioning/datasources/promstack.yaml, grafana/provisioning/dashboards/promstack.yaml
(one provider per Grafana folder, each reading its own sub-folder: the spec's dashboards folder, and
the folders custom dashboards name), grafana/dashboards/<folder>/<uid>.json and
secrets/grafana/admin_password, which Grafana reads through GF_SECURITY_ADMIN_PASSWORD__FILE: the spec's
secret, or one generated once (see args.login_password).
Credentials Grafana needs to query a protected Prometheus or Alertmanager are secret files too, read by
Grafana's provisioning through `$__file{path}`, so no secret value is ever rendered.
"""

from __future__ import annotations

from typing import Any

from generator import conventions, dashboards
from generator.model import Component, Stack
from generator.render import SecretFile, Target, Tree, dump_yaml, served
from generator.render.args import ADMIN_PASSWORD, login_password, server_name

NAME = "promstack"  # the provisioning file names and the dashboard provider's name
# what Grafana does to a file it reads through $__file{} in provisioning (docs/compat.md §8b)
_FILE_EXPANDS = ("$", "Grafana reads it through $__file{} and expands $VAR in what it reads, with no escape")


def _password_secret(name: str) -> str:
    return f"{name}_password"


def _ca_secret(name: str) -> str:
    return f"{name}_ca.crt"


def _datasource(stack: Stack, target: Target, tree: Tree, component: Component, **settings: Any) -> dict[str, Any]:
    """A datasource for `component`, with its basic auth and TLS trust as secret files when it has them."""
    auth = component.auth
    tls = auth is not None and auth.tls is not None
    source: dict[str, Any] = {
        **settings,
        "access": "proxy",
        "orgId": 1,
        "editable": False,
        "url": f"{'https' if tls else 'http'}://{target.address(stack, component.name)}",
    }
    json_data: dict[str, Any] = dict(source.pop("jsonData", {}))
    secure: dict[str, str] = {}
    secrets = f"{conventions.SECRETS_DIR}/grafana"
    if auth is not None and auth.basic is not None:
        source.update(basicAuth=True, basicAuthUser=auth.basic.username)
        tree.secrets[f"{secrets}/{_password_secret(component.name)}"] = SecretFile.single(
            auth.basic.password, _FILE_EXPANDS
        )
        secure["basicAuthPassword"] = f"$__file{{{target.secret_path('grafana', _password_secret(component.name))}}}"
    if auth is not None and auth.tls is not None:
        # trust exactly the certificate the component serves (self-signed works), like Prometheus does
        json_data.update(tlsAuthWithCACert=True, serverName=server_name(component))
        tree.secrets[f"{secrets}/{_ca_secret(component.name)}"] = SecretFile.pem(auth.tls.cert)
        secure["tlsCACert"] = f"$__file{{{target.secret_path('grafana', _ca_secret(component.name))}}}"
    source["jsonData"] = json_data
    source = literal(source)
    if secure:
        source["secureJsonData"] = secure  # our own $__file{} references: the one thing left to expand
    return source


def literal(value: Any) -> Any:
    """`value` with every string made literal for Grafana's provisioning reader, which expands $VAR,
    ${VAR}, $__env{VAR} and $__file{PATH} in every string value (not in keys) and reads $$ as one $
    (pkg/services/provisioning/values, docs/compat.md §8b)."""
    if isinstance(value, str):
        return value.replace("$", "$$")
    if isinstance(value, dict):
        return {key: literal(item) for key, item in value.items()}
    if isinstance(value, list):
        return [literal(item) for item in value]
    return value


def datasources(stack: Stack, target: Target, tree: Tree) -> dict[str, Any]:
    prometheus = _datasource(
        stack,
        target,
        tree,
        stack.components["prometheus"],
        name="Prometheus",
        type="prometheus",
        uid=conventions.DATASOURCE_PROMETHEUS_UID,
        isDefault=True,
        # timeInterval = the scrape interval, so $__rate_interval covers at least four scrapes
        jsonData={
            "httpMethod": "POST",
            "timeInterval": stack.scrape_interval,
            "prometheusType": "Prometheus",
            "alertmanagerUid": conventions.DATASOURCE_ALERTMANAGER_UID,
        },
    )
    alertmanager = _datasource(
        stack,
        target,
        tree,
        stack.components["alertmanager"],
        name="Alertmanager",
        type="alertmanager",
        uid=conventions.DATASOURCE_ALERTMANAGER_UID,
        isDefault=False,
        jsonData={"implementation": "prometheus", "handleGrafanaManagedAlerts": False},
    )
    # prune: a datasource removed from this file is removed from Grafana too (Grafana 11.1+)
    return {"apiVersion": 1, "prune": True, "datasources": [prometheus, alertmanager]}


def provider(stack: Stack, target: Target, folders: list[str]) -> dict[str, Any]:
    """A provider per Grafana folder (the spec's dashboards folder first): Grafana files everything a
    provider reads, sub-folders included, into the provider's one folder."""
    ordered = sorted(set(folders), key=lambda f: (f != stack.dashboards.folder, f))
    return {
        "apiVersion": 1,
        "providers": [
            {
                "name": NAME
                if folder == stack.dashboards.folder
                else f"{NAME}-{conventions.dashboard_folder_dir(folder)}",
                "orgId": 1,
                "folder": folder,
                "type": "file",
                "disableDeletion": False,
                "allowUiUpdates": False,
                "updateIntervalSeconds": 10,
                "options": {
                    "path": target.config_path("grafana", f"dashboards/{conventions.dashboard_folder_dir(folder)}"),
                    "foldersFromFilesStructure": False,
                },
            }
            for folder in ordered
        ],
    }


def render(stack: Stack, target: Target) -> Tree:
    tree = Tree()
    grafana = stack.component("grafana")
    if grafana is None:
        return tree
    tree.files[f"{conventions.GRAFANA_DATASOURCES_DIR}/{NAME}.yaml"] = dump_yaml(
        datasources(stack, target, tree), stack
    )
    # always declared: the spec's password, or one the writer generates once and keeps (never admin/admin)
    tree.secrets[f"{conventions.SECRETS_DIR}/grafana/{ADMIN_PASSWORD}"] = SecretFile.single(login_password(grafana))
    built = dashboards.build(stack, served(stack, target))
    if built:
        text = dump_yaml(literal(provider(stack, target, [d.folder for d in built])), stack)
        tree.files[f"{conventions.GRAFANA_PROVIDERS_DIR}/{NAME}.yaml"] = text
    for dashboard in built:
        folder = conventions.dashboard_folder_dir(dashboard.folder)
        tree.files[f"{conventions.GRAFANA_DASHBOARDS_DIR}/{folder}/{dashboard.uid}.json"] = dashboard.text()
    return tree
