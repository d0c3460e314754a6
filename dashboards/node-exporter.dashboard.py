"""Node: the USE method (utilisation, saturation, errors) per host resource, from node_exporter.

Variables chain job -> instance, so a stack that scrapes several node exporter jobs can narrow down.
Thresholds are the node rule pack's (after the spec's overrides); the filesystems and devices shown
are the ones its alerts watch.
"""

from __future__ import annotations

from generator import conventions as c
from generator import dashboards as g
from generator.model import Stack

SEL = 'job=~"$job",instance=~"$instance"'
RATE = "[$__rate_interval]"


def _cpu(stack: Stack) -> g.Row:
    cpus = f'count by (job, instance) (node_cpu_seconds_total{{{SEL},mode="idle"}})'
    busy = f'1 - avg by (job, instance) (rate(node_cpu_seconds_total{{{SEL},mode="idle"}}{RATE}))'
    return g.Row(
        "CPU",
        [
            g.timeseries(
                "CPU utilisation",
                g.q(busy, "{{instance}}"),
                unit="percentunit",
                lo=0,
                hi=1,
                steps=g.percent_alert(stack, "NodeHighCpuLoad"),
                description="Share of time the CPUs were busy (all modes but idle); the line is the "
                "NodeHighCpuLoad alert's threshold.",
            ),
            g.timeseries(
                "CPU saturation (load per CPU)",
                g.q(f"sum by (job, instance) (node_load1{{{SEL}}}) / {cpus}", "{{instance}}"),
                steps=(("green", None), ("red", 1)),
                description="1-minute load average divided by the number of CPUs: above 1, work queues up.",
            ),
        ],
    )


def _memory(stack: Stack) -> g.Row:
    used = f"1 - node_memory_MemAvailable_bytes{{{SEL}}} / node_memory_MemTotal_bytes{{{SEL}}}"
    return g.Row(
        "Memory",
        [
            g.timeseries(
                "Memory utilisation",
                g.q(used, "{{instance}}"),
                unit="percentunit",
                lo=0,
                hi=1,
                steps=g.percent_alert(stack, "NodeHighMemoryUsage"),
                description="Share of memory not available to new work (MemAvailable); the line is the "
                "NodeHighMemoryUsage alert's threshold.",
            ),
            g.timeseries(
                "Memory saturation (major page faults)",
                g.q(f"rate(node_vmstat_pgmajfault{{{SEL}}}{RATE})", "{{instance}}"),
                unit="ops",
                description="Page faults that had to read from disk: sustained, the host is short of memory.",
            ),
            g.timeseries(
                "OOM kills",
                g.q(f"increase(node_vmstat_oom_kill{{{SEL}}}{RATE})", "{{instance}}"),
                steps=(("green", None), ("red", 1)),
                w=24,
                h=6,
                description="Processes the kernel killed for lack of memory (errors; the NodeOOMKill alert).",
            ),
        ],
    )


def _disk(stack: Stack) -> g.Row:
    fs, dev = f"{SEL},{g.NODE_FSTYPES}", f"{SEL},{g.NODE_DEVICES}"
    return g.Row(
        "Disk",
        [
            g.timeseries(
                "Disk I/O utilisation",
                g.q(f"rate(node_disk_io_time_seconds_total{{{dev}}}{RATE})", "{{instance}} {{device}}"),
                unit="percentunit",
                lo=0,
                steps=g.percent_alert(stack, "NodeDiskIOSaturated"),
                description="Share of time each device was busy with I/O; the line is the "
                "NodeDiskIOSaturated alert's threshold.",
            ),
            g.timeseries(
                "Disk I/O saturation",
                g.q(f"rate(node_disk_io_time_weighted_seconds_total{{{dev}}}{RATE})", "{{instance}} {{device}}"),
                description="Average number of I/O requests in flight or queued per device.",
            ),
            g.timeseries(
                "Disk throughput",
                g.q(f"rate(node_disk_read_bytes_total{{{dev}}}{RATE})", "read {{instance}} {{device}}"),
                g.q(f"rate(node_disk_written_bytes_total{{{dev}}}{RATE})", "written {{instance}} {{device}}"),
                unit="Bps",
                description="Bytes read and written per second.",
            ),
            g.timeseries(
                "Filesystem used",
                g.q(
                    f"1 - node_filesystem_avail_bytes{{{fs}}} / node_filesystem_size_bytes{{{fs}}}",
                    "{{instance}} {{mountpoint}}",
                ),
                unit="percentunit",
                lo=0,
                hi=1,
                steps=g.percent_alert(stack, "NodeFilesystemAlmostFull"),
                description="Share of each filesystem's space not available to unprivileged users; the line "
                "is the NodeFilesystemAlmostFull alert's threshold.",
            ),
        ],
    )


