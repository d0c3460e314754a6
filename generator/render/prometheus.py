"""Renderer: prometheus/prometheus.yml — global settings, rule files, Alertmanager, every scrape job.

Only keys both Prometheus 2.42 (Debian, strict YAML) and 3.x accept are rendered (docs/compat.md §3a).
Jobs come in a fixed order: prometheus, alertmanager, grafana, the exporters in catalog order, then
the team's services. Every job labels its series with `host`, the scraped (or probed) target's host;
a component that runs several copies (`replicas`) is one job with a target per copy.

With `components.prometheus.replicas` above 1, copy n reads `prometheus/<its name>.yml` (the first
keeps prometheus.yml): the same file but for the external label `replica: <its name>`, which tells the
copies apart in what they send. Their alerts drop it again (`alert_relabel_configs`): Alertmanager
merges alerts with the same labels, so the copies' alerts become one, and every copy sends to every
Alertmanager.
"""

from __future__ import annotations

from typing import Any

from generator import catalog, conventions
from generator.model import Component, RemoteWrite, Service, Stack
from generator.render import SecretFile, Target, Tree, dump_yaml, storage
from generator.render._memo import per_stack
from generator.render.args import protected, scheme, server_name, uses_tls
from generator.units import Duration

# host of a target given as host:port, [v6]:port or a URL (blackbox): scheme and userinfo skipped
HOST_REGEX = r"(?:[a-zA-Z][a-zA-Z0-9+.-]*://)?(?:[^@/]*@)?(\[[^\]]+\]|[^:/?#\[\]]+).*"
# relative to prometheus.yml, so the same file serves both runtimes
RULE_FILES = ["rules/*.yml", *(f"rules/{folder}/*.yml" for folder in conventions.PER_SERVICE_RULES)]


def password_file(name: str) -> str:
    """Secret (under secrets/prometheus/) holding the basic-auth password Prometheus sends to `name`."""
    return f"{name}-password"


def ca_file(name: str) -> str:
    """Secret (under secrets/prometheus/) holding the certificate Prometheus trusts for `name`."""
    return f"{name}-ca.crt"


def host_relabel() -> dict[str, Any]:
    # runs first, while __address__ still holds the target (blackbox and redis rewrite it later)
    return {"source_labels": ["__address__"], "regex": HOST_REGEX, "target_label": conventions.LABEL_HOST}


def client_settings(component: Component, target: Target) -> dict[str, Any]:
    """scheme, basic_auth and tls_config Prometheus needs to talk to `component` (scrape or alerting)."""
    settings: dict[str, Any] = {}
    if uses_tls(component):
        settings["scheme"] = scheme(component)
        # trust exactly the certificate the component serves (self-signed or not), checked against the
        # name in its public URL: Prometheus dials it by container name or 127.0.0.1
        settings["tls_config"] = {
            "ca_file": target.secret_path("prometheus", ca_file(component.name)),
            "server_name": server_name(component),
        }
    if protected(component):
        assert component.auth is not None and component.auth.basic is not None
        settings["basic_auth"] = {
            "username": component.auth.basic.username,
            "password_file": target.secret_path("prometheus", password_file(component.name)),
        }
    return settings


def timing(stack: Stack, interval: Duration) -> dict[str, Duration]:
    timing: dict[str, Duration] = {}
    if interval != stack.scrape_interval:  # as written: a job says 60s where the global says 1m
        timing["scrape_interval"] = interval
    if interval.ms < global_timeout(stack).ms:
        # Prometheus refuses a timeout longer than the interval
        timing["scrape_timeout"] = interval
    return timing


def external_labels(stack: Stack, replica: str | None = None) -> dict[str, str]:
    """The labels as written, `$` doubled: Prometheus expands $VAR and ${VAR} in their values and reads
    $$ as one $, always from 3.0 on and on 2.x with the expand-external-labels feature, which
    args.command turns on so that every version loads exactly the spec's values (docs/compat.md §8a).
    `replica`: the copy's name, where several copies run (conventions.LABEL_REPLICA)."""
    labels = {name: value.replace("$", "$$") for name, value in stack.external_labels.items()}
    if replica is not None:
        labels[conventions.LABEL_REPLICA] = replica
    return labels


