"""Stage `build`: validated plain data -> the frozen `Stack`. Every default is applied here, once."""

from __future__ import annotations

from typing import Any

from generator import catalog, conventions
from generator.model import (
    TLS,
    AlertRule,
    Alerts,
    Auth,
    BasicAuth,
    Component,
    Demo,
    Instance,
    Override,
    Probe,
    RecordingRule,
    RuleTest,
    Stack,
)
from generator.spec import build_kubernetes
from generator.spec.build_dashboards import dashboards as build_dashboards
from generator.spec.build_kinds import kind_rule
from generator.spec.build_notifications import notifications, secret
from generator.spec.build_services import services as build_services
from generator.spec.build_storage import storage as build_storage
from generator.spec.items import optional_components
from generator.spec.loader import Document
from generator.units import Duration, Size, compose_memory


def _duration(value: str | None) -> Duration | None:
    return Duration(value) if value is not None else None


def _auth(value: dict[str, Any] | None) -> Auth | None:
    if not value:
        return None
    basic = value.get("basic")
    tls = value.get("tls")
    return Auth(
        basic=BasicAuth(basic["username"], secret(basic["password"])) if basic else None,  # type: ignore[arg-type]
        tls=TLS(secret(tls["cert"]), secret(tls["key"])) if tls else None,  # type: ignore[arg-type]
    )


def _image(entry: catalog.Entry, spec: dict[str, Any], registry: str | None) -> str:
    if spec.get("image"):
        image = str(spec["image"])
        return image if ":" in image.rsplit("/", 1)[-1] or "@" in image else f"{image}:{spec.get('version', entry.tag)}"
    if entry.image is None:
        return ""
    base = f"{registry.rstrip('/')}/{entry.image}" if registry else entry.image
    return f"{base}:{spec.get('version', entry.tag)}"


def _instances(entry: catalog.Entry, spec: dict[str, Any], port: int) -> tuple[Instance, ...]:
    """Its copies (`replicas`), each on its own port (catalog `replicas.port_step`); a URL the spec gives
    (a proxy in front of them all) is every copy's, else each is reached on its own port."""
    count = int(spec.get("replicas", 1))
    how = entry.replication
    found = []
    for index in range(1, count + 1):
        own = how.port(port, index) if how else port
        found.append(
            Instance(
                name=catalog.replica_name(entry.name, index),
                index=index,
                port=own,
                url=str(spec.get("url") or f"http://localhost:{own}"),
                peer_port=how.peer_port(port, index, entry.port) if how and count > 1 else None,
            )
        )
    return tuple(found)


def _component(name: str, spec: dict[str, Any], stack: dict[str, Any], interval: Duration, **extra: Any) -> Component:
    """`interval`: the component's scrape interval (the spec's, else the stack's)."""
    entry = catalog.entry(name)
    registry = (stack.get("images") or {}).get("registry")
    port = int(spec.get("port", entry.port))
    return Component(
        name=name,
        image=_image(entry, spec, registry),
        port=port,
        container_port=entry.port,
        expose=bool(spec.get("expose", False)),
        memory=compose_memory(Size(spec["memory"])) if "memory" in spec else entry.memory,
        auth=_auth(spec.get("auth")),
        interval=interval,
        # a component that runs only on Kubernetes, given `targets`, is scraped where it runs instead
        runs=entry.image is not None and not (entry.kubernetes.only and spec.get("targets")),
        url=str(spec.get("url") or f"http://localhost:{port}"),
        instances=_instances(entry, spec, port),
        **extra,
    )


def _catalog_component(name: str, spec: dict[str, Any], data: dict[str, Any], scrape: Duration) -> Component:
    """A component the spec describes (under `components:` or `exporters:`), with its catalog defaults."""
    part = catalog.entry(name).spec
    interval = Duration(spec["interval"]) if "interval" in spec else scrape
    extra: dict[str, Any] = {}
    if "probes" in spec:
        extra["probes"] = tuple(
            Probe(
                p["name"],
                p.get("module", "http_2xx"),
                tuple(p["targets"]),
                _duration(p.get("interval")) or interval,
                dict(p.get("labels", {})),
            )
            for p in spec["probes"]
        )
    if "targets" in spec:
        extra["targets"] = tuple(spec["targets"])
    secrets = {key: secret(spec[key]) for key in part.secrets if spec.get(key)}
    if secrets:
        extra["secrets"] = secrets
    options: dict[str, Any] = {key: _option(part, key, spec.get(key, default)) for key, default in part.options.items()}
    if part.args:
        options["args"] = tuple(spec.get("args", ()))
    if options:
        extra["options"] = options
    return _component(name, spec, data, interval, **extra)


def _option(part: catalog.SpecPart, key: str, value: Any) -> Any:
    """An option's value as the model holds it: a duration (`$ref: duration` in its catalog schema) parsed."""
    if isinstance(value, str) and (part.properties.get(key) or {}).get("$ref") == "#/$defs/duration":
        return Duration(value)
    return value


