"""Stage `build` output: the frozen, typed model every renderer reads. Defaults live in build, not here."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from generator.model_dashboards import CustomDashboard as CustomDashboard
from generator.model_dashboards import CustomPanel as CustomPanel
from generator.model_dashboards import CustomRow as CustomRow
from generator.model_dashboards import CustomVariable as CustomVariable
from generator.model_dashboards import Dashboards as Dashboards
from generator.model_dashboards import PanelQuery as PanelQuery
from generator.model_notifications import Escalation as Escalation
from generator.model_notifications import InhibitRule as InhibitRule
from generator.model_notifications import Notifications as Notifications
from generator.model_notifications import Receiver as Receiver
from generator.model_notifications import Route as Route
from generator.model_notifications import RouteTest as RouteTest
from generator.model_notifications import Smtp as Smtp
from generator.model_notifications import TimeInterval as TimeInterval
from generator.model_storage import Relabel as Relabel
from generator.model_storage import RemoteWrite as RemoteWrite
from generator.model_storage import Storage as Storage
from generator.units import Duration, Size


@dataclass(frozen=True)
class SecretRef:
    """Where a secret comes from; the value itself is only read at write/deploy time."""

    env: str | None = None
    file: str | None = None
    # a secret promstack makes up itself when the spec names none (e.g. Grafana's admin password): the
    # writer generates it once and keeps it (see write.Secrets); the name is its path below secrets/
    generated: str | None = None

    def describe(self) -> str:
        if self.generated:
            return f"generated secret {self.generated}"
        return f"environment variable {self.env}" if self.env else f"file {self.file}"


@dataclass(frozen=True)
class BasicAuth:
    username: str
    password: SecretRef


@dataclass(frozen=True)
class TLS:
    cert: SecretRef
    key: SecretRef


@dataclass(frozen=True)
class Auth:
    basic: BasicAuth | None = None
    tls: TLS | None = None


@dataclass(frozen=True)
class Probe:
    name: str
    module: str
    targets: tuple[str, ...]
    interval: Duration
    labels: Mapping[str, str] = field(default_factory=dict)  # on its series: its alerts route with a service


@dataclass(frozen=True)
class Instance:
    """One running copy of a component (its `replicas`): a process or compose service of its own, with its
    own host port, data and URL. The first copy has the component's name, port and URL."""

    name: str  # prometheus, prometheus-2, ... (catalog.replica_name): process, service, volume, `replica` label
    index: int  # 1, 2, ...
    port: int  # host port: published (compose) or listened on (local)
    url: str
    peer_port: int | None = None  # host port it gossips on with the other copies (local runtime), if it does


@dataclass(frozen=True)
class Component:
    """A part of the stack: a process/container we run, or (runs=False) a target we only scrape."""

    name: str  # catalog name: prometheus, node-exporter, ...; also the job and compose service name
    image: str  # full reference incl. tag ("" when runs=False)
    port: int  # host port: published (compose) or listened on (local)
    container_port: int
    expose: bool
    memory: str  # compose/docker spelling (256m), from the catalog or the spec's size
    interval: Duration
    runs: bool
    auth: Auth | None = None
    probes: tuple[Probe, ...] = ()
    targets: tuple[str, ...] = ()
    secrets: Mapping[str, SecretRef] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)
    url: str = ""  # where people reach it (links in alerts, notifications, `up` output)
    instances: tuple[Instance, ...] = ()  # its copies (build makes at least one)

    @property
    def replicas(self) -> int:
        """How many copies run (`components.<name>.replicas`, 1 unless the spec asks for more)."""
        return len(self.instances) or 1


@dataclass(frozen=True)
class HttpMetrics:
    requests: str
    duration: str | None
    errors: str  # label matcher selecting failed requests, e.g. code=~"5.."
    quantile: Decimal  # the latency quantile ServiceHighLatency watches (0.99: the 99th percentile)


@dataclass(frozen=True)
class ProbeSLI:
    """What an SLO measured by a probe counts: the probe's results, 1 (success) or 0 (failure) each."""

    probe: str  # the probe's name (`exporters.<x>.probes[].name`)
    job: str  # the probe's scrape job
    metric: str  # the probe's success metric (catalog `scrape.probes.success`), e.g. probe_success
    interval: Duration  # how often the probe runs: its results per window


@dataclass(frozen=True)
class SLO:
    name: str
    kind: str  # availability | latency (both from request counters) | probe (availability from a probe)
    objective: Decimal  # percent, e.g. Decimal("99.9")
    period: Duration  # e.g. 30d
    threshold: Duration | None  # latency only, as written (300ms)
    description: str
    probe: ProbeSLI | None = None  # kind probe only

    @property
    def threshold_seconds(self) -> Decimal | None:
        return self.threshold.seconds if self.threshold is not None else None


