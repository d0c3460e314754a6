"""The component catalog: `compose/`, `rules/`, `dashboards/` folders, found in a checkout or installed.

Everything specific to one component lives in `compose/<name>.yaml` (how it runs, how it is scraped,
what the spec may say about it), `rules/<name>.rules.yml` and `dashboards/<name>.dashboard.py`. The
code reads these entries and never asks for a component by name; `Entry` documents every key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from generator import yamlload

_HERE = Path(__file__).resolve().parent
# how a component checks credentials: exporter-toolkit's web.config.file, its own flags (TLS files as
# command-line flags), its own login (Grafana), or not at all (cannot be exposed)
AUTH_KINDS = ("web-config", "flags", "login", "none")


def folder(name: str) -> Path:
    """A catalog folder: shipped as `generator/_catalog/<name>` in a wheel, top-level in a checkout."""
    for candidate in (_HERE / "_catalog" / name, _HERE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"catalog folder {name!r} is missing from the installation")


@dataclass(frozen=True)
class SpecPart:
    """What the spec may say about a component (`spec:` in its catalog file).

    `section` "components" (always there, e.g. prometheus), or one of OPTIONAL_SECTIONS: "exporters"
    or "storage" (there when the spec names it under `key`, e.g. `storage.victoriametrics`);
    `properties`/`required`: JSON Schema of its own keys beside the common ones (image, version, port,
    ...); `options`: keys copied into `Component.options` with their defaults (None: required);
    `secrets`: keys holding secret references; `can_disable`: `enabled: false` removes it; `args`: the
    spec may add command-line flags; `example`: a valid value of its spec section; `receiver`: the
    notification kind it serves (a section "components" entry that runs only when a receiver of that kind
    exists, e.g. the dingtalk adapter).
    """

    section: str | None = None
    key: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()
    can_disable: bool = False
    args: bool = False
    example: dict[str, Any] | None = None  # a valid spec value for it: what the catalog-wide tests use
    receiver: str | None = None


# how a component runs in a cluster: a workload promstack renders, a custom resource the operator runs, or not
KUBERNETES_RUNS = ("workload", "operator", "none")
KUBERNETES_KINDS = ("Deployment", "DaemonSet")


@dataclass(frozen=True)
class KubernetesPart:
    """How a component runs on Kubernetes (`kubernetes:` in its catalog file; README "Kubernetes").

    `run`: `workload` (promstack renders its Deployment or DaemonSet and Service from the keys above
    `kubernetes:`: image, command, environment, user, health, data), `operator` (a custom resource that
    prometheus-operator runs: Prometheus, Alertmanager) or `none` (`why` says what serves instead).
    `kind`: Deployment or DaemonSet (one pod per node: the host-level collectors); `host_network`,
    `host_pid`, `privileged`: what the pod shares with its node; `host_mounts`: host paths it reads
    besides `host_mounts` (compose's); `config`: where the operator mounts the component's config files
    (a workload: its `config`); `secrets`: where the operator mounts the stack's Secret; `rbac`: the
    ClusterRole rules of its service account; `only`: it runs on Kubernetes only, and elsewhere the spec
    must give `targets` where one already runs (scraped there, never run).
    """

    run: str = "workload"
    why: str = ""
    kind: str = "Deployment"
    host_network: bool = False
    host_pid: bool = False
    privileged: bool = False
    host_mounts: tuple[str, ...] = ()
    config: str | None = None
    secrets: str | None = None
    rbac: tuple[dict[str, Any], ...] = ()
    only: bool = False


@dataclass(frozen=True)
class Peers:
    """How copies of a component find each other (`replicas.peers`): a gossip mesh on a port of its own.

    `port`: the gossip port inside its container; on the host (local runtime) each copy gossips on its
    HTTP port + `port` - the catalog `port` (Alertmanager: 9093 and 9094, then 9193 and 9194, ...).
    `listen`: the flag naming the address a copy gossips on, given empty with one copy (clustering off);
    `peer`: the flag given once for every other copy.
    """

    port: int
    listen: str
    peer: str


@dataclass(frozen=True)
class Replication:
    """How a component runs as several copies (`replicas:` in its catalog file; the spec's `replicas`).

    Copy n (from 1) is a process or service of its own named `<name>-<n>` (the first keeps the plain
    name, so going from one copy to several keeps its data), with its own data and host port
    `port + (n-1) * port_step`; `max`: the most copies the spec may ask for.
    """

    max: int
    port_step: int
    peers: Peers | None = None

    def port(self, base: int, index: int) -> int:
        """The host port of copy `index` (1, 2, ...) when the first listens on `base`."""
        return base + (index - 1) * self.port_step

    def peer_port(self, base: int, index: int, entry_port: int) -> int | None:
        """The host port copy `index` gossips on (local runtime); None without a mesh."""
        if self.peers is None:
            return None
        return self.port(base, index) + self.peers.port - entry_port


@dataclass(frozen=True)
class Store:
    """A long-term store promstack runs (`store:` in its catalog file): every Prometheus copy remote-writes
    to `write` (a path); Grafana gets a datasource named `datasource` with uid `uid`, which dashboards
    can switch to; `relabel`: the file (in its config folder) of relabelling rules it applies to what it
    receives, where promstack drops the `replica` label of Prometheus copies so that the store's own
    deduplication keeps one series."""

    write: str
    datasource: str
    uid: str
    relabel: str


def stores() -> dict[str, Store]:
    """Component -> how it stores, for every long-term store of the catalog."""
    return {name: e.store for name, e in entries().items() if e.store is not None}


def replica_name(name: str, index: int) -> str:
    """Copy `index` of component `name`: its process, compose service, data folder or volume, `replica` label."""
    return name if index == 1 else f"{name}-{index}"


@dataclass(frozen=True)
class Entry:
    """One `compose/<name>.yaml` file: how a component runs, is scraped, reloaded and shown."""

    name: str
    image: str | None  # None: nothing to run (scraped only, e.g. rabbitmq's built-in endpoint)
    tag: str | None
    port: int
    order: int = 100  # position in every artifact (deterministic output)
    user: str | None = None
    data: str | None = None  # data directory inside the container (a named volume)
    config: str | None = None  # where the component's rendered folder is mounted
    config_folders: tuple[str, ...] = ()  # mount only these subfolders of it (the image keeps its own files)
    memory: str = "256m"
    read_only: bool = True
    health: str | None = "/metrics"  # HTTP path that answers 200 when healthy
    health_auth: bool = True  # whether the health path needs the component's basic-auth credentials
    metrics_path: str = "/metrics"
    binaries: tuple[str, ...] = ()  # local runtime: names to look for on PATH, in order
    package: str | None = None  # Debian package that provides the binary
    optional: bool = False  # local runtime: the stack runs without it when its binary is missing
    # command-line flags and environment: Jinja2 templates (generator.render.args says what they see);
    # a flag or variable that renders empty is left out
    command: tuple[str, ...] = ()
    environment: dict[str, str] = field(default_factory=dict)
    secret_env: dict[str, str] = field(default_factory=dict)  # variable -> spec secret key, or "auth.basic.password"
    # how its HTTP server checks who asks: web-config (exporter-toolkit --web.config.file), flags (its
    # own TLS/basic-auth options), login (its own login; settings protect /metrics), none (it cannot)
    auth: str = "none"
    compose: dict[str, Any] = field(default_factory=dict)  # extra keys of its compose service
    compose_when: tuple[dict[str, Any], ...] = ()  # [{if: template, set: {key: value}, add: {key: [items]}}]
    host_mounts: tuple[str, ...] = ()  # read-only host views (compose)
    # honor_labels, multi_target {path, param}, probes {job, path, success}: a job per probe of the spec,
    # `success` the metric that is 1 or 0 per probe result (an SLO measured by a probe counts it)
    scrape: dict[str, Any] = field(default_factory=dict)
    reload: dict[str, Any] = field(default_factory=dict)  # {gauge: metric} (/-/reload) or {api: [paths]}
    login: dict[str, str] = field(default_factory=dict)  # admin API login {user: option, password: secret}
    version: dict[str, str] = field(default_factory=dict)  # {path, json}: where its version is, else *_build_info
    dashboard: str | None = None  # uid of its dashboard (alerts link there)
    # how `promstack backup` copies its `data` (generator/ops/): {snapshot: {path, name, dir, needs}} (an HTTP
    # snapshot, `needs` the flag that enables it), {files: [...], fresh: {flag, default}} (files it rewrites
    # whole, waiting for a copy newer than the backup's start), {freeze: true} (the whole folder, paused);
    # `exclude`: entries of the data folder never copied. Empty: {freeze: true}.
    backup: dict[str, Any] = field(default_factory=dict)
    # {up: metric, down: sentence}: the exporter's own gauge of whether what it watches answers (redis_up,
    # probe_success); 0 makes its target down in `status` and `up` whatever the scrape says, for that reason
    backend: dict[str, str] = field(default_factory=dict)
    spec: SpecPart = field(default_factory=SpecPart)
    kubernetes: KubernetesPart = field(default_factory=KubernetesPart)
    # arguments that make the binary print its version, for components whose configs depend on it
    version_args: tuple[str, ...] = ()
    replication: Replication | None = None  # None: it always runs as one copy
    store: Store | None = None  # a long-term store every Prometheus copy writes to (spec section storage)
    # the whole file, including what only tests read: `live: {spec, backend: {path, body}, metric, value}`
    # runs it on the local runtime against a fake backend (tests/test_catalog_live.py)
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def web_config(self) -> bool:
        return self.auth == "web-config"

    @property
    def supports_auth(self) -> bool:
        return self.auth != "none"


def _replication(data: dict[str, Any] | None) -> Replication | None:
    if not data:
        return None
    peers = data.get("peers")
    return Replication(
        max=int(data["max"]),
        port_step=int(data["port_step"]),
        peers=Peers(int(peers["port"]), str(peers["listen"]), str(peers["peer"])) if peers else None,
    )


def _kubernetes(name: str, data: dict[str, Any]) -> KubernetesPart:
    part = KubernetesPart(
        run=str(data.get("run", "workload")),
        why=str(data.get("why", "")),
        kind=str(data.get("kind", "Deployment")),
        host_network=bool(data.get("host_network", False)),
        host_pid=bool(data.get("host_pid", False)),
        privileged=bool(data.get("privileged", False)),
        host_mounts=tuple(data.get("host_mounts", ())),
        config=data.get("config"),
        secrets=data.get("secrets"),
        rbac=tuple(data.get("rbac", ())),
        only=bool(data.get("only", False)),
    )
    if part.run not in KUBERNETES_RUNS or part.kind not in KUBERNETES_KINDS:
        raise ValueError(
            f"catalog entry {name}: kubernetes.run must be one of {', '.join(KUBERNETES_RUNS)} and "
            f"kubernetes.kind one of {', '.join(KUBERNETES_KINDS)}"
        )
    if part.run == "none" and not part.why:
        raise ValueError(f"catalog entry {name}: kubernetes.run none needs a `why`")
    return part


def _entry(data: dict[str, Any]) -> Entry:
    local = data.get("local") or {}
    spec = data.get("spec") or {}
    auth = data.get("auth", "none")
    if auth not in AUTH_KINDS:
        raise ValueError(f"catalog entry {data['name']}: auth must be one of {', '.join(AUTH_KINDS)}")
    return Entry(
        name=data["name"],
        image=data.get("image"),
        tag=data.get("tag"),
        port=int(data["port"]),
        order=int(data.get("order", 100)),
        user=data.get("user"),
        data=data.get("data"),
        config=data.get("config"),
        config_folders=tuple(data.get("config_folders", ())),
        memory=data.get("memory", "256m"),
        read_only=bool(data.get("read_only", True)),
        health=data.get("health", "/metrics"),
        health_auth=bool(data.get("health_auth", True)),
        metrics_path=data.get("metrics_path", "/metrics"),
        binaries=tuple(local.get("binaries", ())),
        package=local.get("package"),
        optional=bool(local.get("optional", False)),
        version_args=tuple(local.get("version", ())),
        replication=_replication(data.get("replicas")),
        store=Store(**data["store"]) if data.get("store") else None,
        command=tuple(str(arg) for arg in data.get("command", ())),
        environment={str(k): str(v) for k, v in (data.get("environment") or {}).items()},
        secret_env=dict(data.get("secret_env") or {}),
        auth=auth,
        compose=dict(data.get("compose") or {}),
        compose_when=tuple(data.get("compose_when", ())),
        host_mounts=tuple(data.get("host_mounts", ())),
        scrape=dict(data.get("scrape") or {}),
        reload=dict(data.get("reload") or {}),
        login=dict(data.get("login") or {}),
        version=dict(data.get("version") or {}),
        dashboard=data.get("dashboard"),
        backup=dict(data.get("backup") or {}),
        backend=dict(data.get("backend") or {}),
        spec=SpecPart(
            section=spec.get("section"),
            key=spec.get("key"),
            properties=dict(spec.get("properties") or {}),
            required=tuple(spec.get("required", ())),
            options=dict(spec.get("options") or {}),
            secrets=tuple(spec.get("secrets", ())),
            can_disable=bool(spec.get("can_disable", False)),
            args=bool(spec.get("args", False)),
            example=spec.get("example"),
            receiver=spec.get("receiver"),
        ),
        kubernetes=_kubernetes(data["name"], data.get("kubernetes") or {}),
        raw=data,
    )


@cache
def entries() -> dict[str, Entry]:
    """Every entry, in the order components appear in every artifact."""
    found = [_entry(yamlload.safe_load(path.read_text())) for path in sorted(folder("compose").glob("*.yaml"))]
    return {e.name: e for e in sorted(found, key=lambda e: (e.order, e.name))}


def entry(name: str) -> Entry:
    return entries()[name]


def enforces_auth(name: str) -> bool:
    """Whether the component can check credentials at all (else it is never exposed)."""
    return entry(name).supports_auth


def core() -> tuple[str, ...]:
    """Components every stack has (spec section `components`, less the receivers' adapters)."""
    return tuple(name for name, e in entries().items() if e.spec.section == "components" and not e.spec.receiver)


def adapters() -> dict[str, str]:
    """Receiver kind -> the component that delivers it (in the stack when a receiver of that kind is)."""
    return {e.spec.receiver: name for name, e in entries().items() if e.spec.receiver}


# spec sections whose components are in the stack when the spec names them (`exporters.node: {}`)
OPTIONAL_SECTIONS = ("exporters", "storage")


def section(which: str) -> dict[str, str]:
    """Spec key under section `which` (`exporters:`, `storage:`) -> component name."""
    return {e.spec.key or name: name for name, e in entries().items() if e.spec.section == which}


def exporters() -> dict[str, str]:
    """Spec key under `exporters:` -> component name."""
    return section("exporters")


def examples(which: str = "exporters") -> dict[str, Any]:
    """Section `which` (`exporters:`, `storage:`) of a spec that has every component of it, each as its
    catalog example shows."""
    return {key: entries()[name].spec.example or {} for key, name in section(which).items()}


def every_optional() -> dict[str, Any]:
    """The sections of a spec that has every optional component (`exporters:`, `storage:`), by example."""
    return {which: examples(which) for which in OPTIONAL_SECTIONS}


def dashboard_uids() -> dict[str, str]:
    """Component -> uid of the dashboard that shows it."""
    return {name: e.dashboard for name, e in entries().items() if e.dashboard}


def tag_version(tag: str | None) -> tuple[int, int] | None:
    """(major, minor) of an image tag (v0.33.1 -> (0, 33)), or None when the tag does not say."""
    found = re.match(r"v?(\d+)\.(\d+)", tag or "")
    return (int(found[1]), int(found[2])) if found else None


def image_tag(image: str) -> str:
    """The tag of an image reference (registry:5000/name:tag -> tag), empty when it has none."""
    return image.rsplit("/", 1)[-1].partition(":")[2]
