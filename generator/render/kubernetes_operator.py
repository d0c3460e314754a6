"""Prometheus, Alertmanager and the rules as prometheus-operator resources (for render/kubernetes.py).

* `Prometheus`: the pinned image and version, scrape and evaluation intervals, external labels (as in
  prometheus.yml, `$` doubled), retention time and size, memory, a volume sized from the retention size,
  the spec's extra flags; it selects the stack's monitors, probes, scrape configs and rules by the
  `promstack.dev/stack` label, and sends to the Alertmanager Service. The operator's own external labels
  (`prometheus`, `prometheus_replica`) are turned off, so alerts carry the labels they carry on compose and
  local (HA replicas will name theirs: `replicaExternalLabelName`, and `replicas`).
* `Alertmanager` with `configSecret`: the Secret holds alertmanager.yml exactly as the alertmanager renderer
  made it for this target (routes, inhibitions, receivers, time intervals) and the notification templates.
  An AlertmanagerConfig resource would not keep that tree: the operator adds a namespace matcher to its
  routes and inhibitions and renames its receivers `<namespace>/<name>/<receiver>`. Receiver secrets are
  files under the stack's Secret, which the operator mounts (`spec.secrets`): references, never values.
* one `PrometheusRule` per rule file, its groups exactly those of prometheus/rules/<name>.yml.
* a Service for each, named after the component, which Grafana, the ServiceMonitors and Prometheus use.
"""

from __future__ import annotations

from typing import Any

from generator import catalog, conventions
from generator.errors import PromstackError
from generator.kubernetes import names
from generator.model import Component, Stack
from generator.render import Target, Tree, alertmanager, notify_templates
from generator.render.prometheus import external_labels, global_timeout
from generator.units import kubernetes_quantity, volume_size

PROMETHEUS = "prometheus"
ALERTMANAGER = "alertmanager"
WEB_PORT = "web"  # the container port the operator gives Prometheus and Alertmanager


def service(stack: Stack, component: Component, selector: dict[str, str], target_port: str | int) -> dict[str, Any]:
    """The ClusterIP Service of a component, named after it, port `http`."""
    spec = {
        "selector": selector,
        "ports": [{"name": names.PORT_NAME, "port": component.container_port, "targetPort": target_port}],
    }
    return names.resource("v1", "Service", component.name, stack, component.name, spec)


def _operated(stack: Stack, component: Component) -> dict[str, str]:
    """The labels the operator gives the pods of the resource named after the stack."""
    return {names.LABEL_NAME: component.name, component.name: names.dns(stack.name)}


def _image(component: Component) -> dict[str, str]:
    out = {"image": component.image}
    tag = catalog.image_tag(component.image)
    if catalog.tag_version(tag):
        out["version"] = tag  # the operator adapts its flags to it
    return out


def _memory(component: Component) -> dict[str, Any]:
    quantity = kubernetes_quantity(component.memory)
    return {"requests": {"memory": quantity}, "limits": {"memory": quantity}}


def _volume(size: str) -> dict[str, Any]:
    claim = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
    return {"volumeClaimTemplate": {"spec": claim}}


def _args(component: Component) -> list[dict[str, str]]:
    """The spec's extra flags (`args: ["--query.max-samples=20000000"]`) as the operator's additionalArgs."""
    found = []
    for arg in component.options.get("args", ()):
        name, equals, value = str(arg).removeprefix("--").partition("=")
        found.append({"name": name, "value": value} if equals else {"name": name})
    return found