def config_file(instance: str) -> str:
    """The config of Prometheus copy `instance`: prometheus/prometheus.yml for the first."""
    return f"prometheus/{instance}.yml"


def global_timeout(stack: Stack) -> Duration:
    return stack.scrape_timeout if stack.scrape_timeout.ms <= stack.scrape_interval.ms else stack.scrape_interval


def _job(
    stack: Stack, name: str, interval: Duration, targets: list[str], labels: dict[str, str] | None = None, **extra: Any
) -> dict[str, Any]:
    relabel = extra.pop("relabel_configs", [])
    job: dict[str, Any] = {"job_name": name, **timing(stack, interval), **extra}
    group: dict[str, Any] = {"targets": targets}
    if labels:
        group["labels"] = labels
    job["static_configs"] = [group]
    job["relabel_configs"] = [host_relabel(), *relabel]
    return job


def _through(exporter: str, target: Target, stack: Stack, param: str = "$1") -> list[dict[str, Any]]:
    """Multi-target relabelling: the target becomes a URL parameter, the exporter the address."""
    return [
        {"source_labels": ["__address__"], "target_label": "__param_target", "replacement": param},
        {"source_labels": ["__address__"], "target_label": "instance"},
        {"target_label": "__address__", "replacement": target.address(stack, exporter)},
    ]


def component_jobs(stack: Stack, component: Component, target: Target) -> list[dict[str, Any]]:
    name = component.name
    entry = catalog.entry(name)
    client = client_settings(component, target)
    path: dict[str, Any] = {"metrics_path": entry.metrics_path} if entry.metrics_path != "/metrics" else {}
    scrape = entry.scrape
    honor: dict[str, Any] = {"honor_labels": True} if scrape.get("honor_labels") else {}
    if not component.runs:  # scraped where it runs (rabbitmq's built-in endpoint, a cluster's kube-state-metrics)
        return [_job(stack, name, component.interval, list(component.targets), **path, **honor)]
    multi = scrape.get("multi_target")
    if multi:
        # one exporter for every backend: each target goes into <path>?target=<param>
        return [
            _job(
                stack,
                name,
                component.interval,
                list(component.targets),
                metrics_path=multi["path"],
                relabel_configs=_through(name, target, stack, multi.get("param", "$1")),
                **client,
            )
        ]
    jobs = [_job(stack, name, component.interval, target.addresses(stack, name), **path, **client, **honor)]
    probes = scrape.get("probes") or {}
    for probe in component.probes:
        jobs.append(
            _job(
                stack,
                str(probes["job"]).format(name=probe.name),
                probe.interval,
                list(probe.targets),
                {**probe.labels, "probe": probe.name},
                metrics_path=probes["path"],
                params={"module": [probe.module]},
                relabel_configs=_through(name, target, stack),
                **client,
            )
        )
    return jobs


def service_job(stack: Stack, service: Service, target: Target) -> dict[str, Any]:
    targets = [target.address(stack, service.component)] if service.component else list(service.targets)
    labels = {**service.labels, conventions.LABEL_SERVICE: service.name}
    extra: dict[str, Any] = {}
    if service.metrics_path != "/metrics":
        extra["metrics_path"] = service.metrics_path
    if service.scheme != "http":
        extra["scheme"] = service.scheme
    return _job(stack, service.name, service.interval, targets, labels, **extra)


def config(stack: Stack, target: Target, index: int = 1) -> dict[str, Any]:
    """prometheus.yml of copy `index` as data."""
    prometheus = stack.components["prometheus"]
    replica = prometheus.instances[index - 1].name if prometheus.replicas > 1 else None
    as_service = {s.component for s in stack.services if s.component}
    jobs: list[dict[str, Any]] = []
    for name, component in stack.components.items():
        if name not in as_service:
            jobs.extend(component_jobs(stack, component, target))
    jobs.extend(service_job(stack, service, target) for service in stack.services)
    return {
        "global": {
            "scrape_interval": stack.scrape_interval,
            "scrape_timeout": global_timeout(stack),
            "evaluation_interval": stack.evaluation_interval,
            "external_labels": external_labels(stack, replica),
        },
        "rule_files": list(RULE_FILES),
        "alerting": alerting(stack, target, replica is not None),
        **({"remote_write": written} if (written := remote_write(stack, target)) else {}),
        "scrape_configs": jobs,
    }


