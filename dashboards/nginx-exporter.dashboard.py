"""NGINX: whether it answers, its connections by state, request rate and dropped connections."""

from __future__ import annotations

from generator import conventions as c
from generator import dashboards as g
from generator.model import Stack

SEL = 'job="nginx-exporter"'
RATE = "[$__rate_interval]"


def dashboard(stack: Stack) -> g.Board | None:
    if not stack.has("nginx-exporter"):
        return None
    rows = [
        g.Row(
            "NGINX",
            [
                g.up("Up", g.q(f"nginx_up{{{SEL}}}"), description="1 when the exporter can read the stub_status page."),
                g.stat(
                    "Active connections",
                    g.q(f"nginx_connections_active{{{SEL}}}"),
                    steps=g.alert_steps(stack, "NginxManyConnections"),
                    description="Open client connections, idle keep-alive ones included; red from the "
                    "NginxManyConnections alert's threshold.",
                ),
                g.stat(
                    "Requests",
                    g.q(f"sum(rate(nginx_http_requests_total{{{SEL}}}{RATE}))"),
                    unit="reqps",
                    description="Client requests per second.",
                ),
                g.stat(
                    "Dropped connections",
                    g.q(
                        f"sum(increase(nginx_connections_accepted{{{SEL}}}{RATE}))"
                        f" - sum(increase(nginx_connections_handled{{{SEL}}}{RATE}))"
                    ),
                    steps=(("green", None), ("red", 1)),
                    description="Connections accepted but not handled in the last interval: more than 0 means "
                    "worker_connections or file descriptors ran out.",
                ),
            ],
        ),
        g.Row(
            "Traffic",
            [
                g.timeseries(
                    "Connections by state",
                    g.q(f"nginx_connections_reading{{{SEL}}}", "reading"),
                    g.q(f"nginx_connections_writing{{{SEL}}}", "writing"),
                    g.q(f"nginx_connections_waiting{{{SEL}}}", "waiting (keep-alive)"),
                    stacked=True,
                    description="Connections reading a request, writing a response, and idle between requests.",
                ),
                g.timeseries(
                    "Requests and connections",
                    g.q(f"sum(rate(nginx_http_requests_total{{{SEL}}}{RATE}))", "requests"),
                    g.q(f"sum(rate(nginx_connections_accepted{{{SEL}}}{RATE}))", "connections accepted"),
                    g.q(f"sum(rate(nginx_connections_handled{{{SEL}}}{RATE}))", "connections handled"),
                    unit="ops",
                    description="Per second; accepted above handled means dropped connections.",
                ),
            ],
        ),
    ]
    return g.Board(
        uid=c.DASHBOARD_UIDS["nginx-exporter"],
        title="NGINX",
        tags=("nginx-exporter",),
        description="NGINX, read through its stub_status page by the NGINX exporter.",
        rows=rows,
        links=(c.DASHBOARD_UIDS["overview"], c.DASHBOARD_UIDS["alerts"]),
    )
