"""Containers: CPU, memory, network and OOM kills per container, from cAdvisor."""

from __future__ import annotations

from generator import conventions as c
from generator import dashboards as g
from generator.model import Stack

SEL = 'job="cadvisor",name=~"$container",name!=""'  # name="" are cgroups that are not containers
RATE = "[$__rate_interval]"


def dashboard(stack: Stack) -> g.Board | None:
    if not stack.has("cadvisor"):
        return None
    rows = [
        g.Row(
            "Resources",
            [
                g.timeseries(
                    "CPU",
                    g.q(f"sum by (name) (rate(container_cpu_usage_seconds_total{{{SEL}}}{RATE}))", "{{name}}"),
                    description="CPU cores used per container.",
                ),
                g.timeseries(
                    "Memory working set",
                    g.q(f"sum by (name) (container_memory_working_set_bytes{{{SEL}}})", "{{name}}"),
                    unit="bytes",
                    description="Memory the kernel cannot reclaim: what counts for the OOM killer.",
                ),
                g.timeseries(
                    "Memory used of the limit",
                    g.q(
                        f"sum by (name) (container_memory_working_set_bytes{{{SEL}}}) / "
                        f"(sum by (name) (container_spec_memory_limit_bytes{{{SEL}}}) > 0)",
                        "{{name}}",
                    ),
                    unit="percentunit",
                    lo=0,
                    hi=1,
                    steps=g.percent_alert(stack, "ContainerHighMemoryUsage"),
                    quiet="only containers with a memory limit have one",
                    description="Working set as a share of the container's memory limit; the line is the "
                    "ContainerHighMemoryUsage alert's threshold.",
                ),
                g.timeseries(
                    "CPU throttling",
                    g.q(
                        f"sum by (name) (rate(container_cpu_cfs_throttled_periods_total{{{SEL}}}{RATE})) / "
                        f"(sum by (name) (rate(container_cpu_cfs_periods_total{{{SEL}}}{RATE})) > 0)",
                        "{{name}}",
                    ),
                    unit="percentunit",
                    lo=0,
                    hi=1,
                    steps=g.percent_alert(stack, "ContainerCpuThrottled"),
                    quiet="only containers with a CPU limit are throttled",
                    description="Share of CPU periods in which the container hit its CPU limit (saturation); the "
                    "line is the ContainerCpuThrottled alert's threshold.",
                ),
            ],
        ),
        g.Row(
            "Network and errors",
            [
                g.timeseries(
                    "Network",
                    g.q(f"sum by (name) (rate(container_network_receive_bytes_total{{{SEL}}}{RATE}))", "in {{name}}"),
                    g.q(f"sum by (name) (rate(container_network_transmit_bytes_total{{{SEL}}}{RATE}))", "out {{name}}"),
                    unit="Bps",
                    description="Bytes received and sent per second.",
                ),
                g.timeseries(
                    "OOM kills",
                    g.q(f"sum by (name) (increase(container_oom_events_total{{{SEL}}}{RATE}))", "{{name}}"),
                    steps=(("green", None), ("red", 1)),
                    description="Processes killed for exceeding the container's memory limit.",
                ),
            ],
        ),
    ]
    return g.Board(
        uid=c.DASHBOARD_UIDS["cadvisor"],
        title="Containers",
        tags=("cadvisor",),
        description="Containers on the Docker host, from cAdvisor.",
        variables=[
            g.query_var("container", 'label_values(container_last_seen{job="cadvisor",name!=""}, name)', "Container")
        ],
        rows=rows,
        links=(c.DASHBOARD_UIDS["overview"], c.DASHBOARD_UIDS["alerts"]),
    )