@dataclass(frozen=True)
class DeclaredMetric:
    """A metric a service says it exposes (`services[].metrics[]`): panels by type, and alert kinds read it."""

    name: str
    type: str  # counter | gauge | histogram | summary
    help: str = ""
    unit: str = ""  # seconds, bytes, percent, ratio, ... or a Grafana unit id; "" for a plain number
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class KubernetesService:
    """The Kubernetes Service in front of a service's pods (`services[].kubernetes`)."""

    service: str
    namespace: str  # the stack's namespace unless the spec names another
    port: str | int  # the Service port's name, or the number the pods listen on


@dataclass(frozen=True)
class Service:
    name: str
    targets: tuple[str, ...]
    metrics_path: str
    scheme: str
    interval: Duration
    labels: Mapping[str, str] = field(default_factory=dict)
    http: HttpMetrics | None = None
    slos: tuple[SLO, ...] = ()
    component: str | None = None  # a component of the stack (the demo): targets come from the runtime
    metrics: tuple[DeclaredMetric, ...] = ()
    kubernetes: KubernetesService | None = None  # scraped there on Kubernetes, instead of at `targets`


@dataclass(frozen=True)
class RuleTest:
    series: Mapping[str, str]
    fires: bool
    eval_time: Duration
    labels: Mapping[str, str] = field(default_factory=dict)
    interval: Duration | None = None  # the sampling step of `series` (None: the tests' default, one a minute)
    name: str = ""  # what the case shows (generated tests of alert kinds)


@dataclass(frozen=True)
class AlertRule:
    alert: str
    expr: str
    severity: str
    summary: str
    for_: Duration
    keep_firing_for: Duration | None = None
    description: str = ""
    runbook: str = ""
    dashboard: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    tests: tuple[RuleTest, ...] = ()
    source: str = ""  # file:line of the spec entry, for lint messages
    kind: str | None = None  # compiled from an alert kind (generator/kinds): its tests are generated
    recording: tuple[RecordingRule, ...] = ()  # the baselines it reads, recorded just before it
    test_every: Duration | None = None  # the evaluation interval of its generated tests


@dataclass(frozen=True)
class RecordingRule:
    record: str
    expr: str
    labels: Mapping[str, str] = field(default_factory=dict)
    source: str = ""


@dataclass(frozen=True)
class Override:
    enabled: bool
    for_: Duration | None = None
    threshold: float | None = None
    severity: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Alerts:
    packs: tuple[str, ...] = ()
    overrides: Mapping[str, Override] = field(default_factory=dict)
    rules: tuple[AlertRule, ...] = ()
    recording: tuple[RecordingRule, ...] = ()
    runbook_base_url: str = ""  # runbook_url = this + the alert name ("": the Runbooks dashboard)


@dataclass(frozen=True)
class Demo:
    enabled: bool
    port: int
    image: str
    error_ratio: float


@dataclass(frozen=True)
class Kubernetes:
    """Settings of the Kubernetes rendering (`kubernetes:`)."""

    namespace: str


@dataclass(frozen=True)
class Stack:
    name: str
    environment: str
    external_labels: Mapping[str, str]  # includes stack and env
    scrape_interval: Duration
    scrape_timeout: Duration
    evaluation_interval: Duration
    retention_time: Duration
    retention_size: Size | None
    components: Mapping[str, Component]  # catalog name -> component, in a fixed order
    services: tuple[Service, ...]
    alerts: Alerts
    notifications: Notifications
    dashboards: Dashboards
    demo: Demo
    storage: Storage
    source: str  # the spec's file
    kubernetes: Kubernetes
    # the compose project and state dir it deploys as, unless told otherwise: its name, or for an
    # environment of the spec that is not the base's own (`--env staging`), "<name>-<environment>"
    project: str

    def component(self, name: str) -> Component | None:
        return self.components.get(name)

    def has(self, name: str) -> bool:
        return name in self.components

    def scrape_intervals(self) -> list[Duration]:
        """Every scrape interval of the stack: the global one, each component's, probe's and service's."""
        components = self.components.values()
        return [
            self.scrape_interval,
            *(c.interval for c in components),
            *(p.interval for c in components for p in c.probes),
            *(s.interval for s in self.services),
        ]

    def running(self) -> dict[str, tuple[Component, Instance]]:
        """Every copy of every component promstack runs, by its name (processes, services), in order."""
        return {i.name: (c, i) for c in self.components.values() if c.runs for i in c.instances}

    def instance(self, name: str) -> tuple[Component, Instance]:
        """The component and copy a process or service `name` is (prometheus-2: prometheus, its 2nd copy)."""
        return self.running()[name]

    def without(self, names: Iterable[str]) -> Stack:
        """This stack less components `names` and their rule packs (named after them); their dashboards go
        with them, as a dashboard is rendered only for a component the stack has."""
        gone = set(names)
        if not gone:
            return self
        components = {n: c for n, c in self.components.items() if n not in gone}
        alerts = replace(self.alerts, packs=tuple(p for p in self.alerts.packs if p not in gone))
        return replace(self, components=components, alerts=alerts)
