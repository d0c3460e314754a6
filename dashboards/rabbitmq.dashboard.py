"""RabbitMQ: from its built-in Prometheus endpoint (aggregated metrics: totals across queues)."""

from __future__ import annotations

from generator import conventions as c
from generator import dashboards as g
from generator.model import Stack

SEL = 'job="rabbitmq",instance=~"$instance"'
RATE = "[$__rate_interval]"


def dashboard(stack: Stack) -> g.Board | None:
    if not stack.has("rabbitmq"):
        return None
    rows = [
        g.Row(
            "Broker",
            [
                g.up(
                    "Up",
                    g.q(f"up{{{SEL}}}", "{{instance}}"),
                    description="1 when Prometheus can scrape the node.",
                ),
                g.stat(
                    "Alarms",
                    g.q(
                        f"sum by (instance) (rabbitmq_alarms_memory_used_watermark{{{SEL}}} + "
                        f"rabbitmq_alarms_free_disk_space_watermark{{{SEL}}} + "
                        f"rabbitmq_alarms_file_descriptor_limit{{{SEL}}})",
                        "{{instance}}",
                    ),
                    graph=False,
                    steps=(("green", None), ("red", 1)),
                    description="Memory, disk or file descriptor alarms raised: publishers are blocked.",
                ),
                g.stat(
                    "Connections",
                    g.q(f"sum by (instance) (rabbitmq_connections{{{SEL}}})", "{{instance}}"),
                    description="Client connections.",
                ),
                g.stat(
                    "Consumers",
                    g.q(f"sum by (instance) (rabbitmq_consumers{{{SEL}}})", "{{instance}}"),
                    description="Consumers on all queues.",
                ),
            ],
        ),
        g.Row(
            "Messages",
            [
                g.timeseries(
                    "Messages queued",
                    g.q(f"sum by (instance) (rabbitmq_queue_messages_ready{{{SEL}}})", "ready {{instance}}"),
                    g.q(f"sum by (instance) (rabbitmq_queue_messages_unacked{{{SEL}}})", "unacked {{instance}}"),
                    steps=g.alert_steps(stack, "RabbitmqTooManyReadyMessages"),
                    description="Messages waiting for a consumer (ready), and delivered but not yet acknowledged; "
                    "the line is the RabbitmqTooManyReadyMessages alert's threshold for ready messages.",
                ),
                g.timeseries(
                    "Message rates",
                    g.q(
                        f"sum by (instance) (rate(rabbitmq_global_messages_received_total{{{SEL}}}{RATE}))",
                        "published {{instance}}",
                    ),
                    g.q(
                        f"sum by (instance) (rate(rabbitmq_global_messages_delivered_total{{{SEL}}}{RATE}))",
                        "delivered {{instance}}",
                    ),
                    unit="ops",
                    description="Messages published to and delivered by the broker per second.",
                ),
                g.timeseries(
                    "Memory used of the high watermark",
                    g.q(
                        f"rabbitmq_process_resident_memory_bytes{{{SEL}}} / "
                        f"rabbitmq_resident_memory_limit_bytes{{{SEL}}}",
                        "{{instance}}",
                    ),
                    unit="percentunit",
                    lo=0,
                    hi=1,
                    steps=(("green", None), ("orange", 0.8), ("red", 1)),
                    description="At 1 the memory alarm blocks publishers.",
                ),
                g.timeseries(
                    "Free disk above the limit",
                    g.q(
                        f"rabbitmq_disk_space_available_bytes{{{SEL}}} - "
                        f"rabbitmq_disk_space_available_limit_bytes{{{SEL}}}",
                        "{{instance}}",
                    ),
                    unit="bytes",
                    steps=g.UP_STEPS,
                    description="Disk space left before the disk alarm blocks publishers.",
                ),
            ],
        ),
    ]
    return g.Board(
        uid=c.DASHBOARD_UIDS["rabbitmq"],
        title="RabbitMQ",
        tags=("rabbitmq",),
        description="RabbitMQ nodes scraped on their rabbitmq_prometheus endpoint.",
        variables=[g.query_var("instance", 'label_values(up{job="rabbitmq"}, instance)', "Node")],
        rows=rows,
        links=(c.DASHBOARD_UIDS["overview"], c.DASHBOARD_UIDS["alerts"]),
    )
