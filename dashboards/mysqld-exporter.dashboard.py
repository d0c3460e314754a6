"""MySQL / MariaDB: availability, connections, query throughput, slow queries and buffer pool efficiency."""

from __future__ import annotations

from generator import conventions as c
from generator import dashboards as g
from generator.model import Stack

SEL = 'job="mysqld-exporter",instance=~"$instance"'
RATE = "[$__rate_interval]"
PER_5M = 300  # the slow query alert counts over 5 minutes; the panel shows a per-second rate


def dashboard(stack: Stack) -> g.Board | None:
    if not stack.has("mysqld-exporter"):
        return None
    rows = [
        g.Row(
            "Availability",
            [
                g.up(
                    "Up",
                    g.q(f"mysql_up{{{SEL}}}", "{{instance}}"),
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
                    steps=g.percent_alert(stack, "MysqlTooManyConnections"),
                    description="Connected threads as a share of max_connections; red from the "
                    "MysqlTooManyConnections alert's threshold.",
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
                    steps=g.alert_steps(stack, "MysqlSlowQueries", lambda t: t / PER_5M),
                    description="Statements slower than long_query_time, per second; the line is the "
                    "MysqlSlowQueries alert's threshold (slow queries in 5 minutes) as a rate.",
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
