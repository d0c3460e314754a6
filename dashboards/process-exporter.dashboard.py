"""Processes: for each named process group, how many run, their CPU, memory, file descriptors and restarts."""

from __future__ import annotations

from generator import conventions as c
from generator import dashboards as g
from generator.model import Stack

SEL = 'job="process-exporter",groupname=~"$group"'
RATE = "[$__rate_interval]"


def dashboard(stack: Stack) -> g.Board | None:
    if not stack.has("process-exporter"):
        return None
    rows = [
        g.Row(
            "Running",
            [
                g.stat(
                    "Processes",
                    g.q(f"namedprocess_namegroup_num_procs{{{SEL}}}", "{{groupname}}"),
                    steps=(("red", None), ("green", 1)),
                    description="Processes of each group; 0 (red) means the program is not running.",
                    w=12,
                ),
                g.stat(
                    "Restarts in 15 minutes",
                    g.q(
                        f"changes(namedprocess_namegroup_oldest_start_time_seconds{{{SEL}}}[15m])",
                        "{{groupname}}",
                    ),
                    steps=g.alert_steps(stack, "ProcessRestarting"),
                    description="How often the group's oldest process changed; red from the ProcessRestarting "
                    "alert's threshold.",
                    w=12,
                ),
            ],
        ),
        g.Row(
            "Resources",
            [
                g.timeseries(
                    "CPU",
                    g.q(
                        f"sum by (groupname) (rate(namedprocess_namegroup_cpu_seconds_total{{{SEL}}}{RATE}))",
                        "{{groupname}}",
                    ),
                    unit="percentunit",
                    description="CPU time per second of each group (1 = one core), user and system together.",
                ),
                g.timeseries(
                    "Resident memory",
                    g.q(f'namedprocess_namegroup_memory_bytes{{{SEL},memtype="resident"}}', "{{groupname}}"),
                    unit="bytes",
                    description="Resident memory of each group.",
                ),
                g.timeseries(
                    "File descriptors used",
                    g.q(f"namedprocess_namegroup_worst_fd_ratio{{{SEL}}}", "{{groupname}}"),
                    unit="percentunit",
                    lo=0,
                    hi=1,
                    steps=g.percent_alert(stack, "ProcessFileDescriptorsExhausted"),
                    description="The highest share of its open-files limit any process of the group holds.",
                ),
                g.timeseries(
                    "Disk I/O",
                    g.q(
                        f"sum by (groupname) (rate(namedprocess_namegroup_read_bytes_total{{{SEL}}}{RATE}))",
                        "{{groupname}} read",
                    ),
                    g.q(
                        f"sum by (groupname) (rate(namedprocess_namegroup_write_bytes_total{{{SEL}}}{RATE}))",
                        "{{groupname}} write",
                    ),
                    unit="Bps",
                    description="Bytes read and written per second by each group.",
                ),
            ],
        ),
    ]
    return g.Board(
        uid=c.DASHBOARD_UIDS["process-exporter"],
        title="Processes",
        tags=("process-exporter",),
        description="The process groups the spec names, read from the host's /proc by the process exporter.",
        variables=[
            g.query_var(
                "group", 'label_values(namedprocess_namegroup_num_procs{job="process-exporter"}, groupname)', "Process"
            )
        ],
        rows=rows,
        links=(c.DASHBOARD_UIDS["overview"], c.DASHBOARD_UIDS["alerts"]),
    )
