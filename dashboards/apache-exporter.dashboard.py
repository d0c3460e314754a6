"""Apache HTTP Server: whether it answers, requests and traffic, busy and idle workers, connections."""

from __future__ import annotations

from generator import conventions as c
from generator import dashboards as g
from generator.model import Stack

SEL = 'job="apache-exporter"'
RATE = "[$__rate_interval]"


def dashboard(stack: Stack) -> g.Board | None:
    if not stack.has("apache-exporter"):
        return None
    rows = [
        g.Row(
            "Apache",
            [
                g.up("Up", g.q(f"apache_up{{{SEL}}}"), description="1 when the exporter can read mod_status."),
                g.stat(
                    "Uptime",
                    g.q(f"apache_uptime_seconds_total{{{SEL}}}"),
                    unit="s",
                    graph=False,
                    description="Time since Apache started; a reset is a restart.",
                ),
                g.stat(
                    "Requests",
                    g.q(f"rate(apache_accesses_total{{{SEL}}}{RATE})"),
                    unit="reqps",
                    description="Requests served per second.",
                ),
                g.stat(
                    "Workers busy",
                    g.q(
                        f'sum without (state) (apache_workers{{{SEL},state="busy"}})'
                        f" / sum without (state) (apache_workers{{{SEL}}})"
                    ),
                    unit="percentunit",
                    steps=g.percent_alert(stack, "ApacheWorkersBusy"),
                    description="Share of the workers serving a request; red from the ApacheWorkersBusy alert's "
                    "threshold.",
                ),
            ],
        ),
        g.Row(
            "Load",
            [
                g.timeseries(
                    "Workers",
                    g.q(f'apache_workers{{{SEL},state="busy"}}', "busy"),
                    g.q(f'apache_workers{{{SEL},state="idle"}}', "idle"),
                    stacked=True,
                    description="Busy and idle workers; no idle ones means requests wait in the backlog.",
                ),
                g.timeseries(
                    "Traffic",
                    g.q(f"rate(apache_sent_kilobytes_total{{{SEL}}}{RATE}) * 1024", "sent"),
                    unit="Bps",
                    description="Bytes sent to clients per second.",
                ),
                g.timeseries(
                    "Connections",
                    g.q(f"apache_connections{{{SEL}}}", "{{state}}"),
                    description="Connections by state (event MPM: total, keep-alive, writing, closing).",
                ),
                g.timeseries(
                    "Scoreboard",
                    g.q(f'apache_scoreboard{{{SEL},state!~"idle|open_slot"}}', "{{state}}"),
                    stacked=True,
                    description="What the busy workers are doing: reading, replying, keep-alive, logging ...",
                ),
            ],
        ),
    ]
    return g.Board(
        uid=c.DASHBOARD_UIDS["apache-exporter"],
        title="Apache",
        tags=("apache-exporter",),
        description="Apache HTTP Server, read through mod_status by the Apache exporter.",
        rows=rows,
        links=(c.DASHBOARD_UIDS["overview"], c.DASHBOARD_UIDS["alerts"]),
    )
