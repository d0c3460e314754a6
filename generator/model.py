"""Stage `build` output: the frozen, typed model every renderer reads. Defaults live in build, not here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

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


@dataclass(frozen=True)
class HttpMetrics:
    requests: str
    duration: str | None
    errors: str  # label matcher selecting failed requests, e.g. code=~"5.."
    quantile: Decimal  # the latency quantile ServiceHighLatency watches (0.99: the 99th percentile)


@dataclass(frozen=True)
class SLO:
    name: str
    kind: str  # availability | latency
    objective: Decimal  # percent, e.g. Decimal("99.9")
    period: Duration  # e.g. 30d
    threshold: Duration | None  # latency only, as written (300ms)
    description: str

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


@dataclass(frozen=True)
class Receiver:
    name: str
    # integration kind (email, slack, ...) -> its settings; secret settings are SecretRef values
    integrations: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Route:
    receiver: str
    continue_: bool
    matchers: tuple[str, ...] = ()  # Alertmanager matcher strings: severity="critical"
    group_by: tuple[str, ...] | None = None
    group_wait: Duration | None = None
    group_interval: Duration | None = None
    repeat_interval: Duration | None = None
    mute_during: tuple[str, ...] = ()
    active_during: tuple[str, ...] = ()
    routes: tuple[Route, ...] = ()


@dataclass(frozen=True)
class TimeInterval:
    name: str
    weekdays: tuple[str, ...] = ()
    times: tuple[tuple[str, str], ...] = ()
    location: str | None = None


@dataclass(frozen=True)
class Smtp:
    smarthost: str
    from_: str
    username: str | None
    password: SecretRef | None
    require_tls: bool


@dataclass(frozen=True)
class RouteTest:
    """`notifications.tests[]`: an alert, and who gets it (`receivers`) or whether it is `muted`;
    `at`: at that moment (RFC 3339 text: the time intervals apply); `firing`: while these alerts fire."""

    labels: Mapping[str, str]
    receivers: tuple[str, ...] | None  # None: the test only says whether it is muted
    source: str = ""  # file:line of the spec entry
    at: str = ""
    firing: tuple[Mapping[str, str], ...] = ()
    muted: bool | None = None


@dataclass(frozen=True)
class Escalation:
    """`notifications.escalations[]`: an alert matching `matchers` that still fires `after` this long also
    goes to `receivers`, as a copy carrying the label escalation=<name>."""

    name: str
    after: Duration
    receivers: tuple[str, ...]
    match: Mapping[str, str] = field(default_factory=dict)  # label -> value
    match_re: Mapping[str, str] = field(default_factory=dict)  # label -> anchored regex
    repeat_interval: Duration | None = None


@dataclass(frozen=True)
class InhibitRule:
    """`notifications.inhibit[]`: while an alert matching `source` fires, alerts matching `target` with the
    same `equal` labels are muted. Matchers are Alertmanager matcher texts."""

    source: tuple[str, ...]
    target: tuple[str, ...]
    equal: tuple[str, ...]
    where: str = ""  # file:line of the spec entry


@dataclass(frozen=True)
class Notifications:
    receivers: tuple[Receiver, ...]
    default_receiver: str
    group_by: tuple[str, ...]
    group_wait: Duration
    group_interval: Duration
    repeat_interval: Duration
    routes: tuple[Route, ...] = ()
    time_intervals: tuple[TimeInterval, ...] = ()
    smtp: Smtp | None = None
    tests: tuple[RouteTest, ...] = ()
    escalations: tuple[Escalation, ...] = ()
    copy_to: tuple[str, ...] = ()  # receivers that get a copy of every notification
    inhibit: tuple[InhibitRule, ...] = ()  # the spec's own, beside the default ones


@dataclass(frozen=True)
class PanelQuery:
    expr: str
    legend: str = ""


@dataclass(frozen=True)
class CustomPanel:
    """A panel of a custom dashboard (`dashboards.custom[].rows[].panels[]`); sizes in grid units."""

    title: str
    type: str  # timeseries | stat | gauge | bargauge | table | heatmap | text
    width: int
    height: int
    unit: str  # a Grafana unit id
    queries: tuple[PanelQuery, ...] = ()
    metric: DeclaredMetric | None = None  # a declared metric: its queries by type, on its service
    service: str = ""  # the service declaring `metric`
    decimals: int | None = None
    thresholds: tuple[tuple[str, float | None], ...] = ()  # (color, from value); the base step has None
    min: float | None = None
    max: float | None = None
    description: str = ""
    links: tuple[tuple[str, str], ...] = ()  # (title, url)
    text: str = ""  # Markdown, for a text panel


@dataclass(frozen=True)
class CustomVariable:
    """$name: the values of `label` on `metric`'s series, or the fixed `values`."""

    name: str
    title: str
    metric: str | None = None
    label: str | None = None
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class CustomRow:
    title: str
    panels: tuple[CustomPanel, ...]


@dataclass(frozen=True)
class CustomDashboard:
    uid: str
    title: str
    folder: str  # the Grafana folder title
    description: str
    rows: tuple[CustomRow, ...]
    tags: tuple[str, ...] = ()
    variables: tuple[CustomVariable, ...] = ()


@dataclass(frozen=True)
class Dashboards:
    enabled: bool
    folder: str
    exclude: tuple[str, ...] = ()
    custom: tuple[CustomDashboard, ...] = ()


@dataclass(frozen=True)
class Demo:
    enabled: bool
    port: int
    image: str
    error_ratio: float


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
    source: str  # the spec's file

    def component(self, name: str) -> Component | None:
        return self.components.get(name)

    def has(self, name: str) -> bool:
        return name in self.components
