"""The scrape jobs of prometheus.yml as prometheus-operator resources (for render/kubernetes.py).

Every job is the one `render.prometheus` builds for the kubernetes target (same name, interval, timeout,
path, parameters, static labels and relabelling), laid out for the operator:

* a component promstack runs in the cluster is scraped through a ServiceMonitor on its Service, so every
  pod behind it is a target (one per node for a DaemonSet); `host` is the node the pod runs on, and the
  operator's own target labels (namespace, service, pod, container, endpoint) are dropped so its series
  carry the labels they carry on compose and local;
* a service of the spec that names its Kubernetes Service (`services[].kubernetes`) gets a ServiceMonitor
  on that Service, its namespace and port; `job` and `service` are the spec's name, its labels added;
* a blackbox probe becomes a Probe through the blackbox exporter's Service;
* everything else (host:port targets of services, scraped-only components, multi-target exporters) is a
  ScrapeConfig with the job's static_configs, translated key by key.
"""

from __future__ import annotations

from typing import Any

from generator import catalog, conventions
from generator.kubernetes import names
from generator.model import Component, Service, Stack
from generator.render import Target
from generator.render.prometheus import HOST_REGEX, component_jobs, service_job

# the target labels the operator adds to a ServiceMonitor's targets, which compose and local do not have
OPERATOR_LABELS = "namespace|service|pod|container|endpoint"
_RELABEL_KEYS = {
    "source_labels": "sourceLabels",
    "target_label": "targetLabel",
    "regex": "regex",
    "replacement": "replacement",
    "action": "action",
    "separator": "separator",
    "modulus": "modulus",
}
_JOB_KEYS = {
    "scrape_interval": "scrapeInterval",
    "scrape_timeout": "scrapeTimeout",
    "metrics_path": "metricsPath",
    "scheme": "scheme",
    "honor_labels": "honorLabels",
    "params": "params",
}


def relabeling(rule: dict[str, Any]) -> dict[str, Any]:
    unknown = set(rule) - set(_RELABEL_KEYS)
    if unknown:  # a new key in prometheus.yml must be carried over, not dropped
        raise RuntimeError(f"relabel key(s) {sorted(unknown)} have no ScrapeConfig spelling")
    return {_RELABEL_KEYS[key]: value for key, value in rule.items()}


def scrape_config(stack: Stack, component: str, job: dict[str, Any]) -> dict[str, Any]:
    """A ScrapeConfig with exactly `job` (a prometheus.yml scrape job with static targets)."""
    spec: dict[str, Any] = {"jobName": job["job_name"]}
    for key, value in job.items():
        if key in ("job_name", "static_configs", "relabel_configs"):
            continue
        if key not in _JOB_KEYS:
            raise RuntimeError(f"scrape job key {key!r} of {job['job_name']} has no ScrapeConfig spelling")
        spec[_JOB_KEYS[key]] = value
    spec["staticConfigs"] = [dict(group) for group in job["static_configs"]]
    spec["relabelings"] = [relabeling(rule) for rule in job.get("relabel_configs", ())]
    return names.resource(names.SCRAPE_CONFIG_API, "ScrapeConfig", names.dns(job["job_name"]), stack, component, spec)


def _node_host() -> dict[str, Any]:
    """`host` of a pod's target: the node it runs on (HostDown of that node mutes what runs there)."""
    return {"sourceLabels": ["__meta_kubernetes_pod_node_name"], "targetLabel": conventions.LABEL_HOST}


def _set(label: str, value: str) -> dict[str, Any]:
    return {"targetLabel": label, "replacement": value}


def _endpoint(job: dict[str, Any], port: dict[str, Any], relabelings: list[dict[str, Any]]) -> dict[str, Any]:
    """A ServiceMonitor endpoint with the interval and timeout `job` has (where it differs from the global)."""
    endpoint: dict[str, Any] = dict(port)
    if "scrape_interval" in job:
        endpoint["interval"] = job["scrape_interval"]
    if "scrape_timeout" in job:
        endpoint["scrapeTimeout"] = job["scrape_timeout"]
    endpoint["relabelings"] = relabelings
    return endpoint


