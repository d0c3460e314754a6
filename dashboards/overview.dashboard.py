"""Overview: is every target up, is anything firing, how are the services doing; links to every other view.

The services as a whole (requests, targets down) and their top lists (most failing, busiest, slowest,
least SLO budget left), each service a click away from its own panels: the overview stays the same
size for ten services or ten thousand. A row per component of the spec: removing an exporter from the
spec removes its row here along with its own dashboard.
"""

from __future__ import annotations

from typing import Any

from generator import conventions as c
from generator import dashboard_groups, slo_math
from generator import dashboards as g
from generator.model import Stack

UIDS = c.DASHBOARD_UIDS


TOP = 10  # services in each top list


def _to_service(uid: str) -> list[dict[str, Any]]:
    """A data link from a table row to the dashboard of that row's service."""
    url = f"/d/{uid}?var-service=${{__data.fields.service}}&${{__url_time_range}}"
    return [{"title": "Open this service", "type": "link", "url": url}]


def _top(title: str, exprs: list[str], unit: str, uid: str, description: str, bottom: bool = False) -> g.Cell:
    which = "bottomk" if bottom else "topk"
    return g.table(
        title,
        g.q(f"{which}({TOP}, {' or '.join(exprs)})", table=True),
        hidden=["Time"],
        unit=unit,
        links=_to_service(uid),
        w=8,
        description=f"{description} Click a service for its panels.",
    )


def _services_row(stack: Stack) -> g.Row | None:
    """Aggregates and top lists over every service, whatever their number; a click on a service opens its
    panels (the Services or SLOs dashboard with that service picked)."""
    if not stack.services:
        return None
    every = dashboard_groups.EVERY
    groups = dashboard_groups.http_groups(stack.services, every)
    cells = [
        g.stat(
            "Service targets down",
            g.q(f"count(up{{{every}}} == 0) or vector(0)"),
            graph=False,
            steps=(("green", None), ("red", 1)),
            description="Scrape targets of the spec's services that Prometheus cannot reach.",
        )
    ]
    if groups:
        rates = [g.rate(f.first.http.requests, f.sel, "service") for f in groups if f.first.http]
        errors = [g.ratio(f.first.http.requests, f.sel, f.first.http.errors, "service") for f in groups if f.first.http]
        slow = [
            g.quantile(0.95, f.first.http.duration, f.sel, "service")
            for f in groups
            if f.first.http and f.first.http.duration
        ]
        uid = UIDS["service"]
        cells.append(
            g.stat(
                "Requests, all services",
                g.q(" + ".join(f"(sum({r}) or vector(0))" for r in rates)),
                unit="reqps",
                links=[g.link("Services", uid)],
                description="Requests per second over every service with HTTP metrics.",
            )
        )
        cells.append(_top("Most failing services", errors, "percentunit", uid, "Share of requests failing."))
        cells.append(_top("Busiest services", rates, "reqps", uid, "Requests per second."))
        if slow:
            cells.append(_top("Slowest services (p95)", slow, "s", uid, "95th percentile of request duration."))
    budgets = [
        f"1 - ({slo_math.ratio_by_service(f.first, slo, slo.period, f.sel)}) / {slo_math.budget(slo)}"
        for f in groups
        for slo in f.first.slos
    ]
    if budgets:
        cells.append(
            _top(
                "Least error budget left",
                budgets,
                "percentunit",
                UIDS["slo"],
                "Share of each SLO's error budget left over its period.",
                bottom=True,
            )
        )
    return g.Row("Services", [cells[0], *(g.Cell(c.panel, c.w, 8 if c.w == 8 else c.h) for c in cells[1:])])


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
    services = [row for row in (_services_row(stack),) if row]
    views = [uid for view, uid in UIDS.items() if view != "overview"]
    return g.Board(
        uid=UIDS["overview"],
        title="Overview",
        tags=("overview",),
        links=tuple(dict.fromkeys(views)),
        description=f"Stack {stack.name} ({stack.environment}): targets, alerts, services and components at a glance.",
        rows=[health, *services, *_component_rows(stack)],
    )
