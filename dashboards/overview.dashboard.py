"""Overview: is every target up, is anything firing, how is each service doing; links to every other view.

A row per service (rate, errors, p95 latency, SLO budget left) and a row per component of the spec:
removing an exporter from the spec removes its row here along with its own dashboard.
"""

from __future__ import annotations

from generator import conventions as c
from generator import dashboards as g
from generator import slo_math
from generator.model import Service, Stack

UIDS = c.DASHBOARD_UIDS


def _service_row(stack: Stack, service: Service) -> g.Row:
    sel = f'service="{service.name}"'
    if service.http is None:
        return g.Row(
            f"Service {service.name}",
            [
                g.stat(
                    "Targets up",
                    g.q(f"sum(up{{{sel}}})"),
                    description="Scrape targets of this service that answer.",
                    steps=g.UP_STEPS,
                )
            ],
        )
    http = service.http
    to_service = [g.link(f"{service.name}: requests", UIDS["service"], f"var-service={service.name}")]
    availability = next((s for s in service.slos if s.kind == "availability"), None)
    latency = next((s for s in service.slos if s.kind == "latency"), None)
    errors = g.percent_alert(stack, "ServiceHighErrorRatio")
    if availability:  # orange once the failures eat the SLO's budget faster than it allows
        errors = (errors[0], ("orange", slo_math.budget(availability)), *errors[1:])
    slow = g.alert_steps(stack, "ServiceHighLatency")
    if latency and latency.threshold_seconds:
        slow = (("green", None), ("red", latency.threshold_seconds))
    cells = [
        g.stat(
            "Requests",
            g.q(g.rate(http.requests, sel)),
            unit="reqps",
            links=to_service,
            description=f"Requests per second ({http.requests}).",
        ),
        g.stat(
            "Errors",
            g.q(g.ratio(http.requests, sel, http.errors)),
            unit="percentunit",
            links=to_service,
            steps=errors,
            description=f"Share of requests failing ({http.errors}): red from the ServiceHighErrorRatio alert's "
            "threshold, orange from the availability SLO's error budget.",
        ),
    ]
    if http.duration:
        cells.append(
            g.stat(
                "p95 latency",
                g.q(g.quantile(0.95, http.duration, sel)),
                unit="s",
                links=to_service,
                steps=slow,
                description="95th percentile of request duration: red above the latency SLO's threshold (or, "
                "without one, the ServiceHighLatency alert's).",
            )
        )
    for slo in service.slos:
        cells.append(
            g.stat(
                f"Budget left: {slo.name}",
                g.q(slo_math.budget_left(service, slo)),
                unit="percentunit",
                steps=(("red", None), ("orange", 0.25), ("green", 0.5)),
                graph=False,
                links=[g.link("SLOs", UIDS["slo"])],
                description=f"Share of the {slo.period} error budget of SLO {slo.name} ({slo.objective}%) left.",
            )
        )
    widths = 24 // len(cells) if len(cells) <= 4 else 6
    return g.Row(f"Service {service.name}", [g.Cell(cell.panel, widths, cell.h) for cell in cells])