def _monitor(stack: Stack, component: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return names.resource(names.OPERATOR_API, "ServiceMonitor", names.dns(name), stack, component, spec)


def own_monitor(stack: Stack, component: Component, job: dict[str, Any], labels: dict[str, str]) -> dict[str, Any]:
    """The ServiceMonitor of a component promstack runs in the cluster, on its Service; `labels`: the static
    labels of its job (the demo, scraped as a service, has team and service)."""
    relabel = [
        _node_host(),
        {"action": "labeldrop", "regex": OPERATOR_LABELS},
        _set("job", job["job_name"]),
        *(_set(k, v) for k, v in labels.items()),
    ]
    port: dict[str, Any] = {"port": names.PORT_NAME, "path": job.get("metrics_path", "/metrics")}
    if job.get("honor_labels"):
        port["honorLabels"] = True
    spec = {
        "selector": {"matchLabels": {names.LABEL_STACK: stack.name, names.LABEL_COMPONENT: component.name}},
        "endpoints": [_endpoint(job, port, relabel)],
    }
    return _monitor(stack, component.name, job["job_name"], spec)


def service_monitor(stack: Stack, service: Service, job: dict[str, Any]) -> dict[str, Any]:
    """The ServiceMonitor of a spec service on the Kubernetes Service it names: every Service of that
    namespace is looked at and only the named one kept (a ServiceMonitor selects by label, and the spec
    names the Service)."""
    kube = service.kubernetes
    assert kube is not None
    relabel = [
        {"action": "keep", "sourceLabels": ["__meta_kubernetes_service_name"], "regex": kube.service},
        _node_host(),
        _set("job", service.name),
        *(_set(k, v) for k, v in {**service.labels, conventions.LABEL_SERVICE: service.name}.items()),
    ]
    port: dict[str, Any] = {"port": kube.port} if isinstance(kube.port, str) else {"targetPort": kube.port}
    port["path"] = service.metrics_path
    if service.scheme != "http":
        port["scheme"] = service.scheme
    spec = {
        "namespaceSelector": {"matchNames": [kube.namespace]},
        "selector": {},
        "endpoints": [_endpoint(job, port, relabel)],
    }
    return _monitor(stack, service.name, service.name, spec)


def probe(stack: Stack, component: Component, job: dict[str, Any], target: Target) -> dict[str, Any]:
    """A Probe through the blackbox exporter's Service, with the job's module, targets and labels."""
    group = job["static_configs"][0]
    static: dict[str, Any] = {"static": list(group["targets"])}
    if group.get("labels"):
        static["labels"] = dict(group["labels"])
    # the operator has moved the target into __param_target (and instance) before these run
    static["relabelingConfigs"] = [
        {"sourceLabels": ["__param_target"], "regex": HOST_REGEX, "targetLabel": conventions.LABEL_HOST}
    ]
    spec: dict[str, Any] = {"jobName": job["job_name"]}
    if "scrape_interval" in job:
        spec["interval"] = job["scrape_interval"]
    if "scrape_timeout" in job:
        spec["scrapeTimeout"] = job["scrape_timeout"]
    spec["module"] = job["params"]["module"][0]
    spec["prober"] = {"url": target.address(stack, component.name), "path": job["metrics_path"]}
    spec["targets"] = {"staticConfig": static}
    return names.resource(names.OPERATOR_API, "Probe", names.dns(job["job_name"]), stack, component.name, spec)


def component_resources(stack: Stack, component: Component, target: Target) -> list[dict[str, Any]]:
    """How Prometheus scrapes `component` (and, for the blackbox exporter, probes through it)."""
    jobs = component_jobs(stack, component, target)
    entry = catalog.entry(component.name)
    if not component.runs or entry.scrape.get("multi_target"):
        # scraped where it runs, or every backend through the exporter's Service: static targets
        return [scrape_config(stack, component.name, job) for job in jobs]
    if entry.kubernetes.run == "none":
        return []  # not run in the cluster (Grafana: the cluster's own)
    own, *probe_jobs = jobs
    found = [own_monitor(stack, component, own, {})]
    found.extend(probe(stack, component, job, target) for job in probe_jobs)
    return found


def service_resources(stack: Stack, service: Service, target: Target) -> list[dict[str, Any]]:
    job = service_job(stack, service, target)
    if service.kubernetes is not None:
        return [service_monitor(stack, service, job)]
    if service.component:  # the demo: a component promstack runs, scraped as a service
        labels = dict(job["static_configs"][0].get("labels", {}))
        return [own_monitor(stack, stack.components[service.component], job, labels)]
    return [scrape_config(stack, service.name, job)]