def prometheus(stack: Stack, target: Target) -> list[dict[str, Any]]:
    component = stack.components[PROMETHEUS]
    selector = names.selector(stack)
    spec: dict[str, Any] = {
        **_image(component),
        "replicas": 1,
        "serviceAccountName": component.name,
        "externalUrl": component.url,
        "routePrefix": "/",
        "scrapeInterval": stack.scrape_interval,
        "scrapeTimeout": global_timeout(stack),
        "evaluationInterval": stack.evaluation_interval,
        "externalLabels": external_labels(stack),
        "prometheusExternalLabelName": "",
        "replicaExternalLabelName": "",
        "retention": stack.retention_time,
    }
    if stack.retention_size:
        spec["retentionSize"] = stack.retention_size
    size = (
        volume_size(stack.retention_size, conventions.PROMETHEUS_VOLUME_HEADROOM)
        if stack.retention_size
        else conventions.PROMETHEUS_VOLUME
    )
    spec["resources"] = _memory(component)
    spec["storage"] = _volume(size)
    for kind in ("serviceMonitorSelector", "probeSelector", "scrapeConfigSelector", "ruleSelector"):
        spec[kind] = selector
    alertmanager_component = stack.components[ALERTMANAGER]
    spec["alerting"] = {
        "alertmanagers": [
            {
                "namespace": names.namespace(stack),
                "name": alertmanager_component.name,
                "port": names.PORT_NAME,
                "apiVersion": "v2",
            }
        ]
    }
    args = _args(component)
    if args:
        spec["additionalArgs"] = args
    resource = names.resource(names.OPERATOR_API, "Prometheus", names.dns(stack.name), stack, component.name, spec)
    return [resource, service(stack, component, _operated(stack, component), WEB_PORT)]


def alertmanager_config(stack: Stack, target: Target, tree: Tree) -> dict[str, str]:
    """The config Secret's keys: alertmanager.yml as rendered for this target, and the templates."""
    if conventions.ALERTMANAGER_CONFIG not in tree.files:
        exposed = alertmanager.exposed(stack, target)
        kinds = ", ".join(sorted(f"{e.kind} of receiver {e.receiver}" for e in exposed))
        raise PromstackError(
            f"the Alertmanager image {stack.components[ALERTMANAGER].image} reads some receiver secrets only inline "
            f"({kinds}), and the Kubernetes rendering never holds a secret value: use the pinned version or a newer "
            "one (components.alertmanager.version)"
        )
    prefix = f"{conventions.ALERTMANAGER_TEMPLATES_DIR}/"
    keys = {names.ALERTMANAGER_CONFIG_KEY: tree.files[conventions.ALERTMANAGER_CONFIG]}
    for path, text in sorted(tree.files.items()):
        if path.startswith(prefix):
            keys[names.config_key(path.removeprefix(f"{ALERTMANAGER}/"))] = text
    assert notify_templates.FILE in tree.files
    return keys


def config_secret_name(stack: Stack) -> str:
    return f"{ALERTMANAGER}-{names.dns(stack.name)}"  # the operator's default name for it, too


def alertmanager_resources(stack: Stack, target: Target, tree: Tree) -> list[dict[str, Any]]:
    component = stack.components[ALERTMANAGER]
    config = names.resource(
        "v1",
        "Secret",
        config_secret_name(stack),
        stack,
        component.name,
        type="Opaque",
        stringData=alertmanager_config(stack, target, tree),
    )
    spec: dict[str, Any] = {
        **_image(component),
        "replicas": 1,
        "externalUrl": component.url,
        "routePrefix": "/",
        "configSecret": config_secret_name(stack),
    }
    if any(path.startswith(f"{conventions.SECRETS_DIR}/{ALERTMANAGER}/") for path in tree.secrets):
        spec["secrets"] = [names.secret(stack)]  # mounted whole at catalog kubernetes.secrets
    spec["resources"] = _memory(component)
    spec["storage"] = _volume(conventions.DATA_VOLUME)
    args = _args(component)
    if args:
        spec["additionalArgs"] = args
    resource = names.resource(names.OPERATOR_API, "Alertmanager", names.dns(stack.name), stack, component.name, spec)
    return [config, resource, service(stack, component, _operated(stack, component), WEB_PORT)]


def prometheus_rule(stack: Stack, path: str, groups: list[dict[str, Any]]) -> dict[str, Any]:
    """A PrometheusRule holding exactly the groups of rule file `path` (prometheus/rules/<name>.yml), which
    it names (kubernetes.unpack reads them back)."""
    name = names.dns(path.rsplit("/", 1)[-1].removesuffix(".yml"))
    spec = {"groups": groups}
    source = {names.SOURCE: path}
    return names.resource(names.OPERATOR_API, "PrometheusRule", name, stack, PROMETHEUS, spec, annotations=source)