def alerting(stack: Stack, target: Target, replicated: bool) -> dict[str, Any]:
    """Every Alertmanager copy gets every alert (their mesh sends each notification once); copies of
    Prometheus drop their `replica` label from alerts, so that theirs are one alert to Alertmanager."""
    alertmanager = stack.components["alertmanager"]
    section: dict[str, Any] = {}
    if replicated:
        section["alert_relabel_configs"] = [{"action": "labeldrop", "regex": conventions.LABEL_REPLICA}]
    section["alertmanagers"] = [
        {
            "api_version": "v2",  # the only version 3.x accepts; 2.42 has it too
            "static_configs": [{"targets": target.addresses(stack, "alertmanager")}],
            **client_settings(alertmanager, target),
        }
    ]
    return section


def _written(target: Target, spec: RemoteWrite) -> dict[str, Any]:
    """The remote_write entry of a `storage.remote_write[]` target."""
    entry: dict[str, Any] = {"name": spec.name, "url": spec.url}
    if spec.timeout is not None:
        entry["remote_timeout"] = spec.timeout
    if spec.headers:
        entry["headers"] = dict(spec.headers)
    if spec.basic is not None:
        path = target.secret_path("prometheus", storage.password_file(spec))
        entry["basic_auth"] = {"username": spec.basic.username, "password_file": path}
    if spec.bearer is not None:
        entry["authorization"] = {
            "type": "Bearer",
            "credentials_file": target.secret_path("prometheus", storage.token_file(spec)),
        }
    if spec.write_relabel:
        entry["write_relabel_configs"] = [storage.relabel(rule) for rule in spec.write_relabel]
    if spec.queue:
        entry["queue_config"] = dict(spec.queue)
    return entry


def _store(stack: Stack, target: Target, name: str, store: catalog.Store) -> dict[str, Any]:
    """The remote_write entry of a store the stack runs, with the credentials and trust Prometheus also
    scrapes it with (remote_write has no `scheme`: the URL says it)."""
    component = stack.components[name]
    client = {k: v for k, v in client_settings(component, target).items() if k != "scheme"}
    url = f"{scheme(component)}://{target.address(stack, name)}{store.write}"
    return {"name": name, "url": url, **client}


def remote_write(stack: Stack, target: Target) -> list[dict[str, Any]]:
    """The remote_write section of every Prometheus copy: the stores the stack runs, then the spec's targets."""
    stores = [_store(stack, target, name, how) for name, how in catalog.stores().items() if name in stack.components]
    return [*stores, *(_written(target, spec) for spec in stack.storage.remote_write)]


@per_stack
def job_timings(stack: Stack) -> dict[str, tuple[Duration, Duration]]:
    """(scrape interval, scrape timeout) of every scrape job, by job name, as rendered."""
    config_data = config(stack, Target("compose"))
    defaults = config_data["global"]
    return {
        job["job_name"]: (
            Duration(job.get("scrape_interval", defaults["scrape_interval"])),
            Duration(job.get("scrape_timeout", defaults["scrape_timeout"])),
        )
        for job in config_data["scrape_configs"]
    }


def render(stack: Stack, target: Target) -> Tree:
    tree = Tree()
    for instance in stack.components["prometheus"].instances:
        text = dump_yaml(config(stack, target, instance.index), stack)
        tree.files[config_file(instance.name)] = text
    # the credentials Prometheus presents to protected components, and the certificates it trusts
    for name, component in stack.components.items():
        base = f"{conventions.SECRETS_DIR}/prometheus"
        if protected(component) and component.auth is not None and component.auth.basic is not None:
            tree.secrets[f"{base}/{password_file(name)}"] = SecretFile.single(component.auth.basic.password)
        if uses_tls(component) and component.auth is not None and component.auth.tls is not None:
            tree.secrets[f"{base}/{ca_file(name)}"] = SecretFile.pem(component.auth.tls.cert)
    return tree
