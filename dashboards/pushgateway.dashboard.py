"""Batch jobs: when each group last pushed to the Pushgateway, and whether pushes fail."""

from __future__ import annotations

from generator import conventions as c
from generator import dashboards as g
from generator.model import Stack

NO_PUSH = "no batch job has pushed yet"


def dashboard(stack: Stack) -> g.Board | None:
    if not stack.has("pushgateway"):
        return None
    rows = [
        g.Row(
            "Pushes",
            [
                g.up(
                    "Pushgateway up",
                    g.q('up{job="pushgateway"}'),
                    description="1 when Prometheus can scrape the Pushgateway.",
                ),
                g.stat(
                    "Groups",
                    g.q('count(push_time_seconds{job="pushgateway"})'),
                    graph=False,
                    quiet=NO_PUSH,
                    description="Groups (job and grouping labels) that pushed at least once.",
                ),
                g.timeseries(
                    "Push requests",
                    g.q(
                        'sum by (code) (rate(pushgateway_http_requests_total{job="pushgateway",handler="push"}'
                        "[$__rate_interval]))",
                        "{{code}}",
                    ),
                    unit="ops",
                    quiet=NO_PUSH,
                    description="Push requests per second, by response code.",
                ),
                g.table(
                    "Time since last push",
                    g.q('time() - push_time_seconds{job="pushgateway"}', table=True),
                    hidden=("Time", "__name__"),
                    quiet=NO_PUSH,
                    description="Seconds since each group's last successful push: a job that stopped shows here.",
                ),
                g.table(
                    "Failed pushes",
                    g.q(
                        'push_failure_time_seconds{job="pushgateway"} > push_time_seconds{job="pushgateway"}',
                        table=True,
                    ),
                    hidden=("Time", "__name__"),
                    quiet="the last push of every group succeeded",
                    description="Groups whose latest push failed (newer failure than success).",
                ),
            ],
        ),
    ]
    return g.Board(
        uid=c.DASHBOARD_UIDS["pushgateway"],
        title="Batch jobs",
        tags=("pushgateway",),
        description="Metrics pushed by batch jobs through the Pushgateway.",
        rows=rows,
        links=(c.DASHBOARD_UIDS["overview"], c.DASHBOARD_UIDS["alerts"]),
    )
