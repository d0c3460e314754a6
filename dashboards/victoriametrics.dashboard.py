"""Long-term storage: what Prometheus sends to its remote_write targets (VictoriaMetrics, and the spec's
`storage.remote_write[]`), and the VictoriaMetrics the stack runs: ingestion, deduplication, disk."""

from __future__ import annotations

from generator import conventions as c
from generator import dashboards as g
from generator.model import Stack

V = 'job="victoriametrics"'
P = 'job="prometheus"'


def dashboard(stack: Stack) -> g.Board | None:
    if not stack.has("victoriametrics"):
        return None
    rows = [
        g.Row(
            "Remote write (every Prometheus copy)",
            [
                g.timeseries(
                    "Samples sent",
                    g.q(
                        f"sum by (instance, remote_name) (rate(prometheus_remote_storage_samples_total{{{P}}}"
                        "[$__rate_interval]))",
                        "{{instance}} to {{remote_name}}",
                    ),
                    unit="ops",
                    w=8,
                    description="Samples per second each Prometheus copy writes to each remote_write target.",
                ),
                g.timeseries(
                    "Behind",
                    g.q(
                        f"max by (instance) (prometheus_remote_storage_highest_timestamp_in_seconds{{{P}}}) - "
                        "on (instance) group_right max by (instance, remote_name) "
                        f"(prometheus_remote_storage_queue_highest_sent_timestamp_seconds{{{P}}})",
                        "{{instance}} to {{remote_name}}",
                    ),
                    unit="s",
                    steps=g.alert_steps(stack, "PrometheusRemoteWriteBehind"),
                    w=8,
                    description="Seconds between the newest sample a copy has and the newest it has sent.",
                ),
                g.timeseries(
                    "Failed samples",
                    g.q(
                        f"sum by (instance, remote_name) (rate(prometheus_remote_storage_samples_failed_total{{{P}}}"
                        "[$__rate_interval]))",
                        "{{instance}} to {{remote_name}}",
                    ),
                    unit="ops",
                    quiet="every target accepts what it is sent",
                    w=8,
                    description="Samples per second a target refused for good (not retried).",
                ),
            ],
        ),
        g.Row(
            "VictoriaMetrics",
            [
                g.up("Up", g.q(f"up{{{V}}}"), description="1 when Prometheus can scrape VictoriaMetrics.", w=4),
                g.stat(
                    "Rows ingested",
                    g.q(f"sum(rate(vm_rows_inserted_total{{{V}}}[$__rate_interval]))"),
                    unit="ops",
                    w=5,
                    description="Samples per second VictoriaMetrics receives, every protocol together.",
                ),
                g.stat(
                    "Stored rows",
                    g.q(f"sum(vm_rows{{{V}}})"),
                    w=5,
                    description="Samples stored on disk, within its retention.",
                ),
                g.stat(
                    "Data size",
                    g.q(f"sum(vm_data_size_bytes{{{V}}})"),
                    unit="bytes",
                    w=5,
                    description="Bytes of its data and index on disk.",
                ),
                g.stat(
                    "Left for samples",
                    g.q(f"vm_free_disk_space_bytes{{{V}}} - vm_free_disk_space_limit_bytes{{{V}}}"),
                    unit="bytes",
                    w=5,
                    description="Disk space left before it refuses samples (VictoriaMetricsDiskAlmostFull).",
                ),
                g.timeseries(
                    "Deduplicated",
                    g.q(f"sum(rate(vm_deduplicated_samples_total{{{V}}}[$__rate_interval]))", "deduplicated"),
                    g.q(f"sum(rate(vm_rows_inserted_total{{{V}}}[$__rate_interval]))", "received"),
                    unit="ops",
                    description=(
                        "Samples per second dropped as duplicates (one is kept per series and interval): with two "
                        "Prometheus copies, about as many as one copy sends."
                    ),
                ),
                g.timeseries(
                    "Write errors",
                    g.q(
                        f'sum(rate(vm_http_request_errors_total{{{V},path="/api/v1/write"}}[$__rate_interval]))',
                        "errors",
                    ),
                    unit="reqps",
                    quiet="every remote write is accepted",
                    description="Remote-write requests per second VictoriaMetrics answered with an error.",
                ),
            ],
        ),
    ]
    return g.Board(
        uid=c.DASHBOARD_UIDS["victoriametrics"],
        title="Long-term storage",
        tags=("victoriametrics", "remote-write"),
        description="Remote write from every Prometheus copy, and the VictoriaMetrics the stack runs.",
        rows=rows,
        links=(c.DASHBOARD_UIDS["overview"], c.DASHBOARD_UIDS["alerts"]),
    )
