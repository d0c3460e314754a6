"""Redis: availability, clients, memory, throughput, cache efficiency and evictions per instance."""

from __future__ import annotations

from generator import conventions as c
from generator import dashboards as g
from generator.model import Stack

SEL = 'job="redis-exporter",instance=~"$instance"'
RATE = "[$__rate_interval]"


def dashboard(stack: Stack) -> g.Board | None:
    if not stack.has("redis-exporter"):
        return None
    rows = [
        g.Row(
            "Availability",
            [
                g.up(
                    "Up",
                    g.q(f"redis_up{{{SEL}}}", "{{instance}}"),
                    description="1 when the exporter can talk to Redis.",
                ),
                g.stat(
                    "Uptime",
                    g.q(f"redis_uptime_in_seconds{{{SEL}}}", "{{instance}}"),
                    unit="s",
                    graph=False,
                    description="Time since Redis started; a reset is a restart.",
                ),
                g.stat(
                    "Clients",
                    g.q(f"redis_connected_clients{{{SEL}}}", "{{instance}}"),
                    description="Connected clients.",
                ),
                g.stat(
                    "Client slots used",
                    g.q(f"redis_connected_clients{{{SEL}}} / redis_config_maxclients{{{SEL}}}", "{{instance}}"),
                    unit="percentunit",
                    steps=g.percent_alert(stack, "RedisTooManyConnections"),
                    description="Connected clients as a share of maxclients; red from the RedisTooManyConnections "
                    "alert's threshold.",
                ),
            ],
        ),
        g.Row(
            "Memory",
            [
                g.timeseries(
                    "Memory used",
                    g.q(f"redis_memory_used_bytes{{{SEL}}}", "{{instance}}"),
                    unit="bytes",
                    description="Memory Redis allocated for data and overhead.",
                ),
                g.timeseries(
                    "Memory used of maxmemory",
                    g.q(f"redis_memory_used_bytes{{{SEL}}} / (redis_memory_max_bytes{{{SEL}}} > 0)", "{{instance}}"),
                    unit="percentunit",
                    lo=0,
                    hi=1,
                    steps=g.percent_alert(stack, "RedisOutOfMemory"),
                    quiet="only Redis instances with maxmemory set have a limit",
                    description="Used memory as a share of maxmemory; near 1, Redis evicts or refuses writes. The "
                    "line is the RedisOutOfMemory alert's threshold.",
                ),
            ],
        ),
        g.Row(
            "Traffic",
            [
                g.timeseries(
                    "Commands",
                    g.q(f"rate(redis_commands_processed_total{{{SEL}}}{RATE})", "{{instance}}"),
                    unit="ops",
                    description="Commands processed per second.",
                ),
                g.timeseries(
                    "Keyspace hit ratio",
                    g.q(
                        f"rate(redis_keyspace_hits_total{{{SEL}}}{RATE}) / (rate(redis_keyspace_hits_total"
                        f"{{{SEL}}}{RATE}) + rate(redis_keyspace_misses_total{{{SEL}}}{RATE}) > 0)",
                        "{{instance}}",
                    ),
                    unit="percentunit",
                    lo=0,
                    hi=1,
                    quiet="no key lookups happened in the window",
                    description="Share of key lookups that found the key.",
                ),
                g.timeseries(
                    "Evicted and expired keys",
                    g.q(f"rate(redis_evicted_keys_total{{{SEL}}}{RATE})", "evicted {{instance}}"),
                    g.q(f"rate(redis_expired_keys_total{{{SEL}}}{RATE})", "expired {{instance}}"),
                    unit="ops",
                    description="Keys evicted for memory (saturation) and expired by TTL, per second.",
                ),
                g.timeseries(
                    "Rejected connections",
                    g.q(f"rate(redis_rejected_connections_total{{{SEL}}}{RATE})", "{{instance}}"),
                    unit="ops",
                    steps=(("green", None), ("red", 0.0001)),
                    description="Connections refused because maxclients was reached (errors).",
                ),
            ],
        ),
    ]
    return g.Board(
        uid=c.DASHBOARD_UIDS["redis-exporter"],
        title="Redis",
        tags=("redis-exporter",),
        description="Every Redis of the spec, scraped through the redis exporter.",
        variables=[g.query_var("instance", 'label_values(redis_up{job="redis-exporter"}, instance)', "Instance")],
        rows=rows,
        links=(c.DASHBOARD_UIDS["overview"], c.DASHBOARD_UIDS["alerts"]),
    )