def _components(data: dict[str, Any], scrape: Duration, error_ratio: float) -> dict[str, Component]:
    found: dict[str, Component] = {}
    core = data.get("components") or {}
    for name in conventions.CORE:
        spec = core.get(name) or {}
        if catalog.entry(name).spec.can_disable and spec.get("enabled", True) is False:
            continue
        found[name] = _catalog_component(name, spec, data, scrape)
    for name, _, spec in optional_components(data):
        found[name] = _catalog_component(name, spec or {}, data, scrape)
    receivers = (data.get("notifications") or {}).get("receivers") or []
    for kind, name in catalog.adapters().items():
        if any(kind in r for r in receivers):
            found[name] = _catalog_component(name, core.get(name) or {}, data, scrape)
    demo = data.get("demo") or {}
    if demo.get("enabled"):
        found["demo"] = _component("demo", demo, data, scrape, options={"error_ratio": error_ratio})
    return {name: found[name] for name in conventions.ORDER if name in found}


def _where(doc: Document, path: str) -> str:
    line, _ = doc.where(path)
    return f"{doc.file}:{line}"


def _alerts(doc: Document, data: dict[str, Any], components: dict[str, Component]) -> Alerts:
    packs = data.get("packs", "default")
    if packs == "default":
        names = ("prometheus", "alertmanager", *(c for c in components if c not in ("prometheus", "alertmanager")))
    elif packs == "none":
        names = ()
    else:
        names = tuple(packs)
    overrides = {
        name: Override(
            enabled=o.get("enabled", True),
            for_=_duration(o.get("for")),
            threshold=o.get("threshold"),
            severity=o.get("severity"),
            labels=dict(o.get("labels", {})),
        )
        for name, o in (data.get("overrides") or {}).items()
    }
    rules = tuple(
        kind_rule(doc, r, _where(doc, f"$.alerts.rules[{i}]"))
        if r.get("kind")
        else AlertRule(
            alert=r["alert"],
            expr=r["expr"],
            severity=r["severity"],
            summary=r["summary"],
            for_=Duration(r.get("for", "0s")),
            keep_firing_for=_duration(r.get("keep_firing_for")),
            description=r.get("description", ""),
            runbook=r.get("runbook", ""),
            dashboard=r.get("dashboard", ""),
            labels=dict(r.get("labels", {})),
            tests=tuple(
                RuleTest(dict(t["series"]), t["fires"], Duration(t.get("eval_time", "10m")), dict(t.get("labels", {})))
                for t in r.get("tests", ())
            ),
            source=_where(doc, f"$.alerts.rules[{i}]"),
        )
        for i, r in enumerate(data.get("rules") or [])
    )
    recording = tuple(
        RecordingRule(r["record"], r["expr"], dict(r.get("labels", {})), _where(doc, f"$.alerts.recording[{i}]"))
        for i, r in enumerate(data.get("recording") or [])
    )
    base = str(data.get("runbook_base_url", ""))
    return Alerts(packs=names, overrides=overrides, rules=rules, recording=recording, runbook_base_url=base)


def _default_timeout(interval: Duration) -> Duration:
    """Prometheus refuses a scrape timeout longer than the interval, so a short interval caps the default."""
    default = conventions.DEFAULT_SCRAPE_TIMEOUT
    return interval if interval.ms < default.ms else default


def build(doc: Document, env: str | None = None) -> Stack:
    """Map a validated document to the model; `env`: the name of the spec's environment (an override of
    its base) that `doc` is the merged document of, if it is one."""
    data: dict[str, Any] = doc.data
    environment = data.get("environment", "production")
    scrape_interval = Duration(data.get("scrape_interval", conventions.DEFAULT_SCRAPE_INTERVAL))
    demo = data.get("demo") or {}
    error_ratio = demo.get("error_ratio", conventions.DEFAULT_DEMO_ERROR_RATIO)
    components = _components(data, scrape_interval, error_ratio)
    labels = {conventions.LABEL_STACK: data["name"], conventions.LABEL_ENV: environment}
    labels.update(data.get("external_labels", {}))
    retention = data.get("retention") or {}
    services = build_services(data, scrape_interval, components, build_kubernetes.kubernetes(data, env).namespace)
    return Stack(
        name=data["name"],
        environment=environment,
        external_labels=labels,
        scrape_interval=scrape_interval,
        scrape_timeout=_duration(data.get("scrape_timeout")) or _default_timeout(scrape_interval),
        evaluation_interval=Duration(data.get("evaluation_interval", conventions.DEFAULT_EVALUATION_INTERVAL)),
        retention_time=Duration(retention.get("time", conventions.DEFAULT_RETENTION_TIME)),
        retention_size=Size(retention["size"]) if "size" in retention else None,
        components=components,
        services=services,
        alerts=_alerts(doc, data.get("alerts") or {}, components),
        notifications=notifications(data.get("notifications"), doc),
        dashboards=build_dashboards(data.get("dashboards"), services),
        demo=Demo(
            bool(demo.get("enabled", False)),
            int(demo.get("port", catalog.entry("demo").port)),
            demo.get("image", ""),
            float(error_ratio),
        ),
        storage=build_storage(data.get("storage")),
        source=doc.file,
        kubernetes=build_kubernetes.kubernetes(data, env),
        project=f"{data['name']}-{env}" if env else data["name"],
    )
