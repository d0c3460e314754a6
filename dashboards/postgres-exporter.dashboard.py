"""PostgreSQL: availability, connections, transactions, cache efficiency, locks and size."""

from __future__ import annotations

from generator import conventions as c
from generator import dashboards as g
from generator.model import Stack

SEL = 'job="postgres-exporter",instance=~"$instance"'
RATE = "[$__rate_interval]"


def dashboard(stack: Stack) -> g.Board | None:
    if not stack.has("postgres-exporter"):
        return None
    rows = [
        g.Row(
            "Availability",
            [
                g.up(
                    "Up",
                    g.q(f"pg_up{{{SEL}}}", "{{instance}}"),
                    description="1 when the exporter can query PostgreSQL.",
                ),
                g.stat(
                    "Connections used",
                    g.q(
                        f"sum by (instance) (pg_stat_activity_count{{{SEL}}}) / "
                        f"max by (instance) (pg_settings_max_connections{{{SEL}}})",
                        "{{instance}}",
                    ),
                    unit="percentunit",
                    steps=g.percent_alert(stack, "PostgresTooManyConnections"),
                    description="Backends as a share of max_connections; red from the PostgresTooManyConnections "
                    "alert's threshold.",
                ),
                g.stat(
                    "Database size",
                    g.q(f"sum by (instance) (pg_database_size_bytes{{{SEL}}})", "{{instance}}"),
                    unit="bytes",
                    description="Size of all databases.",
                ),
                g.stat(
                    "Deadlocks",
                    g.q(f"sum by (instance) (increase(pg_stat_database_deadlocks{{{SEL}}}[$__range]))", "{{instance}}"),
                    steps=(("green", None), ("red", 1)),
                    description="Deadlocks in the selected time range.",
                ),
            ],
        ),
        g.Row(
            "Activity",
            [
                g.timeseries(
                    "Transactions",
                    g.q(f"sum by (datname) (rate(pg_stat_database_xact_commit{{{SEL}}}{RATE}))", "commit {{datname}}"),
                    g.q(
                        f"sum by (datname) (rate(pg_stat_database_xact_rollback{{{SEL}}}{RATE}))",
                        "rollback {{datname}}",
                    ),
                    unit="ops",
                    description="Commits and rollbacks per second, per database.",
                ),
                g.timeseries(
                    "Connections by state",
                    g.q(f"sum by (state) (pg_stat_activity_count{{{SEL}}})", "{{state}}"),
                    stacked=True,
                    description="Backends per state (active, idle, idle in transaction...).",
                ),
                g.timeseries(
                    "Cache hit ratio",
                    g.q(
                        f"sum by (datname) (rate(pg_stat_database_blks_hit{{{SEL}}}{RATE})) / (sum by (datname) "
                        f"(rate(pg_stat_database_blks_hit{{{SEL}}}{RATE})) + sum by (datname) "
                        f"(rate(pg_stat_database_blks_read{{{SEL}}}{RATE})) > 0)",
                        "{{datname}}",
                    ),
                    unit="percentunit",
                    lo=0,
                    hi=1,
                    quiet="no blocks were read in the window",
                    description="Share of block reads served from shared buffers.",
                ),
                g.timeseries(
                    "Locks",
                    g.q(f"sum by (mode) (pg_locks_count{{{SEL}}})", "{{mode}}"),
                    description="Locks held, by mode.",
                ),
            ],
        ),
    ]
    return g.Board(
        uid=c.DASHBOARD_UIDS["postgres-exporter"],
        title="PostgreSQL",
        tags=("postgres-exporter",),
        description="PostgreSQL through postgres_exporter.",
        variables=[g.query_var("instance", 'label_values(pg_up{job="postgres-exporter"}, instance)', "Instance")],
        rows=rows,
        links=(c.DASHBOARD_UIDS["overview"], c.DASHBOARD_UIDS["alerts"]),
    )