def _component_rows(stack: Stack) -> list[g.Row]:
    def up(job: str, what: str) -> g.Cell:
        return g.stat(
            f"{what} up",
            g.q(f'min(up{{job="{job}"}})'),
            steps=g.UP_STEPS,
            graph=False,
            description=f"1 when Prometheus can scrape {what}.",
        )

    rows: list[g.Row] = []
    if stack.has("node-exporter"):
        node = '{job="node-exporter"}'
        fs = f'job="node-exporter",{g.NODE_FSTYPES}'
        to = [g.link("Node", UIDS["node-exporter"])]
        rows.append(
            g.Row(
                "Hosts",
                [
                    up("node-exporter", "Node exporter"),
                    g.stat(
                        "Busiest CPU",
                        g.q(
                            '1 - min(avg by (instance) (rate(node_cpu_seconds_total{job="node-exporter",'
                            'mode="idle"}[$__rate_interval])))'
                        ),
                        unit="percentunit",
                        lo=0,
                        hi=1,
                        steps=g.percent_alert(stack, "NodeHighCpuLoad"),
                        links=to,
                        description="CPU utilisation of the busiest host.",
                    ),
                    g.stat(
                        "Fullest memory",
                        g.q(f"1 - min(node_memory_MemAvailable_bytes{node} / node_memory_MemTotal_bytes{node})"),
                        unit="percentunit",
                        lo=0,
                        hi=1,
                        steps=g.percent_alert(stack, "NodeHighMemoryUsage"),
                        links=to,
                        description="Memory utilisation of the host using most.",
                    ),
                    g.stat(
                        "Fullest filesystem",
                        g.q(f"1 - min(node_filesystem_avail_bytes{{{fs}}} / node_filesystem_size_bytes{{{fs}}})"),
                        unit="percentunit",
                        lo=0,
                        hi=1,
                        steps=g.percent_alert(stack, "NodeFilesystemAlmostFull"),
                        links=to,
                        description="Used share of the fullest filesystem on any host.",
                    ),
                ],
            )
        )
    if stack.has("blackbox-exporter"):
        rows.append(
            g.Row(
                "Probes",
                [
                    up("blackbox-exporter", "Blackbox exporter"),
                    g.stat(
                        "Failing probes",
                        g.q("count(probe_success == 0) or vector(0)"),
                        graph=False,
                        steps=(("green", None), ("red", 1)),
                        links=[g.link("Probes", UIDS["blackbox-exporter"])],
                        description="Endpoints whose last probe failed.",
                    ),
                ],
            )
        )
    singles = (
        ("redis-exporter", "Redis", "min(redis_up)"),
        ("postgres-exporter", "PostgreSQL", "min(pg_up)"),
        ("mysqld-exporter", "MySQL", "min(mysql_up)"),
        ("rabbitmq", "RabbitMQ", 'min(up{job="rabbitmq"})'),
    )
    for name, title, expr in singles:
        if stack.has(name):
            rows.append(
                g.Row(
                    title,
                    [
                        g.stat(
                            f"{title} reachable",
                            g.q(expr),
                            steps=g.UP_STEPS,
                            graph=False,
                            links=[g.link(title, UIDS[name])],
                            description=f"1 when every {title} instance answers its exporter.",
                        )
                    ],
                )
            )
    if stack.has("cadvisor"):
        rows.append(
            g.Row(
                "Containers",
                [
                    up("cadvisor", "cAdvisor"),
                    g.stat(
                        "Running containers",
                        g.q('count(container_last_seen{job="cadvisor",name!=""})'),
                        graph=False,
                        links=[g.link("Containers", UIDS["cadvisor"])],
                        description="Containers cAdvisor sees.",
                    ),
                ],
            )
        )
    if stack.has("pushgateway"):
        rows.append(
            g.Row(
                "Batch jobs",
                [
                    up("pushgateway", "Pushgateway"),
                    g.stat(
                        "Oldest push",
                        g.q("time() - min(push_time_seconds)"),
                        unit="s",
                        graph=False,
                        links=[g.link("Pushgateway", UIDS["pushgateway"])],
                        quiet="no batch job has pushed yet",
                        description="Age of the oldest group in the Pushgateway.",
                    ),
                ],
            )
        )
    return rows


def dashboard(stack: Stack) -> g.Board:
    health = g.Row(
        "Stack",
        [
            g.stat(
                "Targets down",
                g.q("count(up == 0) or vector(0)"),
                graph=False,
                steps=(("green", None), ("red", 1)),
                description="Scrape targets Prometheus cannot reach (the TargetDown alert).",
            ),
            g.stat(
                "Firing alerts",
                g.q(
                    f'sum by (severity) (ALERTS{{alertstate="firing",alertname!="{c.ALERT_WATCHDOG}"}})', "{{severity}}"
                ),
                graph=False,
                steps=(("green", None), ("red", 1)),
                links=[g.link("Alerts", UIDS["alerts"])],
                quiet="no alert is firing",
                description="Firing alerts by severity (the Watchdog excepted).",
            ),
            g.stat(
                "Targets up, by job",
                g.q("avg by (job) (up)", "{{job}}"),
                unit="percentunit",
                graph=False,
                steps=g.UP_STEPS,
                w=12,
                description="Share of each job's targets Prometheus can scrape.",
            ),
        ],
    )
    services = [_service_row(stack, s) for s in stack.services]
    views = [uid for view, uid in UIDS.items() if view != "overview"]
    return g.Board(
        uid=UIDS["overview"],
        title="Overview",
        tags=("overview",),
        links=tuple(dict.fromkeys(views)),
        description=f"Stack {stack.name} ({stack.environment}): targets, alerts, services and components at a glance.",
        rows=[health, *services, *_component_rows(stack)],
    )
