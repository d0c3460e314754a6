"""MySQL / MariaDB: availability, connections, query throughput, slow queries and buffer pool efficiency."""

from __future__ import annotations

from generator import conventions as c
from generator import dashboards as g
from generator.model import Stack

SEL = 'job="mysqld-exporter",instance=~"$instance"'
RATE = "[$__rate_interval]"


def dashboard(stack: Stack) -> g.Board | None:
    if not stack.has("mysqld-exporter"):
        return None
    rows = [
        g.Row(
            "Availability",
            [
                g.stat(
                    "Up",
                    g.q(f"mysql_up{{{SEL}}}", "{{instance}}"),
                    graph=False,
                    mappings=[g.UP_DOWN],
                    steps=(("red", None), ("green", 1)),
                    description="1 when the exporter can query MySQL.",
                ),
                g.stat(
                    "Uptime",
                    g.q(f"mysql_global_status_uptime{{{SEL}}}", "{{instance}}"),
                    unit="s",
                    graph=False,
                    description="Time since the server started.",
                ),
                g.stat(
                    "Connections used",
                    g.q(
                        f"mysql_global_status_threads_connected{{{SEL}}} / "
                        f"mysql_global_variables_max_connections{{{SEL}}}",
                        "{{instance}}",
                    ),
                    unit="percentunit",
                    steps=(("green", None), ("orange", 0.8), ("red", 0.9)),
                    description="Connected threads as a share of max_connections.",
                ),
                g.stat(
                    "Threads running",
                    g.q(f"mysql_global_status_threads_running{{{SEL}}}", "{{instance}}"),
                    description="Threads executing a statement now (saturation).",
                ),
            ],
        ),
        g.Row(
            "Activity",
            [
                g.timeseries(
                    "Queries",
                    g.q(f"rate(mysql_global_status_queries{{{SEL}}}{RATE})", "{{instance}}"),
                    unit="ops",
                    description="Statements executed per second.",
                ),
                g.timeseries(
                    "Slow queries",
                    g.q(f"rate(mysql_global_status_slow_queries{{{SEL}}}{RATE})", "{{instance}}"),
                    unit="ops",
                    steps=(("green", None), ("red", 0.0001)),
                    description="Statements slower than long_query_time, per second.",
                ),
                g.timeseries(
                    "Aborted connections",
                    g.q(f"rate(mysql_global_status_aborted_connects{{{SEL}}}{RATE})", "connects {{instance}}"),
                    g.q(f"rate(mysql_global_status_aborted_clients{{{SEL}}}{RATE})", "clients {{instance}}"),
                    unit="ops",
                    description="Failed connection attempts and connections dropped uncleanly.",
                ),
                g.timeseries(
                    "Buffer pool hit ratio",
                    g.q(
                        f"1 - rate(mysql_global_status_innodb_buffer_pool_reads{{{SEL}}}{RATE}) / "
                        f"(rate(mysql_global_status_innodb_buffer_pool_read_requests{{{SEL}}}{RATE}) > 0)",
                        "{{instance}}",
                    ),
                    unit="percentunit",
                    lo=0,
                    hi=1,
                    quiet="no InnoDB reads happened in the window",
                    description="Share of InnoDB reads served from the buffer pool.",
                ),
            ],
        ),
    ]
    return g.Board(
        uid=c.DASHBOARD_UIDS["mysqld-exporter"],
        title="MySQL",
        tags=("mysqld-exporter",),
        description="MySQL or MariaDB through mysqld_exporter.",
        variables=[g.query_var("instance", 'label_values(mysql_up{job="mysqld-exporter"}, instance)', "Instance")],
        rows=rows,
        links=(c.DASHBOARD_UIDS["overview"], c.DASHBOARD_UIDS["alerts"]),
    )