def _network(stack: Stack) -> g.Row:
    nic = f'{SEL},device!="lo"'
    return g.Row(
        "Network and clock",
        [
            g.timeseries(
                "Network throughput",
                g.q(f"rate(node_network_receive_bytes_total{{{nic}}}{RATE})", "in {{instance}} {{device}}"),
                g.q(f"rate(node_network_transmit_bytes_total{{{nic}}}{RATE})", "out {{instance}} {{device}}"),
                unit="Bps",
                description="Bytes received and sent per second, per interface (utilisation). On the compose "
                "runtime node-exporter runs in a network namespace of its own: these are its container's interfaces.",
            ),
            g.timeseries(
                "Network errors and drops",
                g.q(
                    f"rate(node_network_receive_errs_total{{{SEL}}}{RATE}) + "
                    f"rate(node_network_transmit_errs_total{{{SEL}}}{RATE})",
                    "errors {{instance}} {{device}}",
                ),
                g.q(
                    f"rate(node_network_receive_drop_total{{{SEL}}}{RATE}) + "
                    f"rate(node_network_transmit_drop_total{{{SEL}}}{RATE})",
                    "drops {{instance}} {{device}}",
                ),
                unit="pps",
                steps=g.alert_steps(stack, "NodeNetworkErrors"),
                description="Packets received or sent with errors (the line is the NodeNetworkErrors "
                "alert's threshold, which the local runtime renders: in a container node-exporter sees only its "
                "own interface) and packets dropped (saturation).",
            ),
            g.timeseries(
                "Clock offset",
                g.q(f"abs(node_timex_offset_seconds{{{SEL}}})", "{{instance}}"),
                unit="s",
                steps=g.alert_steps(stack, "NodeClockSkew"),
                description="How far the clock is from its NTP source; the line is the NodeClockSkew "
                "alert's threshold.",
            ),
            g.stat(
                "Clock synchronised",
                g.q(f"node_timex_sync_status{{{SEL}}}", "{{instance}}"),
                graph=False,
                mappings=[g.BOOLEAN_OK],
                steps=g.UP_STEPS,
                description="1 when the kernel reports its clock synchronised (the NodeClockNotSynchronising alert).",
            ),
        ],
    )


def dashboard(stack: Stack) -> g.Board | None:
    if not stack.has("node-exporter"):
        return None
    summary = g.Row(
        "Hosts",
        [
            g.up(
                "Up",
                g.q(f"up{{{SEL}}}", "{{instance}}"),
                description="1 when Prometheus can scrape the host's node exporter (HostDown).",
            ),
            g.stat(
                "Uptime",
                g.q(f"time() - node_boot_time_seconds{{{SEL}}}", "{{instance}}"),
                unit="s",
                graph=False,
                description="Time since the host booted.",
            ),
            g.stat(
                "CPUs",
                g.q(f'count by (instance) (node_cpu_seconds_total{{{SEL},mode="idle"}})', "{{instance}}"),
                graph=False,
                description="Logical CPUs.",
            ),
            g.stat(
                "Memory",
                g.q(f"node_memory_MemTotal_bytes{{{SEL}}}", "{{instance}}"),
                unit="bytes",
                graph=False,
                description="Physical memory.",
            ),
        ],
    )
    return g.Board(
        uid=c.DASHBOARD_UIDS["node-exporter"],
        title="Node",
        tags=("node-exporter",),
        description="Hosts by the USE method: utilisation, saturation and errors of CPU, memory, disks and network.",
        variables=[
            g.query_var("job", "label_values(node_uname_info, job)", "Job"),
            g.query_var("instance", 'label_values(node_uname_info{job=~"$job"}, instance)', "Instance"),
        ],
        rows=[summary, _cpu(stack), _memory(stack), _disk(stack), _network(stack)],
        links=(c.DASHBOARD_UIDS["overview"], c.DASHBOARD_UIDS["alerts"]),
    )
